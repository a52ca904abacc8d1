"""The kexec -> Universal Payload trampoline: every instruction's bytes against GNU as, and the
tables (GDT, IDT, identity map) against the SDM's formats."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from efi import trampoline as t

BASE = 0x0010_0000
TARGET = 0x7E00_0E2B
HOB_LIST = 0x7E30_0000


def build(**kw: object) -> t.Trampoline:
    args: dict[str, object] = {"target": TARGET, "hob_list": HOB_LIST, "map_top": 6 << 30}
    args.update(kw)
    return t.build(BASE, **args)  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("as") is None or shutil.which("objcopy") is None,
                    reason="binutils (as, objcopy) not installed")  # fmt: skip
def test_bytes_equal_gnu_as(tmp_path: Path) -> None:
    tr = build()
    lines = [".intel_syntax noprefix"]
    bits = None
    for ins in tr.instructions:
        if ins.bits != bits:
            lines.append(f".code{ins.bits}")
            bits = ins.bits
        lines.append(ins.asm)
    (tmp_path / "t.s").write_text("\n".join(lines) + "\n")
    subprocess.run(["as", "--64", "-o", tmp_path / "t.o", tmp_path / "t.s"], check=True)
    subprocess.run(
        ["objcopy", "-O", "binary", "-j", ".text", tmp_path / "t.o", tmp_path / "t.bin"],
        check=True,
    )
    assembled = (tmp_path / "t.bin").read_bytes()
    off = 0
    for ins in tr.instructions:
        assert assembled[off : off + len(ins.encoding)] == ins.encoding, ins.asm
        off += len(ins.encoding)
    assert assembled == tr.data[: len(assembled)]


def test_starts_with_cli_and_ends_in_the_payload() -> None:
    tr = build()
    asm = [i.asm for i in tr.instructions]
    assert asm[:2] == ["cli", "cld"]
    jump = asm.index("jmp rax")
    assert asm[jump - 3 : jump] == [
        f"movabs rsp, {tr.stack_top - 0x28:#x}",
        f"movabs rcx, {HOB_LIST:#x}",
        f"movabs rax, {TARGET:#x}",
    ]
    # the stack: 16-byte aligned minus return address and shadow space
    assert (tr.stack_top - 0x28 + 8) % 16 == 0
    assert tr.entry == BASE


def test_lapic_is_drained_before_the_jump() -> None:
    asm = [i.asm for i in build().instructions]
    jump = asm.index("jmp rax")
    assert asm.index("lidt [rax]") < asm.index("sti") < jump
    assert "or dword ptr [rax+0x320], 0x10000" in asm  # LVT timer masked
    assert "mov dword ptr [rax+0xb0], 0x0" in asm  # xAPIC EOI
    assert "mov ecx, 0x80b" in asm  # x2APIC EOI MSR
    cli_after_sti = [i for i, a in enumerate(asm) if a == "cli" and i > asm.index("sti")]
    assert cli_after_sti and cli_after_sti[0] < jump


def test_gdt_and_descriptors() -> None:
    tr = build()
    d = tr.data
    assert struct.unpack_from("<4Q", d, t.DATA_AT) == (
        0,
        0x00AF9A000000FFFF,
        0x00CF92000000FFFF,
        0x00CF9A000000FFFF,
    )
    limit, base = struct.unpack_from("<HQ", d, t.DATA_AT + 32)
    assert (limit, base) == (31, BASE + t.DATA_AT)
    limit, base = struct.unpack_from("<HQ", d, t.DATA_AT + 48)
    assert (limit, base) == (4095, BASE + t.IDT_AT)


def test_idt_gates() -> None:
    tr = build()
    irq = next(i.address for i in tr.instructions if i.asm == "push rax" and i.address > 0)
    gates = [struct.unpack_from("<HHBBHII", tr.data, t.IDT_AT + 16 * v) for v in range(256)]
    for vector, (lo, sel, ist, attr, mid, hi, _) in enumerate(gates):
        handler = lo | mid << 16 | hi << 32
        assert (sel, ist, attr) == (0x08, 0, 0x8E)
        if vector >= 32:
            stub = [i for i in tr.instructions if i.address == handler]
            assert stub and stub[0].asm == "push rax"
        else:
            assert [i.asm for i in tr.instructions if i.address == handler] == ["cli"]
    assert irq


def test_identity_map_2mib_pages() -> None:
    tr = build()
    d = tr.data
    (pml4e,) = struct.unpack_from("<Q", d, t.PML4_AT)
    assert pml4e == BASE + t.PDPT_AT | 3
    pdpt = struct.unpack_from("<6Q", d, t.PDPT_AT)
    assert pdpt == tuple(BASE + t.PD_AT + g * 0x1000 | 3 for g in range(6))
    assert struct.unpack_from("<Q", d, t.PDPT_AT + 6 * 8) == (0,)
    # the local APIC's 2 MiB page (0xFEE00000) in the 4th GiB
    (pde,) = struct.unpack_from("<Q", d, t.PD_AT + 3 * 0x1000 + 0x1F7 * 8)
    assert pde == 0xFEE00000 | 0x83
    assert len(d) == t.PD_AT + 6 * 0x1000 + t.STACK_SIZE


def test_identity_map_1gib_pages() -> None:
    tr = build(gib_pages=True, map_top=3 << 30)
    pdpt = struct.unpack_from("<5Q", tr.data, t.PDPT_AT)
    assert pdpt == (0x83, 0x4000_0083, 0x8000_0083, 0xC000_0083, 0)
    assert tr.size == t.segment_size(3 << 30, gib_pages=True)


def test_la57_path_runs_in_compatibility_mode() -> None:
    tr = build()
    compat = [i for i in tr.instructions if i.bits == 32]
    assert [i.asm for i in compat][:3] == ["mov eax, cr0", "and eax, 0x7fffffff", "mov cr0, eax"]
    assert f"mov eax, {BASE + t.PML4_AT:#x}" in [i.asm for i in compat]
    assert compat[-1].asm == "retf"


def test_refuses_above_4gib_and_unaligned() -> None:
    with pytest.raises(ValueError):
        t.build(0x1_0000_0000, target=TARGET, hob_list=HOB_LIST, map_top=1 << 32)
    with pytest.raises(ValueError):
        t.build(0x100010, target=TARGET, hob_list=HOB_LIST, map_top=1 << 32)
