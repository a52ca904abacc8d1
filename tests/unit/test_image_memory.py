"""A large image is held once: reading it, validating it and putting it into a memfd make no
further copies (docs/security.md, "Bounded parsing"; the figure for 500 MiB is in
bench/image_memory.py).  Measured with tracemalloc, which sees every bytes object Python makes."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bootmenu.boot.kexec import initrd_parts
from bootmenu.model import Volume
from bootmenu.system.fs import VolumeReader
from bootmenu.validate import inspect_image

MIB = 1024 * 1024
SIZE = 64 * MIB
T = TypeVar("T")


def newc(name: str, mode: int, size: int, ino: int) -> bytes:
    """A newc cpio header (as in the kernel's Documentation/driver-api/early-userspace)."""
    fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    return head + b"\0" * (-len(head) % 4)


def big_initrd(size: int) -> bytes:
    """An uncompressed initrd with one file of ``size`` zero bytes, then zero padding."""
    return newc("big", 0o100644, size, 1) + bytes(size) + newc("TRAILER!!!", 0, 0, 0) + bytes(512)


def peak_above(run: Callable[[], T]) -> tuple[T, int]:
    """What ``run`` returns, and the most memory it had allocated at once beyond the start."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = run()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_validating_an_uncompressed_initrd_does_not_copy_it() -> None:
    data = big_initrd(SIZE)
    info, peak = peak_above(lambda: inspect_image(data, expect="initrd", host_arch="x86_64"))
    assert info.problems == ()
    assert peak < 8 * MIB, f"validation allocated {peak / MIB:.1f} MiB for a 64 MiB initrd"


def test_reading_an_image_holds_it_once(tmp_path: Path) -> None:
    (tmp_path / "initrd.img").write_bytes(big_initrd(SIZE))
    reader = VolumeReader(Volume("/dev/vda1", tmp_path))
    data, peak = peak_above(lambda: reader.read("/initrd.img"))
    assert len(data) > SIZE
    assert peak < len(data) + 4 * MIB, f"reading allocated {peak / MIB:.1f} MiB"


def test_several_initrds_are_not_joined_into_one_more_copy() -> None:
    ucode, main = b"x" * 1001, bytes(SIZE)
    parts, peak = peak_above(lambda: initrd_parts([ucode, main]))
    assert b"".join(parts) == ucode + b"\0" * 3 + main
    assert peak < MIB
