"""Path resolution inside a volume: no escaping, FAT case-insensitivity, size limits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bootmenu.errors import PathError
from bootmenu.model import Volume
from bootmenu.system.fs import VolumeReader, normalize


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "vol"
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"MZ loader")
    (root / "boot").mkdir()
    (root / "boot" / "vmlinuz-6.1").write_bytes(b"kernel")
    os.symlink("vmlinuz-6.1", root / "boot" / "vmlinuz")
    os.symlink("/boot/vmlinuz-6.1", root / "boot" / "abs-link")
    os.symlink("../../outside", root / "boot" / "escape")
    os.symlink("loop2", root / "boot" / "loop1")
    os.symlink("loop1", root / "boot" / "loop2")
    (tmp_path / "outside").write_bytes(b"secret")
    return root


def reader(root: Path, fstype: str | None = "ext4") -> VolumeReader:
    return VolumeReader(Volume(name="/dev/test", path=root, fstype=fstype))


def test_relative_symlink_is_followed(tree: Path) -> None:
    assert reader(tree).read("/boot/vmlinuz") == b"kernel"


def test_absolute_symlink_means_the_volume_root(tree: Path) -> None:
    assert reader(tree).read("/boot/abs-link") == b"kernel"


@pytest.mark.parametrize("path", ["/../outside", "/boot/../../outside", "boot/escape"])
def test_escaping_paths_are_refused(tree: Path, path: str) -> None:
    with pytest.raises(PathError, match="outside its filesystem"):
        reader(tree).resolve(path)


def test_symlink_loop_is_an_error_not_a_hang(tree: Path) -> None:
    with pytest.raises(PathError, match="too many levels"):
        reader(tree).resolve("/boot/loop1")


def test_fat_is_case_insensitive(tree: Path) -> None:
    assert reader(tree, "vfat").read("/efi/boot/bootx64.efi") == b"MZ loader"
    assert reader(tree, "vfat").read("\\EFI\\Boot\\BootX64.efi") == b"MZ loader"


def test_fat_lists_each_directory_once_per_reader(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan looks for many names that are not there; on FAT each miss listed the directory
    again. One reader (one scan of a read-only filesystem) lists a directory once."""
    listed: list[str] = []
    real_listdir = os.listdir

    def counting(path: str) -> list[str]:
        listed.append(os.fspath(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", counting)
    fat = reader(tree, "vfat")
    for name in ("/loader/loader.conf", "/LOADER/entries", "/grub/grub.cfg", "/efi/boot/x"):
        assert not fat.exists(name)
    assert fat.read("/efi/boot/bootx64.efi") == b"MZ loader"
    dirs = {os.fspath(tree), os.fspath(tree / "EFI"), os.fspath(tree / "EFI" / "BOOT")}
    assert sorted(listed) == sorted(dirs)


def test_fat_names_that_differ_only_in_case_resolve_to_the_first_sorted(tmp_path: Path) -> None:
    (tmp_path / "Boot").mkdir()
    (tmp_path / "boot").mkdir()
    (tmp_path / "Boot" / "a").write_bytes(b"upper")
    (tmp_path / "boot" / "a").write_bytes(b"lower")
    assert reader(tmp_path, "vfat").read("/BOOT/a") == b"upper"


def test_ext4_is_case_sensitive(tree: Path) -> None:
    with pytest.raises(PathError, match="no such file on /dev/test"):
        reader(tree).resolve("/efi/boot/bootx64.efi")


def test_file_as_directory(tree: Path) -> None:
    with pytest.raises(PathError, match="is not a directory"):
        reader(tree).resolve("/boot/vmlinuz-6.1/x")


def test_size_limit(tree: Path) -> None:
    with pytest.raises(PathError, match="larger than"):
        reader(tree).read("/boot/vmlinuz", limit=3)


def test_directory_is_not_a_file(tree: Path) -> None:
    with pytest.raises(PathError, match="not a regular file"):
        reader(tree).read("/boot")


def test_read_head_reports_total_size(tree: Path) -> None:
    assert reader(tree).read_head("/boot/vmlinuz", 2) == (b"ke", 6)


def test_normalize() -> None:
    assert normalize("\\EFI\\BOOT\\x.efi") == "/EFI/BOOT/x.efi"
    assert normalize("boot//./vmlinuz") == "/boot/vmlinuz"
