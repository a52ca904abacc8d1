"""Discovery's quick check (``inspect_file(quick=True)``): a kernel from its head and size, an
initrd from its first bytes; any problem, and everything else, checked the full way.

The promise under test: the quick check only accepts sooner.  Every problem it reports is the
full check's; what it cannot see (damage past the head) the full check, which the hand-off
runs on the whole file before any load, still finds.
"""

from __future__ import annotations

import gzip
import random
import struct
from pathlib import Path

import pytest

from bootmenu.discover.scanner import Scanner
from bootmenu.model import Volume
from bootmenu.system.fs import VolumeReader
from bootmenu.validate import INITRD_QUICK_HEAD, KERNEL_HEAD, inspect_file
from tests import images
from tests.debian import debian_bytes

BIG_PAYLOAD = 3 * 1024 * 1024


def _noise(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def _big_initrd() -> bytes:
    """A gzip initrd of incompressible files, far larger than the quick head."""
    files = {f"blob{n}": _noise(256 * 1024, n) for n in range(8)}
    return gzip.compress(images.cpio_newc({"init": b"#!/bin/sh\n", **files}), mtime=0)


class _Recording(VolumeReader):
    """A VolumeReader that remembers how many bytes of each file it handed out."""

    def __init__(self, volume: Volume) -> None:
        super().__init__(volume)
        self.bytes_read: dict[str, int] = {}

    def read_head(self, path: str, count: int) -> tuple[bytes, int]:
        data, total = super().read_head(path, count)
        self.bytes_read[path] = self.bytes_read.get(path, 0) + len(data)
        return data, total


def _reader(tmp_path: Path, files: dict[str, bytes]) -> _Recording:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return _Recording(Volume("disk", tmp_path, "ext4"))


def test_discovery_reads_only_the_head_of_each_kernel_and_initrd(tmp_path: Path) -> None:
    kernel = images.bzimage(payload=BIG_PAYLOAD)
    initrd = _big_initrd()
    (tmp_path / "loader/entries").mkdir(parents=True)
    (tmp_path / "loader/entries/one.conf").write_text(
        "title One\nlinux /vmlinuz\ninitrd /initrd.img\noptions root=/dev/sda1\n"
    )
    volume = Volume("disk", tmp_path, "ext4")
    scanner = Scanner([volume], host_arch="x86_64")
    recording = _reader(tmp_path, {"vmlinuz": kernel, "initrd.img": initrd})
    scanner.readers["disk"] = recording
    (entry,) = scanner.scan().entries
    assert entry.problems == ()
    assert 0 < recording.bytes_read["/vmlinuz"] <= KERNEL_HEAD < len(kernel)
    assert 0 < recording.bytes_read["/initrd.img"] <= INITRD_QUICK_HEAD < len(initrd)


def test_a_kernel_accepted_from_its_head_says_so(tmp_path: Path) -> None:
    reader = _reader(tmp_path, {"vmlinuz": images.bzimage(payload=BIG_PAYLOAD)})
    quick = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64", quick=True)
    full = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64")
    assert quick.problems == full.problems == ()
    assert quick.details["checked"] == "head"
    assert "checked" not in full.details
    assert quick.details["release"] == full.details["release"] == "6.1.0-test-amd64"


def test_a_truncated_kernel_gets_the_full_checks_sentence(tmp_path: Path) -> None:
    """The header promises 3 MiB of kernel; the file stops after 1 MiB.  The head alone shows
    it (size against header), and the sentence is the full check's, word for word."""
    cut = images.bzimage(payload=BIG_PAYLOAD)[: 1024 * 1024]
    reader = _reader(tmp_path, {"vmlinuz": cut})
    quick = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64", quick=True)
    full = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64")
    assert any("truncated" in p for p in full.problems)
    assert quick == full


def test_a_wrong_kind_gets_the_full_checks_sentence(tmp_path: Path) -> None:
    """An initrd where the entry names a kernel: checked the full way, same problems."""
    reader = _reader(tmp_path, {"vmlinuz": _big_initrd()})
    quick = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64", quick=True)
    full = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64")
    assert full.problems and quick == full


def test_an_initrd_damaged_past_the_quick_head_is_found_by_the_full_check(
    tmp_path: Path,
) -> None:
    data = bytearray(_big_initrd())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)  # the deflate stream no longer decodes
    reader = _reader(tmp_path, {"initrd.img": bytes(data)})
    quick = inspect_file(reader, "/initrd.img", expect="initrd", quick=True)
    full = inspect_file(reader, "/initrd.img", expect="initrd")
    assert quick.problems == () and quick.details["checked"] == "head"
    assert full.problems, "the full check decompresses the whole member"


@pytest.mark.debian
def test_debian_kernel_with_a_damaged_certificate_table(tmp_path: Path) -> None:
    """Debian's signed kernel with its WIN_CERTIFICATE header zeroed (at the end of the file,
    far past the head): the quick check only places the table inside the file; the full check
    (the hand-off's, before any load) reads it and refuses the kernel."""
    kernel = bytearray(debian_bytes("vmlinuz"))
    e_lfanew = struct.unpack_from("<I", kernel, 0x3C)[0]
    magic = struct.unpack_from("<H", kernel, e_lfanew + 24)[0]
    directories = e_lfanew + 24 + (112 if magic == 0x20B else 96)
    offset, length = struct.unpack_from("<II", kernel, directories + 8 * 4)
    assert offset > KERNEL_HEAD and length
    kernel[offset : offset + 8] = bytes(8)
    reader = _reader(tmp_path, {"vmlinuz": bytes(kernel)})
    quick = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64", quick=True)
    full = inspect_file(reader, "/vmlinuz", expect="linux", host_arch="x86_64")
    assert quick.problems == () and quick.signed is True
    assert any("certificate" in p for p in full.problems)
    assert reader.bytes_read["/vmlinuz"] <= KERNEL_HEAD + len(kernel)
