"""Initrd (initramfs) images, walked the way the kernel unpacks them.

``init/initramfs.c`` reads the initrd as a sequence of members:

* uncompressed cpio archives in the "newc" format (magic ``070701``, or ``070702`` with
  checksums), each ended by a ``TRAILER!!!`` entry and starting on a 4-byte boundary;
* zero bytes, skipped (padding between members);
* compressed members, recognised by their first two bytes (``lib/decompress.c``): gzip, bzip2,
  lzma, xz, lzo, lz4 (the legacy format only) and zstd.  Each must decompress to whole cpio
  archives.

The older cpio formats (the binary one, magic 0x71c7, and the portable ASCII "odc" one,
``070707``) are not understood by Linux ("no cpio magic").  x86 CPU microcode must sit in an
*uncompressed* archive at the start of the initrd (``kernel/x86/microcode/GenuineIntel.bin`` /
``AuthenticAMD.bin``), where the early loader looks for it before anything is decompressed.

gzip, bzip2, lzma and xz members are decompressed (with the standard library) to count their
files; zstd, lz4 and lzo ones are only followed through their framing, which finds where they
end without decompressing them.  The caller may pass only the first few MiB of the file with the
real size: running out of data there is not a problem, just the end of what was checked.

Pure code: bytes in, :class:`~bootmenu.model.ImageInfo` out; problems are sentences, never
exceptions.
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bootmenu.model import ImageInfo

# cpio "newc" (init/initramfs.c, Documentation/driver-api/early-userspace/buffer-format.rst)
CPIO_NEWC_MAGIC = b"070701"
CPIO_NEWC_CRC_MAGIC = b"070702"
CPIO_ODC_MAGIC = b"070707"  # POSIX.1 portable ASCII format: not supported by Linux
CPIO_BINARY_MAGICS = (b"\xc7\x71", b"\x71\xc7")  # old binary format (0o070707), either endian
CPIO_HEADER_SIZE = 110
CPIO_FIELDS = 13  # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
#                   namesize check, 8 hex digits each after the magic
CPIO_FILESIZE = 6
CPIO_NAMESIZE = 11
CPIO_TRAILER = b"TRAILER!!!"
PATH_MAX = 4096

# x86 early microcode (arch/x86/kernel/cpu/microcode/)
MICROCODE_FILES = {
    b"kernel/x86/microcode/GenuineIntel.bin": "GenuineIntel",
    b"kernel/x86/microcode/AuthenticAMD.bin": "AuthenticAMD",
}

# lib/decompress.c: the first two bytes choose the decompressor.
COMPRESSION_MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"\x1f\x9e", "gzip"),
    (b"\x42\x5a", "bzip2"),
    (b"\x5d\x00", "lzma"),
    (b"\xfd\x37", "xz"),
    (b"\x89\x4c", "lzo"),
    (b"\x02\x21", "lz4"),
    (b"\x28\xb5", "zstd"),
)
LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_FRAME_MAGIC = 0x184D2204  # the lz4 tool's default format: not unpacked by the kernel
LZ4_LEGACY_BLOCK_MAX = 8 << 20  # uncompressed block size of the legacy format
LZ4_LEGACY_BOUND = LZ4_LEGACY_BLOCK_MAX + LZ4_LEGACY_BLOCK_MAX // 255 + 16  # LZ4_compressBound
ZSTD_MAGIC = 0xFD2FB528
ZSTD_SKIPPABLE_MASK = 0xFFFFFFF0
ZSTD_SKIPPABLE_MAGIC = 0x184D2A50
LZOP_MAGIC = b"\x89LZO\x00\r\n\x1a\n"
LZOP_F_ADLER32_D = 0x001
LZOP_F_ADLER32_C = 0x002
LZOP_F_H_EXTRA_FIELD = 0x040
LZOP_F_CRC32_D = 0x100
LZOP_F_CRC32_C = 0x200
LZOP_F_H_FILTER = 0x800
LZOP_BLOCK_MAX = 256 * 1024

# Old-style initrd filesystem images (mounted from a RAM disk, not unpacked).
_FS_IMAGES = (
    (0, b"hsqs", "squashfs"),
    (0, b"\x45\x3d\xcd\x28", "cramfs"),
    (0, b"-rom1fs-", "romfs"),
    (1080, b"\x53\xef", "ext2"),
)

_CHUNK = 64 * 1024  # compressed bytes fed at a time
_FEED_CHUNK = 1 << 20  # uncompressed cpio bytes fed at a time
_NONZERO = re.compile(rb"[^\0]")
_OUT_CHUNK = 256 * 1024  # most decompressed bytes produced per call
DECOMPRESS_LIMIT = 256 << 20  # stop checking a member's contents beyond this much output
LZMA_MEMLIMIT = 256 << 20  # refuse lzma/xz dictionaries larger than this


def inspect_initrd(data: bytes, total_size: int | None = None) -> ImageInfo:
    """Check an initrd the way the kernel's initramfs unpacker reads it.

    ``data`` is the file or its first bytes; ``total_size`` the real size of the file (None:
    ``data`` is all of it).  ``details``: ``segments`` lists the members found in order, each
    ``{"offset", "format", "length", "microcode"}`` plus ``"files"`` where they were counted
    (``length`` None where the end was not reached); ``microcode`` the CPU vendors whose
    microcode the early loader will find; ``complete`` whether the whole file was walked;
    ``checked`` the offset of the member the walk stopped in; ``size`` the file size.
    """
    size = len(data) if total_size is None else max(total_size, 0)
    data = data[:size]
    walk = _Walk(data=data, whole=len(data) >= size)
    if size == 0:
        walk.problems.append("the initrd is empty")
    else:
        walk.run()
    early = walk.early_microcode
    late = [v for s in walk.segments for v in s.get("vendors", ()) if v not in early]
    for vendor in dict.fromkeys(late):
        walk.problems.append(
            f"{vendor} CPU microcode is not in an uncompressed cpio archive at the start of "
            "the initrd, where the kernel's early loader looks for it"
        )
    segments = [{k: v for k, v in s.items() if k != "vendors"} for s in walk.segments]
    return ImageInfo(
        format="initrd",
        kind="initrd",
        architecture=None,
        signed=None,
        problems=tuple(walk.problems),
        details={
            "size": size,
            "checked": walk.checked,
            "complete": walk.complete,
            "segments": segments,
            "microcode": early,
        },
    )


@dataclass
class _Walk:
    """The walk over the outer layer of an initrd (init/initramfs.c: unpack_to_rootfs)."""

    data: bytes
    whole: bool  # data is the whole file
    segments: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked: int = 0  # offset of the member the walk stopped in (the file size if it did not)
    complete: bool = False  # the whole file was walked
    early_microcode: list[str] = field(default_factory=list)
    seen_compressed: bool = False

    def run(self) -> None:
        data = self.data
        off = 0
        while off < len(data):
            if data[off] == 0:
                # Padding between members: found without copying the rest of the file.
                found = _NONZERO.search(data, off)
                off = found.start() if found else len(data)
                continue
            self.checked = off
            end = self._member(off)
            if end is None:
                return
            off = end
        self.checked = len(data)
        self.complete = self.whole

    def _member(self, off: int) -> int | None:
        """Walk the member at ``off``; return where the next one starts, None to stop."""
        data = self.data
        head = data[off : off + 8]
        if head[:6] in (CPIO_NEWC_MAGIC, CPIO_NEWC_CRC_MAGIC):
            if off % 4:
                self.problems.append(
                    f"the cpio archive at {off:#x} does not start on a 4-byte boundary, so "
                    "the kernel does not see it"
                )
                return None
            return self._cpio(off)
        if head[:6] == CPIO_ODC_MAGIC or head[:2] in CPIO_BINARY_MAGICS:
            kind = "portable ASCII (odc)" if head[:1] == b"0" else "old binary"
            self.problems.append(
                f"the cpio archive at {off:#x} is in the {kind} format, which Linux does not "
                "unpack; it needs the newc format (cpio -H newc)"
            )
            self._segment(off, "cpio-old", None)
            return None
        if off == 0:
            for at, magic, fs in _FS_IMAGES:
                if data[at : at + len(magic)] == magic:
                    self._segment(0, fs, None)
                    self.problems.append(
                        f"the initrd is a {fs} filesystem image, not a cpio archive: Linux "
                        "only uses it as an old-style RAM-disk initrd (CONFIG_BLK_DEV_RAM)"
                    )
                    return None
        if len(head) >= 4 and struct.unpack_from("<I", head)[0] == LZ4_FRAME_MAGIC:
            self._segment(off, "lz4-frame", None)
            self.problems.append(
                f"the lz4 data at {off:#x} is in the lz4 frame format; the kernel only unpacks "
                "the legacy lz4 format (lz4 -l)"
            )
            return None
        fmt = next((name for magic, name in COMPRESSION_MAGICS if head[:2] == magic), None)
        if fmt is None:
            shown = " ".join(f"{b:02x}" for b in head[:4])
            self.problems.append(
                f"unknown data at offset {off:#x} (bytes {shown}): neither a cpio archive nor "
                "a compression format the kernel knows"
            )
            return None
        self.seen_compressed = True
        if fmt in _DECOMPRESSORS:
            return self._decompress(off, fmt)
        return self._framed(off, fmt)

    def _segment(self, off: int, fmt: str, length: int | None, **extra: Any) -> dict[str, Any]:
        seg: dict[str, Any] = {"offset": off, "format": fmt, "length": length, "microcode": False}
        seg.update(extra)
        self.segments.append(seg)
        return seg

    def _cut(self, what: str) -> None:
        """The data ran out inside ``what``: a problem only if it is the whole file."""
        if self.whole:
            self.problems.append(f"the file ends inside {what}, so it is cut off")

    def _cpio(self, off: int) -> int | None:
        what = f"the cpio archive at {off:#x}"
        cpio = _Cpio(describe=lambda pos: f"at {off + pos:#x} (in {what})", outer=True)
        # Fed in pieces of a view: the archive is never copied (a 500 MiB initrd stays one
        # copy in memory), and the walker's buffer holds at most one piece.
        view = memoryview(self.data)[off:]
        for start in range(0, len(view), _FEED_CHUNK):
            cpio.feed(view[start : start + _FEED_CHUNK])
            if cpio.problem is not None or cpio.stopped_at is not None:
                break
        end: int | None = None
        if cpio.stopped_at is not None:
            end = off + cpio.stopped_at
        elif cpio.after_trailer and cpio.problem is None:
            end = off + cpio.pos + len(cpio.buf)  # the data ends after the archive
        seg = self._segment(
            off,
            "cpio",
            None if end is None else end - off,
            files=cpio.files,
            vendors=cpio.microcode,
        )
        seg["microcode"] = bool(cpio.microcode)
        if not self.seen_compressed:
            self.early_microcode.extend(cpio.microcode)
        if cpio.problem:
            self.problems.append(cpio.problem)
            return None
        if end is None:
            if self.whole:
                self.problems.extend(cpio.finish())
            return None
        return end

    def _decompress(self, off: int, fmt: str) -> int | None:
        what = f"the {fmt} data at {off:#x}"
        cpio = _Cpio(
            describe=lambda pos: f"at decompressed offset {pos:#x} of {what}",
            outer=False,
        )
        decompressor = _DECOMPRESSORS[fmt]()
        view = memoryview(self.data)[off:]
        fed = 0
        produced = 0
        error: str | None = None
        try:
            while not decompressor.eof and cpio.problem is None and produced <= DECOMPRESS_LIMIT:
                chunk: bytes | memoryview = b""
                if decompressor.needs_input():
                    if fed >= len(view):
                        break
                    chunk = view[fed : fed + _CHUNK]
                    fed += len(chunk)
                out = decompressor.decompress(chunk)
                produced += len(out)
                cpio.feed(out)
        except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
        seg = self._segment(off, fmt, None, vendors=cpio.microcode)
        seg["microcode"] = bool(cpio.microcode)
        if error is not None:
            self.problems.append(f"{what} is corrupt ({error})")
            return None
        if cpio.problem:
            self.problems.append(cpio.problem)
            return None
        if produced > DECOMPRESS_LIMIT:
            return None  # too large to check here; nothing known to be wrong
        if not decompressor.eof:
            self._cut(what)
            return None
        length = fed - decompressor.leftover()
        seg["length"] = length
        self.problems.extend(cpio.finish())
        seg["files"] = cpio.files
        return off + length

    def _framed(self, off: int, fmt: str) -> int | None:
        what = f"the {fmt} data at {off:#x}"
        walker = {"zstd": _zstd_end, "lz4": _lz4_end, "lzo": _lzop_end}[fmt]
        seg = self._segment(off, fmt, None)
        try:
            end = walker(self.data, off)
        except _Truncated:
            self._cut(what)
            return None
        except _Corrupt as exc:
            self.problems.append(f"{what} is corrupt ({exc})")
            return None
        except _Unterminated as exc:
            at = exc.at
            oversized = at + 4 <= len(self.data) and _u32le(self.data, at) > LZ4_LEGACY_BOUND
            if self.whole or oversized:
                self.problems.append(
                    f"{what} is cut off or followed by other data at {exc.at:#x}: legacy lz4 "
                    "has no end marker, so the kernel reads whatever follows as more lz4 "
                    "blocks (only zero padding may follow it)"
                )
            return None
        seg["length"] = end - off
        return end


class _Truncated(Exception):
    """The data ends inside a compressed member's framing."""


class _Corrupt(Exception):
    """A compressed member's framing is invalid."""


class _Unterminated(Exception):
    """Legacy lz4 data is followed by something that is not an lz4 block (or is cut off)."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


class _Cpio:
    """newc cpio entries fed in pieces, checked like init/initramfs.c's state machine.

    ``outer``: archives in the initrd itself (stop after one archive and its zero padding,
    reporting ``stopped_at``); otherwise the decompressed contents of a compressed member,
    where several archives may follow each other and anything else is junk.
    """

    def __init__(self, describe: Callable[[int], str], outer: bool) -> None:
        self.describe = describe
        self.outer = outer
        self.buf = bytearray()
        self.pos = 0  # stream offset of buf[0]
        self.skip = 0  # bytes still to skip (file data and padding)
        self.after_trailer = False
        self.started = False
        self.entry_at = 0  # stream offset of the entry being read
        self.files = 0
        self.archives = 0
        self.microcode: list[str] = []
        self.problem: str | None = None
        self.stopped_at: int | None = None

    def feed(self, data: bytes | memoryview) -> None:
        if self.problem is not None or self.stopped_at is not None:
            return
        if self.skip and not self.buf:
            # Skip file data without copying it.
            n = min(self.skip, len(data))
            self.skip -= n
            self.pos += n
            data = data[n:]
        self.buf += data
        self._run()

    def finish(self) -> list[str]:
        """Problems at the end of the stream (after all data was fed)."""
        if self.problem is not None or self.stopped_at is not None:
            return []
        ends = "the file ends" if self.outer else "the decompressed data ends"
        if not self.started:
            return [f"{self.describe(0)}: the decompressed data is empty, not a cpio archive"]
        if self.skip or (self.buf and not self.after_trailer):
            cut = ", so it is cut off" if self.outer else ""
            return [f"{self.describe(self.entry_at)}: {ends} inside a cpio entry{cut}"]
        if not self.after_trailer:
            return [f"{self.describe(self.pos)}: {ends} without the cpio TRAILER!!! entry"]
        return []

    def _run(self) -> None:
        buf = self.buf
        while self.problem is None and self.stopped_at is None:
            if self.skip:
                n = min(self.skip, len(buf))
                del buf[:n]
                self.pos += n
                self.skip -= n
                if self.skip:
                    return
            if self.after_trailer or not self.started:
                zeros = len(buf) - len(buf.lstrip(b"\0"))
                del buf[:zeros]
                self.pos += zeros
                if not buf:
                    return
                if self.after_trailer and self.pos % 4:
                    self.problem = (
                        f"{self.describe(self.pos)}: data after the cpio archive does not start "
                        "on a 4-byte boundary (broken padding)"
                    )
                    return
                if self.outer and self.after_trailer:
                    self.stopped_at = self.pos
                    return
                if buf[:1] != b"0":
                    where = (
                        "after the cpio archive" if self.started else "instead of a cpio archive"
                    )
                    self.problem = f"{self.describe(self.pos)}: junk {where}"
                    return
                self.after_trailer = False
                self.started = True
            if not self._entry():
                return

    def _entry(self) -> bool:
        """Read one entry header and name; False when more data is needed or on a problem."""
        buf = self.buf
        self.entry_at = self.pos
        if len(buf) < CPIO_HEADER_SIZE:
            return False
        magic = bytes(buf[:6])
        if magic not in (CPIO_NEWC_MAGIC, CPIO_NEWC_CRC_MAGIC):
            if magic == CPIO_ODC_MAGIC:
                detail = "an old portable ASCII (odc) header, which Linux does not unpack"
            else:
                detail = f"bad magic {magic!r}, expected '070701' or '070702'"
            self.problem = f"{self.describe(self.pos)}: cpio entry with {detail}"
            return False
        fields: list[int] = []
        for i in range(CPIO_FIELDS):
            text = bytes(buf[6 + 8 * i : 14 + 8 * i])
            try:
                fields.append(int(text.decode("ascii"), 16))
            except (UnicodeDecodeError, ValueError):
                self.problem = f"{self.describe(self.pos)}: cpio header field {text!r} is not hex"
                return False
        namesize = fields[CPIO_NAMESIZE]
        filesize = fields[CPIO_FILESIZE]
        if namesize == 0 or namesize > PATH_MAX:
            self.problem = f"{self.describe(self.pos)}: cpio entry with a name size of {namesize}"
            return False
        if len(buf) < CPIO_HEADER_SIZE + namesize:
            return False
        name = bytes(buf[CPIO_HEADER_SIZE : CPIO_HEADER_SIZE + namesize])
        if name[-1:] != b"\0":
            self.problem = f"{self.describe(self.pos)}: cpio entry name is not NUL-terminated"
            return False
        name = name[:-1]
        end = self.pos + CPIO_HEADER_SIZE + namesize
        end = (end + 3) & ~3
        end = (end + filesize + 3) & ~3
        self.skip = end - self.pos
        if name == CPIO_TRAILER:
            self.archives += 1
            self.after_trailer = True
        else:
            self.files += 1
            vendor = MICROCODE_FILES.get(name)
            if vendor is not None and vendor not in self.microcode:
                self.microcode.append(vendor)
        return True


class _Decompressor(Protocol):
    eof: bool

    def needs_input(self) -> bool: ...
    def decompress(self, chunk: bytes | memoryview) -> bytes: ...
    def leftover(self) -> int: ...


class _Zlib:
    """gzip through zlib (one member)."""

    def __init__(self) -> None:
        self.d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self.eof = False

    def needs_input(self) -> bool:
        return not self.d.unconsumed_tail

    def decompress(self, chunk: bytes | memoryview) -> bytes:
        out = self.d.decompress(self.d.unconsumed_tail or chunk, _OUT_CHUNK)
        self.eof = self.d.eof
        return out

    def leftover(self) -> int:
        return len(self.d.unused_data) + len(self.d.unconsumed_tail)


class _Stdlib:
    """bzip2, xz and lzma through the bz2 and lzma modules."""

    def __init__(self, d: bz2.BZ2Decompressor | lzma.LZMADecompressor) -> None:
        self.d = d
        self.eof = False

    def needs_input(self) -> bool:
        return self.d.needs_input

    def decompress(self, chunk: bytes | memoryview) -> bytes:
        out = self.d.decompress(chunk, _OUT_CHUNK)
        self.eof = self.d.eof
        return out

    def leftover(self) -> int:
        return len(self.d.unused_data)


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "gzip": _Zlib,
    "bzip2": lambda: _Stdlib(bz2.BZ2Decompressor()),
    "xz": lambda: _Stdlib(lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=LZMA_MEMLIMIT)),
    "lzma": lambda: _Stdlib(
        lzma.LZMADecompressor(format=lzma.FORMAT_ALONE, memlimit=LZMA_MEMLIMIT)
    ),
}


def _u32le(data: bytes, off: int) -> int:
    if off + 4 > len(data):
        raise _Truncated
    value: int = struct.unpack_from("<I", data, off)[0]
    return value


def _u32be(data: bytes, off: int) -> int:
    if off + 4 > len(data):
        raise _Truncated
    value: int = struct.unpack_from(">I", data, off)[0]
    return value


def _zstd_end(data: bytes, off: int) -> int:
    """End of the zstd frame at ``off`` (RFC 8878 section 3.1), found from its block headers."""
    magic = _u32le(data, off)
    if magic & ZSTD_SKIPPABLE_MASK == ZSTD_SKIPPABLE_MAGIC:
        return off + 8 + _u32le(data, off + 4)
    if magic != ZSTD_MAGIC:
        raise _Corrupt(f"bad zstd magic {magic:#010x}")
    pos = off + 4
    if pos >= len(data):
        raise _Truncated
    descriptor = data[pos]
    fcs_flag = descriptor >> 6
    single_segment = bool(descriptor & 0x20)
    if descriptor & 0x08:
        raise _Corrupt("reserved bit set in the frame header")
    checksum = bool(descriptor & 0x04)
    dict_id_size = (0, 1, 2, 4)[descriptor & 0x03]
    fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    pos += 1 + (0 if single_segment else 1) + dict_id_size + fcs_size
    while True:
        if pos + 3 > len(data):
            raise _Truncated
        header = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        last = header & 1
        block_type = (header >> 1) & 3
        block_size = header >> 3
        if block_type == 3:
            raise _Corrupt(f"reserved block type at {pos:#x}")
        pos += 3 + (1 if block_type == 1 else block_size)
        if last:
            break
    pos += 4 if checksum else 0
    if pos > len(data):
        raise _Truncated
    return pos


def _lz4_end(data: bytes, off: int) -> int:
    """End of legacy lz4 data (lib/decompress_unlz4.c): 4-byte sized blocks until a zero size
    (padding), the end of the data, or something that is not a block."""
    if _u32le(data, off) != LZ4_LEGACY_MAGIC:
        raise _Corrupt("bad lz4 magic")
    pos = off + 4
    bound = LZ4_LEGACY_BOUND
    while pos < len(data):
        if pos + 4 > len(data):
            raise _Truncated
        size = _u32le(data, pos)
        if size == LZ4_LEGACY_MAGIC:  # concatenated lz4 streams
            pos += 4
            continue
        if size == 0:
            break
        if size > bound or pos + 4 + size > len(data):
            # Legacy lz4 has no end marker: the kernel reads whatever follows as more blocks.
            raise _Unterminated(pos)
        pos += 4 + size
    return pos


def _lzop_end(data: bytes, off: int) -> int:
    """End of lzop data (lib/decompress_unlzo.c): a header, then blocks until a zero size."""
    if data[off : off + len(LZOP_MAGIC)] != LZOP_MAGIC[: len(data) - off]:
        raise _Corrupt("bad lzop magic")
    pos = off + len(LZOP_MAGIC)
    if pos + 8 > len(data):
        raise _Truncated
    version = struct.unpack_from(">H", data, pos)[0]
    pos += 4  # version, library version
    if version >= 0x0940:
        pos += 2  # version needed to extract
    pos += 1  # method
    if version >= 0x0940:
        pos += 1  # level
    flags = _u32be(data, pos)
    pos += 4
    if flags & LZOP_F_H_FILTER:
        pos += 4
    pos += 8  # mode, mtime low
    if version >= 0x0940:
        pos += 4  # mtime high
    if pos >= len(data):
        raise _Truncated
    pos += 1 + data[pos] + 4  # file name, header checksum
    if flags & LZOP_F_H_EXTRA_FIELD:
        pos += 4 + _u32be(data, pos) + 4
    while True:
        dst_len = _u32be(data, pos)
        pos += 4
        if dst_len == 0:
            return pos
        if dst_len > LZOP_BLOCK_MAX:
            raise _Corrupt(f"block at {pos - 4:#x} claims {dst_len} bytes")
        src_len = _u32be(data, pos)
        pos += 4
        if src_len == 0 or src_len > dst_len:
            raise _Corrupt(f"block at {pos - 8:#x} has a compressed size of {src_len}")
        pos += 4 * bool(flags & LZOP_F_ADLER32_D) + 4 * bool(flags & LZOP_F_CRC32_D)
        if src_len < dst_len:
            pos += 4 * bool(flags & LZOP_F_ADLER32_C) + 4 * bool(flags & LZOP_F_CRC32_C)
        pos += src_len
        if pos > len(data):
            raise _Truncated
