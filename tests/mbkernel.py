"""Build the tiny Multiboot test kernels from tests/fixtures/multiboot/ with binutils.

The kernels (``mb1.S``, ``mb2.S`` + ``serial.S``, linked by ``kernel.ld``) are real: booted by
a Multiboot 1 or 2 loader they print one marker line to COM1 (0x3f8) and make QEMU exit through
``isa-debug-exit`` (``-device isa-debug-exit,iobase=0xf4,iosize=0x04``)::

    BOOTMENU-MB1-OK cmdline=<command line from the Multiboot information>
    BOOTMENU-MB2-OK cmdline=<string of the command line tag>

QEMU then exits with :data:`QEMU_EXIT_OK`; a wrong boot loader magic in ``%eax`` gives a
``BOOTMENU-MBn-FAIL`` line and :data:`QEMU_EXIT_BAD_MAGIC`.  Some boot loaders put the kernel's
own path in front of the command line (kexec-tools and QEMU's ``-kernel``: ``"<path> <args>"``),
GRUB 2 does not.

Checked by hand: both boot under GRUB 2.06 (``multiboot`` / ``multiboot2`` from a rescue ISO),
mb1 also under QEMU's own ``-kernel`` loader; each printed its line and QEMU exited with 33.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "fixtures" / "multiboot"
LINKER_SCRIPT = SOURCES / "kernel.ld"

# isa-debug-exit turns a written value V into QEMU exit status (V << 1) | 1.
EXIT_OK_VALUE = 0x10
EXIT_BAD_MAGIC_VALUE = 0x11
QEMU_EXIT_OK = (EXIT_OK_VALUE << 1) | 1  # 33
QEMU_EXIT_BAD_MAGIC = (EXIT_BAD_MAGIC_VALUE << 1) | 1  # 35

QEMU_DEBUG_EXIT_DEVICE = "isa-debug-exit,iobase=0xf4,iosize=0x04"


def marker(version: int) -> str:
    """The start of the line the kernel prints on success; the command line follows it."""
    return f"BOOTMENU-MB{version}-OK cmdline="


def missing_tools() -> list[str]:
    """The binutils programs needed to build the kernels that are not on PATH."""
    return [tool for tool in ("as", "ld") if shutil.which(tool) is None]


def build_mb_kernel(version: int, out_dir: Path) -> Path:
    """Assemble and link the Multiboot ``version`` (1 or 2) kernel into ``out_dir``.

    Returns the path of the ELF32 kernel (``mb1.elf`` or ``mb2.elf``).  Raises
    ``subprocess.CalledProcessError`` when the toolchain fails and ``ValueError`` for an
    unknown version.
    """
    if version not in (1, 2):
        raise ValueError(f"no Multiboot {version} test kernel (1 or 2)")
    out_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for source in (SOURCES / f"mb{version}.S", SOURCES / "serial.S"):
        obj = out_dir / f"{source.stem}.o"
        subprocess.run(["as", "--32", "-o", str(obj), str(source)], check=True, capture_output=True)
        objects.append(str(obj))
    kernel = out_dir / f"mb{version}.elf"
    subprocess.run(
        [
            "ld",
            "-m",
            "elf_i386",
            "-T",
            str(LINKER_SCRIPT),
            "-z",
            "max-page-size=0x1000",
            "--build-id=none",
            "-o",
            str(kernel),
            *objects,
        ],
        check=True,
        capture_output=True,
    )
    return kernel
