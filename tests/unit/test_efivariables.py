"""efi.variables (the efivarfs codec) and bootmenu.system.efivars (reading and writing efivarfs)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.system import efivars
from efi.variables import (
    DEFAULT_ATTRIBUTES,
    EFI_GLOBAL_VARIABLE,
    EFI_VARIABLE_BOOTSERVICE_ACCESS,
    EFI_VARIABLE_NON_VOLATILE,
    EFI_VARIABLE_RUNTIME_ACCESS,
    SYSTEMD_BOOT_VENDOR,
    EfiVariable,
    decode_utf16_string,
    describe_attributes,
    encode_utf16_string,
    split_efivarfs_name,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "config"
SD = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"


def fixture(name: str, directory: str = "efivars") -> tuple[str, bytes]:
    return name, (FIXTURES / directory / name).read_bytes()


# --- the codec ---------------------------------------------------------------------------------


def test_guids_and_attribute_constants() -> None:
    assert str(SYSTEMD_BOOT_VENDOR) == SD
    assert str(EFI_GLOBAL_VARIABLE) == GLOBAL
    assert (EFI_VARIABLE_NON_VOLATILE, EFI_VARIABLE_BOOTSERVICE_ACCESS) == (1, 2)
    assert EFI_VARIABLE_RUNTIME_ACCESS == 4
    assert DEFAULT_ATTRIBUTES == 7


def test_parse_loader_entry_default() -> None:
    var = EfiVariable.parse(*fixture(f"LoaderEntryDefault-{SD}"))
    assert var.name == "LoaderEntryDefault"
    assert var.vendor == UUID(SD)
    assert var.attributes == 0x7
    assert decode_utf16_string(var.data) == "fedora-6.8.9-300.fc40.x86_64.conf"
    assert var.filename == f"LoaderEntryDefault-{SD}"


def test_parse_volatile_loader_info() -> None:
    var = EfiVariable.parse(*fixture(f"LoaderInfo-{SD}"))
    assert var.attributes == EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS
    assert describe_attributes(var.attributes) == "BOOTSERVICE_ACCESS|RUNTIME_ACCESS"
    assert decode_utf16_string(var.data) == "systemd-boot 255.4-1"


def test_parse_global_binary_variables() -> None:
    order = EfiVariable.parse(*fixture(f"BootOrder-{GLOBAL}"))
    assert order.vendor == EFI_GLOBAL_VARIABLE
    assert order.data == b"\x01\x00\x00\x00\x03\x00"
    timeout = EfiVariable.parse(*fixture(f"Timeout-{GLOBAL}"))
    assert (timeout.name, timeout.data) == ("Timeout", b"\x05\x00")


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "efivars").iterdir()))
def test_round_trip_every_fixture(name: str) -> None:
    raw = (FIXTURES / "efivars" / name).read_bytes()
    assert bytes(EfiVariable.parse(name, raw)) == raw


def test_bytes_puts_attributes_first_little_endian() -> None:
    var = EfiVariable("LoaderEntryOneShot", SYSTEMD_BOOT_VENDOR, 0x7, encode_utf16_string("a"))
    assert bytes(var) == b"\x07\x00\x00\x00a\x00\x00\x00"


def test_split_name() -> None:
    assert split_efivarfs_name(f"Boot0001-{GLOBAL}") == ("Boot0001", EFI_GLOBAL_VARIABLE)
    # Names may contain dashes themselves; the GUID is always the last 36 characters.
    assert split_efivarfs_name(f"dump-type0-1-{SD}")[0] == "dump-type0-1"
    assert split_efivarfs_name(f"X-{SD.upper()}")[1] == SYSTEMD_BOOT_VENDOR


@pytest.mark.parametrize(
    "name",
    [
        "LoaderEntryDefault",
        f"-{SD}",
        f"LoaderEntryDefault{SD}",
        "LoaderEntryDefault-4a67b082-0a4c-41cf-b6c7-440b29bb8c4g",
        "LoaderEntryDefault-{4a67b082-0a4c-41cf-b6c7-440b29bb8c}",
        "LoaderEntryDefault-4a67b0820a4c41cfb6c7440b29bb8c4f1234",
    ],
)
def test_bad_names(name: str) -> None:
    with pytest.raises(FormatError, match="GUID"):
        EfiVariable.parse(name, b"\x07\x00\x00\x00")


def test_truncated_attributes() -> None:
    with pytest.raises(FormatError, match="truncated at 0x2") as e:
        EfiVariable.parse(*fixture(f"LoaderConfigTimeout-{SD}", "efivars-broken"))
    assert e.value.offset == 2


def test_decode_string_stops_at_nul_and_accepts_missing_terminator() -> None:
    assert decode_utf16_string(b"a\x00b\x00\x00\x00c\x00") == "ab"
    assert decode_utf16_string(b"d\x00e\x00") == "de"
    assert decode_utf16_string(b"") == ""
    assert decode_utf16_string("Ünïcødé 🐧".encode("utf-16-le")) == "Ünïcødé 🐧"


def test_decode_string_errors() -> None:
    _, odd = fixture(f"LoaderEntryDefault-{SD}", "efivars-broken")
    with pytest.raises(FormatError, match="odd length of 21 bytes"):
        decode_utf16_string(EfiVariable.parse(f"LoaderEntryDefault-{SD}", odd).data)
    _, lone = fixture(f"LoaderEntryOneShot-{SD}", "efivars-broken")
    with pytest.raises(FormatError, match="not a valid UTF-16 string"):
        decode_utf16_string(EfiVariable.parse(f"LoaderEntryOneShot-{SD}", lone).data)


def test_encode_string() -> None:
    assert (
        encode_utf16_string("auto-windows")
        == (FIXTURES / "efivars" / f"LoaderEntryOneShot-{SD}").read_bytes()[4:]
    )
    with pytest.raises(ValueError, match="NUL"):
        encode_utf16_string("a\0b")
    with pytest.raises(ValueError, match="UTF-16"):
        encode_utf16_string("\udc00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_parse_arbitrary_bytes(raw: bytes) -> None:
    try:
        var = EfiVariable.parse(f"Any-{SD}", raw)
    except FormatError:
        assert len(raw) < 4
    else:
        assert bytes(var) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_decode_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        decode_utf16_string(data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0")))
def test_string_round_trip(text: str) -> None:
    assert decode_utf16_string(encode_utf16_string(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_split_arbitrary_names(name: str) -> None:
    with contextlib.suppress(FormatError):
        split_efivarfs_name(name)


# --- efivarfs I/O ------------------------------------------------------------------------------


def _clear_immutable(directory: Path) -> None:
    for path in directory.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            flags = efivars.get_flags(fd)
            if flags & efivars.FS_IMMUTABLE_FL:
                efivars.set_flags(fd, flags & ~efivars.FS_IMMUTABLE_FL)
        except OSError:
            pass
        finally:
            os.close(fd)


@pytest.fixture
def varfs(tmp_path: Path) -> Iterator[Path]:
    """A copy of the fixture variables standing in for /sys/firmware/efi/efivars."""
    directory = tmp_path / "efivars"
    shutil.copytree(FIXTURES / "efivars", directory)
    yield directory
    _clear_immutable(directory)  # or pytest cannot remove the temporary directory


def make_immutable(path: Path) -> None:
    """Set FS_IMMUTABLE_FL as efivarfs does, or skip when this filesystem or user cannot."""
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = efivars.get_flags(fd)
        efivars.set_flags(fd, flags | efivars.FS_IMMUTABLE_FL)
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL):
            pytest.skip(f"the temporary directory's filesystem has no inode flags ({e.strerror})")
        if e.errno == errno.EPERM:
            pytest.skip("setting the immutable flag needs CAP_LINUX_IMMUTABLE (run as root)")
        raise
    finally:
        os.close(fd)


def is_immutable(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        return bool(efivars.get_flags(fd) & efivars.FS_IMMUTABLE_FL)
    finally:
        os.close(fd)


def test_ioctl_numbers_match_linux_headers() -> None:
    if platform.machine() not in ("x86_64", "aarch64", "riscv64"):
        pytest.skip("the expected numbers below are those of 64-bit x86, arm and riscv")
    assert efivars.FS_IOC_GETFLAGS == 0x80086601
    assert efivars.FS_IOC_SETFLAGS == 0x40086602


def test_available(varfs: Path, tmp_path: Path) -> None:
    assert efivars.available(directory=varfs)
    assert not efivars.available(directory=tmp_path / "absent")


def test_read(varfs: Path) -> None:
    var = efivars.read("LoaderEntryOneShot", SYSTEMD_BOOT_VENDOR, directory=varfs)
    assert var is not None
    assert decode_utf16_string(var.data) == "auto-windows"
    assert efivars.read("LoaderEntryOneShot", EFI_GLOBAL_VARIABLE, directory=varfs) is None
    assert efivars.read("LoaderEntryLastBooted", SYSTEMD_BOOT_VENDOR, directory=varfs) is None


def test_write_new_variable_in_one_write_call(varfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        calls.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    efivars.write_string("LoaderEntryDefault", SYSTEMD_BOOT_VENDOR, "arch.conf", directory=varfs)
    monkeypatch.undo()
    expected = b"\x07\x00\x00\x00" + "arch.conf\0".encode("utf-16-le")
    assert calls == [expected]
    assert (varfs / f"LoaderEntryDefault-{SD}").read_bytes() == expected


def test_write_replaces_whole_variable(varfs: Path) -> None:
    var = EfiVariable("LoaderConfigTimeout", SYSTEMD_BOOT_VENDOR, 7, encode_utf16_string("5"))
    efivars.write(var, directory=varfs)
    assert (varfs / f"LoaderConfigTimeout-{SD}").read_bytes() == b"\x07\x00\x00\x005\x00\x00\x00"
    efivars.write(var, directory=varfs)
    read = efivars.read("LoaderConfigTimeout", SYSTEMD_BOOT_VENDOR, directory=varfs)
    assert read == var


def test_write_clears_and_restores_immutable_flag(varfs: Path) -> None:
    path = varfs / f"LoaderEntryDefault-{SD}"
    make_immutable(path)
    with pytest.raises(PermissionError):
        path.write_bytes(b"\x07\x00\x00\x00")  # what efivarfs protects against
    efivars.write_string("LoaderEntryDefault", SYSTEMD_BOOT_VENDOR, "arch.conf", directory=varfs)
    assert path.read_bytes()[4:] == "arch.conf\0".encode("utf-16-le")
    assert is_immutable(path)


def test_delete_immutable_variable(varfs: Path) -> None:
    path = varfs / f"LoaderEntryOneShot-{SD}"
    make_immutable(path)
    assert efivars.delete("LoaderEntryOneShot", SYSTEMD_BOOT_VENDOR, directory=varfs)
    assert not path.exists()
    assert not efivars.delete("LoaderEntryOneShot", SYSTEMD_BOOT_VENDOR, directory=varfs)


def test_systemd_boot_settings(varfs: Path) -> None:
    assert efivars.systemd_boot_settings(directory=varfs) == {
        "LoaderConfigTimeout": "menu-force",
        "LoaderConfigTimeoutOneShot": "0",
        "LoaderEntryDefault": "fedora-6.8.9-300.fc40.x86_64.conf",
        "LoaderEntryOneShot": "auto-windows",
    }


def test_systemd_boot_settings_skips_broken_variables(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bootmenu.system.efivars"):
        found = efivars.systemd_boot_settings(directory=FIXTURES / "efivars-broken")
    # The undecodable ones are left out; "soon" is a string and config.py judges it.
    assert found == {"LoaderConfigTimeoutOneShot": "soon"}
    messages = " / ".join(r.getMessage() for r in caplog.records)
    assert "LoaderEntryDefault ignored" in messages
    assert "LoaderEntryOneShot ignored" in messages
    assert "LoaderConfigTimeout ignored" in messages


def test_systemd_boot_settings_without_efivarfs(tmp_path: Path) -> None:
    assert efivars.systemd_boot_settings(directory=tmp_path / "absent") == {}


def test_consume_oneshot(varfs: Path) -> None:
    make_immutable(varfs / f"LoaderEntryOneShot-{SD}")
    assert efivars.consume_oneshot(directory=varfs) == (
        "LoaderEntryOneShot",
        "LoaderConfigTimeoutOneShot",
    )
    left = efivars.systemd_boot_settings(directory=varfs)
    assert left == {
        "LoaderConfigTimeout": "menu-force",
        "LoaderEntryDefault": "fedora-6.8.9-300.fc40.x86_64.conf",
    }
    assert efivars.consume_oneshot(directory=varfs) == ()
