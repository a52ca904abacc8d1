"""EFI_LOAD_OPTION codec: efibootmgr's Boot#### byte for byte, OVMF's entries, BootOrder."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from efi.devicepath import HardDrive, hd_file_path
from efi.loadoption import (
    LOAD_OPTION_ACTIVE,
    LOAD_OPTION_CATEGORY_APP,
    LOAD_OPTION_HIDDEN,
    LoadOption,
    boot_variable_name,
    encode_u16,
    encode_u16_list,
    parse_boot_variable_name,
    parse_load_option,
    parse_u16,
    parse_u16_list,
)
from efi.variables import EfiVariable

FIXTURES = Path(__file__).parent.parent / "fixtures" / "efi"
GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
ESP_GUID = UUID("3a9b5e62-2b36-4f24-9f3b-0c5a4a1b2c3d")


def variable(directory: str, name: str) -> EfiVariable:
    filename = f"{name}-{GLOBAL}"
    return EfiVariable.parse(filename, (FIXTURES / directory / filename).read_bytes())


def test_efibootmgr_marker_entry_byte_for_byte() -> None:
    """The efivarfs file efibootmgr 17 writes for -C -d /dev/vda -p 1 -l '\\EFI\\test\\marker.efi'
    -L marker (layout in shared/notes/initramfs-facts.md)."""
    var = variable("efibootmgr-marker", "Boot0004")
    assert var.attributes == 0x7
    built = LoadOption(
        LOAD_OPTION_ACTIVE,
        "marker",
        (hd_file_path(HardDrive.gpt(1, 2048, 61440, ESP_GUID), r"\EFI\test\marker.efi"),),
    )
    assert bytes(built) == var.data
    parsed = parse_load_option(var.data)
    assert parsed == built
    assert parsed.active and not parsed.hidden and parsed.optional_data == b""
    assert var.data[4:6] == (92).to_bytes(2, "little")


def test_ovmf_ui_app_is_a_hidden_application() -> None:
    option = parse_load_option(variable("ovmf-first-boot", "Boot0000").data)
    assert option.description == "UiApp"
    assert option.attributes == LOAD_OPTION_ACTIVE | LOAD_OPTION_HIDDEN | LOAD_OPTION_CATEGORY_APP
    assert option.hidden and option.category == LOAD_OPTION_CATEGORY_APP


def test_ovmf_pxe_entry_keeps_its_optional_data() -> None:
    option = parse_load_option(variable("ovmf-first-boot", "Boot0003").data)
    assert option.description == "UEFI PXEv4 (MAC:525400123456)"
    # EDK2 marks the entries it creates itself with gEdkiiBdsAutoCreatedBootOptionGuid.
    assert UUID(bytes_le=option.optional_data) == UUID("8108ac4e-9f11-4d59-850e-e21a522c59b2")


def test_boot_order_and_boot_next() -> None:
    order = variable("ovmf-first-boot", "BootOrder")
    assert parse_u16_list(order.data) == tuple(range(9))
    assert encode_u16_list(list(range(9))) == order.data
    boot_next = variable("efibootmgr-marker", "BootNext")
    assert (boot_next.attributes, parse_u16(boot_next.data)) == (0x7, 4)
    assert encode_u16(4) == boot_next.data


def test_boot_variable_names() -> None:
    assert boot_variable_name(0x2A) == "Boot002A"
    assert parse_boot_variable_name("Boot002A") == 0x2A
    assert parse_boot_variable_name("BootOrder") is None
    assert parse_boot_variable_name("Boot00001") is None
    with pytest.raises(ValueError):
        boot_variable_name(0x10000)


def test_a_description_that_is_not_utf16_round_trips() -> None:
    raw = bytes.fromhex("01000000040000d8410000007fff0400") + b"opt"
    option = parse_load_option(raw)
    assert bytes(option) == raw and option.optional_data == b"opt"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00\x00", "truncated at 0x3"),
        (bytes.fromhex("0100000004004100"), "no NUL terminator"),
        (bytes.fromhex("010000000800410000007fff0400"), "FilePathListLength is 8"),
        (bytes.fromhex("01000000040000007fff0300"), "invalid length of 3"),
    ],
)
def test_broken_options(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_load_option(data)


def test_odd_boot_order() -> None:
    with pytest.raises(FormatError, match="odd length"):
        parse_u16_list(b"\x01\x00\x02")
    with pytest.raises(FormatError, match="expected 2 bytes"):
        parse_u16(b"\x01")


def test_cross_check_with_virt_firmware() -> None:
    bootentry = pytest.importorskip(
        "virt.firmware.efi.bootentry", reason="virt-firmware (test dependency) is not installed"
    )
    data = variable("efibootmgr-marker", "Boot0004").data
    theirs = bootentry.BootEntry(data=data)
    assert str(theirs.title) == "marker" and theirs.attr == LOAD_OPTION_ACTIVE
    assert bytes(theirs) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_raise_format_error(data: bytes) -> None:
    try:
        option = parse_load_option(data)
    except FormatError:
        return
    assert bytes(option) == data


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.text(st.characters(min_codepoint=1, max_codepoint=0xD7FF), max_size=30),
    st.binary(max_size=40),
)
def test_round_trip(attributes: int, description: str, optional: bytes) -> None:
    path = hd_file_path(HardDrive.gpt(1, 2048, 61440, ESP_GUID), r"\EFI\BOOT\BOOTX64.EFI")
    option = LoadOption(attributes, description, (path,), optional)
    assert parse_load_option(bytes(option)) == option
