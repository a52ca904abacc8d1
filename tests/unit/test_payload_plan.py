"""The payload hand-off's machine description and segment plan, from fixture copies of
/sys/firmware/memmap, /proc/cpuinfo, /sys/firmware/efi/systab and boot_params (OVMF on a q35
QEMU with 2 GiB), and the handler's decisions."""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from bootmenu.boot import handoff, payload
from bootmenu.config import EfiHandoff
from bootmenu.errors import HandoffError
from bootmenu.model import BootEntry, Source
from efi import hob, trampoline, upl
from efi.devicepath import HardDrive, hd_file_path
from efi.loadoption import LOAD_OPTION_ACTIVE, LoadOption, parse_load_option
from tests import factories

FIX = Path(__file__).parent.parent / "fixtures" / "payload" / "ovmf-q35-2g"
MINI = (Path(__file__).parent.parent / "fixtures" / "upl" / "mini.elf").read_bytes()


def machine() -> payload.Machine:
    return payload.read_machine(
        memmap=FIX / "memmap",
        cpuinfo=FIX / "cpuinfo",
        systab=FIX / "systab",
        boot_params=FIX / "boot_params",
    )


def test_machine_description() -> None:
    m = machine()
    assert len(m.memory) == 17
    assert m.memory[7] == payload.MemoryRange(0x900000, 0x7E8EF000, "System RAM")
    assert m.address_bits == 40
    assert m.gib_pages
    assert m.acpi_rsdp == 0x7EBFE014
    assert m.smbios == 0x7E9A6000 and m.smbios3 is None
    assert m.framebuffer == payload.Framebuffer(
        0x80000000, 1280 * 800 * 4, 1280, 800, 1280, hob.PixelBlueGreenRedReserved8BitPerColor
    )


def test_region_is_the_top_of_the_highest_ram_below_4g_with_dxe_room() -> None:
    m = machine()
    # 0x7ec7f000-0x7fe80000 is 18 MiB: too small for 64 MiB of DXE region; the next one down
    # (0x900000-0x7e8ef000) ends at 0x7e8ef000.
    base = payload.choose_region(m, 0x400000)
    assert base == 0x7E8EF000 - (64 << 20) - 0x400000


def test_no_room() -> None:
    tiny = payload.Machine((payload.MemoryRange(0, 0x2000000, "System RAM"),), 36, False)
    with pytest.raises(HandoffError, match="no System RAM range below 4 GiB"):
        payload.choose_region(tiny, 0x100000)


def test_resource_hobs_follow_the_memmap() -> None:
    hobs = payload.resource_hobs(machine())
    ram = [h for h in hobs if isinstance(h, hob.ResourceDescriptor) and h.resource_type == 0]
    reserved = [h for h in hobs if isinstance(h, hob.ResourceDescriptor) and h.resource_type == 5]
    allocations = [h for h in hobs if isinstance(h, hob.MemoryAllocation)]
    assert len(ram) == 6 + 5  # System RAM + ACPI tables/NVS
    assert {(r.start, r.length) for r in reserved} >= {(0xB0000000, 0x10000000)}
    assert hob.MemoryAllocation(0x7EBEF000, 0x10000, hob.EfiACPIReclaimMemory) in allocations
    assert hob.MemoryAllocation(0x800000, 0x8000, hob.EfiACPIMemoryNVS) in allocations
    assert all(r.attributes == 0x3C07 for r in ram)


def test_plan_segments_lays_out_and_describes_everything() -> None:
    option = LoadOption(
        LOAD_OPTION_ACTIVE,
        "Marker 2",
        (hd_file_path(HardDrive.mbr(1, 2048, 67584, 0x12345678), "/EFI/marker2.efi"),),
        payload.load_options("-v"),
    )
    layout = payload.plan_segments(machine(), MINI, payload.boot_variables(option))
    tramp, image, fv, hobs = layout.segments
    assert [s.what for s in layout.segments] == ["trampoline", "payload", "uefi_fv", "hob list"]
    for s in layout.segments:
        assert s.address % 0x1000 == 0
    assert image.address == tramp.address + tramp.memsz
    assert fv.address == image.address + image.memsz
    assert hobs.address == fv.address + fv.memsz
    assert layout.phit_top + (64 << 20) <= 0x7E8EF000
    assert layout.entry == tramp.address
    # the relocated image: RELATIVE relocs for its own address
    assert struct.unpack_from("<Q", image.data, 0x2000) == (image.address + 0x1BC,)
    assert fv.data[0x28:0x2C] == b"_FVH"
    parsed = hob.parse_hob_list(hobs.data)
    phit = parsed[0]
    assert isinstance(phit, hob.Phit)
    assert (phit.memory_bottom, phit.memory_top) == (tramp.address, layout.phit_top)
    assert phit.free_memory_top == phit.memory_top
    assert phit.end_of_hob_list == hobs.address + len(hobs.data) - 8
    guids = {h.guid: h.data for h in parsed if isinstance(h, hob.GuidHob)}
    extra = hob.ExtraData.parse(guids[hob.EXTRA_DATA_GUID])
    assert extra.entries == (hob.ExtraDataEntry("uefi_fv", fv.address, 0x200),)
    assert hob.AcpiTable.parse(guids[hob.ACPI_TABLE_GUID]).rsdp == 0x7EBFE014
    assert hob.SmbiosTable.parse(guids[hob.SMBIOS_TABLE_GUID]).entry_point == 0x7E9A6000
    assert hob.GraphicsInfo.parse(guids[hob.GRAPHICS_INFO_GUID]).horizontal_resolution == 1280
    cpu = [h for h in parsed if isinstance(h, hob.Cpu)]
    assert cpu == [hob.Cpu(40, 16)]
    modules = [h for h in parsed if isinstance(h, hob.MemoryAllocationModule)]
    assert modules[0].entry_point == image.address + 0x1BC
    # bootmenu's variables: Boot0B00 (the option, with its load options) and BootNext
    variables = [
        hob.BootmenuVariable.parse(h.data)
        for h in parsed
        if isinstance(h, hob.GuidHob) and h.guid == hob.BOOTMENU_VARIABLE_GUID
    ]
    assert [v.name for v in variables] == ["Boot0B00", "BootNext"]
    assert variables[1].data == b"\x00\x0b"
    boot = parse_load_option(variables[0].data)
    assert boot.description == "Marker 2"
    assert boot.optional_data == "-v\0".encode("utf-16-le")
    assert str(boot.path).endswith("File(\\EFI\\marker2.efi)")
    # the trampoline jumps to the relocated entry with the HOB list
    asm = [i.asm for i in trampoline.build(
        tramp.address, target=image.address + 0x1BC, hob_list=hobs.address,
        map_top=0x100000000, gib_pages=True).instructions]  # fmt: skip
    assert f"movabs rcx, {hobs.address:#x}" in asm
    assert tramp.data[:2] == b"\xfa\xfc"


def test_screen_info_without_efi_framebuffer() -> None:
    assert payload.parse_screen_info(bytes(0x1000)) is None


def test_controller_classification() -> None:
    assert payload.classify_controller(0x8086, 0x2922, 0x010601) == "ahci"
    assert payload.classify_controller(0x1B36, 0x0010, 0x010802) == "nvme"
    assert payload.classify_controller(0x1AF4, 0x1001, 0x010000) == "virtio-blk"
    assert payload.classify_controller(0x1B36, 0x000D, 0x0C0330) == "usb"
    assert payload.classify_controller(0x1000, 0x0012, 0x010000) is None


def fake_sysfs(root: Path, pci_class: str, vendor: str = "0x8086", device: str = "0x2922") -> Path:
    pci = root / "devices/pci0000:00/0000:00:1f.2"
    disk = pci / "ata1/host0/target0:0:0/0:0:0:0/block/sda"
    (disk / "sda1").mkdir(parents=True)
    (pci / "class").write_text(pci_class + "\n")
    (pci / "vendor").write_text(vendor + "\n")
    (pci / "device").write_text(device + "\n")
    block = root / "class/block"
    block.mkdir(parents=True)
    os.symlink(disk / "sda1", block / "sda1")
    return block


def entry(root: str = "/dev/sda1") -> BootEntry:
    return factories.efi_app(
        id="esp-marker2",
        title="Marker 2",
        source=Source.EFI_REMOVABLE,
        root=root,
        kernel="/EFI/marker2.efi",
    )


def env(**kw: object) -> handoff.Environment:
    return factories.environment(**kw)


def test_disk_controller_from_sysfs(tmp_path: Path) -> None:
    block = fake_sysfs(tmp_path, "0x010601")
    assert payload.disk_controller("/dev/sda1", sys_block=block) == "ahci"


def test_accepts_and_declines(tmp_path: Path) -> None:
    block = fake_sysfs(tmp_path / "sys", "0x010601")
    elf = tmp_path / "UniversalPayload.elf"
    elf.write_bytes(MINI)
    handler = payload.Payload(paths=[elf], sys_block=block)
    assert handler.accepts(entry(), env()) is None
    assert "lockdown (integrity)" in (handler.accepts(entry(), env(lockdown="integrity")) or "")
    assert "did not start through UEFI" in (handler.accepts(entry(), env(efi=False)) or "")
    assert "aarch64" in (handler.accepts(entry(), env(host_arch="aarch64")) or "")
    bootnext = payload.Payload(setting=EfiHandoff.BOOTNEXT, paths=[elf], sys_block=block)
    assert bootnext.accepts(entry(), env()) == "efi_handoff is bootnext"
    missing = payload.Payload(paths=[tmp_path / "nope.elf"], sys_block=block)
    assert "not installed" in (missing.accepts(entry(), env()) or "")
    assert "not a disk" in (handler.accepts(entry("/srv/esp"), env()) or "")


def test_a_damaged_payload_file_sends_entries_to_bootnext(tmp_path: Path) -> None:
    """A truncated or foreign payload file is declined (with the reason) so that the entry can
    still start through BootNext, instead of failing at load time."""
    block = fake_sysfs(tmp_path / "sys", "0x010601")
    elf = tmp_path / "UniversalPayload.elf"
    elf.write_bytes(MINI[: len(MINI) // 3])
    handler = payload.Payload(paths=[elf], sys_block=block)
    why = handler.accepts(entry(), env()) or ""
    assert why.startswith(f"the EFI payload {elf} cannot be used: "), why
    elf.write_bytes(MINI)  # repaired: a new size, so it is checked again
    assert handler.accepts(entry(), env()) is None


def test_declines_a_controller_the_build_does_not_drive(tmp_path: Path) -> None:
    block = fake_sysfs(tmp_path / "sys", "0x010000", "0x1af4", "0x1001")
    elf = tmp_path / "UniversalPayload.elf"
    elf.write_bytes(MINI)
    (tmp_path / "UniversalPayload.json").write_text('{"controllers": ["ahci", "nvme"]}')
    handler = payload.Payload(paths=[elf], sys_block=block)
    assert handler.accepts(entry(), env()) == (
        "/dev/sda1 is on a virtio-blk controller, which the payload has no driver for"
    )
    (tmp_path / "UniversalPayload.json").write_text('{"controllers": ["virtio-blk"]}')
    assert handler.accepts(entry(), env()) is None


def test_load_options_are_ucs2() -> None:
    assert payload.load_options("") == b""
    assert payload.load_options("ab") == b"a\0b\0\0\0"


def test_relocated_image_is_what_upl_makes() -> None:
    layout = payload.plan_segments(machine(), MINI)
    image = layout.segments[1]
    assert image.data == upl.relocate(MINI, upl.parse_upl(MINI), image.address)


REAL = Path(os.environ.get("BOOTMENU_CACHE", Path.home() / ".cache" / "bootmenu")) / (
    "payload/UniversalPayload.elf"
)


@pytest.mark.skipif(not REAL.exists(), reason="the payload is not built (scripts/build-payload)")
def test_plan_for_the_real_payload() -> None:
    layout = payload.plan_segments(machine(), REAL.read_bytes())
    fv = layout.segments[2]
    assert fv.data[0x28:0x2C] == b"_FVH"
    assert len(layout.segments) == 4
    assert layout.phit_top - layout.phit_bottom < 8 << 20


def test_machine_description_for_the_log() -> None:
    m = machine()
    line = m.describe()
    assert f"{m.address_bits} address bits" in line
    assert ("no framebuffer" in line) == (m.framebuffer is None)
    fb = payload.Framebuffer(0xC000_0000, 0x40_0000, 1280, 800, 1280, 1)
    with_fb = replace(m, framebuffer=fb).describe()
    assert "framebuffer 1280x800 at 0xc0000000 (GraphicsInfo)" in with_fb
