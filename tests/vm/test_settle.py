"""An automatic boot decides only once every disk of the machine is known.

OVMF starts bootmenu (so the firmware's own ``Boot####`` entries are in the menu too) with three
disks, each holding one bootable BLS entry of the target kernel: one on AHCI, one on NVMe and one
on a USB mass-storage device behind an xHCI controller.  The USB disk is the last one the guest
sees: the USB device is found only after the xHCI driver has loaded, and usb-storage then waits
a second (``delay_use``) before it looks for the disk.  The kernel command line names the USB
disk's entry as the default (``bootmenu.default=``); with ``bootmenu.timeout=0`` bootmenu must
still boot that entry, not whatever it knew when the first disks were done.

Once in the menu (``bootmenu.mode=menu``, timeout 0) and once headless
(``bootmenu.mode=autoboot``, ``wait_timeout`` at its default).  A race shows only now and then,
so each test boots ``BOOTMENU_SETTLE_RUNS`` times (default 1), each in a fresh QEMU, and reports
every run: the entry that booted (the target's marker word), QEMU's exit status, the disks as
the guest's kernel attached them, and what bootmenu said it decided (its ``autoboot:`` line, or
in the menu the boot screen's title and "why").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyte
import pytest

from tests.vm import disks
from tests.vm.conftest import AUTOBOOT, Boot
from tests.vm.qemu import MachineError
from tests.vm.screen import COLUMNS, ROWS
from tests.vm.targets import TARGET_EXIT_STATUS, TARGET_LINE, Targets

pytestmark = pytest.mark.vm

RUNS: Final = max(1, int(os.environ.get("BOOTMENU_SETTLE_RUNS", "1")))


def _entry(tag: str, bus: str) -> disks.BlsEntry:
    """The entry of the disk on ``bus``; ``bm.entry=<tag>`` is its marker word."""
    return disks.BlsEntry(
        f"{tag}.conf", f"Settle test on {bus}", disks.KERNEL_VERSION,
        f"/vmlinuz-{disks.KERNEL_VERSION}", f"console=ttyS0 quiet bm.entry={tag}",
    )  # fmt: skip


# In the order the disks are given to QEMU (AHCI port 0, an NVMe controller, USB).
ENTRIES: Final = (_entry("settle-ahci", "AHCI"), _entry("settle-nvme", "NVMe"),
                  _entry("settle-usb", "USB"))  # fmt: skip
BUSES: Final = ["ahci", "nvme", "usb"]
USB: Final = ENTRIES[2]
# The id, without .conf; automatic boot may choose removable media only when the owner says so.
DEFAULT: Final = (
    f"bootmenu.default={USB.file.removesuffix('.conf')} bootmenu.autoboot_removable=true"
)
# How long usb-storage waits after finding the USB disk before it looks at it (the kernel's
# default is 1 s): a disk that is slower to settle, as real USB sticks can be.  With 1 s the disk
# is there under TCG before bootmenu's Python has even started looking.
USB_DELAY: Final = f"usb_storage.delay_use={os.environ.get('BOOTMENU_SETTLE_USB_DELAY', '5')}"
MARKER_WORD: Final = re.compile(r"\bbm\.entry=(\S+)")
# The kernel's lines when a disk is there: "[    6.52] nvme0n1: p1" (its partition table read),
# "[    9.87] sd 2:0:0:0: [sdb] Attached SCSI disk"; "scsi host2: usb-storage 1-1:1.0" says
# which SCSI host is the USB disk's.
NVME_ATTACHED: Final = re.compile(r"\[\s*(\d+\.\d+)\]\s+(nvme\d+n\d+): p1\b")
SD_ATTACHED: Final = re.compile(r"\[\s*(\d+\.\d+)\] sd (\d+):\S+ \[(sd[a-z]+)\] Attached SCSI")
USB_HOST: Final = re.compile(r"\[\s*(\d+\.\d+)\] scsi host(\d+): usb-storage ")
# bootmenu's decision (not a line about one attempt: "autoboot: loading …", "… failed: …").
DECIDED: Final = re.compile(r"bootmenu: (autoboot: (?!loading )[^\r\n]*)")


@pytest.fixture(scope="module")
def settle_disks(tmp_path_factory: pytest.TempPathFactory, targets: Targets) -> list[Path]:
    """The three one-entry disks, built once for the module (each test boots copies)."""
    directory = tmp_path_factory.mktemp("settle-disks")
    return [
        disks.build_entry_disk(directory / f"{bus}.img", targets, entry, n)
        for n, (bus, entry) in enumerate(zip(BUSES, ENTRIES, strict=True))
    ]


@dataclass(frozen=True)
class Run:
    """One boot: what booted (the target's marker word, None if no target ran) and what
    bootmenu said about it."""

    booted: str | None
    status: int | None
    cmdline: str | None
    decision: str
    disks: str
    seconds: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.cmdline == USB.options and self.status == TARGET_EXIT_STATUS

    def line(self) -> str:
        what = f"booted {self.booted}" if self.booted else "no target kernel ran"
        took = f" in {self.seconds:.0f} s" if self.seconds is not None else ""
        error = f"\n    {self.error}" if self.error else ""
        return (
            f"{'ok  ' if self.ok else 'FAIL'} {what}, QEMU status {self.status}{took}; disks "
            f"attached at {self.disks}\n    bootmenu: {self.decision}{error}"
        )


def menu_boot_screen(output: str) -> str | None:
    """The menu's boot screen as it last showed before the hand-off: its title
    (``Booting "<title>"``) and the lines under it (``why …``), replayed through a terminal."""
    terminal = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.Stream(terminal)
    seen = None
    for line in output.splitlines(keepends=True):
        stream.feed(line)
        rows = [row.strip() for row in terminal.display]
        title = next((i for i, row in enumerate(rows) if row.startswith('Booting "')), None)
        if title is not None:
            end = rows.index("", title) if "" in rows[title:] else len(rows)
            seen = " ".join(rows[title:end])
    return seen


def decision(output: str) -> str:
    """What bootmenu said it chose and why: its ``autoboot:`` line (headless), else the menu's
    boot screen."""
    lines = [m[1] for m in DECIDED.finditer(output) if " failed: " not in m[1]]
    return lines[0] if lines else menu_boot_screen(output) or "(no decision on the console)"


def attached(output: str) -> str:
    """When the guest's kernel had each disk (seconds since it started), in that order."""
    usb = {host: float(t) for t, host in USB_HOST.findall(output)}
    found = [(float(t), name) for t, name in NVME_ATTACHED.findall(output)]
    found += [(float(t), f"{name} (USB)" if host in usb else name)
              for t, host, name in SD_ATTACHED.findall(output)]  # fmt: skip
    found += [(t, f"usb-storage host{host}") for host, t in usb.items()]
    return ", ".join(f"{name} {t:.1f} s" for t, name in sorted(found)) or "(no kernel messages)"


def boot_runs(boot: Boot, images: list[Path], append: str) -> list[Run]:
    """``RUNS`` boots, each in a fresh QEMU; every disk image must be unchanged after all."""
    before = {path: disks.sha256(path) for path in images}
    runs = []
    for _ in range(RUNS):
        try:
            result = boot(images, TARGET_LINE, firmware="ovmf", append=append, bus=BUSES)
        except MachineError as e:  # e.g. a firmware entry chosen: BootNext, a reset, QEMU ends
            output = e.log_path.read_text(errors="replace") if e.log_path else ""
            runs.append(Run(None, None, None, decision(output), attached(output), None,
                            str(e).splitlines()[0]))  # fmt: skip
            continue
        word = MARKER_WORD.search(result.match_text)
        runs.append(Run(word[1] if word else result.match_text, result.status, result.match_text,
                        decision(result.output), attached(result.output),
                        result.seconds))  # fmt: skip
    after = {path: disks.sha256(path) for path in images}
    report = "\n".join(f"run {n} of {len(runs)}: {run.line()}" for n, run in enumerate(runs, 1))
    print("\n" + report)
    failed = sum(not run.ok for run in runs)
    assert not failed, f"{failed} of {len(runs)} boots did not boot {USB.file}:\n{report}"
    assert after == before, "a disk image was changed by a boot"
    return runs


@pytest.fixture
def images(settle_disks: list[Path], tmp_path: Path) -> list[Path]:
    return [disks.copy_image(path, tmp_path / path.name) for path in settle_disks]


def test_menu_with_timeout_0_boots_the_default_on_the_usb_disk(
    boot_bootmenu: Boot, images: list[Path]
) -> None:
    # The command line already has bootmenu.timeout=0 (conftest.BASE_APPEND).
    boot_runs(boot_bootmenu, images, f"{USB_DELAY} bootmenu.mode=menu {DEFAULT}")


def test_autoboot_boots_the_default_on_the_usb_disk(
    boot_bootmenu: Boot, images: list[Path]
) -> None:
    runs = boot_runs(boot_bootmenu, images, f"{USB_DELAY} {AUTOBOOT} {DEFAULT}")

    for run in runs:
        assert f"({USB.file}): default " in run.decision, run.decision
