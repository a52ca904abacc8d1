"""What the core offers the menu: boot progress, files of a filesystem, custom entries, the
validation report, power actions and firmware setup (all without root: --root and dry runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bootmenu.core import Core, FileItem, Power, Progress
from bootmenu.errors import BootmenuError
from bootmenu.model import Kind, Source
from bootmenu.system import syscalls, sysinfo
from efi.variables import EFI_GLOBAL_VARIABLE, EfiVariable, efivarfs_name
from tests.images import bzimage, initrd

KERNEL = bzimage("6.1.0-menu-amd64", payload=300_000)
INITRD = initrd({"init": b"#!/bin/sh\n" + b"x" * 100_000})


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    root = tmp_path / "boot"
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "vmlinuz-6.1").write_bytes(KERNEL)
    (root / "initrd.img-6.1").write_bytes(INITRD)
    (root / "notes.txt").write_text("not a kernel\n")
    (root / "loader" / "entries" / "debian.conf").write_text(
        "title Debian\nlinux /vmlinuz-6.1\ninitrd /initrd.img-6.1\noptions root=/dev/sda2 ro\n"
    )
    return root


def make_core(boot: Path, tmp_path: Path, **kwargs: object) -> Core:
    efi = tmp_path / "efivars"
    efi.mkdir(exist_ok=True)
    core = Core(
        roots=[str(boot)],
        config_file=None,
        cmdline="",
        dry_run=True,
        efivars_dir=str(efi),
        **kwargs,  # type: ignore[arg-type]
    )
    core.start()
    return core


def test_boot_reports_progress_with_sizes(boot: Path, tmp_path: Path) -> None:
    core = make_core(boot, tmp_path)
    steps: list[Progress] = []
    plan = core.boot([core.find("debian.conf")], progress=steps.append)
    total = len(KERNEL) + len(INITRD)
    assert [s.step for s in steps] == [
        "read", "read", "read", "read", "plan", "hooks", "load",
    ]  # fmt: skip
    reads = [s for s in steps if s.step == "read"]
    assert {s.total for s in reads} == {total}
    assert reads[-1].done == total
    assert reads[0].message == f"Reading and checking {boot}:/vmlinuz-6.1"
    assert steps[4].plan == plan
    loads = [s for s in steps if s.step == "load"]
    assert [s.done for s in loads] == [0]  # the checked bytes are loaded: nothing is read again
    assert plan.cmdline == "root=/dev/sda2 ro"


def test_view_names_the_filesystems(boot: Path, tmp_path: Path) -> None:
    view = make_core(boot, tmp_path).view()
    assert [v.name for v in view.volumes] == [str(boot)]
    assert view.volumes[0].path == boot


def test_a_view_of_directories_is_settled(boot: Path, tmp_path: Path) -> None:
    view = make_core(boot, tmp_path).view()
    assert view.settled and view.ready and view.waiting == () and view.gave_up is None


def test_list_files_directories_first(boot: Path, tmp_path: Path) -> None:
    core = make_core(boot, tmp_path)
    (boot / "dangling").symlink_to("/nowhere")
    items = core.list_files(str(boot), "/")
    assert items == (
        FileItem("loader", True),
        FileItem("initrd.img-6.1", False, len(INITRD)),
        FileItem("notes.txt", False, 13),
        FileItem("vmlinuz-6.1", False, len(KERNEL)),
    )
    assert core.list_files(str(boot), "/loader/entries") == (
        FileItem("debian.conf", False, (boot / "loader/entries/debian.conf").stat().st_size),
    )


def test_custom_entry_is_validated(boot: Path, tmp_path: Path) -> None:
    core = make_core(boot, tmp_path)
    entry = core.custom_entry(str(boot), "/vmlinuz-6.1", ["/initrd.img-6.1"], "quiet")
    assert entry.kind is Kind.LINUX and entry.source is Source.CUSTOM
    assert entry.problems == () and entry.architecture == "x86_64"
    assert entry.id == f"custom:{boot}:/vmlinuz-6.1"
    plan = core.boot([entry])
    assert plan.cmdline == "quiet" and plan.initrd == (f"{boot}:/initrd.img-6.1",)

    bad = core.custom_entry(str(boot), "/notes.txt", ["/missing.img"])
    assert bad.problems[0].startswith("/notes.txt: not a kernel, EFI application or initrd")
    assert f"/missing.img: no such file on {boot}" in bad.problems


def test_inspect_entry_reports_every_file(boot: Path, tmp_path: Path) -> None:
    core = make_core(boot, tmp_path)
    (boot / "initrd.img-6.1").write_bytes(b"garbage")
    kernel, rd = core.inspect_entry(core.find("debian.conf"))
    assert (kernel.role, kernel.path, kernel.size) == ("kernel", "/vmlinuz-6.1", len(KERNEL))
    assert kernel.info is not None and kernel.info.format == "bzimage"
    assert kernel.info.problems == ()
    assert rd.role == "initrd" and rd.info is not None and rd.info.problems


def test_power_on_a_dry_run_only_logs(
    boot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[int] = []
    monkeypatch.setattr(syscalls, "reboot", called.append)
    core = make_core(boot, tmp_path)
    with caplog.at_level(logging.INFO, logger="bootmenu"):
        core.power(Power.POWER_OFF)
    assert called == []
    assert "dry run: would power off" in caplog.text


def test_power_for_real_calls_reboot(
    boot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[int] = []
    monkeypatch.setattr(syscalls, "reboot", called.append)
    monkeypatch.setattr(syscalls, "sync", lambda: None)
    core = make_core(boot, tmp_path)
    core.dry_run = False
    core.power(Power.REBOOT)
    core.power(Power.POWER_OFF)
    assert called == [syscalls.LINUX_REBOOT_CMD_RESTART, syscalls.LINUX_REBOOT_CMD_POWER_OFF]

    def refuse(cmd: int) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(syscalls, "reboot", refuse)
    with pytest.raises(BootmenuError, match="cannot power off: Operation not permitted"):
        core.power(Power.POWER_OFF)


def test_firmware_setup_needs_the_firmware_to_offer_it(
    boot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    efi_dir = tmp_path / "firmware-efi"
    efi_dir.mkdir()
    monkeypatch.setattr(syscalls, "reboot", lambda cmd: None)
    monkeypatch.setattr(syscalls, "sync", lambda: None)
    core = make_core(boot, tmp_path)
    core.dry_run = False
    efivars = Path(core.efivars_dir)
    unavailable = sysinfo.firmware_setup_unavailable(efi_dir=efi_dir, efivars_dir=str(efivars))
    assert unavailable == "the firmware does not say it supports OsIndications"
    supported = EfiVariable(
        "OsIndicationsSupported", EFI_GLOBAL_VARIABLE, 6, (0x41).to_bytes(8, "little")
    )
    (efivars / supported.filename).write_bytes(bytes(supported))
    assert sysinfo.firmware_setup_unavailable(efi_dir=efi_dir, efivars_dir=str(efivars)) is None
    # Other bits of OsIndications are kept.
    current = EfiVariable("OsIndications", EFI_GLOBAL_VARIABLE, 7, (0x4).to_bytes(8, "little"))
    (efivars / current.filename).write_bytes(bytes(current))
    monkeypatch.setattr(
        Core,
        "firmware_setup_unavailable",
        lambda self: sysinfo.firmware_setup_unavailable(efi_dir=efi_dir, efivars_dir=str(efivars)),
    )
    core.power(Power.FIRMWARE_SETUP)
    raw = (efivars / efivarfs_name("OsIndications", EFI_GLOBAL_VARIABLE)).read_bytes()
    assert raw[4:] == (0x5).to_bytes(8, "little")


def test_firmware_setup_without_uefi_is_refused(
    boot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        Core,
        "firmware_setup_unavailable",
        lambda self: sysinfo.firmware_setup_unavailable(efi_dir=tmp_path / "no-such-dir"),
    )
    core = make_core(boot, tmp_path)
    with pytest.raises(BootmenuError, match="the machine did not boot through UEFI"):
        core.power(Power.FIRMWARE_SETUP)
