"""Test factories shared by every tier: entries, environments and volumes with every field a
test does not care about filled in as a real one of that kind would have it.  Each builder
takes the fields a test does care about as keywords (``dataclasses.replace`` semantics)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bootmenu.boot.handoff import Environment, Method, Plan, Segment
from bootmenu.model import BootEntry, Kind, Module, Source, Volume

# A Linux kernel, a UKI, a Multiboot kernel and an EFI application as a scan would find them.
_LINUX = BootEntry(
    id="debian-6.1",
    title="Debian GNU/Linux 12, 6.1",
    kind=Kind.LINUX,
    source=Source.BLS,
    root="/dev/vda2",
    kernel="/vmlinuz-6.1",
    initrd=("/initrd.img-6.1",),
    cmdline="root=/dev/vda2 ro quiet",
)
_UKI = BootEntry(
    id="debian-6.1.efi",
    title="Debian GNU/Linux 12 (bookworm)",
    kind=Kind.UKI,
    source=Source.UKI,
    root="/dev/vda1",
    kernel="/EFI/Linux/debian-6.1.efi",
)
_MULTIBOOT = BootEntry(
    id="grub:xen",
    title="Xen hypervisor",
    kind=Kind.MULTIBOOT,
    source=Source.GRUB,
    root="/dev/vda2",
    kernel="/boot/xen.elf",
    cmdline="dom0_mem=1024M console=com1",
    modules=(Module("/boot/vmlinuz-6.1", "root=/dev/vda2 ro"), Module("/boot/initrd.img")),
)
_EFI_APP = BootEntry(
    id="windows",
    title="Windows Boot Manager",
    kind=Kind.EFI,
    source=Source.WINDOWS,
    root="/dev/vda1",
    kernel="/EFI/Microsoft/Boot/bootmgfw.efi",
)


def linux(**fields: Any) -> BootEntry:
    """A Linux kernel with one initrd (BLS, on /dev/vda2)."""
    return replace(_LINUX, **fields)


def uki(**fields: Any) -> BootEntry:
    """A UKI on the ESP (/dev/vda1)."""
    return replace(_UKI, **fields)


def multiboot(**fields: Any) -> BootEntry:
    """A Multiboot kernel with two modules, as grub.cfg's ``multiboot2`` gives it."""
    return replace(_MULTIBOOT, **fields)


def efi_app(**fields: Any) -> BootEntry:
    """An EFI application on the ESP: Windows Boot Manager unless ``fields`` say otherwise."""
    return replace(_EFI_APP, **fields)


def entry(
    ident: str, *, default: bool = False, problems: tuple[str, ...] = (), **kw: object
) -> BootEntry:
    """A Linux BLS entry ``ident`` on /dev/vda2 (kernel ``/vmlinuz-<ident>``) unless ``kw``
    says otherwise: for tests of menus and decisions, where entries differ by their id."""
    fields: dict[str, object] = {
        "id": ident,
        "title": kw.pop("title", ident.title()),
        "kind": kw.pop("kind", Kind.LINUX),
        "source": kw.pop("source", Source.BLS),
        "root": kw.pop("root", "/dev/vda2"),
        "kernel": f"/vmlinuz-{ident}",
        "default": default,
        "problems": problems,
        "origin": "/loader/entries/x.conf",
    }
    fields.update(kw)
    return BootEntry(**fields)  # type: ignore[arg-type]


def environment(**fields: Any) -> Environment:
    """A UEFI x86-64 machine without lockdown, with kexec_file_load and without kexec-tools."""
    base = Environment(
        lockdown=None,
        kexec_file_load_available=True,
        kexec_tools=None,
        efi=True,
        host_arch="x86_64",
    )
    return replace(base, **fields)


def volume(name: str = "/dev/vda2", path: Path | str = "", **fields: Any) -> Volume:
    """A filesystem mounted at ``path`` (``/run/bootmenu/<device>`` by default), ext4 unless
    ``fields`` say otherwise."""
    where = Path(path or f"/run/bootmenu/{name.removeprefix('/dev/')}")
    return Volume(name=name, path=where, **{"fstype": "ext4", **fields})


def plan(entry: BootEntry, **fields: Any) -> Plan:
    """The plan kexec_file_load would make for ``entry``: its kernel (14.9 MB), each initrd
    (69.1 MB) and its command line, with made-up checksums; ``fields`` change any of it."""
    kernel = f"{entry.root}:{entry.kernel}"
    segments = [Segment("kernel", kernel, 14_900_000, "a" * 64)]
    segments += [Segment("initrd", f"{entry.root}:{p}", 69_100_000, "b" * 64) for p in entry.initrd]
    segments.append(Segment("cmdline", "the entry's command line", len(entry.cmdline) + 1))
    made = Plan(
        entry=entry,
        method=Method.KEXEC_FILE_LOAD,
        kernel=kernel,
        initrd=tuple(f"{entry.root}:{p}" for p in entry.initrd),
        cmdline=entry.cmdline,
        modules=entry.modules,
        segments=tuple(segments),
        reason="kexec_file_load: the kernel is a 64-bit bzImage with an EFI stub",
        notes=("if the running kernel refuses it, kexec-tools (kexec_load) is tried next",),
    )
    return replace(made, **fields)
