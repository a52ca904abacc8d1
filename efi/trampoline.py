"""The x86-64 trampoline between Linux's kexec and a UEFI Universal Payload's entry point.

``kexec_load`` ends in the kernel's ``relocate_kernel``: long mode, interrupts off, the kexec
identity map, and Linux's GDT and IDT already invalidated (``machine_kexec``), so any segment
load or fault would triple-fault.  The payload's entry (``_ModuleEntryPoint(VOID *HobList)``,
MS x64 ABI) needs a usable CPU state.  This module builds one page-aligned segment holding
code, tables and a stack, for the physical address it will be loaded at (below 4 GiB):

- ``cli``, ``cld``, a stack of our own, our own flat GDT (64-bit code 0x08, data 0x10, 32-bit
  code 0x18), data segment registers reloaded, ``CS`` reloaded by a far return;
- our own identity map (2 MiB pages, or 1 GiB pages when the CPU has them) covering at least
  the first 4 GiB (the local APIC) and all memory the payload is told about.  When the CPU runs
  with 5-level paging (``CR4.LA57``), paging is turned off in a 32-bit compatibility-mode
  segment, LA57 cleared, and long mode re-entered with the 4-level map: the payload keeps the
  paging mode it is entered in, and an OS it starts later must not inherit LA57;
- the local APIC drained: Linux's APIC timer masked and stopped, our IDT (every vector from 32
  on sends an EOI and returns) loaded, interrupts let through for a moment so that requests
  pending at kexec are accepted and acknowledged, then 256 EOIs to clear any in-service bit.
  Without this a pending Linux timer interrupt (vector 0xEC) reaches the payload, whose handler
  sends no EOI, and its priority blocks the payload's own timer (docs/payload.md);
- ``RCX`` = the HOB list, ``RSP`` 16-byte aligned minus the return address and 32 bytes of
  shadow space, jump to the payload's entry.

Every instruction is written as (assembly, bytes) with the encoding spelled out from the Intel
SDM (volume 2) so that the test suite can assemble the same text with GNU ``as`` and compare.
Pure: integers in, bytes out.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

PAGE: Final = 0x1000
GIB: Final = 1 << 30
MIB2: Final = 2 << 20
# Our GDT's selectors.
CODE64: Final = 0x08
DATA: Final = 0x10
CODE32: Final = 0x18
GDT: Final = (
    0x0000000000000000,  # null
    0x00AF9A000000FFFF,  # 0x08: 64-bit code, present, DPL 0, L=1
    0x00CF92000000FFFF,  # 0x10: flat 4 GiB data, read/write, G=1, B=1
    0x00CF9A000000FFFF,  # 0x18: flat 4 GiB 32-bit code (compatibility mode)
)
IA32_APIC_BASE: Final = 0x1B
APIC_BASE_EXTD: Final = 10  # bit: x2APIC mode
APIC_EOI: Final = 0xB0
APIC_LVT_TIMER: Final = 0x320
APIC_TIMER_INITIAL_COUNT: Final = 0x380
X2APIC_EOI: Final = 0x80B
X2APIC_LVT_TIMER: Final = 0x832
X2APIC_TIMER_INITIAL_COUNT: Final = 0x838
LVT_MASKED: Final = 0x10000
CR0_PG: Final = 0x80000000
CR4_LA57: Final = 12  # bit
PTE_P_RW: Final = 0x3
PTE_PS: Final = 0x80
IDT_GATE_INTERRUPT: Final = 0x8E  # present, DPL 0, 64-bit interrupt gate
EOI_COUNT: Final = 256
SETTLE_LOOPS: Final = 0x10000  # ``pause`` iterations with interrupts enabled
STACK_SIZE: Final = 0x10000
SHADOW: Final = 0x28  # return address + 32 bytes of shadow space (MS x64 ABI)
MAX_MAP: Final = 512 * GIB  # one PDPT

# Layout inside the segment (offsets).
CODE_AT: Final = 0x000
DATA_AT: Final = 0xF00  # GDT, GDTR, IDTR, the APIC base slot
IDT_AT: Final = 0x1000
PML4_AT: Final = 0x2000
PDPT_AT: Final = 0x3000
PD_AT: Final = 0x4000


def _u8(v: int) -> bytes:
    return struct.pack("<b", v)


def _u32(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


def _u64(v: int) -> bytes:
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class Instruction:
    """One instruction at ``address``: ``bits`` 64 or 32, GNU ``as`` Intel-syntax text."""

    address: int
    bits: int
    asm: str
    encoding: bytes


@dataclass(frozen=True)
class Trampoline:
    """The segment: load ``data`` at ``base`` and make ``entry`` the kexec entry point."""

    base: int
    data: bytes
    entry: int
    stack_top: int
    hob_list: int
    target: int
    instructions: tuple[Instruction, ...]

    @property
    def size(self) -> int:
        return len(self.data)


class _Asm:
    """Two passes: the first learns the labels' addresses (every encoding here has a fixed
    length), the second emits with them."""

    def __init__(self, base: int, labels: dict[str, int]):
        self.address = base
        self.bits = 64
        self.labels = labels
        self.out: list[Instruction] = []

    def __call__(self, asm: str, encoding: bytes) -> None:
        self.out.append(Instruction(self.address, self.bits, asm, encoding))
        self.address += len(encoding)

    def label(self, name: str) -> None:
        self.labels[name] = self.address

    def at(self, name: str) -> int:
        return self.labels.get(name, 0)

    def jcc(self, mnemonic: str, opcode: int, name: str) -> None:
        """A short jump (rel8) to a label; the text names the distance from this
        instruction's start as GNU as reads ``.+N``."""
        target = self.at(name)
        rel = target - (self.address + 2)
        if name in self.labels and not -128 <= rel <= 127:
            raise ValueError(f"short jump to {name} out of range ({rel})")
        rel = max(-128, min(127, rel))
        self(f"{mnemonic} .{target - self.address:+d}", bytes([opcode]) + _u8(rel))

    def call(self, name: str) -> None:
        target = self.at(name)
        rel = target - (self.address + 5)
        self(f"call .{target - self.address:+d}", b"\xe8" + struct.pack("<i", rel))


def _movabs(a: _Asm, reg: str, value: int) -> None:
    # REX.W B8+r io: MOV r64, imm64
    code = {"rax": 0xB8, "rcx": 0xB9, "rdx": 0xBA, "rsp": 0xBC}[reg]
    a(f"movabs {reg}, {value:#x}", bytes([0x48, code]) + _u64(value))


def _program(a: _Asm, *, stack_top: int, hob_list: int, target: int, pml4: int,
             slot: int, gdtr: int, idtr: int) -> None:  # fmt: skip
    a("cli", b"\xfa")
    a("cld", b"\xfc")
    _movabs(a, "rsp", stack_top - SHADOW)
    # lgdt [rax]: 0F 01 /2, ModRM 00 010 000
    _movabs(a, "rax", gdtr)
    a("lgdt [rax]", b"\x0f\x01\x10")
    a(f"mov eax, {DATA:#x}", b"\xb8" + _u32(DATA))
    # mov Sreg, r/m16: 8E /r with ModRM 11 sreg 000 (eax)
    for sreg, modrm in (("ds", 0xD8), ("es", 0xC0), ("ss", 0xD0), ("fs", 0xE0), ("gs", 0xE8)):
        a(f"mov {sreg}, eax", bytes([0x8E, modrm]))
    # far return into our 64-bit code segment: push CS, push RIP, REX.W CB (retfq)
    a(f"push {CODE64:#x}", b"\x6a" + bytes([CODE64]))
    _movabs(a, "rax", a.at("reloaded"))
    a("push rax", b"\x50")
    a("rex64 retf", b"\x48\xcb")
    a.label("reloaded")

    # -- paging: our 4-level identity map; through compatibility mode when LA57 is on -------
    a("mov rax, cr4", b"\x0f\x20\xe0")  # 0F 20 /r, ModRM 11 100(cr4) 000(rax)
    a(f"bt eax, {CR4_LA57}", b"\x0f\xba\xe0" + bytes([CR4_LA57]))  # 0F BA /4 ib
    a.jcc("jc", 0x72, "leave5")
    _movabs(a, "rax", pml4)
    a("mov cr3, rax", b"\x0f\x22\xd8")  # 0F 22 /r, ModRM 11 011(cr3) 000
    a.jcc("jmp", 0xEB, "paged")
    a.label("leave5")
    a(f"push {CODE32:#x}", b"\x6a" + bytes([CODE32]))
    _movabs(a, "rax", a.at("compat"))
    a("push rax", b"\x50")
    a("rex64 retf", b"\x48\xcb")
    a.label("compat")
    a.bits = 32
    a("mov eax, cr0", b"\x0f\x20\xc0")
    a(f"and eax, {~CR0_PG & 0xFFFFFFFF:#x}", b"\x25" + _u32(~CR0_PG))
    a("mov cr0, eax", b"\x0f\x22\xc0")  # paging off: long mode inactive, EFER.LME stays
    a("mov eax, cr4", b"\x0f\x20\xe0")
    a(f"and eax, {~(1 << CR4_LA57) & 0xFFFFFFFF:#x}", b"\x25" + _u32(~(1 << CR4_LA57)))
    a("mov cr4, eax", b"\x0f\x22\xe0")
    a(f"mov eax, {pml4:#x}", b"\xb8" + _u32(pml4))
    a("mov cr3, eax", b"\x0f\x22\xd8")
    a("mov eax, cr0", b"\x0f\x20\xc0")
    a(f"or eax, {CR0_PG:#x}", b"\x0d" + _u32(CR0_PG))
    a("mov cr0, eax", b"\x0f\x22\xc0")  # paging on with LME: long mode, 4 levels
    a(f"push {CODE64:#x}", b"\x6a" + bytes([CODE64]))
    a(f"push {a.at('paged'):#x}", b"\x68" + _u32(a.at("paged")))
    a("retf", b"\xcb")
    a.bits = 64
    a.label("paged")

    # -- the local APIC: remember its base (0: x2APIC), mask and stop its timer ---------------
    a(f"mov ecx, {IA32_APIC_BASE:#x}", b"\xb9" + _u32(IA32_APIC_BASE))
    a("rdmsr", b"\x0f\x32")
    a(f"bt eax, {APIC_BASE_EXTD}", b"\x0f\xba\xe0" + bytes([APIC_BASE_EXTD]))
    a.jcc("jc", 0x72, "x2apic")
    a("and eax, 0xfffff000", b"\x25" + _u32(0xFFFFF000))  # 32-bit op: zero-extends into rax
    _movabs(a, "rdx", slot)
    a("mov qword ptr [rdx], rax", b"\x48\x89\x02")  # REX.W 89 /r, ModRM 00 000 010
    # or dword ptr [rax+disp32], imm32: 81 /1, ModRM 10 001 000
    a(f"or dword ptr [rax+{APIC_LVT_TIMER:#x}], {LVT_MASKED:#x}",
      b"\x81\x88" + _u32(APIC_LVT_TIMER) + _u32(LVT_MASKED))  # fmt: skip
    # mov dword ptr [rax+disp32], imm32: C7 /0, ModRM 10 000 000
    a(f"mov dword ptr [rax+{APIC_TIMER_INITIAL_COUNT:#x}], 0x0",
      b"\xc7\x80" + _u32(APIC_TIMER_INITIAL_COUNT) + _u32(0))  # fmt: skip
    a.jcc("jmp", 0xEB, "idt")
    a.label("x2apic")
    _movabs(a, "rdx", slot)
    a("mov qword ptr [rdx], 0x0", b"\x48\xc7\x02" + _u32(0))  # REX.W C7 /0 id
    a(f"mov ecx, {X2APIC_LVT_TIMER:#x}", b"\xb9" + _u32(X2APIC_LVT_TIMER))
    a("rdmsr", b"\x0f\x32")
    a(f"or eax, {LVT_MASKED:#x}", b"\x0d" + _u32(LVT_MASKED))
    a("wrmsr", b"\x0f\x30")
    a(f"mov ecx, {X2APIC_TIMER_INITIAL_COUNT:#x}", b"\xb9" + _u32(X2APIC_TIMER_INITIAL_COUNT))
    a("xor eax, eax", b"\x31\xc0")
    a("xor edx, edx", b"\x31\xd2")
    a("wrmsr", b"\x0f\x30")

    # -- let pending interrupts through our IDT (each gets an EOI), then clear the ISR --------
    a.label("idt")
    _movabs(a, "rax", idtr)
    a("lidt [rax]", b"\x0f\x01\x18")  # 0F 01 /3
    a("sti", b"\xfb")
    a(f"mov ecx, {SETTLE_LOOPS:#x}", b"\xb9" + _u32(SETTLE_LOOPS))
    a.label("settle")
    a("pause", b"\xf3\x90")
    a("dec ecx", b"\xff\xc9")  # FF /1
    a.jcc("jnz", 0x75, "settle")
    a("cli", b"\xfa")
    a(f"mov ebx, {EOI_COUNT:#x}", b"\xbb" + _u32(EOI_COUNT))
    a.label("drain")
    a.call("eoi")
    a("dec ebx", b"\xff\xcb")
    a.jcc("jnz", 0x75, "drain")

    # -- enter the payload: RCX = HOB list (MS x64 ABI) -------------------------------------
    _movabs(a, "rsp", stack_top - SHADOW)
    _movabs(a, "rcx", hob_list)
    _movabs(a, "rax", target)
    a("jmp rax", b"\xff\xe0")  # FF /4

    # -- subroutines and interrupt stubs ----------------------------------------------------
    a.label("eoi")  # clobbers rax, rcx, rdx
    _movabs(a, "rax", slot)
    a("mov rax, qword ptr [rax]", b"\x48\x8b\x00")
    a("test rax, rax", b"\x48\x85\xc0")
    a.jcc("jz", 0x74, "eoi_x2")
    a(f"mov dword ptr [rax+{APIC_EOI:#x}], 0x0", b"\xc7\x80" + _u32(APIC_EOI) + _u32(0))
    a("ret", b"\xc3")
    a.label("eoi_x2")
    a(f"mov ecx, {X2APIC_EOI:#x}", b"\xb9" + _u32(X2APIC_EOI))
    a("xor eax, eax", b"\x31\xc0")
    a("xor edx, edx", b"\x31\xd2")
    a("wrmsr", b"\x0f\x30")
    a("ret", b"\xc3")
    a.label("irq")
    a("push rax", b"\x50")
    a("push rcx", b"\x51")
    a("push rdx", b"\x52")
    a.call("eoi")
    a("pop rdx", b"\x5a")
    a("pop rcx", b"\x59")
    a("pop rax", b"\x58")
    a("iretq", b"\x48\xcf")
    a.label("fault")  # an exception here cannot be handled: stop, visibly, instead of reset
    a("cli", b"\xfa")
    a("hlt", b"\xf4")
    a.jcc("jmp", 0xEB, "fault")


def _assemble(
    base: int, emit: Callable[[_Asm], None]
) -> tuple[tuple[Instruction, ...], dict[str, int]]:
    labels: dict[str, int] = {}
    emit(_Asm(base, labels))  # pass 1: label addresses
    second = _Asm(base, labels)
    emit(second)
    return tuple(second.out), labels


def _idt_entry(handler: int) -> bytes:
    return struct.pack(
        "<HHBBHII",
        handler & 0xFFFF,
        CODE64,
        0,
        IDT_GATE_INTERRUPT,
        (handler >> 16) & 0xFFFF,
        (handler >> 32) & 0xFFFFFFFF,
        0,
    )


def page_tables(base: int, map_top: int, *, gib_pages: bool) -> bytes:
    """PML4, PDPT and (for 2 MiB pages) one PD per GiB: an identity map of 0..``map_top``
    (rounded up to a GiB) for tables placed at ``base`` + :data:`PML4_AT`."""
    gibs = max(4, -(-map_top // GIB))
    if gibs * GIB > MAX_MAP:
        raise ValueError(f"cannot identity-map {map_top:#x}: more than 512 GiB")
    pml4 = bytearray(PAGE)
    pml4[0:8] = _u64(base + PDPT_AT | PTE_P_RW)
    pdpt = bytearray(PAGE)
    pds = bytearray()
    for g in range(gibs):
        if gib_pages:
            pdpt[g * 8 : g * 8 + 8] = _u64(g * GIB | PTE_P_RW | PTE_PS)
            continue
        pd_address = base + PD_AT + g * PAGE
        pdpt[g * 8 : g * 8 + 8] = _u64(pd_address | PTE_P_RW)
        pds += b"".join(_u64(g * GIB + i * MIB2 | PTE_P_RW | PTE_PS) for i in range(512))
    return bytes(pml4 + pdpt + pds)


def segment_size(map_top: int, *, gib_pages: bool, stack_size: int = STACK_SIZE) -> int:
    """How many bytes :func:`build` returns for these parameters (to plan placement)."""
    gibs = max(4, -(-map_top // GIB))
    return PD_AT + (0 if gib_pages else gibs * PAGE) + stack_size


def build(
    base: int,
    *,
    target: int,
    hob_list: int,
    map_top: int,
    gib_pages: bool = False,
    stack_size: int = STACK_SIZE,
) -> Trampoline:
    """The trampoline segment for physical ``base`` (page-aligned, the whole segment below
    4 GiB): enter at ``base``; it jumps to ``target`` with RCX = ``hob_list``; identity-maps
    0..max(4 GiB, ``map_top``)."""
    if base % PAGE or stack_size % PAGE or stack_size <= 0:
        raise ValueError("the trampoline's base and stack size must be page-aligned")
    size = segment_size(map_top, gib_pages=gib_pages, stack_size=stack_size)
    if base + size > 1 << 32:
        raise ValueError(f"the trampoline must lie below 4 GiB (base {base:#x}, {size} bytes)")
    stack_top = base + size
    gdt_at = base + DATA_AT
    gdtr_at = gdt_at + 8 * len(GDT)
    idtr_at = gdtr_at + 16
    slot = idtr_at + 16
    pml4 = base + PML4_AT

    def emit(a: _Asm) -> None:
        _program(a, stack_top=stack_top, hob_list=hob_list, target=target, pml4=pml4,
                 slot=slot, gdtr=gdtr_at, idtr=idtr_at)  # fmt: skip

    instructions, labels = _assemble(base + CODE_AT, emit)
    code = b"".join(i.encoding for i in instructions)
    if len(code) > DATA_AT - CODE_AT:
        raise AssertionError("trampoline code overlaps its data")
    out = bytearray(size)
    out[CODE_AT : CODE_AT + len(code)] = code
    out[DATA_AT : DATA_AT + 8 * len(GDT)] = b"".join(_u64(d) for d in GDT)
    out[gdtr_at - base : gdtr_at - base + 10] = struct.pack("<HQ", 8 * len(GDT) - 1, gdt_at)
    out[idtr_at - base : idtr_at - base + 10] = struct.pack("<HQ", 256 * 16 - 1, base + IDT_AT)
    irq, fault = labels["irq"], labels["fault"]
    out[IDT_AT : IDT_AT + PAGE] = b"".join(
        _idt_entry(fault if vector < 32 else irq) for vector in range(256)
    )
    tables = page_tables(base, map_top, gib_pages=gib_pages)
    out[PML4_AT : PML4_AT + len(tables)] = tables
    return Trampoline(base, bytes(out), base + CODE_AT, stack_top, hob_list, target, instructions)
