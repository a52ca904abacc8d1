"""Windows-layout and Haiku-layout ESPs produce the right entries with the right titles."""

from __future__ import annotations

import shutil
from pathlib import Path

from bootmenu.discover.scanner import ESP_TYPE, Scanner
from bootmenu.model import Kind, Source, Volume

PE = Path(__file__).parent.parent / "fixtures" / "pe"


def esp(root: Path, files: dict[str, str], name: str = "/dev/sda1") -> Volume:
    for path, fixture in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PE / fixture, target)
    return Volume(name, root, "vfat", partuuid="0badcafe-01", parttype=ESP_TYPE)


def befs(root: Path) -> Volume:
    (root / "system").mkdir(parents=True)  # Haiku's own volume: nothing bootmenu boots
    return Volume("/dev/sda2", root, "befs", label="Haiku", partuuid="0badcafe-02")


def test_windows_layout(tmp_path: Path) -> None:
    vol = esp(
        tmp_path / "esp",
        {
            "/EFI/Microsoft/Boot/bootmgfw.efi": "bootmgr-x64.efi",
            "/EFI/BOOT/BOOTX64.EFI": "bootmgr-x64.efi",
        },
    )
    entries = Scanner([vol], host_arch="x86_64").scan().entries
    assert [(e.title, e.source, e.kernel, e.bootable) for e in entries] == [
        ("Windows Boot Manager (removable path)", Source.WINDOWS, "/EFI/BOOT/BOOTX64.EFI", True),
        ("Windows Boot Manager", Source.WINDOWS, "/EFI/Microsoft/Boot/bootmgfw.efi", True),
    ]
    assert all(e.kind is Kind.EFI for e in entries)


def test_haiku_layout_with_its_bfs_partition(tmp_path: Path) -> None:
    vol = esp(tmp_path / "esp", {"/EFI/BOOT/BOOTX64.EFI": "haiku-x64.efi"})
    entries = Scanner([vol, befs(tmp_path / "haiku")], host_arch="x86_64").scan().entries
    assert [(e.id, e.title, e.source, e.root, e.bootable) for e in entries] == [
        ("haiku:/efi/boot/bootx64.efi", "Haiku", Source.HAIKU, "/dev/sda1", True)
    ]


def test_unrecognised_loader_next_to_a_bfs_partition(tmp_path: Path) -> None:
    vol = esp(tmp_path / "esp", {"/EFI/BOOT/BOOTX64.EFI": "hello-x64.efi"})
    with_bfs = Scanner([vol, befs(tmp_path / "haiku")], host_arch="x86_64").scan().entries
    assert [e.title for e in with_bfs] == [
        "Haiku (loader not recognised; a BFS partition is present)"
    ]
    alone = Scanner([vol], host_arch="x86_64").scan().entries
    assert [(e.title, e.source) for e in alone] == [("EFI removable path", Source.EFI_REMOVABLE)]
