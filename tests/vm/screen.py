"""The screen of a VM's serial console as a person sees it: the stream through a pyte terminal
of 80x25 (the size /init gives the console), read as the menu's rows, cursor, title line and
countdown (docs/menu.md, "For the VM tests"); and the keys a VT100 sends.  Shared by the VM tests
that drive the menu (test_menu, test_payload).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pexpect
import pyte

from tests.vm.qemu import Machine, MachineError, time_scale

if TYPE_CHECKING:
    from pexpect.spawnbase import _Logfile

COLUMNS: Final = 80
ROWS: Final = 25  # /init sets a serial console that reports 0x0 to 80x25

DOWN: Final = "\x1b[B"  # what a VT100 sends for the Down arrow
ENTER: Final = "\r"

# A row of the entry list: cursor, default and problem marks, the kind in 9 columns, the title.
ENTRY_ROW: Final = re.compile(r"^([> ])([* ])([! ]) (.{9}) (.*?)(?:\s{2,}\S.*)?\s*$")
TITLE_ROW: Final = re.compile(r"^\s*bootmenu \S+\s+(\d+) entr(?:y|ies)\b")
COUNTDOWN: Final = re.compile(r'Booting "(.+)" in (\d+) s\. Press any key to stop\.')
STOPPED: Final = "Automatic boot stopped. Enter boots the selected entry."
EDITED: Final = " bootmenu-edited=1"

# The hot-plugged disk goes into a PCIe root port: q35's root bus does not take hot-plug.


@dataclass(frozen=True)
class Row:
    """One entry as the screen shows it."""

    cursor: bool
    default: bool
    problem: bool
    kind: str
    title: str


class _Tee:
    """pexpect's ``logfile_read``: what the guest prints goes to Machine's log and to pyte."""

    def __init__(self, log: _Logfile, stream: pyte.Stream) -> None:
        self.log = log
        self.stream = stream

    def write(self, text: str) -> None:
        self.log.write(text)
        self.stream.feed(text)

    def flush(self) -> None:
        self.log.flush()


class Screen:
    """What the serial console shows: everything QEMU prints is fed to a pyte terminal too."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.terminal = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.Stream(self.terminal)
        self.steps: list[str] = []
        child = machine.child
        assert child is not None, "start the machine first"
        assert child.logfile_read is not None, "Machine logs the serial console"
        child.logfile_read = _Tee(child.logfile_read, self.stream)

    # -- reading -------------------------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.terminal.display]

    def dump(self) -> str:
        return "\n".join(f"|{line}" for line in self.lines)

    def entry_count(self) -> int | None:
        """The ``N entries`` of the title line (None: the menu is not on the screen)."""
        match = TITLE_ROW.match(self.lines[0])
        return int(match.group(1)) if match else None

    def scanning(self) -> bool:
        """Discovery is still at work, or the machine has not settled yet."""
        return "[scanning:" in self.lines[0] or "[waiting:" in self.lines[0]

    def rows(self) -> list[Row]:
        """The entry rows, top to bottom (headings and the lines under the list are skipped)."""
        rows = []
        for line in self.lines[1:]:
            if line.startswith("─"):
                break  # the line between the list and the details
            match = ENTRY_ROW.match(line)
            if match and match.group(4).strip():
                cursor, default, problem, kind, title = match.groups()
                rows.append(Row(cursor == ">", default == "*", problem == "!", kind.strip(),
                                title.strip()))  # fmt: skip
        return rows

    def cursor(self) -> Row | None:
        return next((row for row in self.rows() if row.cursor), None)

    def headings(self) -> list[str]:
        """The group headings (lines starting with a device node)."""
        return [line.split()[0] for line in self.lines[1:] if line.startswith("/dev/")]

    def text(self) -> str:
        return "\n".join(self.lines)

    # -- waiting -------------------------------------------------------------------------------

    def _pump(self, seconds: float) -> None:
        """Read what the guest printed during ``seconds`` (it goes through the Tee)."""
        child = self.machine.child
        assert child is not None
        try:
            child.expect([pexpect.TIMEOUT], timeout=seconds)
        except pexpect.EOF:
            raise self.failure("QEMU exited") from None

    def wait(self, what: str, condition: Callable[[], bool], timeout: float) -> None:
        """Wait until ``condition()`` holds for the screen (``timeout`` scaled by
        time_scale())."""
        deadline = time.monotonic() + timeout * time_scale()
        while not condition():
            if time.monotonic() > deadline:
                raise self.failure(f"the screen did not show {what} within {timeout:.0f} s")
            self._pump(0.3)
        self.mark(f"saw {what}")

    def failure(self, what: str) -> MachineError:
        return MachineError(
            f"{what} (after {self.machine.elapsed():.1f} s).\nserial log: "
            f"{self.machine.log_path}\n--- the screen ---\n{self.dump()}"
        )

    def mark(self, step: str) -> None:
        """Note when ``step`` was reached (printed at the end of the test: ``pytest -s``)."""
        self.steps.append(f"{self.machine.elapsed():6.1f} s  {step}")

    def type(self, keys: str) -> None:
        """Type ``keys`` a few at a time (the guest's UART takes 16 bytes at once)."""
        self.mark(f"typed {keys!r}")
        for start in range(0, len(keys), 8):
            self.machine.send(keys[start : start + 8])
            time.sleep(0.05)


def titles(rows: list[Row]) -> list[str]:
    return [row.title for row in rows]


def wait_for_menu(screen: Screen, entries: int) -> None:
    """The menu is up with ``entries`` entries and nothing is being scanned."""
    # Under TCG the kernel, udev and Python take 20-40 s before the first frame.
    screen.wait(
        f"the menu with {entries} entries",
        lambda: screen.entry_count() == entries and not screen.scanning()
        and len(screen.rows()) == entries,
        180,
    )  # fmt: skip


def wait_for_cursor(screen: Screen, title: str, timeout: float = 30) -> None:
    """The cursor is on the entry ``title`` (from the first frame: ``timeout`` 180 or more,
    as the kernel, udev and Python take 20-40 s under TCG before it)."""

    def on_it() -> bool:
        cursor = screen.cursor()
        return cursor is not None and cursor.title == title

    screen.wait(f"the cursor on {title!r}", on_it, timeout)
