"""Real Debian 12 binaries for tests: shim, GRUB, systemd-boot, memtest86+, iPXE, the kernel.

``debian_package("shim-signed")`` runs ``apt-get download shim-signed`` (works as any user) in
a cache directory — ``$BOOTMENU_TEST_CACHE`` or ``~/.cache/bootmenu-tests/debs`` — and unpacks
it with ``dpkg-deb -x`` into ``<cache>/extract/shim-signed``.  A package already downloaded is
not downloaded again.  Tests are skipped only when apt-get/dpkg-deb are missing; a failing
download fails the test with apt's own error, so CI cannot silently skip them.

Tests using these are marked ``@pytest.mark.debian``.  Use :func:`debian_file` (a path) or
:func:`debian_bytes` (the contents, cached) with the keys of :data:`FILES`, or the fixtures at
the end of this module.  :func:`build_uki` makes a UKI from Debian's systemd-stub the way
ukify/objcopy do.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest

KERNEL_META_PACKAGE: Final = "linux-image-amd64"

# key -> (package, glob inside the unpacked package).  "{kernel}" is the current Debian 12
# kernel package (linux-image-6.1.0-N-amd64, found through linux-image-amd64).
FILES: Final[dict[str, tuple[str, str]]] = {
    "shim-signed": ("shim-signed", "usr/lib/shim/shimx64.efi.signed"),
    "shim-unsigned": ("shim-unsigned", "usr/lib/shim/shimx64.efi"),
    "shim-fallback": ("shim-unsigned", "usr/lib/shim/fbx64.efi"),
    "mokmanager": ("shim-unsigned", "usr/lib/shim/mmx64.efi"),
    "grub-signed": ("grub-efi-amd64-signed", "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"),
    "grub-unsigned": ("grub-efi-amd64-bin", "usr/lib/grub/x86_64-efi/monolithic/grubx64.efi"),
    "grub-ia32": ("grub-efi-ia32-bin", "usr/lib/grub/i386-efi/monolithic/grubia32.efi"),
    "systemd-boot": ("systemd-boot-efi", "usr/lib/systemd/boot/efi/systemd-bootx64.efi"),
    "systemd-stub": ("systemd-boot-efi", "usr/lib/systemd/boot/efi/linuxx64.efi.stub"),
    "memtest-x64": ("memtest86+", "boot/memtest86+x64.efi"),
    "memtest-ia32": ("memtest86+", "boot/memtest86+ia32.efi"),
    "memtest-x64-bin": ("memtest86+", "boot/memtest86+x64.bin"),
    "ipxe": ("ipxe", "boot/ipxe.efi"),
    "ipxe-snponly": ("ipxe", "usr/lib/ipxe/snponly.efi"),
    "vmlinuz": ("{kernel}", "boot/vmlinuz-*"),
}


def cache_dir() -> Path:
    path = Path(os.environ.get("BOOTMENU_TEST_CACHE") or Path.home() / ".cache/bootmenu-tests/debs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _require_tools() -> None:
    missing = [tool for tool in ("apt-get", "apt-cache", "dpkg-deb") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs Debian's {', '.join(missing)} to fetch real binaries")


def _run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} failed with exit code {result.returncode}:\n"
            f"{result.stderr.strip() or result.stdout.strip()}",
            pytrace=False,
        )
    return result.stdout


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """Serialise downloads between parallel test processes (pytest-xdist)."""
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@functools.cache
def kernel_package() -> str:
    """The kernel package linux-image-amd64 depends on now, e.g. linux-image-6.1.0-56-amd64."""
    _require_tools()
    for line in _run(["apt-cache", "depends", KERNEL_META_PACKAGE]).splitlines():
        kind, _, name = line.strip().partition(":")
        if kind == "Depends" and name.strip().startswith("linux-image-"):
            return name.strip()
    pytest.fail(f"apt-cache depends {KERNEL_META_PACKAGE} names no linux-image package")


def debian_package(name: str) -> Path:
    """Download (once) and unpack Debian package ``name``; return the unpacked tree."""
    _require_tools()
    cache = cache_dir()
    target = cache / "extract" / name
    with _locked(cache):
        debs = sorted(cache.glob(f"{name}_*.deb"))
        if not debs:
            _run(["apt-get", "download", name], cwd=cache)
            debs = sorted(cache.glob(f"{name}_*.deb"))
            if not debs:
                pytest.fail(f"apt-get download {name} left no {name}_*.deb in {cache}")
        if not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
            _run(["dpkg-deb", "-x", str(debs[-1]), str(scratch)])
            scratch.rename(target)
    return target


def debian_file(package: str, pattern: str) -> Path:
    """The one file matching ``pattern`` (a glob) inside Debian package ``package``."""
    if package == "{kernel}":
        package = kernel_package()
    root = debian_package(package)
    matches = sorted(root.glob(pattern))
    if len(matches) != 1:
        found = [str(m.relative_to(root)) for m in matches]
        pytest.fail(f"{package}: expected exactly one {pattern}, found {found}")
    return matches[0]


@functools.cache
def debian_bytes(key: str) -> bytes:
    """The contents of :data:`FILES` entry ``key``."""
    package, pattern = FILES[key]
    return debian_file(package, pattern).read_bytes()


# -- building test images from Debian binaries --------------------------------------------------

OSREL: Final = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
    'VERSION="12 (bookworm)"\nID=debian\n'
)


def build_uki(
    tmp: Path,
    sections: dict[str, bytes],
    *,
    stub: Path | None = None,
) -> bytes:
    """Append ``sections`` ({".linux": …, ".osrel": …}) to systemd-stub as ukify does.

    Uses ``objcopy --add-section NAME=FILE --change-section-vma NAME=ADDR`` (binutils 2.40 reads
    and writes Debian's PE stub), each section placed at the next 4 KiB-aligned address after
    the previous one (ImageBase + RVA, as objcopy expects VMAs).  Without objcopy, falls back
    to :func:`append_section`, which writes the same section headers itself.
    """
    stub = stub or debian_file(*FILES["systemd-stub"])
    if shutil.which("objcopy") is None:
        data = stub.read_bytes()
        for name, content in sections.items():
            data = append_section(data, name, content)
        return data
    import pefile  # the tests' venv has it; keep this module importable without it

    pe = pefile.PE(str(stub), fast_load=True)
    base = int(pe.OPTIONAL_HEADER.ImageBase)
    last = pe.sections[-1]
    address = last.VirtualAddress + max(last.Misc_VirtualSize, last.SizeOfRawData)
    pe.close()
    cmd = ["objcopy"]
    for name, content in sections.items():
        address = (address + 0xFFF) & ~0xFFF
        path = tmp / f"section{name}"
        path.write_bytes(content)
        cmd += [
            "--add-section",
            f"{name}={path}",
            "--change-section-vma",
            f"{name}={base + address:#x}",
        ]
        cmd += ["--set-section-flags", f"{name}=contents,alloc,load,readonly,data"]
        address += len(content)
    out = tmp / "uki.efi"
    cmd += [str(stub), str(out)]
    _run(cmd)
    return out.read_bytes()


IMAGE_SCN_CNT_INITIALIZED_DATA: Final = 0x00000040
IMAGE_SCN_MEM_READ: Final = 0x40000000


def append_section(
    data: bytes,
    name: str,
    content: bytes,
    characteristics: int = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ,
) -> bytes:
    """Add a section to a PE image without binutils (there must be room for one more section
    header before the first section's data, as there is in systemd-stub and GNU ld output).
    Any certificate table is dropped (the signature would no longer match anyway)."""
    e_lfanew = struct.unpack_from("<I", data, 0x3C)[0]
    file_header = e_lfanew + 4
    (count,) = struct.unpack_from("<H", data, file_header + 2)
    optional = file_header + 20
    (optional_size,) = struct.unpack_from("<H", data, file_header + 16)
    (magic,) = struct.unpack_from("<H", data, optional)
    section_alignment, file_alignment = struct.unpack_from("<II", data, optional + 32)
    dirs = optional + (112 if magic == 0x20B else 96)
    table = optional + optional_size
    headers = []
    for i in range(count):
        headers.append(struct.unpack_from("<8sIIII", data, table + 40 * i))
    first_raw = min((h[4] for h in headers if h[3]), default=len(data))
    if table + 40 * (count + 1) > first_raw:
        raise ValueError("no room for another section header")
    image = bytearray(data)
    security_offset, _ = struct.unpack_from("<II", data, dirs + 8 * 4)
    if security_offset:
        del image[security_offset:]
        struct.pack_into("<II", image, dirs + 8 * 4, 0, 0)
    virtual_end = max(h[2] + max(h[1], h[3]) for h in headers)
    address = -(-virtual_end // section_alignment) * section_alignment
    image += b"\0" * (-len(image) % file_alignment)
    raw_offset = len(image)
    raw_size = -(-len(content) // file_alignment) * file_alignment
    image += content + b"\0" * (raw_size - len(content))
    struct.pack_into(
        "<8sIIIIIIHHI", image, table + 40 * count,
        name.encode(), len(content), address, raw_size, raw_offset, 0, 0, 0, 0, characteristics,
    )  # fmt: skip
    struct.pack_into("<H", image, file_header + 2, count + 1)
    size_of_image = -(-(address + len(content)) // section_alignment) * section_alignment
    struct.pack_into("<I", image, optional + 56, size_of_image)
    return bytes(image)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def vmlinuz() -> bytes:
    """Debian 12's current signed x86_64 kernel (a bzImage with an EFI stub)."""
    return debian_bytes("vmlinuz")


@pytest.fixture(scope="session")
def systemd_stub() -> Path:
    """Debian 12's systemd-stub (linuxx64.efi.stub), the base of every UKI."""
    return debian_file(*FILES["systemd-stub"])
