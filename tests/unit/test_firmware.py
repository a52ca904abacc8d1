"""Firmware boot entries: OVMF's own Boot#### variables, HD() matched to partitions, the core."""

from __future__ import annotations

import shutil
from pathlib import Path
from uuid import UUID

import pytest

from bootmenu.boot import bootnext
from bootmenu.core import Core
from bootmenu.discover import firmware
from bootmenu.discover.firmware import firmware_entries
from bootmenu.model import BootEntry, Kind, Source, Volume
from bootmenu.system import bootvars, sysfs
from bootmenu.system.bootvars import FirmwareKind, read_state
from efi.devicepath import HardDrive, hd_file_path
from efi.loadoption import LOAD_OPTION_ACTIVE, LoadOption

FIXTURES = Path(__file__).parent.parent / "fixtures"
EFI = FIXTURES / "efi"
PE = FIXTURES / "pe"
GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
ESP_GUID = "3a9b5e62-2b36-4f24-9f3b-0c5a4a1b2c3d"


def efivars(tmp_path: Path, *dumps: str) -> Path:
    out = tmp_path / "efivars"
    out.mkdir(exist_ok=True)
    for dump in dumps:
        for f in (EFI / dump).iterdir():
            shutil.copy(f, out / f.name)
    return out


def esp(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "esp"
    for path, fixture in files.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PE / fixture, root / path.lstrip("/"))
    return root


def by_id(entries: tuple[BootEntry, ...]) -> dict[str, BootEntry]:
    return {e.id: e for e in entries}


def test_ovmf_state() -> None:
    state = read_state(EFI / "ovmf-first-boot")
    assert state.boot_order == tuple(range(9))
    assert [o.number for o in state.options] == list(range(9))
    assert state.boot_current is None and state.boot_next is None and not state.warnings
    kinds = [o.kind for o in state.options]
    assert kinds == [
        FirmwareKind.FIRMWARE_APP,
        FirmwareKind.DEVICE,
        FirmwareKind.DEVICE,
        *[FirmwareKind.NETWORK] * 5,
        FirmwareKind.FIRMWARE_APP,
    ]


def test_ovmf_entries_are_shown_for_what_they_are() -> None:
    entries = firmware_entries(read_state(EFI / "ovmf-first-boot"), [])
    titles = [e.title for e in entries]
    assert titles == [
        "UiApp [firmware setup]",
        "UEFI QEMU DVD-ROM QM00005 [removable media]",
        "UEFI Misc Device [removable media]",
        "UEFI PXEv4 (MAC:525400123456) [network boot]",
        "UEFI PXEv4 (MAC:525400123456) 2 [network boot]",
        "UEFI PXEv6 (MAC:525400123456) [network boot]",
        "UEFI HTTPv4 (MAC:525400123456) [network boot]",
        "UEFI HTTPv6 (MAC:525400123456) [network boot]",
        "EFI Internal Shell [UEFI shell]",
    ]
    first = entries[0]
    assert first.id == "firmware:Boot0000"
    assert (first.kind, first.source, first.root, first.kernel) == (
        Kind.EFI, Source.FIRMWARE, "firmware", ""
    )  # fmt: skip
    assert first.origin == (
        "EFI variable Boot0000: Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/"
        "FvFile(462caa21-7614-4503-836e-8ab6f4662331)"
    )
    # Every firmware entry can be chosen as BootNext as it is.
    assert all(e.bootable for e in entries)
    assert bootvars.option_number(entries[3]) == 3


def test_hd_entry_is_matched_by_partition_uuid_and_validated(tmp_path: Path) -> None:
    root = esp(tmp_path, {"/EFI/test/marker.efi": "hello-x64.efi"})
    vol = Volume("/dev/vda1", root, "vfat", partuuid=ESP_GUID)
    (entry,) = firmware_entries(read_state(EFI / "efibootmgr-marker"), [vol], host_arch="x86_64")
    assert (entry.title, entry.root, entry.kernel) == (
        "marker",
        "/dev/vda1",
        "/EFI/test/marker.efi",
    )
    assert entry.problems == ()
    assert entry.origin == (
        "EFI variable Boot0004: HD(1,GPT,3a9b5e62-2b36-4f24-9f3b-0c5a4a1b2c3d,0x800,0xf000)/"
        "File(\\EFI\\test\\marker.efi)"
    )


def test_hd_entry_with_an_invalid_loader(tmp_path: Path) -> None:
    root = esp(tmp_path, {"/EFI/test/marker.efi": "console-x64.exe"})
    vol = Volume("/dev/vda1", root, "vfat", partuuid=ESP_GUID)
    (entry,) = firmware_entries(read_state(EFI / "efibootmgr-marker"), [vol], host_arch="x86_64")
    assert not entry.bootable
    assert entry.problems[0].startswith("/EFI/test/marker.efi: ")
    assert "subsystem 3" in entry.problems[0]


def test_hd_entry_whose_file_is_missing(tmp_path: Path) -> None:
    root = esp(tmp_path, {"/EFI/BOOT/BOOTX64.EFI": "hello-x64.efi"})
    vol = Volume("/dev/vda1", root, "vfat", partuuid=ESP_GUID.upper())
    (entry,) = firmware_entries(read_state(EFI / "efibootmgr-marker"), [vol])
    assert entry.root == "/dev/vda1"
    assert len(entry.problems) == 1 and "marker.efi" in entry.problems[0]


def test_hd_entry_on_a_disk_bootmenu_cannot_see() -> None:
    (entry,) = firmware_entries(read_state(EFI / "efibootmgr-marker"), [])
    assert entry.problems == (
        f"its partition (PARTUUID={ESP_GUID}) is not on any disk bootmenu can see",
    )


def test_mbr_partition_is_matched_like_udev_names_it(tmp_path: Path) -> None:
    hd = HardDrive.mbr(2, 2048, 4096, 0x0BADCAFE)
    option = LoadOption(LOAD_OPTION_ACTIVE, "Haiku", (hd_file_path(hd, r"\EFI\BOOT\BOOTX64.EFI"),))
    vars_dir = tmp_path / "vars"
    vars_dir.mkdir()
    (vars_dir / f"Boot0001-{GLOBAL}").write_bytes(b"\x07\0\0\0" + bytes(option))
    root = esp(tmp_path, {"/EFI/BOOT/BOOTX64.EFI": "haiku-x64.efi"})
    vol = Volume("/dev/sda2", root, "vfat", partuuid="0badcafe-02")
    (entry,) = firmware_entries(read_state(vars_dir), [vol], host_arch="x86_64")
    assert (entry.root, entry.kernel, entry.problems) == ("/dev/sda2", "/EFI/BOOT/BOOTX64.EFI", ())
    assert firmware.partuuid_of(hd) == "0badcafe-02"


def test_broken_variables_are_problems_and_warnings(tmp_path: Path) -> None:
    vars_dir = efivars(tmp_path, "ovmf-first-boot")
    (vars_dir / f"Boot0003-{GLOBAL}").write_bytes(b"\x07\0\0\0\x01\0\0\0\x40\0A\0")
    (vars_dir / f"Boot0001-{GLOBAL}").unlink()
    (vars_dir / f"BootCurrent-{GLOBAL}").write_bytes(b"\x06\0\0\0\x02\0")
    (vars_dir / f"BootNext-{GLOBAL}").write_bytes(b"\x07\0\0\0\x02")
    state = read_state(vars_dir)
    assert state.boot_current == 2
    assert state.boot_next is None
    assert state.warnings == (
        "BootOrder names entries that do not exist: Boot0001",
        "EFI variable BootNext ignored: EFI variable BootNext: expected 2 bytes, found 1",
    )
    entries = by_id(firmware_entries(state, []))
    broken = entries["firmware:Boot0003"]
    assert broken.title == "Boot0003" and not broken.bootable
    assert broken.problems[0].startswith("Boot0003 cannot be read: EFI variable Boot0003: ")
    assert "firmware:Boot0001" not in entries


def test_no_efivars_no_entries(tmp_path: Path) -> None:
    assert read_state(tmp_path / "missing") == bootvars.FirmwareState()


def test_merge_keeps_the_scanned_entry_for_the_same_file() -> None:
    title, path = "Windows Boot Manager", "/EFI/Microsoft/Boot/bootmgfw.efi"
    scanned = BootEntry("windows:x", title, Kind.EFI, Source.WINDOWS, "/dev/vda1", path)
    same = BootEntry(
        "firmware:Boot0000", title, Kind.EFI, Source.FIRMWARE, "/dev/vda1", path.upper()
    )
    other = BootEntry("firmware:Boot0001", "UEFI Shell", Kind.EFI, Source.FIRMWARE, "firmware", "")
    assert firmware.merge([scanned], [same, other]) == (scanned, other)


# -- the core ----------------------------------------------------------------------------------


def windows_esp(tmp_path: Path) -> Path:
    """An ESP with Windows Boot Manager and a BLS entry for it (a --root directory on a
    test machine is not FAT, so the scanner finds it through the entry)."""
    root = esp(tmp_path, {"/EFI/Microsoft/Boot/bootmgfw.efi": "bootmgr-x64.efi"})
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "loader" / "entries" / "windows.conf").write_text(
        "title Windows Boot Manager\nefi /EFI/Microsoft/Boot/bootmgfw.efi\n"
    )
    return root


def test_core_adds_firmware_entries_with_efivars(tmp_path: Path) -> None:
    core = Core(roots=[str(windows_esp(tmp_path))], config_file=None, cmdline="",
                efivars_dir=str(efivars(tmp_path, "ovmf-first-boot")))  # fmt: skip
    view = core.start()
    ids = [e.id for e in view.entries]
    assert ids[0] == "windows.conf"
    assert ids[1:] == [f"firmware:Boot{n:04X}" for n in range(9)]
    assert all(e.bootable for e in view.entries), [e.problems for e in view.entries]


def test_core_marks_efi_entries_with_read_only_efivars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        bootnext, "writable", lambda d: "the EFI variables are read-only (efivarfs is mounted "
        "read-only)"
    )  # fmt: skip
    core = Core(roots=[str(windows_esp(tmp_path))], config_file=None, cmdline="",
                efivars_dir=str(efivars(tmp_path, "ovmf-first-boot")))  # fmt: skip
    view = core.start()
    why = (
        "the EFI variables are read-only (efivarfs is mounted read-only), so BootNext cannot be set"
    )
    assert all(e.problems[-1] == why for e in view.entries)


def test_core_marks_efi_entries_on_a_bios_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sysfs, "EFI_DIR", tmp_path / "no-sys-firmware-efi")
    core = Core(roots=[str(windows_esp(tmp_path))], config_file=None, cmdline="")
    (entry,) = core.start().entries
    assert entry.title == "Windows Boot Manager"
    assert entry.problems == (
        "this machine did not start through UEFI, so there is no firmware boot manager to hand "
        "EFI applications to",
    )


def test_partuuid_of_an_hd_without_signature() -> None:
    hd = HardDrive(1, 0, 1, None, 1, 0)
    assert firmware.partuuid_of(hd) is None
    assert firmware.find_volume(hd, [Volume("x", Path("/"), partuuid=str(UUID(int=0)))]) is None


def test_core_tells_how_each_efi_entry_starts(tmp_path: Path) -> None:
    """A --root directory is no disk the payload can read: the route is BootNext, and says
    why not the payload; on a BIOS boot neither can start it and the route says so."""
    root = windows_esp(tmp_path)
    core = Core(roots=[str(root)], config_file=None, cmdline="",
                efivars_dir=str(efivars(tmp_path, "ovmf-first-boot")))  # fmt: skip
    view = core.start()
    windows = next(e for e in view.entries if e.title == "Windows Boot Manager")
    assert windows.bootable
    assert view.routes[windows.id].startswith(
        "starts via BootNext and a firmware reset (not payload: "
    ), view.routes[windows.id]
    assert all(e.kind is Kind.EFI for e in view.entries if e.id in view.routes)


def test_core_route_on_a_bios_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sysfs, "EFI_DIR", tmp_path / "no-sys-firmware-efi")
    core = Core(roots=[str(windows_esp(tmp_path))], config_file=None, cmdline="")
    view = core.start()
    (entry,) = view.entries
    assert view.routes[entry.id] == (
        "cannot start: payload: this machine did not start through UEFI; bootnext: this machine "
        "did not start through UEFI, so there is no firmware boot manager to hand EFI "
        "applications to"
    )
