"""bootmenu.formats.initrd: initramfs images laid out as dracut, mkinitcpio and mkinitramfs do.

Committed fixtures (tests/fixtures/initrd/make.sh, made with GNU cpio and lzop):
early-ucode.cpio (Intel microcode, newc), main.cpio.lzo, main-odc.cpio, main-bin.cpio.  The
other cases are built here: newc archives by :func:`newc`, compressed with the gzip, lzma and bz2
modules or the zstd / lz4 programs.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.formats import initrd
from bootmenu.formats.initrd import inspect_initrd

FIXTURES = Path(__file__).parent.parent / "fixtures" / "initrd"
S_IFDIR = 0o040000
S_IFREG = 0o100000
S_IFLNK = 0o120000


def newc(entries: list[tuple[str, int, bytes]], *, magic: bytes = b"070701") -> bytes:
    """A newc cpio archive of ``(name, mode, data)`` entries, with its TRAILER!!!."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 1700000000, len(data), 0, 0, 0, 0, len(encoded), 0)
        out += magic + b"".join(b"%08X" % f for f in fields) + encoded
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


MAIN_ENTRIES = [
    (".", S_IFDIR | 0o755, b""),
    ("bin", S_IFDIR | 0o755, b""),
    ("bin/busybox", S_IFREG | 0o755, b"\x7fELF not really" * 40),
    ("bin/sh", S_IFLNK | 0o777, b"busybox"),
    ("etc", S_IFDIR | 0o755, b""),
    ("etc/initrd-release", S_IFREG | 0o644, b"NAME=fixture\n"),
    ("init", S_IFREG | 0o755, b"#!/bin/sh\nexec /bin/sh\n"),
]
MAIN = newc(MAIN_ENTRIES)
EARLY = (FIXTURES / "early-ucode.cpio").read_bytes()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def tool(argv: list[str], data: bytes) -> bytes:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def segments(data: bytes, total_size: int | None = None) -> list[dict[str, Any]]:
    info = inspect_initrd(data, total_size)
    assert info.problems == ()
    result: list[dict[str, Any]] = info.details["segments"]
    return result


def test_early_microcode_archive_from_gnu_cpio() -> None:
    info = inspect_initrd(EARLY)
    assert (info.format, info.kind, info.architecture) == ("initrd", "initrd", None)
    assert info.problems == ()
    # kernel, kernel/x86, kernel/x86/microcode, GenuineIntel.bin; GNU cpio pads to 512 bytes.
    assert info.details["segments"] == [
        {"offset": 0, "format": "cpio", "length": 1024, "microcode": True, "files": 4}
    ]
    assert info.details["microcode"] == ["GenuineIntel"]
    assert info.details["complete"] is True


@pytest.mark.parametrize(
    ("fmt", "compress"),
    [
        ("gzip", lambda d: gzip.compress(d, mtime=0)),
        ("xz", lambda d: lzma.compress(d, check=lzma.CHECK_CRC32)),
        ("lzma", lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)),
        ("bzip2", bz2.compress),
    ],
)
def test_early_cpio_then_compressed_main(fmt: str, compress: Any) -> None:
    """dracut's layout: uncompressed early cpio, then the compressed main archive."""
    packed = compress(MAIN)
    info = inspect_initrd(EARLY + packed)
    assert info.problems == ()
    assert info.details["segments"] == [
        {"offset": 0, "format": "cpio", "length": 1024, "microcode": True, "files": 4},
        {"offset": 1024, "format": fmt, "length": len(packed), "microcode": False, "files": 7},
    ]
    assert info.details["microcode"] == ["GenuineIntel"]


def test_zstd_is_followed_to_its_end() -> None:
    packed = tool(["zstd", "-q", "-c", "-19"], MAIN)
    # A second member after the first shows that its end was found.
    second = gzip.compress(newc([("extra", S_IFREG | 0o644, b"x")]), mtime=0)
    found = segments(EARLY + packed + second)
    assert [(s["offset"], s["format"], s["length"]) for s in found] == [
        (0, "cpio", 1024),
        (1024, "zstd", len(packed)),
        (1024 + len(packed), "gzip", len(second)),
    ]
    assert found[2]["files"] == 1


def test_legacy_lz4_with_zero_padding() -> None:
    packed = tool(["lz4", "-q", "-l", "-c"], MAIN)
    found = segments(EARLY + packed + b"\0" * 8)
    assert [(s["offset"], s["format"], s["length"]) for s in found] == [
        (0, "cpio", 1024),
        (1024, "lz4", len(packed)),
    ]


def test_legacy_lz4_cannot_be_followed_by_another_member() -> None:
    packed = tool(["lz4", "-q", "-l", "-c"], MAIN)
    second = gzip.compress(newc([("extra", S_IFREG | 0o644, b"x")]), mtime=0)
    info = inspect_initrd(packed + second)
    assert info.problems == (
        f"the lz4 data at 0x0 is cut off or followed by other data at {len(packed):#x}: legacy "
        "lz4 has no end marker, so the kernel reads whatever follows as more lz4 blocks (only "
        "zero padding may follow it)",
    )


def test_lzop_from_the_real_tool() -> None:
    lzo = fixture("main.cpio.lzo")
    found = segments(EARLY + lzo)
    assert [(s["format"], s["length"]) for s in found] == [("cpio", 1024), ("lzo", 337)]


def test_lz4_frame_format_is_not_unpacked_by_linux() -> None:
    packed = tool(["lz4", "-q", "-c"], MAIN)
    info = inspect_initrd(packed)
    assert info.problems == (
        "the lz4 data at 0x0 is in the lz4 frame format; the kernel only unpacks the legacy "
        "lz4 format (lz4 -l)",
    )


def test_concatenated_gzip_members_and_padding() -> None:
    first = gzip.compress(MAIN, mtime=0)
    second = gzip.compress(newc([("lib", S_IFDIR | 0o755, b"")]), mtime=0)
    found = segments(first + b"\0" * 3 + second)
    assert [(s["offset"], s["files"]) for s in found] == [(0, 7), (len(first) + 3, 1)]


def test_several_archives_inside_one_compressed_member() -> None:
    inner = MAIN + b"\0" * 8 + newc([("usr", S_IFDIR | 0o755, b"")])
    (seg,) = segments(gzip.compress(inner, mtime=0))
    assert seg["files"] == 8


def test_crc_newc_is_accepted() -> None:
    (seg,) = segments(newc(MAIN_ENTRIES, magic=b"070702"))
    assert (seg["format"], seg["files"]) == ("cpio", 7)


def test_prefix_only_is_not_a_problem() -> None:
    data = EARLY + gzip.compress(MAIN, mtime=0)
    info = inspect_initrd(data[:1100], total_size=len(data))
    assert info.problems == ()
    assert info.details["complete"] is False
    assert info.details["size"] == len(data)
    assert [s["format"] for s in info.details["segments"]] == ["cpio", "gzip"]


def test_file_cut_off_inside_compressed_member() -> None:
    data = EARLY + gzip.compress(MAIN, mtime=0)
    info = inspect_initrd(data[:1100])
    assert info.problems == ("the file ends inside the gzip data at 0x400, so it is cut off",)


def test_file_cut_off_inside_cpio_header() -> None:
    info = inspect_initrd(MAIN[:150])
    assert info.problems == (
        "at 0x70 (in the cpio archive at 0x0): the file ends inside a cpio entry, so it is cut off",
    )


def test_prefix_ending_in_cpio_header_is_fine() -> None:
    assert inspect_initrd(MAIN[:150], total_size=len(MAIN)).problems == ()


def test_empty() -> None:
    assert inspect_initrd(b"").problems == ("the initrd is empty",)
    assert inspect_initrd(b"", total_size=0).problems == ("the initrd is empty",)


def test_unknown_format_after_early_cpio() -> None:
    info = inspect_initrd(EARLY + b"PK\x03\x04zip file")
    assert info.problems == (
        "unknown data at offset 0x400 (bytes 50 4b 03 04): neither a cpio archive nor a "
        "compression format the kernel knows",
    )
    assert len(info.details["segments"]) == 1


def test_bad_magic_in_the_middle_of_an_archive() -> None:
    broken = bytearray(MAIN)
    second = MAIN.index(b"070701", 1)
    broken[second : second + 6] = b"07x701"
    info = inspect_initrd(bytes(broken))
    assert info.problems == (
        f"at {second:#x} (in the cpio archive at 0x0): cpio entry with bad magic b'07x701', "
        "expected '070701' or '070702'",
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [("main-odc.cpio", "portable ASCII (odc)"), ("main-bin.cpio", "old binary")],
)
def test_old_cpio_formats_are_not_supported(name: str, kind: str) -> None:
    info = inspect_initrd(fixture(name))
    assert info.problems == (
        f"the cpio archive at 0x0 is in the {kind} format, which Linux does not unpack; it "
        "needs the newc format (cpio -H newc)",
    )


def test_compressed_member_must_be_aligned_after_a_cpio() -> None:
    info = inspect_initrd(EARLY[:-2] + gzip.compress(MAIN, mtime=0))
    assert info.problems == (
        "at 0x3fe (in the cpio archive at 0x0): data after the cpio archive does not start on "
        "a 4-byte boundary (broken padding)",
    )


def test_microcode_inside_the_compressed_archive_is_not_found_early() -> None:
    info = inspect_initrd(gzip.compress(EARLY + MAIN, mtime=0))
    assert info.problems == (
        "GenuineIntel CPU microcode is not in an uncompressed cpio archive at the start of the "
        "initrd, where the kernel's early loader looks for it",
    )
    assert info.details["segments"][0]["microcode"] is True
    assert info.details["microcode"] == []


def test_amd_microcode() -> None:
    early = newc([("kernel/x86/microcode/AuthenticAMD.bin", S_IFREG | 0o644, b"amd")])
    info = inspect_initrd(early + gzip.compress(MAIN, mtime=0))
    assert info.details["microcode"] == ["AuthenticAMD"]


def test_junk_after_archive_inside_compressed_member() -> None:
    info = inspect_initrd(gzip.compress(MAIN + b"garbage!", mtime=0))
    assert info.problems == (
        f"at decompressed offset {len(MAIN):#x} of the gzip data at 0x0: junk after the cpio "
        "archive",
    )


def test_compressed_member_without_trailer() -> None:
    no_trailer = MAIN[: MAIN.index(b"TRAILER!!!") - 110]
    info = inspect_initrd(gzip.compress(no_trailer, mtime=0))
    assert info.problems == (
        f"at decompressed offset {len(no_trailer):#x} of the gzip data at 0x0: the "
        "decompressed data ends without the cpio TRAILER!!! entry",
    )


def test_compressed_filesystem_image_is_not_cpio() -> None:
    info = inspect_initrd(gzip.compress(b"\0" * 1024 + b"ext2 superblock", mtime=0))
    assert info.problems == (
        "at decompressed offset 0x400 of the gzip data at 0x0: junk instead of a cpio archive",
    )


def test_squashfs_image() -> None:
    info = inspect_initrd(b"hsqs" + b"\0" * 200)
    assert info.problems == (
        "the initrd is a squashfs filesystem image, not a cpio archive: Linux only uses it as "
        "an old-style RAM-disk initrd (CONFIG_BLK_DEV_RAM)",
    )


def test_corrupt_gzip() -> None:
    packed = bytearray(gzip.compress(MAIN, mtime=0))
    packed[-8] ^= 0xFF  # CRC32 in the gzip trailer
    info = inspect_initrd(bytes(packed))
    assert len(info.problems) == 1
    assert info.problems[0].startswith("the gzip data at 0x0 is corrupt (")


def test_unaligned_cpio_start() -> None:
    info = inspect_initrd(b"\x01\0" + MAIN)
    assert info.problems[0].startswith("unknown data at offset 0x0")
    info = inspect_initrd(b"\0\0" + MAIN)
    assert info.problems == (
        "the cpio archive at 0x2 does not start on a 4-byte boundary, so the kernel does not "
        "see it",
    )


def test_decompression_bomb_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initrd, "DECOMPRESS_LIMIT", 1 << 20)
    inner = newc([("zero", S_IFREG | 0o644, b"\0" * (4 << 20))])
    packed = gzip.compress(inner, compresslevel=1, mtime=0)
    info = inspect_initrd(packed)
    assert info.problems == ()
    assert info.details["complete"] is False
    assert "files" not in info.details["segments"][0]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=600),
        st.builds(
            lambda cut, junk: (EARLY + gzip.compress(MAIN, mtime=0))[:cut] + junk,
            st.integers(0, 1400),
            st.binary(max_size=40),
        ),
        st.builds(
            lambda pos, byte: MAIN[:pos] + bytes([byte]) + MAIN[pos + 1 :],
            st.integers(0, len(MAIN) - 1),
            st.integers(0, 255),
        ),
    ),
    st.one_of(st.none(), st.integers(-5, 3000)),
)
def test_arbitrary_bytes_never_crash(data: bytes, total_size: int | None) -> None:
    try:
        info = inspect_initrd(data, total_size)
    except FormatError:
        return
    assert info.format == "initrd"
    assert all(isinstance(p, str) for p in info.problems)
