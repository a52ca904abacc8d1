"""HOB codecs: golden bytes written out by hand from the PI specification's layouts (volume 3,
chapter 5) and edk2's UniversalPayload headers, a round trip through parse_hob_list, and the
list builder's PHIT."""

from __future__ import annotations

import contextlib
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from efi import hob


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def test_phit_golden() -> None:
    phit = hob.Phit(
        memory_top=0x7F00_0000,
        memory_bottom=0x7E00_0000,
        free_memory_top=0x7F00_0000,
        free_memory_bottom=0x7E80_0000,
        end_of_hob_list=0x7E00_1230,
    )
    assert bytes(phit) == h(
        "0100 3800 00000000"  # type HANDOFF, length 56, reserved
        "09000000 00000000"  # version 9, BOOT_WITH_FULL_CONFIGURATION
        "000000 7f00000000"  # EfiMemoryTop
        "000000 7e00000000"  # EfiMemoryBottom
        "000000 7f00000000"  # EfiFreeMemoryTop
        "000080 7e00000000"  # EfiFreeMemoryBottom
        "301200 7e00000000"  # EfiEndOfHobList
    )


def test_cpu_golden() -> None:
    assert bytes(hob.Cpu(39, 16)) == h("0600 1000 00000000 27 10 000000000000")


def test_resource_descriptor_golden() -> None:
    r = hob.ResourceDescriptor(
        hob.EFI_RESOURCE_SYSTEM_MEMORY, hob.SYSTEM_MEMORY_ATTRIBUTES, 0x100000, 0x7EF00000
    )
    assert bytes(r) == h(
        "0300 3000 00000000"
        "00000000000000000000000000000000"  # Owner: zero GUID
        "00000000 073c0000"  # EFI_RESOURCE_SYSTEM_MEMORY, attributes 0x3C07
        "0000100000000000"  # PhysicalStart
        "0000f07e00000000"  # ResourceLength
    )


def test_memory_allocation_golden() -> None:
    m = hob.MemoryAllocation(0x7E000000, 0x3000, hob.EfiBootServicesCode)
    assert bytes(m) == h(
        "0200 3000 00000000"
        "00000000000000000000000000000000"
        "0000007e00000000 0030000000000000"
        "03000000 00000000"  # MemoryType, Reserved[4]
    )


def test_memory_allocation_module_golden() -> None:
    module = UUID("12345678-9abc-def0-1122-334455667788")
    m = hob.MemoryAllocationModule(0x1000, 0x2000, hob.EfiBootServicesCode, module, 0x1E2B)
    assert bytes(m) == h(
        "0200 4800 00000000"
        "7519e2f89908584fa4be5525a9c6d77a"  # gEfiHobMemoryAllocModuleGuid, little-endian
        "0010000000000000 0020000000000000 03000000 00000000"
        "78563412bc9af0de1122334455667788"  # ModuleName
        "2b1e000000000000"  # EntryPoint
    )


def test_guid_hob_pads_to_8() -> None:
    g = hob.GuidHob(UUID("aa7e190d-be21-4409-8e67-a2cd0f61e170"), b"\x01\x02\x03")
    assert bytes(g) == h("0400 2000 00000000 0d197eaa21be09448e67a2cd0f61e170 010203 0000000000")


def test_serial_port_info_packed_18_bytes() -> None:
    data = bytes(hob.SerialPortInfo())
    assert data == h("01 00 1200  00 01 00c20100 f803000000000000")
    assert len(data) == 18
    assert hob.SerialPortInfo.parse(data) == hob.SerialPortInfo()
    assert (
        bytes(hob.SerialPortInfo().hob())[8:24]
        == UUID("aa7e190d-be21-4409-8e67-a2cd0f61e170").bytes_le
    )


def test_extra_data_golden() -> None:
    e = hob.ExtraData((hob.ExtraDataEntry("uefi_fv", 0x7E004000, 0x264000),))
    assert bytes(e) == h(
        "01 00 2800 01000000"  # revision 1, length 40, count 1
        "756566695f6676000000000000000000"  # "uefi_fv"
        "0040007e00000000 0040260000000000"
    )
    assert hob.ExtraData.parse(bytes(e)) == e


def test_acpi_and_smbios_golden() -> None:
    assert bytes(hob.AcpiTable(0x7FB7E014)) == h("01 00 0c00 14e0b77f00000000")
    s = hob.SmbiosTable(0x7F9D4000)
    assert bytes(s) == h("01 00 0c00 00409d7f00000000")
    assert s.guid == UUID("590a0d26-06e5-4d20-8a82-59ea1b34982d")
    assert hob.SmbiosTable(1, version3=True).guid == UUID("92b7896c-3362-46ce-99b3-4f5e3c34eb42")
    assert hob.AcpiTable.parse(h("01 00 0c00 14e0b77f00000000")).rsdp == 0x7FB7E014


def test_graphics_info_48_bytes() -> None:
    g = hob.GraphicsInfo(
        0x80000000, 0x300000, 1024, 768, hob.PixelBlueGreenRedReserved8BitPerColor, 1024
    )
    assert bytes(g) == h(
        "0000008000000000 00003000"  # FrameBufferBase, FrameBufferSize
        "00000000 00040000 00030000 01000000"  # Version, 1024, 768, PixelBGRR
        "00000000 00000000 00000000 00000000"  # PixelInformation
        "00040000"  # PixelsPerScanLine
    )
    assert hob.GraphicsInfo.parse(bytes(g)) == g


def test_bootmenu_variable_golden() -> None:
    v = hob.BootmenuVariable(
        "BootNext", UUID("8be4df61-93ca-11d2-aa0d-00e098032b8c"), 0x7, b"\x00\x01"
    )
    assert bytes(v) == h(
        "61dfe48bca93d211aa0d00e098032b8c"  # EFI_GLOBAL_VARIABLE, little-endian
        "07000000 12000000 02000000"  # attributes, name size 18, data size 2
        "42006f006f0074004e006500780074000000"  # L"BootNext\0"
        "0001"
    )
    assert hob.BootmenuVariable.parse(bytes(v)) == v


def test_bootmenu_variable_rejects_a_name_without_nul() -> None:
    raw = bytearray(bytes(hob.BootmenuVariable("A", hob.ZERO_GUID, 7, b"")))
    raw[-2:] = b"B\0"
    with pytest.raises(FormatError):
        hob.BootmenuVariable.parse(bytes(raw))


def test_end_of_list_golden() -> None:
    assert bytes(hob.EndOfHobList()) == h("ffff 0800 00000000")


def test_build_and_parse_list() -> None:
    address = 0x7E00_0000
    items: list[hob.Hob] = [
        hob.Cpu(39),
        hob.ResourceDescriptor(0, hob.SYSTEM_MEMORY_ATTRIBUTES, 0, 0x9F000),
        hob.MemoryAllocation(0x7E000000, 0x1000, hob.EfiBootServicesData),
        hob.SerialPortInfo().hob(),
    ]
    data = hob.build_hob_list(
        address,
        memory_bottom=address,
        memory_top=address + 0x1000,
        free_memory_bottom=address + len(b"") + 0x800,
        free_memory_top=address + 0x1000,
        hobs=items,
    )
    parsed = hob.parse_hob_list(data)
    phit = parsed[0]
    assert isinstance(phit, hob.Phit)
    # 56 (PHIT) + 16 (CPU) + 48 + 48 + 48 (GUID: 24 + 18 -> 48): the end HOB at +0xD8
    assert phit.end_of_hob_list == address + 0xD8
    assert data[0xD8:0xE0] == h("ffff 0800 00000000")
    assert len(data) == 0xE0
    assert parsed[1:4] == tuple(items[:3])
    guid = parsed[4]
    assert isinstance(guid, hob.GuidHob) and guid.guid == hob.SERIAL_PORT_INFO_GUID
    assert hob.SerialPortInfo.parse(guid.data) == hob.SerialPortInfo()
    assert isinstance(parsed[-1], hob.EndOfHobList)


def test_list_without_end_is_truncated() -> None:
    with pytest.raises(FormatError, match="truncated"):
        hob.parse_hob_list(bytes(hob.Cpu(39)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_hob_lists(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        hob.parse_hob_list(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_guid_data(data: bytes) -> None:
    for parse in (
        hob.ExtraData.parse,
        hob.SerialPortInfo.parse,
        hob.AcpiTable.parse,
        hob.SmbiosTable.parse,
        hob.GraphicsInfo.parse,
        hob.BootmenuVariable.parse,
    ):
        with contextlib.suppress(FormatError):
            parse(data)


def test_firmware_volume_golden() -> None:
    fv = hob.FirmwareVolume(base=0x7E10_0000, length=0x26_0000)
    assert bytes(fv) == h(
        "0500 1800 00000000"  # type FV, length 24, reserved
        "0000107e00000000"  # BaseAddress
        "0000260000000000"  # Length
    )
    (parsed, _end) = hob.parse_hob_list(bytes(fv) + bytes(hob.EndOfHobList()))
    assert parsed == fv


def test_unknown_hob_is_kept_as_it_was() -> None:
    raw = h("0700 1000 00000000 0102030405060708")  # type 7 (EFI_HOB_TYPE_FV2 is 9; 7 is unused)
    (parsed, _end) = hob.parse_hob_list(raw + bytes(hob.EndOfHobList()))
    assert parsed == hob.UnknownHob(7, h("0102030405060708"))
    assert bytes(parsed) == raw
