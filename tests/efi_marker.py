"""A marker EFI application for the VM tests: it prints a line on the serial port and halts.

``build_marker_app(marker)`` runs ``grub-mkstandalone -O x86_64-efi`` (Debian's grub-common)
with the x86_64-efi modules of Debian's ``grub-efi-amd64-bin`` (fetched with ``apt-get
download`` through :mod:`tests.debian`, so the host needs no EFI GRUB installed) and an
embedded ``grub.cfg``::

    serial --unit=0 --speed=115200
    terminal_output serial console
    echo <marker>
    halt

Under OVMF the line appears on QEMU's first serial port, and ``halt`` asks the firmware to power
off (``ResetSystem(EfiResetShutdown)``), which ends QEMU.  The result is cached by its
configuration in the test cache (about 10 MB; no locales, fonts or themes).

``build_key_app(prompt, marker)`` is the same kind of application that reads a line from UEFI's
console input (``ConIn``: GRUB's ``console`` terminal calls ``ReadKeyStroke(Ex)``; GRUB's own
``serial`` input terminal, which would read the UART itself, is never enabled) and prints what
it got::

    echo <prompt>
    read typed
    echo "<marker>[$typed]"
    halt

A test waits for the prompt, types the keys on a keyboard QEMU emulates and reads the marker.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

import pytest

from tests.debian import cache_dir, debian_package

GRUB_PACKAGE: Final = "grub-efi-amd64-bin"
GRUB_MODULES: Final = "usr/lib/grub/x86_64-efi"
DEFAULT_MARKER: Final = "BOOTMENU-EFI-MARKER-7f3c"


SERIAL_OUTPUT: Final = "serial --unit=0 --speed=115200\nterminal_output serial console\n"


def _plain_word(word: str) -> str:
    if not word or any(c in word for c in " \n\"'\\$;[]"):
        raise ValueError(f"{word!r}: a marker must be one plain word")
    return word


def grub_cfg(marker: str) -> str:
    return f"{SERIAL_OUTPUT}echo {_plain_word(marker)}\nhalt\n"


def key_grub_cfg(prompt: str, marker: str) -> str:
    """Print ``prompt``, read a line from ConIn only, print ``marker[line]``, power off."""
    return (
        f"{SERIAL_OUTPUT}terminal_input console\n"
        f'echo {_plain_word(prompt)}\nread typed\necho "{_plain_word(marker)}[$typed]"\nhalt\n'
    )


def build_marker_app(marker: str = DEFAULT_MARKER) -> Path:
    """The path of an x86_64 EFI application that prints ``marker`` and powers off."""
    return _build_grub_app(grub_cfg(marker))


def build_key_app(prompt: str, marker: str) -> Path:
    """The path of an x86_64 EFI application that prints ``prompt``, reads a line typed on
    UEFI's console input and prints ``marker[<the line>]``, then powers off."""
    return _build_grub_app(key_grub_cfg(prompt, marker))


def _build_grub_app(config: str) -> Path:
    tool = shutil.which("grub-mkstandalone")
    if tool is None:
        pytest.skip("grub-mkstandalone (Debian package grub-common) is not installed")
    modules = debian_package(GRUB_PACKAGE) / GRUB_MODULES
    key = hashlib.sha256(config.encode()).hexdigest()[:16]
    out = cache_dir().parent / "efi-marker" / f"marker-{key}.efi"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        cfg = Path(scratch, "grub.cfg")
        cfg.write_text(config)
        built = Path(scratch, "marker.efi")
        cmd = [
            tool,
            "-O", "x86_64-efi",
            "-d", str(modules),
            "-o", str(built),
            "--locales=", "--fonts=", "--themes=",
            f"boot/grub/grub.cfg={cfg}",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed: {result.stderr.strip()}", pytrace=False)
        shutil.move(built, out.with_suffix(".tmp"))
        out.with_suffix(".tmp").rename(out)
    return out
