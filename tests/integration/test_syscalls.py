"""bootmenu.system.syscalls against the running kernel.

Tests marked ``root`` use loop devices and mount(2). The others need neither (lockdown and
kexec_loaded parsing of injected files, memfd) and run everywhere.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from bootmenu.system import syscalls
from tests.integration.conftest import Images, Loops, mounts_of

# --- no root needed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("none [integrity] confidentiality\n", "integrity"),
        ("[none] integrity confidentiality\n", "none"),
        ("none integrity [confidentiality]\n", "confidentiality"),
        ("none integrity confidentiality\n", None),
        ("", None),
    ],
)
def test_lockdown_reads_the_bracketed_mode(tmp_path: Path, text: str, mode: str | None) -> None:
    path = tmp_path / "lockdown"
    path.write_text(text)
    assert syscalls.lockdown(path) == mode


def test_lockdown_without_the_lsm_is_none(tmp_path: Path) -> None:
    assert syscalls.lockdown(tmp_path / "missing") is None


@pytest.mark.parametrize(("text", "loaded"), [("1\n", True), ("0\n", False)])
def test_kexec_loaded(tmp_path: Path, text: str, loaded: bool) -> None:
    path = tmp_path / "kexec_loaded"
    path.write_text(text)
    assert syscalls.kexec_loaded(path) is loaded


def test_kexec_loaded_without_kexec_support(tmp_path: Path) -> None:
    assert syscalls.kexec_loaded(tmp_path / "missing") is False


def _writers_of(fd: int) -> list[int]:
    """Descriptors of this process open for writing on the same file as ``fd``."""
    ino = os.fstat(fd).st_ino
    found = []
    for name in os.listdir("/proc/self/fdinfo"):
        try:
            info = Path(f"/proc/self/fdinfo/{name}").read_text()
            same = os.stat(f"/proc/self/fd/{name}").st_ino == ino
        except OSError:
            continue
        flags = int(
            next(line.split()[1] for line in info.splitlines() if line.startswith("flags:")), 8
        )
        if same and flags & os.O_ACCMODE != os.O_RDONLY:
            found.append(int(name))
    return found


def test_memfd_holds_the_data_read_only_and_sealed() -> None:
    data = bytes(range(256)) * 4097  # not a multiple of the page size
    fd = syscalls.memfd("kernel", data)
    try:
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
        assert os.read(fd, len(data) + 1) == data
        assert os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:kernel")
        # kernel_read_file() answers ETXTBSY while anyone holds the file open for writing.
        assert _writers_of(fd) == []
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SEAL
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        os.close(fd)


def test_kexec_file_load_rejects_a_nul_in_the_command_line() -> None:
    with pytest.raises(ValueError, match="NUL"):
        syscalls.kexec_file_load(0, None, "quiet\0init=/bin/sh")


# --- root ---------------------------------------------------------------------------------


@pytest.mark.root
def test_kexec_file_load_of_garbage_fails_cleanly() -> None:
    """Not a kernel: refused by every image loader (or the kernel has no kexec_file_load)."""
    fd = syscalls.memfd("garbage", b"this is not a kernel\n" * 100)
    try:
        with pytest.raises(OSError) as caught:
            syscalls.kexec_file_load(fd, None, "console=ttyS0")
    finally:
        os.close(fd)
    assert caught.value.errno in (errno.ENOEXEC, errno.ENOSYS, errno.EKEYREJECTED, errno.EPERM)
    assert caught.value.filename == "kexec_file_load"
    assert not syscalls.kexec_loaded()


@pytest.mark.root
def test_block_readonly_round_trip(images: Images, loops: Loops) -> None:
    device = loops.attach(images.build("ext2", {"a": b"a"}))
    assert syscalls.block_readonly(device) is False
    syscalls.set_block_readonly(device, True)
    assert syscalls.block_readonly(device) is True
    assert Path(f"/sys/class/block/{device.name}/ro").read_text().strip() == "1"
    syscalls.set_block_readonly(device, False)
    assert syscalls.block_readonly(device) is False


@pytest.mark.root
def test_block_readonly_of_a_regular_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"x")
    with pytest.raises(OSError) as caught:
        syscalls.set_block_readonly(path)
    assert caught.value.errno == errno.ENOTTY
    assert caught.value.filename == str(path)


@pytest.mark.root
def test_mount_and_umount(images: Images, loops: Loops, tmp_path: Path) -> None:
    device = loops.attach(images.build("ext4", {"kernel": b"vmlinuz"}))
    target = tmp_path / "m"
    target.mkdir()
    syscalls.mount(device, target, "ext4", syscalls.MS_RDONLY | syscalls.MS_NOEXEC, "noload")
    try:
        [(mountpoint, options, _)] = mounts_of(device)
        assert mountpoint == target
        assert "ro" in options.split(",") and "noexec" in options.split(",")
        assert (target / "kernel").read_bytes() == b"vmlinuz"
    finally:
        syscalls.umount(target)
    assert mounts_of(device) == []


@pytest.mark.root
def test_mount_errors_carry_errno_and_source(images: Images, loops: Loops, tmp_path: Path) -> None:
    device = loops.attach(images.build("ext2", {"a": b"a"}))
    with pytest.raises(OSError) as caught:
        syscalls.mount(device, tmp_path / "missing", "ext2", syscalls.MS_RDONLY, None)
    assert caught.value.errno == errno.ENOENT
    assert caught.value.filename == str(device)
    target = tmp_path / "m"
    target.mkdir()
    with pytest.raises(OSError) as caught:
        syscalls.mount(device, target, "ext2", syscalls.MS_RDONLY, "no-such-option")
    assert caught.value.errno == errno.EINVAL


@pytest.mark.root
def test_umount_of_something_not_mounted(tmp_path: Path) -> None:
    with pytest.raises(OSError) as caught:
        syscalls.umount(tmp_path)
    assert caught.value.errno == errno.EINVAL
    assert caught.value.filename == str(tmp_path)


@pytest.mark.root
def test_lazy_umount(images: Images, loops: Loops, tmp_path: Path) -> None:
    device = loops.attach(images.build("ext2", {"a": b"held"}))
    target = tmp_path / "m"
    target.mkdir()
    syscalls.mount(device, target, "ext2", syscalls.MS_RDONLY, None)
    with (target / "a").open("rb") as held:
        with pytest.raises(OSError) as caught:
            syscalls.umount(target)
        assert caught.value.errno == errno.EBUSY
        syscalls.umount(target, syscalls.MNT_DETACH)
        assert mounts_of(device) == []
        assert held.read() == b"held"
