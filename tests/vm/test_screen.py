"""The menu on the screen, not only on the serial port (docs/menu.md, "Every console").

OVMF with a standard VGA card and the UKI's console choice ``console=tty0 console=ttyS0``: the
leading menu runs on ttyS0 (``/dev/console``), and it starts a following menu on tty1, the
framebuffer console a desktop's monitor shows.  QMP's ``screendump`` takes the picture; the menu
is there when its title bar (the top text row) is drawn in colour.  With
``BOOTMENU_UPDATE_SCREENSHOT=1`` the picture is written to docs/menu-screen.png.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Final

import pytest

from tests.vm import disks
from tests.vm.conftest import REPO, Artifacts
from tests.vm.qemu import Disk, Machine
from tests.vm.screen import Screen

pytestmark = pytest.mark.vm

APPEND: Final = "console=tty0 console=ttyS0 quiet bootmenu.mode=menu bootmenu.timeout=menu-force"
SCREENSHOT: Final = REPO / "docs" / "menu-screen.png"
CELL_HEIGHT: Final = 16  # the Linux console font on a framebuffer: 8x16


def read_ppm(path: Path) -> tuple[int, int, bytes]:
    """A binary PPM (P6, as QEMU's screendump writes it): width, height, RGB bytes."""
    data = path.read_bytes()
    fields: list[bytes] = []
    at = 0
    while len(fields) < 4:
        while data[at : at + 1].isspace():
            at += 1
        end = at
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[at:end])
        at = end
    magic, width, height, depth = fields
    assert magic == b"P6" and depth == b"255", fields
    w, h = int(width), int(height)
    return w, h, data[at + 1 : at + 1 + w * h * 3]


def png(width: int, height: int, rgb: bytes) -> bytes:
    """An RGB PNG (no filter) of the pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    rows = b"".join(b"\0" + rgb[y * width * 3 : (y + 1) * width * 3] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))  # fmt: skip


def coloured_share(width: int, rgb: bytes, top: int, bottom: int) -> float:
    """The share of pixels in rows ``top`` to ``bottom`` that are not black."""
    pixels = rgb[top * width * 3 : bottom * width * 3]
    count = len(pixels) // 3
    lit = sum(1 for i in range(0, len(pixels), 3) if pixels[i : i + 3] != b"\0\0\0")
    return lit / count if count else 0.0


def test_the_menu_is_on_the_framebuffer_console_too(
    tmp_path: Path, artifacts: Artifacts, make_disk: object
) -> None:
    image = make_disk("boot")  # type: ignore[operator]
    before = disks.sha256(image)
    machine = Machine(
        tmp_path / "serial.log",
        firmware="ovmf",
        kernel=artifacts.vmlinuz,
        initrd=artifacts.initramfs,
        append=APPEND,
        disks=[Disk(image, serial="disk0")],
        extra_args=("-vga", "std"),
    )
    machine.start()
    try:
        lead = Screen(machine)
        # The disk's 7 entries, and under OVMF the firmware's own boot entries.
        lead.wait("the menu on ttyS0", lambda: (lead.entry_count() or 0) >= 7
                  and not lead.scanning(), 180)  # fmt: skip
        shot = tmp_path / "screen.ppm"
        share = 0.0
        for _ in range(30):  # the following menu starts a few seconds after the leading one
            lead._pump(2)
            machine.qmp("screendump", filename=str(shot))
            width, height, rgb = read_ppm(shot)
            share = coloured_share(width, rgb, 0, CELL_HEIGHT)
            if share > 0.5:
                break
        assert share > 0.5, f"the title bar is not on the screen ({share:.0%} of its pixels lit)"
        if os.environ.get("BOOTMENU_UPDATE_SCREENSHOT") == "1":
            SCREENSHOT.write_bytes(png(width, height, rgb))
    finally:
        machine.close()
    assert disks.sha256(image) == before
