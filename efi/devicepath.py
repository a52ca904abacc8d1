"""UEFI device paths (UEFI 2.10, chapter 10): parse, build and print them.

A device path is a list of nodes, each ``type`` (u8), ``subtype`` (u8), ``length`` (u16, the
whole node including these four bytes) and data, ended by the End Entire node ``7f ff 04 00``;
an End Instance node (``7f 01 04 00``) separates instances of a multi-instance path.

:class:`Node` keeps every node as its raw bytes, so any path, with nodes this module knows
nothing of, is written back byte for byte.  The nodes a boot manager builds and reads are
decoded by :class:`HardDrive` (``HD()``: GPT and MBR partitions) and :func:`file_path_node` /
:meth:`DevicePath.file` (``File()``, UCS-2).  ``str()`` of a node or path prints it as
efibootmgr (efivar's libefivar) does, e.g.
``PciRoot(0x0)/Pci(0x1,0x1)/Sata(0,65535,0)/HD(1,GPT,<guid>,0x800,0x32000)/File(\\EFI\\BOOT\\BOOTX64.EFI)``;
nodes without a textual form print as ``Path(type,subtype,hex)`` as the UEFI shell does.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from efi.errors import FormatError

# Node types (UEFI 2.10, 10.3.1).
HARDWARE_DEVICE_PATH: Final = 0x01
ACPI_DEVICE_PATH: Final = 0x02
MESSAGING_DEVICE_PATH: Final = 0x03
MEDIA_DEVICE_PATH: Final = 0x04
BBS_DEVICE_PATH: Final = 0x05
END_DEVICE_PATH_TYPE: Final = 0x7F

# Hardware subtypes.
HW_PCI_DP: Final = 0x01
HW_PCCARD_DP: Final = 0x02
HW_MEMMAP_DP: Final = 0x03
HW_VENDOR_DP: Final = 0x04
HW_CONTROLLER_DP: Final = 0x05
HW_BMC_DP: Final = 0x06
# ACPI subtypes.
ACPI_DP: Final = 0x01
ACPI_EXTENDED_DP: Final = 0x02
ACPI_ADR_DP: Final = 0x03
# Messaging subtypes.
MSG_ATAPI_DP: Final = 0x01
MSG_SCSI_DP: Final = 0x02
MSG_FIBRECHANNEL_DP: Final = 0x03
MSG_1394_DP: Final = 0x04
MSG_USB_DP: Final = 0x05
MSG_I2O_DP: Final = 0x06
MSG_INFINIBAND_DP: Final = 0x09
MSG_VENDOR_DP: Final = 0x0A
MSG_MAC_ADDR_DP: Final = 0x0B
MSG_IPv4_DP: Final = 0x0C
MSG_IPv6_DP: Final = 0x0D
MSG_UART_DP: Final = 0x0E
MSG_USB_CLASS_DP: Final = 0x0F
MSG_USB_WWID_DP: Final = 0x10
MSG_DEVICE_LOGICAL_UNIT_DP: Final = 0x11
MSG_SATA_DP: Final = 0x12
MSG_ISCSI_DP: Final = 0x13
MSG_VLAN_DP: Final = 0x14
MSG_NVME_NAMESPACE_DP: Final = 0x17
MSG_URI_DP: Final = 0x18
MSG_SD_DP: Final = 0x1A
MSG_EMMC_DP: Final = 0x1D
# Media subtypes.
MEDIA_HARDDRIVE_DP: Final = 0x01
MEDIA_CDROM_DP: Final = 0x02
MEDIA_VENDOR_DP: Final = 0x03
MEDIA_FILEPATH_DP: Final = 0x04
MEDIA_PROTOCOL_DP: Final = 0x05
MEDIA_PIWG_FW_FILE_DP: Final = 0x06
MEDIA_PIWG_FW_VOL_DP: Final = 0x07
MEDIA_RELATIVE_OFFSET_RANGE_DP: Final = 0x08
MEDIA_RAM_DISK_DP: Final = 0x09
# BBS subtype.
BBS_BBS_DP: Final = 0x01
# End subtypes.
END_INSTANCE_DEVICE_PATH_SUBTYPE: Final = 0x01
END_ENTIRE_DEVICE_PATH_SUBTYPE: Final = 0xFF

# HD() node: partition format (MBRType) and signature type.
MBR_TYPE_PCAT: Final = 0x01
MBR_TYPE_EFI_PARTITION_TABLE_HEADER: Final = 0x02
NO_DISK_SIGNATURE: Final = 0x00
SIGNATURE_TYPE_MBR: Final = 0x01
SIGNATURE_TYPE_GUID: Final = 0x02

# ACPI _HID values in EISA form (EISA_PNP_ID(0x0a03) …).
_PNP_EISA: Final = 0x41D0
_ACPI_NAMES: Final = {
    0x0A03: "PciRoot",
    0x0A08: "PcieRoot",
    0x0604: "Floppy",
    0x0301: "Keyboard",
    0x0501: "Serial",
}
_VENDOR_MSG_NAMES: Final = {
    UUID("e0c14753-f9be-11d2-9a0c-0090273fc14d"): "VenPcAnsi",
    UUID("dfa66065-b419-11d3-9a2d-0090273fc14d"): "VenVt100",
    UUID("7baec70b-57e0-4c76-8e87-2f9e28088343"): "VenVt100Plus",
    UUID("ad15a0d6-8bec-4acf-a073-d01de77e2d88"): "VenUtf8",
}
_BBS_TYPES: Final = {1: "Floppy", 2: "HD", 3: "CDROM", 4: "PCMCIA", 5: "USB", 6: "Network"}

_HEADER: Final = struct.Struct("<BBH")
# HARDDRIVE_DEVICE_PATH after the header: PartitionNumber u32, PartitionStart u64,
# PartitionSize u64, Signature[16], MBRType u8, SignatureType u8.
_HARDDRIVE: Final = struct.Struct("<IQQ16sBB")
HARDDRIVE_NODE_LENGTH: Final = _HEADER.size + _HARDDRIVE.size  # 42 (0x2a)


def _u(fmt: str, data: bytes, off: int = 0) -> tuple[int, ...]:
    """Unpack little-endian integers from a node's data (callers check lengths first)."""
    return struct.unpack_from("<" + fmt, data, off)


def _guid(data: bytes, off: int = 0) -> UUID:
    return UUID(bytes_le=bytes(data[off : off + 16]))


def _ucs2(data: bytes) -> str:
    """A UCS-2 string up to its first NUL; bytes that are not UTF-16 become U+FFFD."""
    end = len(data) - len(data) % 2
    for off in range(0, end, 2):
        if data[off] == 0 and data[off + 1] == 0:
            end = off
            break
    return data[:end].decode("utf-16-le", errors="replace")


@dataclass(frozen=True)
class Node:
    """One device path node: its type, subtype and the bytes after the 4-byte header."""

    type: int
    subtype: int
    data: bytes = b""

    @property
    def length(self) -> int:
        return _HEADER.size + len(self.data)

    @property
    def is_end(self) -> bool:
        return self.type == END_DEVICE_PATH_TYPE

    def __bytes__(self) -> bytes:
        if self.length > 0xFFFF:
            raise ValueError(f"device path node too long ({self.length} bytes)")
        return _HEADER.pack(self.type, self.subtype, self.length) + self.data

    def __str__(self) -> str:
        render = _RENDERERS.get((self.type, self.subtype))
        if render is not None:
            try:
                text = render(self.data)
            except (struct.error, IndexError, ValueError):
                text = None  # a node too short for its kind: shown as raw bytes
            if text is not None:
                return text
        return f"Path({self.type},{self.subtype},{self.data.hex()})"


END_ENTIRE: Final = Node(END_DEVICE_PATH_TYPE, END_ENTIRE_DEVICE_PATH_SUBTYPE)
END_INSTANCE: Final = Node(END_DEVICE_PATH_TYPE, END_INSTANCE_DEVICE_PATH_SUBTYPE)


@dataclass(frozen=True)
class HardDrive:
    """The ``HD()`` node: a partition by number, position and the disk's signature.

    ``signature`` is the partition's unique GUID on GPT (``SIGNATURE_TYPE_GUID``), the 32-bit
    disk signature on MBR (``SIGNATURE_TYPE_MBR``), or None (``NO_DISK_SIGNATURE``); ``start``
    and ``size`` are in logical blocks.  ``raw_signature`` keeps the 16 bytes as found.
    """

    partition: int
    start: int
    size: int
    signature: UUID | int | None
    mbr_type: int = MBR_TYPE_EFI_PARTITION_TABLE_HEADER
    signature_type: int = SIGNATURE_TYPE_GUID
    raw_signature: bytes | None = None

    @classmethod
    def gpt(cls, partition: int, start: int, size: int, guid: UUID) -> HardDrive:
        return cls(partition, start, size, guid)

    @classmethod
    def mbr(cls, partition: int, start: int, size: int, disk_signature: int) -> HardDrive:
        return cls(partition, start, size, disk_signature, MBR_TYPE_PCAT, SIGNATURE_TYPE_MBR)

    @classmethod
    def from_node(cls, node: Node) -> HardDrive:
        what = "HD() device path node"
        if (node.type, node.subtype) != (MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP):
            raise FormatError(f"{what}: node is of type {node.type:#x}/{node.subtype:#x}")
        if len(node.data) < _HARDDRIVE.size:
            raise FormatError(
                f"{what}: truncated at {node.length:#x} (expected {HARDDRIVE_NODE_LENGTH} bytes)",
                what=what,
                offset=node.length,
            )
        number, start, size, raw, mbr_type, sig_type = _HARDDRIVE.unpack_from(node.data)
        signature: UUID | int | None
        if sig_type == SIGNATURE_TYPE_GUID:
            signature = UUID(bytes_le=raw)
        elif sig_type == SIGNATURE_TYPE_MBR:
            (signature,) = struct.unpack_from("<I", raw)
        else:
            signature = None
        return cls(number, start, size, signature, mbr_type, sig_type, raw)

    def signature_bytes(self) -> bytes:
        if self.raw_signature is not None:
            return self.raw_signature
        if isinstance(self.signature, UUID):
            return self.signature.bytes_le
        if isinstance(self.signature, int):
            return struct.pack("<I", self.signature) + bytes(12)
        return bytes(16)

    def node(self) -> Node:
        data = _HARDDRIVE.pack(
            self.partition,
            self.start,
            self.size,
            self.signature_bytes(),
            self.mbr_type,
            self.signature_type,
        )
        return Node(MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP, data)

    def same_partition(self, other: HardDrive) -> bool:
        """Whether both name the same partition (what firmware compares: signature, number,
        start and size)."""
        return (
            self.signature_type == other.signature_type
            and self.signature_bytes() == other.signature_bytes()
            and (self.partition, self.start, self.size)
            == (other.partition, other.start, other.size)
        )

    def __str__(self) -> str:
        return str(self.node())


def file_path_node(path: str) -> Node:
    """A ``File()`` node: ``path`` in UCS-2 with a NUL, EFI's backslashes (``/`` becomes ``\\``).

    Raises ValueError for a path that UCS-2 cannot carry or that contains NUL.
    """
    text = path.replace("/", "\\")
    if "\0" in text:
        raise ValueError(f"{path!r}: a device path file name cannot contain NUL")
    if any(ord(c) > 0xFFFF for c in text):
        raise ValueError(f"{path!r}: has characters outside UCS-2")
    try:
        data = text.encode("utf-16-le") + b"\0\0"
    except UnicodeEncodeError as e:
        raise ValueError(f"{path!r}: cannot be encoded as UCS-2 ({e.reason})") from None
    return Node(MEDIA_DEVICE_PATH, MEDIA_FILEPATH_DP, data)


@dataclass(frozen=True)
class DevicePath:
    """One device path: its nodes up to (not including) the End Entire node.

    End Instance nodes stay in ``nodes``; ``end`` is the terminating node as found.
    """

    nodes: tuple[Node, ...]
    end: Node = END_ENTIRE

    def __bytes__(self) -> bytes:
        return b"".join(bytes(n) for n in self.nodes) + bytes(self.end)

    def __str__(self) -> str:
        out = ""
        for node in self.nodes:
            if node.is_end:
                out += ","
                continue
            if out and not out.endswith(","):
                out += "/"
            out += str(node)
        return out

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    @property
    def hard_drive(self) -> HardDrive | None:
        """The first ``HD()`` node, decoded (None when there is none or it is malformed)."""
        for node in self.nodes:
            if (node.type, node.subtype) == (MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP):
                try:
                    return HardDrive.from_node(node)
                except FormatError:
                    return None
        return None

    @property
    def file(self) -> str | None:
        """The file named by the path's ``File()`` nodes (joined, as the spec allows several),
        with EFI's backslashes; None when there is none."""
        parts = [
            _ucs2(n.data)
            for n in self.nodes
            if (n.type, n.subtype) == (MEDIA_DEVICE_PATH, MEDIA_FILEPATH_DP)
        ]
        if not parts:
            return None
        joined = ""
        for part in parts:
            if joined and not joined.endswith("\\") and not part.startswith("\\"):
                joined += "\\"
            joined += part
        return joined

    def has(self, type_: int, subtype: int | None = None) -> bool:
        return any(
            n.type == type_ and (subtype is None or n.subtype == subtype) for n in self.nodes
        )


def hd_file_path(hd: HardDrive, path: str) -> DevicePath:
    """The short-form path ``HD(…)/File(path)`` that efibootmgr writes for a loader."""
    return DevicePath((hd.node(), file_path_node(path)))


def parse_device_path(data: bytes, *, what: str = "device path") -> tuple[DevicePath, int]:
    """Parse one device path from the start of ``data``; returns it and its length in bytes."""
    nodes: list[Node] = []
    off = 0
    while True:
        if off + _HEADER.size > len(data):
            raise FormatError(f"{what}: truncated at {off:#x} (no end node)", what=what, offset=off)
        type_, subtype, length = _HEADER.unpack_from(data, off)
        if length < _HEADER.size:
            raise FormatError(
                f"{what}: node at {off:#x} has an invalid length of {length}",
                what=what,
                offset=off,
            )
        if off + length > len(data):
            raise FormatError(f"{what}: truncated at {off:#x}", what=what, offset=off)
        node = Node(type_, subtype, bytes(data[off + _HEADER.size : off + length]))
        off += length
        if type_ == END_DEVICE_PATH_TYPE and subtype == END_ENTIRE_DEVICE_PATH_SUBTYPE:
            return DevicePath(tuple(nodes), node), off
        nodes.append(node)


def parse_device_paths(data: bytes, *, what: str = "device path list") -> tuple[DevicePath, ...]:
    """Parse a packed list of device paths (an EFI_LOAD_OPTION's FilePathList)."""
    paths: list[DevicePath] = []
    off = 0
    while off < len(data):
        path, used = parse_device_path(data[off:], what=f"{what} at {off:#x}")
        paths.append(path)
        off += used
    return tuple(paths)


# -- printing ---------------------------------------------------------------------------------


def _vendor(name: str) -> Callable[[bytes], str | None]:
    def render(data: bytes) -> str | None:
        if len(data) < 16:
            return None
        guid = _guid(data)
        label = _VENDOR_MSG_NAMES.get(guid) if name == "VenMsg" else None
        rest = data[16:].hex()
        if label is not None:
            return f"{label}({rest})"
        return f"{name}({guid}{',' + rest if rest else ''})"

    return render


def _pci(data: bytes) -> str:
    function, device = _u("BB", data)
    return f"Pci({device:#x},{function:#x})"


def _acpi(data: bytes) -> str:
    hid, uid = _u("II", data)
    if hid & 0xFFFF == _PNP_EISA and (hid >> 16) in _ACPI_NAMES:
        return f"{_ACPI_NAMES[hid >> 16]}({uid:#x})"
    return f"Acpi({hid:#010x},{uid:#x})"


def _acpi_adr(data: bytes) -> str:
    count = len(data) // 4
    return "AcpiAdr(" + ",".join(f"{v:#x}" for v in _u(f"{count}I", data)) + ")"


def _mac(data: bytes) -> str:
    if_type = data[32]
    size = 6 if if_type < 2 else 32
    return f"MAC({data[:size].hex()},{if_type})"


def _ipv4(data: bytes) -> str:
    remote = str(ipaddress.IPv4Address(data[4:8]))
    local = str(ipaddress.IPv4Address(data[0:4]))
    local_port, remote_port, protocol, static = _u("HHHB", data, 8)
    # GatewayIpAddress and SubnetMask were added in UEFI 2.0; older nodes end after StaticIp.
    gateway = str(ipaddress.IPv4Address(data[15:19])) if len(data) >= 19 else "0.0.0.0"
    mask = str(ipaddress.IPv4Address(data[19:23])) if len(data) >= 23 else "0.0.0.0"
    proto = {6: "TCP", 17: "UDP"}.get(protocol, str(protocol))
    if remote_port:
        remote += f":{remote_port}"
    if local_port:
        local += f":{local_port}"
    return f"IPv4({remote},{proto},{'Static' if static else 'DHCP'},{local},{gateway},{mask})"


def _ipv6(data: bytes) -> str:
    local = f"[{ipaddress.IPv6Address(data[0:16])}]"
    remote = f"[{ipaddress.IPv6Address(data[16:32])}]"
    local_port, remote_port, protocol, origin = _u("HHHB", data, 32)
    prefix = data[39] if len(data) > 39 else 0
    gateway = f"[{ipaddress.IPv6Address(data[40:56])}]" if len(data) >= 56 else "[::]"
    proto = {6: "TCP", 17: "UDP"}.get(protocol, str(protocol))
    how = {0: "Static", 1: "StatelessAutoConfigure", 2: "StatefulAutoConfigure"}.get(
        origin, f"{origin:#x}"
    )
    if remote_port:
        remote += f":{remote_port}"
    if local_port:
        local += f":{local_port}"
    return f"IPv6({remote},{proto},{how},{local},{gateway},{prefix})"


def _nvme(data: bytes) -> str:
    (nsid,) = _u("I", data)
    eui = "-".join(f"{b:02X}" for b in data[4:12])
    return f"NVMe({nsid:#x},{eui})"


def _hd(data: bytes) -> str:
    hd = HardDrive.from_node(Node(MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP, data))
    tail = f"{hd.start:#x},{hd.size:#x})"
    if hd.signature_type == SIGNATURE_TYPE_GUID:
        return f"HD({hd.partition},GPT,{hd.signature},{tail}"
    if hd.signature_type == SIGNATURE_TYPE_MBR:
        return f"HD({hd.partition},MBR,{hd.signature:#x},{tail}"
    return f"HD({hd.partition},{hd.signature_type},{hd.signature_bytes().hex()},{tail}"


def _ram_disk(data: bytes) -> str:
    start, end = _u("QQ", data)
    (instance,) = _u("H", data, 32)
    return f"RamDisk({start:#x},{end:#x},{instance},{_guid(data, 16)})"


def _bbs(data: bytes) -> str:
    device_type, flags = _u("HH", data)
    description = data[4:].split(b"\0", 1)[0].decode("latin-1")
    kind = _BBS_TYPES.get(device_type, f"{device_type:#x}")
    return f'BBS({kind},"{description}",{flags:#x})'


def _guid_node(name: str) -> Callable[[bytes], str | None]:
    def render(data: bytes) -> str | None:
        return f"{name}({_guid(data)})" if len(data) >= 16 else None

    return render


def _need(size: int, render: Callable[[bytes], str]) -> Callable[[bytes], str | None]:
    def checked(data: bytes) -> str | None:
        return render(data) if len(data) >= size else None

    return checked


_RENDERERS: Final[dict[tuple[int, int], Callable[[bytes], str | None]]] = {
    (HARDWARE_DEVICE_PATH, HW_PCI_DP): _need(2, _pci),
    (HARDWARE_DEVICE_PATH, HW_PCCARD_DP): _need(1, lambda d: f"PcCard({d[0]:#x})"),
    (HARDWARE_DEVICE_PATH, HW_MEMMAP_DP): _need(
        20, lambda d: "MemoryMapped({:#x},{:#x},{:#x})".format(*_u("IQQ", d))
    ),
    (HARDWARE_DEVICE_PATH, HW_VENDOR_DP): _vendor("VenHw"),
    (HARDWARE_DEVICE_PATH, HW_CONTROLLER_DP): _need(4, lambda d: f"Ctrl({_u('I', d)[0]:#x})"),
    (HARDWARE_DEVICE_PATH, HW_BMC_DP): _need(9, lambda d: "BMC({},{:#x})".format(*_u("BQ", d))),
    (ACPI_DEVICE_PATH, ACPI_DP): _need(8, _acpi),
    (ACPI_DEVICE_PATH, ACPI_ADR_DP): _need(4, _acpi_adr),
    (MESSAGING_DEVICE_PATH, MSG_ATAPI_DP): _need(
        4, lambda d: "Ata({},{},{})".format(*_u("BBH", d))
    ),
    (MESSAGING_DEVICE_PATH, MSG_SCSI_DP): _need(4, lambda d: "SCSI({},{})".format(*_u("HH", d))),
    (MESSAGING_DEVICE_PATH, MSG_FIBRECHANNEL_DP): _need(
        20, lambda d: "Fibre({:x},{:x})".format(*_u("QQ", d, 4))
    ),
    (MESSAGING_DEVICE_PATH, MSG_1394_DP): _need(12, lambda d: f"I1394({_u('Q', d, 4)[0]:#x})"),
    (MESSAGING_DEVICE_PATH, MSG_USB_DP): _need(2, lambda d: f"USB({d[0]},{d[1]})"),
    (MESSAGING_DEVICE_PATH, MSG_I2O_DP): _need(4, lambda d: f"I2O({_u('I', d)[0]})"),
    (MESSAGING_DEVICE_PATH, MSG_VENDOR_DP): _vendor("VenMsg"),
    (MESSAGING_DEVICE_PATH, MSG_MAC_ADDR_DP): _need(33, _mac),
    (MESSAGING_DEVICE_PATH, MSG_IPv4_DP): _need(15, _ipv4),
    (MESSAGING_DEVICE_PATH, MSG_IPv6_DP): _need(39, _ipv6),
    (MESSAGING_DEVICE_PATH, MSG_USB_CLASS_DP): _need(
        7, lambda d: "UsbClass({:#x},{:#x},{},{},{})".format(*_u("HHBBB", d))
    ),
    (MESSAGING_DEVICE_PATH, MSG_DEVICE_LOGICAL_UNIT_DP): _need(1, lambda d: f"Unit({d[0]})"),
    (MESSAGING_DEVICE_PATH, MSG_SATA_DP): _need(
        6, lambda d: "Sata({},{},{})".format(*_u("HHH", d))
    ),
    (MESSAGING_DEVICE_PATH, MSG_VLAN_DP): _need(2, lambda d: f"Vlan({_u('H', d)[0]})"),
    (MESSAGING_DEVICE_PATH, MSG_NVME_NAMESPACE_DP): _need(12, _nvme),
    (MESSAGING_DEVICE_PATH, MSG_URI_DP): lambda d: f"Uri({d.decode('utf-8', errors='replace')})",
    (MESSAGING_DEVICE_PATH, MSG_SD_DP): _need(1, lambda d: f"SD({d[0]})"),
    (MESSAGING_DEVICE_PATH, MSG_EMMC_DP): _need(1, lambda d: f"eMMC({d[0]})"),
    (MEDIA_DEVICE_PATH, MEDIA_HARDDRIVE_DP): _need(_HARDDRIVE.size, _hd),
    (MEDIA_DEVICE_PATH, MEDIA_CDROM_DP): _need(
        20, lambda d: "CDROM({},{:#x},{:#x})".format(*_u("IQQ", d))
    ),
    (MEDIA_DEVICE_PATH, MEDIA_VENDOR_DP): _vendor("VenMedia"),
    (MEDIA_DEVICE_PATH, MEDIA_FILEPATH_DP): lambda d: f"File({_ucs2(d)})",
    (MEDIA_DEVICE_PATH, MEDIA_PROTOCOL_DP): _guid_node("Media"),
    (MEDIA_DEVICE_PATH, MEDIA_PIWG_FW_FILE_DP): _guid_node("FvFile"),
    (MEDIA_DEVICE_PATH, MEDIA_PIWG_FW_VOL_DP): _guid_node("Fv"),
    (MEDIA_DEVICE_PATH, MEDIA_RELATIVE_OFFSET_RANGE_DP): _need(
        20, lambda d: "Offset({:#x},{:#x})".format(*_u("QQ", d, 4))
    ),
    (MEDIA_DEVICE_PATH, MEDIA_RAM_DISK_DP): _need(34, _ram_disk),
    (BBS_DEVICE_PATH, BBS_BBS_DP): _need(4, _bbs),
}
