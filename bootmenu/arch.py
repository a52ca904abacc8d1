"""Machine architecture names.

bootmenu speaks the names Linux uses (``uname -m``): ``x86_64``, ``i386``, ``aarch64``, ``arm``,
``riscv64``, ``loongarch64``.  The Boot Loader Specification and UEFI use their own short names
(``x64``, ``ia32``, ``aa64``…); :func:`normalize` maps every known spelling to the Linux one.
"""

from __future__ import annotations

import platform

# Every spelling we accept, lower-cased, to the Linux machine name.
_ALIASES: dict[str, str] = {
    "x86_64": "x86_64",
    "x86-64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "ia32": "i386",
    "x86": "i386",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "aa64": "aarch64",
    "arm": "arm",
    "armv7l": "arm",
    "armhf": "arm",
    "ia64": "ia64",
    "riscv64": "riscv64",
    "riscv32": "riscv32",
    "loongarch64": "loongarch64",
    "loongarch32": "loongarch32",
}

# UEFI's short names, used in removable-media file names (\EFI\BOOT\BOOT<NAME>.EFI).
EFI_NAMES: dict[str, str] = {
    "x86_64": "x64",
    "i386": "ia32",
    "aarch64": "aa64",
    "arm": "arm",
    "ia64": "ia64",
    "riscv64": "riscv64",
    "riscv32": "riscv32",
    "loongarch64": "loongarch64",
    "loongarch32": "loongarch32",
}


def normalize(name: str) -> str | None:
    """Return the Linux machine name for any known spelling of an architecture, else None."""
    return _ALIASES.get(name.strip().lower())


def host() -> str:
    """The architecture of the machine bootmenu runs on, as a Linux machine name."""
    machine = platform.machine()
    return normalize(machine) or machine


def efi_name(arch: str) -> str | None:
    """UEFI's short name for a Linux machine name (``x86_64`` → ``x64``)."""
    return EFI_NAMES.get(arch)


def can_run(image_arch: str, host_arch: str, *, efi: bool = False) -> bool:
    """Whether code built for ``image_arch`` can be started on ``host_arch``.

    Linux kexec on x86_64 starts i386 multiboot kernels, but an EFI application must match the
    firmware's own architecture exactly (an ia32 application does not run under x64 firmware).
    """
    if image_arch == host_arch:
        return True
    return not efi and host_arch == "x86_64" and image_arch == "i386"
