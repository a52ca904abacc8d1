"""Fixtures for tests that need root: loop devices, real filesystem images, mounts.

Tests marked ``root`` are skipped (with the reason) only when not running as root or when the
machine has no loop devices. A missing mkfs tool or a kernel without the filesystem's driver is
also a skip with a reason naming the Debian package or the driver; CI installs them.

Cleanup runs even when a test fails: everything still mounted from a loop device this fixture
attached is detached lazily, the device's read-only flag is cleared (it outlives a detach and
would leak into the next user of /dev/loopN) and the loop device is detached.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootmenu.system import syscalls
from bootmenu.system.run import run

LOOP_CONTROL = Path("/dev/loop-control")


@pytest.fixture(autouse=True)
def _root_prerequisites(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("root") is None:
        return
    if os.geteuid() != 0:
        pytest.skip("needs root (loop devices, mount)")
    if not LOOP_CONTROL.exists():
        pytest.skip("no /dev/loop-control: this machine has no loop devices")


def need_tool(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian package {package})")


def kernel_has_fs(fstype: str) -> bool:
    """The driver is registered, or there is a module the kernel can load on mount."""
    for line in Path("/proc/filesystems").read_text().splitlines():
        if line.split()[-1:] == [fstype]:
            return True
    modules = Path("/lib/modules") / platform.release() / "kernel" / "fs"
    return modules.is_dir() and any(modules.rglob(f"{fstype}.ko*"))


def need_fs(fstype: str) -> None:
    if not kernel_has_fs(fstype):
        pytest.skip(f"this kernel ({platform.release()}) has no {fstype} driver")


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def mounts_of(source: Path) -> list[tuple[Path, str, str]]:
    """(mountpoint, per-mount options, superblock options) of every mount of ``source``."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        _fstype, src, super_options = right.split()[:3]
        if src == str(source):
            found.append((Path(_unescape(fields[4])), fields[5], super_options))
    return found


def _release(device: Path) -> None:
    for mountpoint, _, _ in reversed(mounts_of(device)):
        with contextlib.suppress(OSError):
            syscalls.umount(mountpoint, syscalls.MNT_DETACH)
    with contextlib.suppress(OSError):
        syscalls.set_block_readonly(device, False)
    run(["losetup", "--detach", device], check=False)


class Loops:
    """Attaches image files to loop devices; the fixture detaches whatever is left."""

    def __init__(self) -> None:
        self.devices: list[Path] = []

    def attach(self, image: Path) -> Path:
        out = run(["losetup", "--find", "--show", image]).stdout.decode().strip()
        device = Path(out)
        self.devices.append(device)
        # A read-only flag left by an earlier user of this /dev/loopN survives detaching.
        syscalls.set_block_readonly(device, False)
        return device

    def detach(self, device: Path) -> None:
        self.devices.remove(device)
        _release(device)

    def release_all(self) -> None:
        while self.devices:
            _release(self.devices.pop())


@pytest.fixture
def loops() -> Iterator[Loops]:
    attached = Loops()
    try:
        yield attached
    finally:
        attached.release_all()


class Images:
    """Builds small real filesystem images with mkfs; each holds the given files at its root."""

    def __init__(self, tmp: Path, loops: Loops) -> None:
        self.tmp = tmp
        self.loops = loops

    def _tree(self, name: str, files: dict[str, bytes]) -> Path:
        root = self.tmp / f"{name}.tree"
        root.mkdir()
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return root

    def _blank(self, name: str, size: str) -> Path:
        image = self.tmp / f"{name}.img"
        run(["truncate", "--size", size, image])
        return image

    def build(self, fstype: str, files: dict[str, bytes]) -> Path:
        tree = self._tree(fstype, files)
        if fstype in ("ext2", "ext3", "ext4"):
            need_tool(f"mkfs.{fstype}", "e2fsprogs")
            image = self._blank(fstype, "16M")
            run([f"mkfs.{fstype}", "-q", "-F", "-d", tree, image])
        elif fstype == "vfat":
            need_tool("mkfs.vfat", "dosfstools")
            need_tool("mcopy", "mtools")
            image = self._blank(fstype, "16M")
            run(["mkfs.vfat", image])
            names = [tree / rel for rel in files]
            run(["mcopy", "-i", image, *names, "::"], env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
        elif fstype == "xfs":
            need_tool("mkfs.xfs", "xfsprogs")
            image = self._blank(fstype, "300M")  # mkfs.xfs refuses anything smaller
            run(["mkfs.xfs", "-q", image])
            self.fill(image, "xfs", files)
        elif fstype == "btrfs":
            need_tool("mkfs.btrfs", "btrfs-progs")
            image = self._blank(fstype, "128M")
            run(["mkfs.btrfs", "-q", "--rootdir", tree, image])
        elif fstype == "iso9660":
            need_tool("xorriso", "xorriso")
            image = self.tmp / "iso9660.img"
            run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", image, tree])
        elif fstype == "squashfs":
            need_tool("mksquashfs", "squashfs-tools")
            image = self.tmp / "squashfs.img"
            run(["mksquashfs", tree, image, "-noappend", "-quiet"])
        elif fstype == "erofs":
            need_tool("mkfs.erofs", "erofs-utils")
            image = self.tmp / "erofs.img"
            run(["mkfs.erofs", "--quiet", image, tree])
        else:
            raise AssertionError(f"no recipe for {fstype}")
        return image

    def fill(self, image: Path, fstype: str, files: dict[str, bytes]) -> None:
        """Write files through a plain read-write mount (for mkfs tools that cannot)."""
        with self.rw_mount(image, fstype) as root:
            for rel, data in files.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)

    def rw_mount(self, image: Path, fstype: str) -> _RwMount:
        return _RwMount(self, image, fstype)


class _RwMount:
    def __init__(self, images: Images, image: Path, fstype: str) -> None:
        self.images = images
        self.image = image
        self.fstype = fstype
        self.mountpoint = images.tmp / f"{image.name}.rw"
        self.device: Path | None = None

    def __enter__(self) -> Path:
        self.mountpoint.mkdir(exist_ok=True)
        self.device = self.images.loops.attach(self.image)
        syscalls.mount(self.device, self.mountpoint, self.fstype, 0, None)
        return self.mountpoint

    def __exit__(self, *exc: object) -> None:
        syscalls.umount(self.mountpoint)
        assert self.device is not None
        self.images.loops.detach(self.device)


@pytest.fixture
def images(tmp_path: Path, loops: Loops) -> Images:
    return Images(tmp_path, loops)
