"""The BootNext hand-off: Boot#### created or reused, BootNext set, BootOrder untouched."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest

from bootmenu.boot import bootnext, handoff, payload
from bootmenu.boot.bootnext import TAG, BootNext
from bootmenu.boot.handoff import Handoff
from bootmenu.config import EfiHandoff
from bootmenu.errors import HandoffError
from bootmenu.model import BootEntry, Kind, Source, Volume
from bootmenu.system import syscalls
from bootmenu.system.fs import VolumeReader
from efi.devicepath import HardDrive, hd_file_path
from efi.loadoption import LOAD_OPTION_ACTIVE, LoadOption, parse_load_option
from efi.variables import EfiVariable
from tests import factories

FIXTURES = Path(__file__).parent.parent / "fixtures"
GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
ESP_GUID = "3a9b5e62-2b36-4f24-9f3b-0c5a4a1b2c3d"
ENV = factories.environment()
WINDOWS = factories.efi_app(id="windows:/efi/microsoft/boot/bootmgfw.efi")
# What efibootmgr writes for partition 1 (LBA 2048, 61440 sectors) and bootmgfw.efi.
WINDOWS_FILE = "\\EFI\\Microsoft\\Boot\\bootmgfw.efi\0".encode("utf-16-le")
WINDOWS_PATH = (
    bytes.fromhex(
        "04012a00" "01000000" "0008000000000000" "00f0000000000000"
        "625e9b3a362b244f9f3b0c5a4a1b2c3d" "0202"
        "04044600"  # 4 + 2 * (32 characters + NUL)
    )
    + WINDOWS_FILE
    + bytes.fromhex("7fff0400")
)  # fmt: skip


@pytest.fixture
def efivars(tmp_path: Path) -> Path:
    out = tmp_path / "efivars"
    shutil.copytree(FIXTURES / "efi" / "ovmf-first-boot", out)
    return out


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """/sys/class/block with vda (512-byte sectors) and its partition vda1."""
    devices = tmp_path / "devices" / "vda"
    (devices / "vda1").mkdir(parents=True)
    (devices / "queue").mkdir()
    (devices / "queue" / "logical_block_size").write_text("512\n")
    for name, value in (("partition", 1), ("start", 2048), ("size", 61440)):
        (devices / "vda1" / name).write_text(f"{value}\n")
    block = tmp_path / "class" / "block"
    block.mkdir(parents=True)
    (block / "vda").symlink_to(devices)
    (block / "vda1").symlink_to(devices / "vda1")
    return block


@pytest.fixture
def reader_for(tmp_path: Path) -> handoff.ReaderFor:
    root = tmp_path / "esp"
    (root / "EFI" / "Microsoft" / "Boot").mkdir(parents=True)
    shutil.copy(FIXTURES / "pe" / "bootmgr-x64.efi", root / "EFI/Microsoft/Boot/bootmgfw.efi")
    volume = Volume("/dev/vda1", root, "vfat", partuuid=ESP_GUID)
    return lambda name: VolumeReader(volume)


def var(efivars: Path, name: str) -> EfiVariable:
    filename = f"{name}-{GLOBAL}"
    return EfiVariable.parse(filename, (efivars / filename).read_bytes())


def handler(efivars: Path, sysfs: Path, setting: EfiHandoff = EfiHandoff.AUTO) -> BootNext:
    return BootNext(directory=efivars, setting=setting, sys_block=sysfs)


def test_hard_drive_from_sysfs(sysfs: Path) -> None:
    hd = bootnext.partition_hard_drive("/dev/vda1", ESP_GUID, sys_block=sysfs)
    assert bytes(hd.node()) == WINDOWS_PATH[:42]


def test_hard_drive_on_a_4k_disk(sysfs: Path) -> None:
    (sysfs / "vda" / "queue" / "logical_block_size").write_text("4096\n")
    hd = bootnext.partition_hard_drive("/dev/vda1", ESP_GUID, sys_block=sysfs)
    assert (hd.start, hd.size) == (256, 7680)


def test_hard_drive_on_mbr() -> None:
    hd = bootnext.hard_drive("0badcafe-02", 2, 2048, 100)
    assert str(hd) == "HD(2,MBR,0xbadcafe,0x800,0x64)"
    with pytest.raises(ValueError, match="no disk signature"):
        bootnext.hard_drive("00000000-01", 1, 2048, 100)


def test_not_a_partition(sysfs: Path) -> None:
    with pytest.raises(HandoffError, match="is not a partition"):
        bootnext.partition_hard_drive("/dev/vdb1", ESP_GUID, sys_block=sysfs)
    with pytest.raises(HandoffError, match="no partition UUID"):
        bootnext.partition_hard_drive("/dev/vda1", None, sys_block=sysfs)


def test_efi_entries_choose_bootnext(efivars: Path, sysfs: Path) -> None:
    installed = handler(efivars, sysfs)
    assert Handoff((installed,)).route(WINDOWS, ENV).require() is installed


def test_bootnext_creates_a_tagged_entry_and_sets_bootnext(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor
) -> None:
    order_before = (efivars / f"BootOrder-{GLOBAL}").read_bytes()
    h = handler(efivars, sysfs)
    plan = Handoff((h,)).plan(WINDOWS, reader_for, ENV)
    assert plan.method is handoff.Method.BOOTNEXT and plan.bootable, plan.problems
    assert plan.kernel == "/dev/vda1:/EFI/Microsoft/Boot/bootmgfw.efi"
    assert plan.segments[0].what == "efi-application"
    assert plan.notes[0].startswith("creates a new Boot#### (HD(1,GPT,3a9b5e62-")
    assert not (efivars / f"Boot0009-{GLOBAL}").exists()  # planning writes nothing
    h.load(plan, reader_for, ENV)
    created = var(efivars, "Boot0009")
    assert created.attributes == 0x7
    option = parse_load_option(created.data)
    assert option.attributes == LOAD_OPTION_ACTIVE
    assert option.description == "Windows Boot Manager"
    assert bytes(option.paths[0]) == WINDOWS_PATH
    assert option.optional_data == TAG
    assert UUID(bytes_le=TAG[:16]) == UUID("db1afb36-009f-43bb-8896-d52064df6175")
    assert TAG[16:] == b"bootmenu"
    boot_next = var(efivars, "BootNext")
    assert (boot_next.attributes, boot_next.data) == (0x7, b"\x09\x00")
    assert (efivars / f"BootOrder-{GLOBAL}").read_bytes() == order_before


def test_an_identical_entry_is_reused_and_stale_ones_removed(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor
) -> None:
    hd = HardDrive.gpt(1, 2048, 61440, UUID(ESP_GUID))
    upper = hd_file_path(hd, r"\EFI\MICROSOFT\BOOT\BOOTMGFW.EFI")
    ours = LoadOption(LOAD_OPTION_ACTIVE, "Windows", (upper,), TAG)
    stale = LoadOption(LOAD_OPTION_ACTIVE, "old", (hd_file_path(hd, r"\EFI\haiku.efi"),), TAG)
    (efivars / f"Boot0020-{GLOBAL}").write_bytes(b"\x07\0\0\0" + bytes(ours))
    (efivars / f"Boot0021-{GLOBAL}").write_bytes(b"\x07\0\0\0" + bytes(stale))
    h = handler(efivars, sysfs)
    plan = Handoff((h,)).plan(WINDOWS, reader_for, ENV)
    assert plan.notes[0].startswith("uses the existing entry Boot0020 (HD(1,GPT,")
    h.load(plan, reader_for, ENV)
    assert var(efivars, "BootNext").data == b"\x20\x00"
    assert not (efivars / f"Boot0021-{GLOBAL}").exists()
    assert (efivars / f"Boot0020-{GLOBAL}").read_bytes() == b"\x07\0\0\0" + bytes(ours)
    assert not (efivars / f"Boot0009-{GLOBAL}").exists()
    assert len(list(efivars.glob("Boot0*"))) == 10  # OVMF's nine and ours


def test_the_firmwares_own_windows_entry_is_used(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor
) -> None:
    hd = HardDrive.gpt(1, 2048, 61440, UUID(ESP_GUID))
    path = hd_file_path(hd, r"\EFI\Microsoft\Boot\bootmgfw.efi")
    own = LoadOption(LOAD_OPTION_ACTIVE, "Windows Boot Manager", (path,), b"WINDOWS\0")
    (efivars / f"Boot0001-{GLOBAL}").write_bytes(b"\x07\0\0\0" + bytes(own))
    h = handler(efivars, sysfs)
    plan = Handoff((h,)).plan(WINDOWS, reader_for, ENV)
    h.load(plan, reader_for, ENV)
    assert var(efivars, "BootNext").data == b"\x01\x00"
    assert (efivars / f"Boot0001-{GLOBAL}").read_bytes() == b"\x07\0\0\0" + bytes(own)
    assert not (efivars / f"Boot0009-{GLOBAL}").exists()


def test_a_firmware_entry_is_chosen_as_it_is(efivars: Path, sysfs: Path) -> None:
    pxe = BootEntry("firmware:Boot0003", "UEFI PXEv4", Kind.EFI, Source.FIRMWARE, "firmware", "")
    h = handler(efivars, sysfs)

    def no_reader(name: str) -> VolumeReader:
        raise AssertionError("a firmware entry without a file reads nothing")

    plan = Handoff((h,)).plan(pxe, no_reader, ENV)
    assert plan.bootable and plan.segments == ()
    assert plan.notes[0] == (
        "the firmware starts its own entry Boot0003 (PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400123456,1))"
    )
    h.load(plan, no_reader, ENV)
    assert var(efivars, "BootNext").data == b"\x03\x00"
    assert len(list(efivars.glob("Boot0*"))) == 9


def test_dry_run_writes_nothing(efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor) -> None:
    h = handler(efivars, sysfs)
    before = sorted(p.name for p in efivars.iterdir())
    env = replace(ENV, dry_run=True)
    plan = Handoff((h,)).plan(WINDOWS, reader_for, env)
    result = Handoff((h,)).execute(plan, reader_for, env, hooks_dir=None, before_jump=lambda: None)
    assert result.method is handoff.Method.BOOTNEXT
    assert sorted(p.name for p in efivars.iterdir()) == before


def test_execute_reboots_through_the_firmware(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = handler(efivars, sysfs)
    calls: list[object] = []
    monkeypatch.setattr(syscalls, "sync", lambda: calls.append("sync"))
    monkeypatch.setattr(syscalls, "reboot", lambda cmd: calls.append(cmd))
    plan = Handoff((h,)).plan(WINDOWS, reader_for, ENV)
    with pytest.raises(HandoffError, match="did not jump"):
        Handoff((h,)).execute(
            plan, reader_for, ENV, hooks_dir=None, before_jump=lambda: calls.append("before")
        )
    assert calls == ["before", "sync", syscalls.LINUX_REBOOT_CMD_RESTART]
    # The reboot "returned": BootNext is taken back, our entry stays for the next time.
    assert not (efivars / f"BootNext-{GLOBAL}").exists()
    assert (efivars / f"Boot0009-{GLOBAL}").exists()


def test_a_file_changed_after_planning_is_not_started(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor
) -> None:
    h = handler(efivars, sysfs)
    plan = Handoff((h,)).plan(WINDOWS, reader_for, ENV)
    path = reader_for("/dev/vda1").volume.path / "EFI/Microsoft/Boot/bootmgfw.efi"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(HandoffError, match="changed after it was checked"):
        h.load(plan, reader_for, ENV)
    assert not (efivars / f"BootNext-{GLOBAL}").exists()


def test_an_invalid_loader_is_a_plan_problem(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor
) -> None:
    h = handler(efivars, sysfs)
    path = reader_for("/dev/vda1").volume.path / "EFI/Microsoft/Boot/bootmgfw.efi"
    shutil.copy(FIXTURES / "pe" / "hello-ia32.efi", path)
    plan = Handoff((h,)).plan(WINDOWS, reader_for, ENV)
    assert not plan.bootable
    assert plan.problems[0].startswith("/EFI/Microsoft/Boot/bootmgfw.efi: ")


def test_refusals(efivars: Path, sysfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = handler(efivars, sysfs)
    assert h.accepts(WINDOWS, replace(ENV, efi=False)) == (
        "this machine did not start through UEFI, so there is no firmware boot manager to "
        "hand EFI applications to"
    )
    linux = replace(WINDOWS, kind=Kind.LINUX)
    assert h.accepts(linux, ENV) == "it starts only EFI applications, not linux entries"

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly())
    assert h.accepts(WINDOWS, ENV) == (
        "the EFI variables are read-only (efivarfs is mounted read-only), so BootNext cannot be set"
    )
    assert bootnext.writable(efivars.parent / "nothing") == (
        f"the EFI variables are not available (efivarfs is not mounted at "
        f"{efivars.parent / 'nothing'})"
    )


def test_payload_setting_falls_back_to_bootnext(
    efivars: Path, sysfs: Path, reader_for: handoff.ReaderFor, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "UniversalPayload.elf"
    first = payload.Payload(setting=EfiHandoff.PAYLOAD, paths=(missing,), sys_block=sysfs)
    both = Handoff((first, handler(efivars, sysfs, EfiHandoff.PAYLOAD)))
    plan = both.plan(WINDOWS, reader_for, ENV)
    assert plan.method is handoff.Method.BOOTNEXT and plan.bootable
    assert plan.notes[-1] == f"not payload: the EFI payload is not installed ({missing})"
    assert both.route(WINDOWS, ENV).text == (
        "starts via BootNext and a firmware reset "
        f"(not payload: the EFI payload is not installed ({missing}))"
    )


def test_a_volume_without_partition_uuid(efivars: Path, sysfs: Path, tmp_path: Path) -> None:
    h = handler(efivars, sysfs)
    root = tmp_path / "plain"
    (root / "EFI" / "Microsoft" / "Boot").mkdir(parents=True)
    shutil.copy(FIXTURES / "pe" / "bootmgr-x64.efi", root / "EFI/Microsoft/Boot/bootmgfw.efi")
    volume = Volume("/dev/vda1", root, "vfat")
    plan = Handoff((h,)).plan(WINDOWS, lambda name: VolumeReader(volume), ENV)
    assert plan.problems == ("/dev/vda1 has no partition UUID, so the firmware cannot find it",)
