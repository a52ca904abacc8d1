"""Where the kernel shows block devices and the firmware in sysfs, and its units.

Only paths and units: each reader takes its directory as a parameter (tests point it at a
copy), with these as the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

# One directory per block device (disks and partitions): size, start, queue/, device/.
SYS_CLASS_BLOCK: Final = Path("/sys/class/block")
# sysfs gives a block device's "size" and a partition's "start" in 512-byte units, whatever
# the device's logical block size.
SECTOR: Final = 512
# Present when the machine started through UEFI (and Linux kept its runtime services).
EFI_DIR: Final = Path("/sys/firmware/efi")


CONSOLE_ACTIVE = Path("/sys/class/tty/console/active")


def active_consoles(path: Path = CONSOLE_ACTIVE) -> list[str]:
    """The consoles the kernel writes to (``console=`` on its command line, in that order; the
    last is ``/dev/console``), as device names (``tty0``, ``ttyS0``); empty when unknown."""
    try:
        return path.read_text().split()
    except OSError:
        return []
