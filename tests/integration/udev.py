"""Fixtures for discovery tests: a running udevd and partitioned disk images on loop devices.

``udevd`` (session): uses the udevd that is already running, or starts
``systemd-udevd`` (Debian package ``udev``) for the session and stops it afterwards. When it
cannot be started the tests fail with the reason; they do not skip.

``disks`` (per test): builds GPT disk images with sfdisk, attaches them with
``losetup --partscan`` and formats their partitions. Kernels built without partition-table
parsers (CONFIG_EFI_PARTITION and CONFIG_MSDOS_PARTITION off, as on the Firecracker VMs used in
development) create no partition devices for that; the fixture then adds them with
``partx --add`` (BLKPG), which is what the kernel would have done. Cleanup runs even when a
test fails: mounts of the loop devices are detached lazily, their read-only flags cleared and
the loop devices detached.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bootmenu.system import syscalls
from bootmenu.system.run import CommandError, run
from tests.integration.conftest import mounts_of, need_tool

UDEVD_PATHS = ("/lib/systemd/systemd-udevd", "/usr/lib/systemd/systemd-udevd")


def _ping() -> bool:
    try:
        run(["udevadm", "control", "--ping", "--timeout=2"], timeout=5)
    except CommandError:
        return False
    return True


def settle(*devices: str | Path) -> None:
    """Have udev process ``devices`` again (as after a write) and wait until it is done."""
    if devices:
        run(["udevadm", "trigger", "--action=change", "--settle", *devices], timeout=30)
    run(["udevadm", "settle", "--timeout=20"], timeout=30)


@pytest.fixture(scope="session")
def udevd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("needs root (udevd, loop devices, mount)")
    if shutil.which("udevadm") is None:
        pytest.fail("udevadm is not installed (Debian package udev)")
    if _ping():
        yield  # a udevd is running already (systemd, or a test run before)
        return
    binary = next((p for p in UDEVD_PATHS if os.access(p, os.X_OK)), None)
    if binary is None:
        pytest.fail(
            f"systemd-udevd is not installed (Debian package udev); looked in {UDEVD_PATHS}"
        )
    log_path = tmp_path_factory.mktemp("udevd") / "udevd.log"
    with log_path.open("wb") as log:
        # Tests may start processes directly; this one runs for the whole session.
        process = subprocess.Popen(
            [binary], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 10
        while not _ping():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                text = log_path.read_text(errors="replace").strip()
                pytest.fail(
                    f"systemd-udevd did not start (exit status {process.returncode}): "
                    f"{text or 'no output'}"
                )
            time.sleep(0.05)
        run(["udevadm", "trigger", "--subsystem-match=block", "--action=add"], timeout=30)
        settle()
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Part:
    """One partition of a test disk: its size, sfdisk type, GPT name and what goes on it."""

    size: str
    fs: str  # "ext4", "xfs", "swap", "luks", "none"
    name: str = ""
    label: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    dirty: bool = False  # ext4: set needs_recovery, as an unclean shutdown leaves it
    uuid: str = ""  # ext4: the filesystem UUID (random when empty)


@dataclass
class Disk:
    image: Path
    device: Path
    parts: tuple[Path, ...]

    def part(self, n: int) -> str:
        return str(self.parts[n - 1])


TYPES = {"swap": "S", "luks": "CA7D7CCB-63ED-4C53-861C-1742536059CC"}


class Disks:
    """Builds partitioned disk images on loop devices; the fixture releases them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.attached: list[tuple[Path, Path]] = []  # (loop device, image)
        self.count = 0

    def image(self, parts: list[Part], *, size: str = "64M") -> Path:
        """A sparse image with a GPT partition table (nothing formatted yet)."""
        need_tool("sfdisk", "fdisk")
        self.count += 1
        image = self.tmp / f"disk{self.count}.img"
        run(["truncate", "--size", size, image])
        lines = ["label: gpt"]
        for p in parts:
            line = f"size={p.size}, type={TYPES.get(p.fs, 'L')}"
            lines.append(line + (f', name="{p.name}"' if p.name else ""))
        run(["sfdisk", "--quiet", image], input="\n".join(lines).encode() + b"\n")
        return image

    def attach(self, image: Path, count: int) -> Disk:
        """losetup --partscan, with partx as the fallback for kernels without parsers."""
        out = run(["losetup", "--find", "--show", "--partscan", image]).stdout.decode().strip()
        device = Path(out)
        self.attached.append((device, image))
        with contextlib.suppress(OSError):
            syscalls.set_block_readonly(device, False)  # left over from an earlier user
        parts = tuple(Path(f"{device}p{n}") for n in range(1, count + 1))
        settle()
        if not all(p.exists() for p in parts):
            run(["partx", "--add", device])
            settle()
        missing = [str(p) for p in parts if not p.exists()]
        assert not missing, f"partitions did not appear: {missing}"
        return Disk(image, device, parts)

    def build(self, parts: list[Part], *, size: str = "64M") -> Disk:
        """An image with formatted partitions, attached (partitions as devices)."""
        disk = self.attach(self.image(parts, size=size), len(parts))
        for dev, p in zip(disk.parts, parts, strict=True):
            self._format(dev, p)
        settle(*disk.parts)
        return disk

    def _format(self, dev: Path, p: Part) -> None:
        if p.fs == "ext4":
            need_tool("mkfs.ext4", "e2fsprogs")
            tree = self.tmp / f"tree-{dev.name}"
            tree.mkdir()
            for rel, data in p.files.items():
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                (tree / rel).write_bytes(data)
            label = ["-L", p.label] if p.label else []
            uuid = ["-U", p.uuid] if p.uuid else []
            run(["mkfs.ext4", "-q", "-F", *label, *uuid, "-d", tree, dev])
            if p.dirty:
                need_tool("debugfs", "e2fsprogs")
                run(["debugfs", "-w", "-R", "feature needs_recovery", dev])
        elif p.fs == "xfs":
            need_tool("mkfs.xfs", "xfsprogs")
            run(["mkfs.xfs", "-q", "-f", *(["-L", p.label] if p.label else []), dev])
        elif p.fs == "swap":
            run(["mkswap", "-q", dev])
        elif p.fs == "luks":
            need_tool("cryptsetup", "cryptsetup-bin")
            key = self.tmp / "luks.key"
            key.write_bytes(b"not a secret, only a test key\n")
            run(
                ["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf",
                 "pbkdf2", "--pbkdf-force-iterations", "1000", "--key-file", key, dev],
                timeout=60,
            )  # fmt: skip
        elif p.fs != "none":
            raise AssertionError(f"no recipe for {p.fs}")

    def announce_removal(self, disk: Disk) -> None:
        """Detach the loop device and tell udev its partitions are gone.

        While a partition is mounted the kernel only marks the loop device for detaching
        (autoclear) and announces nothing until the last user lets go; a USB stick that is
        pulled is announced at once. The synthetic "remove" events are what udev would have
        sent for a pulled stick."""
        run(["losetup", "--detach", disk.device])
        run(["udevadm", "trigger", "--action=remove", "--settle", *disk.parts], timeout=30)

    @staticmethod
    def backing_file(device: Path) -> str | None:
        try:
            path = Path("/sys/class/block") / device.name / "loop" / "backing_file"
            return path.read_text().strip()
        except OSError:
            return None

    def is_attached(self, disk: Disk) -> bool:
        return self.backing_file(disk.device) == str(disk.image)

    def release(self, device: Path, image: Path) -> None:
        if self.backing_file(device) != str(image):
            return  # detached already, and perhaps someone else's by now: not ours to touch
        name = device.name
        holders = [
            Path("/dev") / p.name for p in Path(f"/sys/class/block/{name}").glob(f"{name}p*")
        ]
        for dev in [*holders, device]:
            for mountpoint, _, _ in reversed(mounts_of(dev)):
                with contextlib.suppress(OSError):
                    syscalls.umount(mountpoint, syscalls.MNT_DETACH)
            with contextlib.suppress(OSError):
                syscalls.set_block_readonly(dev, False)
        run(["losetup", "--detach", device], check=False)
        # The flag of the whole loop device survives the detach: clear it once more.
        with contextlib.suppress(OSError):
            syscalls.set_block_readonly(device, False)

    def detach(self, disk: Disk) -> None:
        self.attached.remove((disk.device, disk.image))
        self.release(disk.device, disk.image)
        settle()

    def release_all(self) -> None:
        while self.attached:
            self.release(*self.attached.pop())
        with contextlib.suppress(CommandError):
            settle()


@pytest.fixture
def disks(tmp_path: Path, udevd: None) -> Iterator[Disks]:
    built = Disks(tmp_path)
    try:
        yield built
    finally:
        built.release_all()
