"""Device path codec: efibootmgr's bytes for HD()/File(), OVMF's own entries, unknown nodes."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from efi import devicepath as dp
from efi.devicepath import DevicePath, HardDrive, Node, hd_file_path, parse_device_paths
from efi.loadoption import parse_load_option

FIXTURES = Path(__file__).parent.parent / "fixtures" / "efi"
GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
ESP_GUID = UUID("3a9b5e62-2b36-4f24-9f3b-0c5a4a1b2c3d")

# efibootmgr -C -d /dev/vda -p 1 -l '\EFI\test\marker.efi' -L marker, for partition 1 at LBA
# 2048, 61440 sectors (shared/notes/initramfs-facts.md): HD, File and end node.
EFIBOOTMGR_PATH = bytes.fromhex(
    "04012a00"  # MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP, length 42
    "01000000"  # PartitionNumber 1
    "0008000000000000"  # PartitionStart 2048
    "00f0000000000000"  # PartitionSize 61440
    "625e9b3a362b244f9f3b0c5a4a1b2c3d"  # the GPT unique partition GUID, mixed-endian
    "02"  # MBRType: GPT
    "02"  # SignatureType: GUID
    "04042e00"  # MEDIA_DEVICE_PATH, MEDIA_FILEPATH_DP, length 46
    "5c004500460049005c0074006500730074005c006d00610072006b00650072002e00650066006900"
    "0000"  # UCS-2 \EFI\test\marker.efi and NUL
    "7fff0400"  # End Entire
)


def ovmf(number: str) -> bytes:
    return (FIXTURES / "ovmf-first-boot" / f"Boot{number}-{GLOBAL}").read_bytes()[4:]


def test_hd_file_path_is_byte_equal_to_efibootmgr() -> None:
    path = hd_file_path(HardDrive.gpt(1, 2048, 61440, ESP_GUID), r"\EFI\test\marker.efi")
    assert bytes(path) == EFIBOOTMGR_PATH
    assert len(EFIBOOTMGR_PATH) == 92  # efibootmgr's FilePathListLength


def test_forward_slashes_become_backslashes() -> None:
    path = hd_file_path(HardDrive.gpt(1, 2048, 61440, ESP_GUID), "/EFI/test/marker.efi")
    assert bytes(path) == EFIBOOTMGR_PATH


def test_efibootmgr_path_parses_and_prints_like_efibootmgr() -> None:
    (path,) = parse_device_paths(EFIBOOTMGR_PATH)
    assert str(path) == (
        r"HD(1,GPT,3a9b5e62-2b36-4f24-9f3b-0c5a4a1b2c3d,0x800,0xf000)/File(\EFI\test\marker.efi)"
    )
    hd = path.hard_drive
    assert hd is not None
    assert (hd.partition, hd.start, hd.size, hd.signature) == (1, 2048, 61440, ESP_GUID)
    assert (hd.mbr_type, hd.signature_type) == (2, 2)
    assert path.file == r"\EFI\test\marker.efi"
    assert bytes(path) == EFIBOOTMGR_PATH


def test_mbr_hard_drive_node() -> None:
    hd = HardDrive.mbr(2, 0x800, 0x3E8, 0x1234ABCD)
    node = bytes(hd.node())
    assert node == bytes.fromhex(
        "04012a00" "02000000" "0008000000000000" "e803000000000000"
        "cdab3412" + "00" * 12 + "01" "01"
    )  # fmt: skip
    (path,) = parse_device_paths(node + bytes.fromhex("7fff0400"))
    assert str(path) == "HD(2,MBR,0x1234abcd,0x800,0x3e8)"
    parsed = path.hard_drive
    assert parsed is not None and parsed.signature == 0x1234ABCD
    assert parsed.same_partition(hd)


FV = "Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)"
PCI_NET = "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400123456,1)"
IPV4 = "IPv4(0.0.0.0,0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)"


@pytest.mark.parametrize(
    ("number", "text"),
    [
        ("0000", f"{FV}/FvFile(462caa21-7614-4503-836e-8ab6f4662331)"),
        ("0001", "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(2,65535,0)"),
        ("0002", "PciRoot(0x0)/Pci(0x3,0x0)"),
        ("0003", PCI_NET),
        ("0004", f"{PCI_NET}/{IPV4}"),
        ("0005", f"{PCI_NET}/IPv6([::],0,Static,[::],[::],64)"),
        ("0006", f"{PCI_NET}/{IPV4}/Uri()"),
        ("0008", f"{FV}/FvFile(7c04a583-9e3e-4f1c-ad65-e05268d0b4d1)"),
    ],
)
def test_ovmf_entries_print_as_efibootmgr_shows_them(number: str, text: str) -> None:
    option = parse_load_option(ovmf(number))
    assert option.path is not None
    assert str(option.path) == text


@pytest.mark.parametrize("number", [f"{n:04X}" for n in range(9)])
def test_ovmf_entries_round_trip_byte_exact(number: str) -> None:
    raw = ovmf(number)
    option = parse_load_option(raw)
    assert bytes(option) == raw


def test_other_nodes_render_like_the_shell() -> None:
    usb = Node(dp.MESSAGING_DEVICE_PATH, dp.MSG_USB_DP, bytes([3, 0]))
    nvme_data = bytes.fromhex("010000000025388b91b2e3a1")
    nvme = Node(dp.MESSAGING_DEVICE_PATH, dp.MSG_NVME_NAMESPACE_DP, nvme_data)
    uri = Node(dp.MESSAGING_DEVICE_PATH, dp.MSG_URI_DP, b"http://10.0.2.2/boot.efi")
    acpi = Node(dp.ACPI_DEVICE_PATH, dp.ACPI_DP, bytes.fromhex("d041030a01000000"))
    other_acpi = Node(dp.ACPI_DEVICE_PATH, dp.ACPI_DP, bytes.fromhex("d041010500000000"))
    range_data = bytes(4) + (0x1000).to_bytes(8, "little") + (0x1FFF).to_bytes(8, "little")
    offset = Node(dp.MEDIA_DEVICE_PATH, dp.MEDIA_RELATIVE_OFFSET_RANGE_DP, range_data)
    guid = UUID("e0c14753-f9be-11d2-9a0c-0090273fc14d")
    ansi = Node(dp.MESSAGING_DEVICE_PATH, dp.MSG_VENDOR_DP, guid.bytes_le)
    venhw = Node(dp.HARDWARE_DEVICE_PATH, dp.HW_VENDOR_DP, UUID(int=1).bytes_le + b"\xab")
    assert str(usb) == "USB(3,0)"
    assert str(nvme) == "NVMe(0x1,00-25-38-8B-91-B2-E3-A1)"
    assert str(uri) == "Uri(http://10.0.2.2/boot.efi)"
    assert str(acpi) == "PciRoot(0x1)"
    assert str(other_acpi) == "Serial(0x0)"
    assert str(offset) == "Offset(0x1000,0x1fff)"
    assert str(ansi) == "VenPcAnsi()"
    assert str(venhw) == "VenHw(00000000-0000-0000-0000-000000000001,ab)"


def test_unknown_and_short_nodes_are_kept_byte_exact() -> None:
    data = bytes.fromhex(
        "039906000102"  # messaging subtype 0x99: unknown
        "03050400"  # a USB node without its two bytes of data (kept as it is)
        "7f010400"  # End Instance
        "040406004100"  # File("A") without its NUL
        "7fff0400"
    )
    (path,) = parse_device_paths(data)
    assert bytes(path) == data
    assert str(path) == "Path(3,153,0102)/Path(3,5,),File(A)"


def test_several_paths_in_one_list() -> None:
    (first, second) = parse_device_paths(EFIBOOTMGR_PATH + EFIBOOTMGR_PATH[42:])
    assert first.hard_drive is not None
    assert second.hard_drive is None and second.file == r"\EFI\test\marker.efi"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (EFIBOOTMGR_PATH[:-4], "truncated at 0x58 (no end node)"),
        (EFIBOOTMGR_PATH[:50], "truncated at 0x2a"),
        (bytes.fromhex("04010200"), "invalid length of 2"),
    ],
)
def test_broken_paths_are_format_errors(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_device_paths(data)


def test_a_file_name_that_ucs2_cannot_carry() -> None:
    with pytest.raises(ValueError, match="outside UCS-2"):
        dp.file_path_node("/EFI/\U0001f600.efi")


def test_cross_check_with_virt_firmware() -> None:
    """virt-firmware (an independent implementation) builds the same bytes and reads ours."""
    devpath = pytest.importorskip(
        "virt.firmware.efi.devpath", reason="virt-firmware (test dependency) is not installed"
    )
    theirs = devpath.DevicePath()
    hd = devpath.DevicePathElem()
    hd.set_gpt(1, 2048, 61440, str(ESP_GUID))
    theirs.append(hd)
    file = devpath.DevicePathElem()
    file.set_filepath(r"\EFI\test\marker.efi")
    theirs.append(file)  # bytes() adds the end node
    assert bytes(theirs) == EFIBOOTMGR_PATH
    parsed = devpath.DevicePath(EFIBOOTMGR_PATH)
    assert str(parsed[0].get_partuuid()) == str(ESP_GUID)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_format_error(data: bytes) -> None:
    try:
        paths = parse_device_paths(data)
    except FormatError:
        return
    assert b"".join(bytes(p) for p in paths) == data
    for path in paths:
        str(path)
        _ = path.hard_drive, path.file


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.uuids(),
    st.text(st.characters(min_codepoint=1, max_codepoint=0xD7FF), max_size=40),
)
def test_hd_file_round_trip(number: int, start: int, size: int, guid: UUID, name: str) -> None:
    path = hd_file_path(HardDrive.gpt(number, start, size, guid), "\\" + name)
    (parsed,) = parse_device_paths(bytes(path))
    assert parsed == DevicePath(path.nodes)
    assert parsed.hard_drive == HardDrive(number, start, size, guid, raw_signature=guid.bytes_le)
    assert parsed.file == "\\" + name.replace("/", "\\")
