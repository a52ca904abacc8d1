"""rootfs.elfdeps: reading DT_NEEDED/RUNPATH/PT_INTERP and the library closure."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rootfs.elfdeps import ElfInfo, read_elf, resolve


def test_reads_a_real_program() -> None:
    # The interpreter running the tests is a dynamically linked ELF program.
    info = read_elf(Path(sys.executable).resolve().read_bytes())
    assert info is not None
    assert "libc.so.6" in info.needed
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"


def test_not_elf_and_broken_elf() -> None:
    assert read_elf(b"#!/bin/sh\n") is None
    with pytest.raises(ValueError, match="not a readable ELF file"):
        read_elf(b"\x7fELF\x02\x01\x01" + b"\0" * 9)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
# Found by hypothesis in a fresh-clone CI run: e_phoff = 2**63 made pyelftools' seek overflow.
@example(bytes(32) + b"\x80" + bytes(15) + b"\x01\x00\x01" + bytes(6))
def test_any_bytes_parse_or_valueerror(data: bytes) -> None:
    for blob in (data, b"\x7fELF\x02\x01\x01" + data):
        with contextlib.suppress(ValueError):
            read_elf(blob)


# A fake system: what each file needs, and which files exist.
GRAPH = {
    "/usr/bin/udevadm": ElfInfo(
        ("libsystemd-shared-252.so", "libc.so.6"),
        ("/usr/lib/x86_64-linux-gnu/systemd",),
        "/lib64/ld-linux-x86-64.so.2",
    ),
    "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so": ElfInfo(
        ("libkmod.so.2", "libc.so.6"), (), None
    ),
    "/usr/lib/x86_64-linux-gnu/libkmod.so.2": ElfInfo(("libzstd.so.1", "libc.so.6"), (), None),
    "/usr/lib/x86_64-linux-gnu/libzstd.so.1": ElfInfo(("libc.so.6",), (), None),
    "/usr/lib/x86_64-linux-gnu/libc.so.6": ElfInfo((), (), "/lib64/ld-linux-x86-64.so.2"),
    "/usr/bin/python3.11": ElfInfo(("libm.so.6", "libexpat.so.1"), ("$ORIGIN/../lib",), None),
    "/usr/lib/libexpat.so.1": ElfInfo((), (), None),
}
EXTRA = {"/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libm.so.6"}


def test_closure_follows_runpath_and_origin() -> None:
    result = resolve(
        ["/usr/bin/udevadm", "/usr/bin/python3.11"],
        GRAPH.get,
        lambda path: path in GRAPH or path in EXTRA,
    )
    assert result.missing == ()
    assert result.files == (
        "/lib64/ld-linux-x86-64.so.2",
        "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/libexpat.so.1",  # $ORIGIN/../lib
        "/usr/lib/x86_64-linux-gnu/libkmod.so.2",
        "/usr/lib/x86_64-linux-gnu/libzstd.so.1",
    )


def test_missing_libraries_name_who_needs_them() -> None:
    result = resolve(["/usr/bin/python3.11"], GRAPH.get, lambda path: path in GRAPH)
    assert result.missing == (("/usr/bin/python3.11", "libm.so.6"),)
    assert result.files == ("/usr/lib/libexpat.so.1",)
