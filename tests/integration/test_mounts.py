"""Mounter against real filesystem images on loop devices: files are readable and the image
stays bit-identical, even when the filesystem needs journal recovery."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bootmenu.errors import DeviceError
from bootmenu.system import syscalls
from bootmenu.system.mounts import Mounter, mount_options
from bootmenu.system.run import run
from tests.integration.conftest import (
    Images,
    Loops,
    kernel_has_fs,
    mounts_of,
    need_fs,
    need_tool,
    sha256,
)

pytestmark = pytest.mark.root

ROUND_TRIP = ["ext4", "ext3", "ext2", "vfat", "xfs", "btrfs", "iso9660", "squashfs", "erofs"]


def _files(fstype: str) -> dict[str, bytes]:
    return {
        "hello.txt": f"hello from {fstype}\n".encode(),
        "boot/loader.conf": f"timeout 3\n# {fstype}\n".encode(),
    }


@pytest.mark.parametrize("fstype", ROUND_TRIP)
def test_mount_read_unmount_leaves_image_unchanged(
    fstype: str, images: Images, loops: Loops, tmp_path: Path
) -> None:
    kernel = mount_options(fstype)
    assert kernel is not None
    need_fs(kernel[0])
    image = images.build(fstype, _files(fstype))
    before = sha256(image)
    device = loops.attach(image)

    with Mounter(tmp_path / "run") as mounter:
        root = mounter.mount(device, fstype, name="disk")
        assert (root / "hello.txt").read_bytes() == f"hello from {fstype}\n".encode()
        assert (root / "boot" / "loader.conf").read_text() == f"timeout 3\n# {fstype}\n"
        [(mountpoint, options, _)] = mounts_of(device)
        assert mountpoint == root
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(options.split(","))
        assert syscalls.block_readonly(device)

    assert mounts_of(device) == []
    assert not root.exists()
    assert not syscalls.block_readonly(device), "the read-only flag was not restored"
    loops.detach(device)
    assert sha256(image) == before


# --- filesystems that need recovery -------------------------------------------------------


def _ext4_flagged(images: Images) -> Path:
    """needs_recovery set by hand: the kernel 'recovers' (and rewrites the superblock)."""
    need_tool("debugfs", "e2fsprogs")
    image = images.build("ext4", _files("ext4"))
    run(["debugfs", "-w", "-R", "feature needs_recovery", image])
    return image


def _shut_down(images: Images, image: Path, fstype: str) -> None:
    """Write and fsync a file, then shut the filesystem down without flushing: the journal
    holds committed transactions that were never written back (what a power cut leaves)."""
    need_tool("xfs_io", "xfsprogs")
    with images.rw_mount(image, fstype) as root:
        (root / "late.txt").write_bytes(b"written just before the crash\n" * 100)
        run(["xfs_io", "-c", "fsync", root / "late.txt"])
        run(["xfs_io", "-x", "-c", "shutdown", root])


def _ext4_crashed(images: Images) -> Path:
    image = images.build("ext4", _files("ext4"))
    _shut_down(images, image, "ext4")
    return image


def _xfs_crashed(images: Images) -> Path:
    need_fs("xfs")
    image = images.build("xfs", _files("xfs"))
    _shut_down(images, image, "xfs")
    return image


DIRTY: dict[str, tuple[str, Callable[[Images], Path]]] = {
    "ext4-needs_recovery": ("ext4", _ext4_flagged),
    "ext4-crashed": ("ext4", _ext4_crashed),
    "xfs-crashed": ("xfs", _xfs_crashed),
}


@pytest.mark.parametrize("case", sorted(DIRTY))
def test_dirty_filesystem_stays_bit_identical(
    case: str, images: Images, loops: Loops, tmp_path: Path
) -> None:
    fstype, make = DIRTY[case]
    image = make(images)
    control = tmp_path / "control.img"
    shutil.copyfile(image, control)
    before = sha256(image)

    device = loops.attach(image)
    with Mounter(tmp_path / "run") as mounter:
        root = mounter.mount(device, fstype, name="dirty")
        assert (root / "hello.txt").read_bytes() == f"hello from {fstype}\n".encode()
    loops.detach(device)
    assert sha256(image) == before, f"mounting {case} through Mounter changed the image"

    # Control: the same image mounted with a plain MS_RDONLY (what `mount -o ro` does) is
    # rewritten by journal recovery. This is what the test above would catch.
    device = loops.attach(control)
    plain = tmp_path / "plain"
    plain.mkdir()
    syscalls.mount(device, plain, fstype, syscalls.MS_RDONLY, None)
    syscalls.umount(plain)
    loops.detach(device)
    assert sha256(control) != before, f"a plain read-only mount did not recover {case}"


def test_read_only_device_alone_makes_ext4_refuse_recovery(
    images: Images, loops: Loops, tmp_path: Path
) -> None:
    """The second layer: with BLKROSET but without noload, ext4 fails instead of writing."""
    image = _ext4_flagged(images)
    before = sha256(image)
    device = loops.attach(image)
    syscalls.set_block_readonly(device, True)
    target = tmp_path / "m"
    target.mkdir()
    with pytest.raises(OSError) as caught:
        syscalls.mount(device, target, "ext4", syscalls.MS_RDONLY, None)
    assert caught.value.errno == errno.EROFS
    loops.detach(device)
    assert sha256(image) == before


# --- the block device is read-only while mounted ------------------------------------------


def test_device_is_write_protected_while_mounted(
    images: Images, loops: Loops, tmp_path: Path
) -> None:
    image = images.build("ext4", _files("ext4"))
    before = sha256(image)
    device = loops.attach(image)
    with Mounter(tmp_path / "run") as mounter:
        mounter.mount(device, "ext4", name="p1")
        assert syscalls.block_readonly(device)
        with pytest.raises(OSError) as caught:
            fd = os.open(device, os.O_WRONLY)
            try:
                os.write(fd, b"\0" * 4096)
            finally:
                os.close(fd)
        assert caught.value.errno in (errno.EPERM, errno.EROFS, errno.EACCES)
    loops.detach(device)
    assert sha256(image) == before


def test_flag_set_before_stays_set(images: Images, loops: Loops, tmp_path: Path) -> None:
    device = loops.attach(images.build("ext4", _files("ext4")))
    syscalls.set_block_readonly(device, True)
    with Mounter(tmp_path / "run") as mounter:
        mounter.mount(device, "ext4", name="p1")
    assert syscalls.block_readonly(device)


def test_flag_cleared_after_last_of_two_mounts(
    images: Images, loops: Loops, tmp_path: Path
) -> None:
    device = loops.attach(images.build("ext4", _files("ext4")))
    with Mounter(tmp_path / "run") as mounter:
        first = mounter.mount(device, "ext4", name="p1")
        second = mounter.mount(device, "ext4", name="p1")
        assert second.name == "p1-2"
        mounter.unmount(first)
        assert syscalls.block_readonly(device), "cleared while still mounted elsewhere"
        assert (second / "hello.txt").exists()
        mounter.unmount(second)
        assert not syscalls.block_readonly(device)
        assert mounter.mountpoints == ()


# --- failures -----------------------------------------------------------------------------


def test_wrong_type_is_a_sentence_and_leaves_nothing_behind(
    images: Images, loops: Loops, tmp_path: Path
) -> None:
    need_fs("xfs")
    device = loops.attach(images.build("ext4", _files("ext4")))
    with Mounter(tmp_path / "run") as mounter:
        with pytest.raises(DeviceError) as caught:
            mounter.mount(device, "xfs", name="p1")
        assert str(caught.value).startswith(f"{device}: cannot mount xfs read-only: ")
        assert list(mounter.base.iterdir()) == []
        assert mounts_of(device) == []
    assert not syscalls.block_readonly(device)


def test_missing_driver_is_named(images: Images, loops: Loops, tmp_path: Path) -> None:
    if kernel_has_fs("befs"):
        pytest.skip("this kernel can mount befs; the case needs a kernel without it")
    device = loops.attach(images.build("ext2", _files("ext2")))
    with Mounter(tmp_path / "run") as mounter, pytest.raises(DeviceError) as caught:
        mounter.mount(device, "befs", name="p1")
    assert (
        str(caught.value)
        == f"{device}: cannot mount befs read-only: this kernel has no befs driver"
    )


def test_unsupported_type_does_not_touch_the_device(
    images: Images, loops: Loops, tmp_path: Path
) -> None:
    device = loops.attach(images.build("ext2", _files("ext2")))
    with Mounter(tmp_path / "run") as mounter, pytest.raises(DeviceError) as caught:
        mounter.mount(device, "swap", name="p1")
    assert str(caught.value) == f"{device}: bootmenu does not mount swap filesystems"
    assert not syscalls.block_readonly(device)


def test_regular_file_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "not-a-device.img"
    image.write_bytes(b"\0" * 4096)
    with Mounter(tmp_path / "run") as mounter, pytest.raises(DeviceError) as caught:
        mounter.mount(image, "ext4", name="x")
    assert str(caught.value) == f"{image}: not a block device"


# --- unmounting ---------------------------------------------------------------------------


def test_busy_filesystem_is_detached_lazily(images: Images, loops: Loops, tmp_path: Path) -> None:
    device = loops.attach(images.build("ext4", _files("ext4")))
    mounter = Mounter(tmp_path / "run")
    root = mounter.mount(device, "ext4", name="busy")
    with (root / "hello.txt").open("rb") as held:
        with pytest.raises(DeviceError, match="cannot unmount: Device or resource busy"):
            mounter.unmount(root)
        mounter.unmount_all()
        assert mounts_of(device) == []  # gone from the tree though the file is still open
        assert held.read() == b"hello from ext4\n"
    assert not mounter.base.exists()
    assert syscalls.block_readonly(device), "cleared while the detached filesystem was alive"


def test_private_dir_names_and_unmount_all(images: Images, loops: Loops, tmp_path: Path) -> None:
    outer = loops.attach(images.build("ext4", _files("ext4")))
    inner = loops.attach(images.build("ext2", _files("ext2")))
    with Mounter(tmp_path / "run") as mounter:
        assert mounter.base.parent == tmp_path / "run"
        assert stat.S_IMODE(mounter.base.stat().st_mode) == 0o700
        first = mounter.mount(outer, "ext4", name="../weird name/")
        assert first.parent == mounter.base
        assert first.name == "_weird_name_"
        second = mounter.mount(inner, "ext2", name="second")
        assert mounter.mountpoints == (first, second)
    assert mounts_of(outer) == [] and mounts_of(inner) == []
    assert not mounter.base.exists()
    assert (tmp_path / "run").exists()
