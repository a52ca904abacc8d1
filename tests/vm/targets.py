"""What bootmenu boots in the VM tier: a Debian kernel with a tiny initramfs, Multiboot kernels.

The Linux target is Debian's kernel (the one the bootmenu initramfs runs on: ``build/vmlinuz``,
else the current ``linux-image-amd64`` via :mod:`tests.debian`) with an initramfs of busybox
(Debian's ``busybox-static``) and an ``/init`` that prints one line and powers off::

    BOOTMENU-TARGET-OK cmdline=<contents of /proc/cmdline>

QEMU then exits with status 0.  The Multiboot 1/2 kernels of :mod:`tests.mbkernel` print
``BOOTMENU-MB1-OK cmdline=…`` (``MB2``) on COM1 and end QEMU through ``isa-debug-exit`` with
status 33.  So a test sees *which* kernel started, *what command line it got*, and that it ran
to its end.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rootfs.cpio import Entry
from tests import debian, mbkernel
from tests.images import cpio_archive

TARGET_MARKER: Final = "BOOTMENU-TARGET-OK cmdline="
# The whole line; group 1 is the command line (the shell's `read` trimmed the newline).
TARGET_LINE: Final = re.compile(r"BOOTMENU-TARGET-OK cmdline=([^\r\n]*)\r*\n")
TARGET_EXIT_STATUS: Final = 0  # poweroff -f


def mb_line(version: int) -> re.Pattern[str]:
    """The Multiboot kernel's marker line; group 1 is the command line it received."""
    return re.compile(re.escape(mbkernel.marker(version)) + r"([^\r\n]*)\r*\n")


MB_EXIT_STATUS: Final = mbkernel.QEMU_EXIT_OK

INIT_SCRIPT: Final = b"""#!/bin/busybox sh
# bootmenu's VM tests: say which command line this kernel got, then power off.
/bin/busybox mount -t proc proc /proc
read -r cmdline < /proc/cmdline
echo "BOOTMENU-TARGET-OK cmdline=$cmdline"
/bin/busybox poweroff -f
"""


def busybox() -> Path:
    """Debian's statically linked busybox (package busybox-static)."""
    return debian.debian_file("busybox-static", "bin/busybox")


def target_initramfs_bytes() -> bytes:
    """The target's gzip-compressed initramfs (the same bytes every time)."""
    archive = cpio_archive(
        [
            Entry.directory("bin"),
            Entry.file("bin/busybox", busybox().read_bytes(), 0o755),
            Entry.directory("dev"),
            Entry.chardev("dev/console", 5, 1),
            Entry.file("init", INIT_SCRIPT, 0o755),
            Entry.directory("proc"),
            Entry.directory("sys"),
        ]
    )
    return gzip.compress(archive, compresslevel=9, mtime=0)


def target_kernel(artifacts: Path | None = None) -> Path:
    """The Debian kernel: ``artifacts/vmlinuz`` when the rootfs build made one, else the one
    of the current ``linux-image-amd64`` package."""
    if artifacts is not None and (artifacts / "vmlinuz").is_file():
        return artifacts / "vmlinuz"
    return debian.debian_file(*debian.FILES["vmlinuz"])


@dataclass(frozen=True)
class Targets:
    vmlinuz: Path  # Debian's kernel
    initrd: Path  # the tiny marker initramfs (gzip)
    mb1: Path  # Multiboot 1 ELF kernel
    mb2: Path  # Multiboot 2 ELF kernel


def build_targets(out: Path, artifacts: Path | None = None) -> Targets:
    """Write the target initramfs and the Multiboot kernels into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    initrd = out / "target-initrd.img"
    data = target_initramfs_bytes()
    if not initrd.is_file() or initrd.read_bytes() != data:
        tmp = initrd.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(initrd)
    mb_dir = out / "multiboot"
    return Targets(
        vmlinuz=target_kernel(artifacts),
        initrd=initrd,
        mb1=mbkernel.build_mb_kernel(1, mb_dir),
        mb2=mbkernel.build_mb_kernel(2, mb_dir),
    )
