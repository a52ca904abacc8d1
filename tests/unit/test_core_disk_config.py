"""``/bootmenu.toml`` on a disk: which disks may supply settings, and when they apply.

The core starts before any disk is scanned (``start(wait=False)``), so the file must be read
when discovery reports the filesystem (found by the VM test tests/vm/test_bootnext.py: in the
menu a ``/bootmenu.toml`` with ``default``/``timeout = 0`` on the ESP was ignored).  Only the
disk bootmenu was started from (``LoaderDevicePartUUID``) and filesystems named by
``disk_config_from`` may supply it (docs/security.md), and its settings leave with the disk."""

from __future__ import annotations

import struct
from pathlib import Path

from bootmenu.core import Core
from bootmenu.discover.monitor import Snapshot
from bootmenu.model import Device, DeviceKind, DeviceState, Volume

PARTUUID = "b0075a1d-0000-4000-8000-0000000e5b01"
# systemd's Loader vendor GUID and the variable systemd-stub sets (systemd's
# docs/BOOT_LOADER_INTERFACE.md): the partition the UKI was read from, as an upper-case GUID.
LOADER_VENDOR = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
NV_BS_RT = 0x7


def filesystem(
    tmp_path: Path, devnode: str, *, toml: str | None, disk: str = "/dev/vda", **ids: str
) -> tuple[Volume, Device]:
    """A scanned filesystem at ``devnode`` (on ``disk``) with ``toml`` as its /bootmenu.toml."""
    root = tmp_path / devnode.removeprefix("/dev/")
    root.mkdir()
    if toml is not None:
        (root / "bootmenu.toml").write_text(toml)
    device = Device(
        devnode=devnode,
        sys_path=f"/sys/block/{devnode}",
        disk=disk,
        kind=DeviceKind.PARTITION,
        state=DeviceState.USABLE,
        fstype="vfat",
        **ids,  # type: ignore[arg-type]
    )
    return device.volume(root), device


def discovered(core: Core, *found: tuple[Volume, Device], generation: int = 1) -> None:
    """What discovery does when it has scanned ``found`` (the menu's path)."""
    core._discovered(
        Snapshot(
            volumes=tuple(v for v, _ in found),
            devices=tuple(d for _, d in found),
            generation=generation,
        )
    )


def make_core(tmp_path: Path, *, boot_partuuid: str | None = PARTUUID, cmdline: str = "") -> Core:
    efivars = tmp_path / "efivars"
    efivars.mkdir()
    if boot_partuuid is not None:
        data = (boot_partuuid.upper() + "\0").encode("utf-16-le")
        name = f"LoaderDevicePartUUID-{LOADER_VENDOR}"
        (efivars / name).write_bytes(struct.pack("<I", NV_BS_RT) + data)
    return Core(config_file=None, cmdline=cmdline, dry_run=True, efivars_dir=str(efivars))


def test_boot_disk_file_found_after_start_is_applied(tmp_path: Path) -> None:
    esp = filesystem(
        tmp_path, "/dev/vda1", toml='default = "marker.conf"\ntimeout = 0\n', partuuid=PARTUUID
    )
    core = make_core(tmp_path)
    assert core.config.default is None  # nothing scanned yet

    discovered(core, esp)

    assert core.config.default == "marker.conf"
    assert core.config.timeout == 0
    assert core.config.sources["timeout"] == f"PARTUUID={PARTUUID}:/bootmenu.toml"


def test_another_partition_of_the_boot_disk_is_trusted(tmp_path: Path) -> None:
    esp = filesystem(tmp_path, "/dev/vda1", toml=None, partuuid=PARTUUID)
    boot = filesystem(tmp_path, "/dev/vda2", toml="timeout = 4\n", partuuid="0000-boot")
    core = make_core(tmp_path)

    discovered(core, esp, boot)

    assert core.config.timeout == 4


def test_disk_file_is_applied_once_and_warnings_are_not_repeated(tmp_path: Path) -> None:
    esp = filesystem(
        tmp_path, "/dev/vda1", toml="timeout = 3\nno_such_setting = 1\n", partuuid=PARTUUID
    )
    core = make_core(tmp_path)

    for _ in range(3):
        discovered(core, esp)

    assert core.config.timeout == 3
    unknown = [w for w in core.view().warnings if "no_such_setting" in w]
    assert len(unknown) == 1, core.view().warnings


def test_a_disk_bootmenu_was_not_started_from_supplies_no_settings(tmp_path: Path) -> None:
    esp = filesystem(tmp_path, "/dev/vda1", toml=None, partuuid=PARTUUID)
    stick = filesystem(
        tmp_path, "/dev/sda1", toml="timeout = 0\n", disk="/dev/sda", partuuid="5711c4"
    )
    core = make_core(tmp_path)

    discovered(core, stick, esp)  # the stick even sorts first

    assert core.config.timeout is None
    refused = [w for w in core.view().warnings if "PARTUUID=5711c4:/bootmenu.toml" in w]
    assert len(refused) == 1 and "not read" in refused[0], core.view().warnings


def test_without_loader_device_part_uuid_no_disk_is_trusted(tmp_path: Path) -> None:
    esp = filesystem(tmp_path, "/dev/vda1", toml="timeout = 0\n", partuuid=PARTUUID)
    core = make_core(tmp_path, boot_partuuid=None)

    discovered(core, esp)

    assert core.config.timeout is None


def test_disk_config_from_names_a_trusted_filesystem(tmp_path: Path) -> None:
    data = filesystem(tmp_path, "/dev/sdb1", toml="timeout = 9\n", disk="/dev/sdb", label="cfg")
    core = make_core(tmp_path, boot_partuuid=None, cmdline="bootmenu.disk_config_from=LABEL=cfg")

    discovered(core, data)

    assert core.config.timeout == 9


def test_a_name_two_devices_answer_to_trusts_neither(tmp_path: Path) -> None:
    # A stick labelled like the owner's settings filesystem.
    data = filesystem(tmp_path, "/dev/sdb1", toml="timeout = 9\n", disk="/dev/sdb", label="cfg")
    stick = filesystem(tmp_path, "/dev/sdc1", toml="timeout = 0\n", disk="/dev/sdc", label="cfg")
    core = make_core(tmp_path, boot_partuuid=None, cmdline="bootmenu.disk_config_from=LABEL=cfg")

    discovered(core, stick, data)

    assert core.config.timeout is None
    assert any("LABEL=cfg names more than one device" in w for w in core.view().warnings)


def test_settings_leave_with_their_disk(tmp_path: Path) -> None:
    esp = filesystem(tmp_path, "/dev/vda1", toml='default = "x*"\n', partuuid=PARTUUID)
    core = make_core(tmp_path)
    discovered(core, esp)
    assert core.config.default == "x*"

    discovered(core, generation=2)  # the disk is gone

    assert core.config.default is None
    assert any("its settings with it" in w for w in core.view().warnings)


def test_a_disk_file_larger_than_a_settings_file_may_be_is_refused(tmp_path: Path) -> None:
    big = "timeout = 2\n" + "# padding\n" * 110_000  # 1.1 MB, a valid TOML file
    esp = filesystem(tmp_path, "/dev/vda1", toml=big, partuuid=PARTUUID)
    core = make_core(tmp_path)

    discovered(core, esp)

    assert core.config.timeout is None
    assert any("larger than 1048576 bytes; ignored" in w for w in core.view().warnings)
