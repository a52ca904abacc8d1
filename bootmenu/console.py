"""Keeping the kernel's messages off the menu while it is on the system console.

The kernel prints its messages (a disk plugged in, a filesystem mounted) on the console it
was given; on the console bootmenu's menu is drawn on, they would be drawn over the menu. While
the menu runs on a system console (``/dev/ttyS0``, ``/dev/tty1``, ``/dev/hvc0``…, not a terminal
emulator's ``/dev/pts/N``), :func:`silence` lowers the console log level to 1 (only
emergencies), and :func:`restore` puts the old level back: when the menu ends, and before the
hand-off (the core calls it), so that the next kernel's first messages and the
"kexec_core: Starting new kernel" line are seen again. The messages stay in the kernel's log
(``l`` in the menu shows bootmenu's own log; ``dmesg`` in the rescue shell the kernel's).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

PRINTK: Final = Path("/proc/sys/kernel/printk")
QUIET_LEVEL: Final = 1
_SYSTEM_CONSOLE: Final = re.compile(r"/dev/(console|tty\d+|ttyS\d+|ttyAMA\d+|ttyUSB\d+|hvc\d+)")

_saved: dict[Path, str] = {}


def on_system_console(fd: int = 0) -> bool:
    """Whether ``fd`` is a system console (not a pseudo-terminal)."""
    try:
        return _SYSTEM_CONSOLE.fullmatch(os.ttyname(fd)) is not None
    except OSError:
        return False


def silence(path: Path = PRINTK, level: int = QUIET_LEVEL) -> bool:
    """Set the console log level to ``level``, remembering the old one; False when it could
    not be changed (not root, no /proc)."""
    try:
        old = path.read_text().split()[0]
        path.write_text(f"{level}\n")
    except (OSError, IndexError) as e:
        log.debug("console log level unchanged: %s", e)
        return False
    _saved.setdefault(path, old)
    return True


def restore(path: Path = PRINTK) -> None:
    """Put back the console log level :func:`silence` changed (nothing when it did not)."""
    old = _saved.pop(path, None)
    if old is None:
        return
    try:
        path.write_text(f"{old}\n")
    except OSError as e:
        log.warning("cannot restore the console log level: %s", e.strerror)
