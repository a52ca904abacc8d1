"""The menu on every console: two serial consoles, driven from both sides (docs/menu.md).

bootmenu boots with ``console=ttyS0`` and ``bootmenu.console=ttyS0,ttyS1``: /init starts the
leading menu on ``/dev/console`` (ttyS0), which starts a following one on ttyS1.  (The issue
suggested ``console=ttyS1 console=ttyS0``; Linux's 8250 driver has one console, so that makes
only ttyS1 the kernel's console.)  QEMU's first serial port is the test's pseudo-terminal
(:class:`Screen`), the second a Unix socket the test connects to (:class:`SocketScreen`).
What must hold:

- both consoles show the same entries and the same countdown;
- a key typed on ttyS1 stops the countdown on ttyS0 too;
- an entry chosen on ttyS1 (one down from the default, Enter) is the one that boots, and ttyS0
  says another console boots it; the target kernel prints its command line on ttyS0.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pyte
import pytest

from tests.vm import disks
from tests.vm.conftest import BOOTMENU_FAILED, Artifacts
from tests.vm.qemu import Disk, Machine, MachineError
from tests.vm.screen import COLUMNS, COUNTDOWN, DOWN, ENTER, ROWS, STOPPED, Screen, titles
from tests.vm.targets import TARGET_EXIT_STATUS, TARGET_LINE

pytestmark = pytest.mark.vm

MakeDisk = Callable[..., Path]
# The kernel's console is ttyS0; the second serial port is named with the console setting (the
# 8250 driver gives the kernel one console only: "console=ttyS1 console=ttyS0" makes ttyS1 the
# kernel's console and ttyS0 none, as the first try of this test found).
APPEND: Final = (
    "console=ttyS0 quiet bootmenu.mode=menu bootmenu.timeout=60 bootmenu.console=ttyS0,ttyS1"
)


class SocketScreen(Screen):
    """The second serial console: QEMU's ``-serial unix:…,server=on`` socket through a pyte
    terminal.  Waiting keeps reading the first console too (a full pseudo-terminal would stall
    the guest's writes to it)."""

    def __init__(self, lead: Screen, path: Path, log: Path) -> None:
        self.machine = lead.machine
        self.log = open(log, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.lead = lead
        self.terminal = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.Stream(self.terminal)
        self.steps = lead.steps
        self._lock = threading.Lock()
        deadline = time.monotonic() + 30
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.sock.recv(4096):
                text = data.decode("utf-8", "replace")
                with self._lock:
                    self.stream.feed(text)
                    self.log.write(text)
                    self.log.flush()

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return [line.rstrip() for line in self.terminal.display]

    def _pump(self, seconds: float) -> None:
        self.lead._pump(seconds)

    def type(self, keys: str) -> None:
        self.mark(f"typed {keys!r} on ttyS1")
        for start in range(0, len(keys), 8):
            self.sock.sendall(keys[start : start + 8].encode())
            time.sleep(0.05)

    def failure(self, what: str) -> MachineError:
        return MachineError(
            f"{what} on ttyS1 (after {self.machine.elapsed():.1f} s).\nits log: {self.log.name}"
            f"\n--- ttyS1 ---\n{self.dump()}\n--- ttyS0 ---\n{self.lead.dump()}"
        )

    def close(self) -> None:
        self.sock.close()
        self.log.close()


def menu_shown(screen: Screen, entries: int) -> Callable[[], bool]:
    return lambda: screen.entry_count() == entries and len(screen.rows()) == entries


def test_two_serial_consoles_share_one_menu(
    tmp_path: Path, artifacts: Artifacts, make_disk: MakeDisk
) -> None:
    image = make_disk("boot")
    before = disks.sha256(image)
    second = tmp_path / "ttyS1.sock"
    machine = Machine(
        tmp_path / "serial.log",
        kernel=artifacts.vmlinuz,
        initrd=artifacts.initramfs,
        append=APPEND,
        disks=[Disk(image, serial="disk0")],
        extra_args=("-serial", f"unix:{second},server=on,wait=off"),
    )
    machine.start()
    lead = Screen(machine)
    other = SocketScreen(lead, second, tmp_path / "ttyS1.log")
    try:
        lead.wait("the countdown on ttyS0", lambda: COUNTDOWN.search(lead.text()) is not None, 180)
        other.wait("the menu on ttyS1", lambda: COUNTDOWN.search(other.text()) is not None, 120)
        count = lead.entry_count()
        assert count is not None and count > 1, lead.dump()
        other.wait("the same entries on ttyS1", menu_shown(other, count), 60)
        lead.wait("all entries on ttyS0", menu_shown(lead, count), 60)
        assert titles(other.rows()) == titles(lead.rows()), other.dump()
        here, there = COUNTDOWN.search(lead.text()), COUNTDOWN.search(other.text())
        assert here is not None and there is not None
        assert here.group(1) == there.group(1) == disks.DEBIAN.title
        assert abs(int(here.group(2)) - int(there.group(2))) <= 2, (lead.dump(), other.dump())

        # A key on ttyS1 stops the countdown on both.
        other.type(" ")
        other.wait("the countdown stopped on ttyS1", lambda: STOPPED in other.text(), 30)
        lead.wait("the countdown stopped on ttyS0", lambda: STOPPED in lead.text(), 30)

        # One down from the default on ttyS1, Enter: that entry boots.
        rows = other.rows()
        default = next(r for r in rows if r.default)
        chosen = rows[rows.index(default) + 1]
        assert chosen.title == disks.RESCUE.title, other.dump()
        other.type(DOWN)
        other.wait("the cursor on the second entry", lambda: (c := other.cursor()) is not None
                   and c.title == chosen.title, 30)  # fmt: skip
        other.type(ENTER)
        lead.wait("ttyS0 saying another console boots",
                  lambda: "Another console boots" in lead.text() or
                  TARGET_LINE.search(machine.output) is not None, 120)  # fmt: skip
        found = TARGET_LINE.search(machine.output)
        if found is None:
            found = machine.expect(TARGET_LINE, 180, fail=BOOTMENU_FAILED)
        cmdline = found.group(1)
        status = machine.wait_exit(60)
    finally:
        other.close()
        machine.close()
    print("\n" + "\n".join(lead.steps))
    assert cmdline == disks.RESCUE.options
    assert status == TARGET_EXIT_STATUS
    assert disks.sha256(image) == before
