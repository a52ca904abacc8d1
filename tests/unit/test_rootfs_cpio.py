"""rootfs.cpio: the newc writer, checked with an independent reader, GNU cpio and the rules
the kernel applies when it unpacks an initramfs."""

from __future__ import annotations

import io
import shutil
import stat
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rootfs.cpio import HEADER_SIZE, Entry, write_archive

MTIME = 1_700_000_000


def archive(entries: list[Entry], mtime: int = MTIME) -> bytes:
    out = io.BytesIO()
    size = write_archive(entries, out.write, mtime=mtime)
    assert size == len(out.getvalue())
    return out.getvalue()


def read_newc(data: bytes) -> list[dict[str, object]]:
    """An independent reader following the kernel's buffer-format.rst."""
    members = []
    off = 0
    while True:
        assert data[off : off + 6] == b"070701", f"bad magic at {off:#x}"
        fields = [int(data[off + 6 + 8 * i : off + 14 + 8 * i], 16) for i in range(13)]
        ino, mode, uid, gid, nlink, mtime, filesize, _maj, _min, rmaj, rmin, namesize, check = (
            fields
        )
        name_start = off + HEADER_SIZE
        name = data[name_start : name_start + namesize]
        assert name.endswith(b"\0")
        off = name_start + namesize
        off += -off % 4
        body = data[off : off + filesize]
        off += filesize
        off += -off % 4
        member = {"name": name[:-1].decode(), "mode": mode, "uid": uid, "gid": gid,
                  "nlink": nlink, "mtime": mtime, "data": body, "rdev": (rmaj, rmin),
                  "ino": ino, "check": check}  # fmt: skip
        members.append(member)
        if member["name"] == "TRAILER!!!":
            assert off == len(data)
            return members


SAMPLE = [
    Entry.file("init", b"#!/bin/sh\necho hi\n", 0o755),
    Entry.directory("dev"),
    Entry.chardev("dev/console", 5, 1, 0o600),
    Entry.chardev("dev/null", 1, 3, 0o666),
    Entry.directory("usr"),
    Entry.directory("usr/bin"),
    Entry.file("usr/bin/tool", b"\x7fELF" + bytes(range(7))),
    Entry.symlink("bin", "usr/bin"),
    Entry.directory("tmp", 0o1777),
]


def test_members_sorted_with_fixed_metadata() -> None:
    members = read_newc(archive(SAMPLE))
    names = [m["name"] for m in members]
    assert names == ["bin", "dev", "dev/console", "dev/null", "init", "tmp", "usr", "usr/bin",
                     "usr/bin/tool", "TRAILER!!!"]  # fmt: skip
    for m in members[:-1]:
        assert (m["uid"], m["gid"], m["mtime"], m["check"]) == (0, 0, MTIME, 0)
    by_name = {m["name"]: m for m in members}
    assert by_name["dev/console"]["mode"] == stat.S_IFCHR | 0o600
    assert by_name["dev/console"]["rdev"] == (5, 1)
    assert by_name["dev/null"]["rdev"] == (1, 3)
    assert by_name["bin"]["mode"] == stat.S_IFLNK | 0o777
    assert by_name["bin"]["data"] == b"usr/bin"
    assert by_name["tmp"]["mode"] == stat.S_IFDIR | 0o1777
    assert by_name["init"]["data"] == b"#!/bin/sh\necho hi\n"
    assert by_name["usr/bin/tool"]["data"] == b"\x7fELF\x00\x01\x02\x03\x04\x05\x06"
    # distinct inode numbers: the kernel would hard-link members sharing one with nlink > 1
    inos = [m["ino"] for m in members[:-1]]
    assert len(set(inos)) == len(inos)


def test_same_entries_any_order_same_bytes() -> None:
    assert archive(SAMPLE) == archive(list(reversed(SAMPLE)))
    assert archive(SAMPLE) != archive(SAMPLE, mtime=MTIME + 1)


def test_header_and_padding_alignment() -> None:
    data = archive([Entry.file("a", b"x"), Entry.file("abcd", b"12345")])
    # header (110) + "a\0" (2) = 112, already aligned; data 1 byte + 3 padding
    assert data[:6] == b"070701"
    assert data[112:116] == b"x\0\0\0"
    second = data[116:]
    assert second[HEADER_SIZE : HEADER_SIZE + 5] == b"abcd\0"
    assert len(data) % 4 == 0


@pytest.mark.parametrize(
    "entries, message",
    [
        ([Entry.file("a/b", b"")], "directory 'a' is not before it"),
        ([Entry.file("a", b""), Entry.file("a", b"")], "appears twice"),
        ([Entry.file("/abs", b"")], "relative path"),
        ([Entry.directory("x"), Entry.file("x/../y", b"")], "'..'"),
        ([Entry("fifo", stat.S_IFIFO | 0o644)], "unsupported file type"),
        ([Entry("d", stat.S_IFDIR | 0o755, b"data")], "only files and symlinks"),
        ([Entry.file("f", b""), Entry.file("f/g", b"")], "is not before it"),
    ],
)
def test_refuses_what_the_kernel_cannot_unpack(entries: list[Entry], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        archive(entries)


@pytest.mark.skipif(shutil.which("cpio") is None, reason="GNU cpio is not installed")
def test_gnu_cpio_lists_it() -> None:
    listing = subprocess.run(
        ["cpio", "-tv", "--quiet"], input=archive(SAMPLE), capture_output=True, check=True
    ).stdout.decode()
    lines = listing.splitlines()
    assert len(lines) == 9
    console = next(line for line in lines if line.endswith("dev/console"))
    assert console.startswith("crw-------") and "5,   1" in console
    link = next(line for line in lines if " bin -> " in line)
    assert link.startswith("lrwxrwxrwx") and link.endswith("bin -> usr/bin")
    tool = next(line for line in lines if line.endswith("usr/bin/tool"))
    assert tool.startswith("-rw-r--r--") and " root " in tool and " 11 " in tool


names = st.lists(
    st.text(alphabet="abcz-._", min_size=1, max_size=8).filter(lambda s: s not in (".", "..")),
    min_size=1,
    max_size=12,
    unique=True,
)


@settings(max_examples=300, deadline=None)
@given(names, st.binary(max_size=20))
def test_any_flat_tree_round_trips(files: list[str], data: bytes) -> None:
    entries = [Entry.file(name, data + name.encode()) for name in files]
    members = read_newc(archive(entries))
    assert sorted(str(m["name"]) for m in members[:-1]) == sorted(files)
    for m in members[:-1]:
        assert m["data"] == data + str(m["name"]).encode()
