"""The password holds over the serial console, in the real initramfs (docs/security.md).

The password comes from the kernel command line (``bootmenu.password=``: the test initramfs has
none built in).  Two boots, without disks:

- the menu (no countdown): Ctrl+Q, Ctrl+C, Ctrl+\\, Ctrl+Z and Ctrl+D typed on the console do
  not end it, on the main screen or on the password prompt (before, Ctrl+Q ended the menu, and
  after a few quick endings /init opened a shell with no password);
- ``bootmenu.mode=shell``: /init asks for the password first; three wrong ones and it restarts
  the machine (QEMU runs with ``-no-reboot``, so it exits) without a shell prompt ever showing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Final

import pytest

from bootmenu.password import pbkdf2_hash
from tests.vm.qemu import Machine
from tests.vm.screen import Screen, wait_for_menu

pytestmark = pytest.mark.vm

# Few PBKDF2 iterations: each check under TCG stays well under a second.
HASH: Final = pbkdf2_hash("owner only", b"0123456789abcdef", 1000)
ENDING_KEYS: Final = {"Ctrl+Q": "\x11", "Ctrl+C": "\x03", "Ctrl+\\": "\x1c", "Ctrl+Z": "\x1a",
                      "Ctrl+D": "\x04"}  # fmt: skip
SHELL_PROMPT: Final = "bootmenu-rescue# "
MENU_ENDED: Final = re.compile(r"bootmenu-init: bootmenu \w+ exited with status")

Start = Callable[..., tuple[Machine, Screen]]
WITH_PASSWORD: Final = f"quiet bootmenu.password={HASH}"


def test_keys_that_end_programs_do_not_end_the_menu(menu_machine: Start) -> None:
    m, screen = menu_machine(f"{WITH_PASSWORD} bootmenu.mode=menu bootmenu.timeout=menu-force", [])
    wait_for_menu(screen, 0)
    for key in ENDING_KEYS.values():
        screen.type(key)
        time.sleep(0.5)
    screen.wait(
        "the notice", lambda: "This key does not leave the boot manager" in screen.text(), 30
    )
    screen.type("x")
    screen.wait("the password prompt", lambda: "Password required" in screen.text(), 30)
    for key in ENDING_KEYS.values():
        screen.type(key)
    time.sleep(3)
    screen.wait("the prompt, still", lambda: "Password required" in screen.text(), 5)
    output = m.output
    assert not MENU_ENDED.search(output), "the menu ended"
    assert SHELL_PROMPT not in output, "a shell started"


def test_no_shell_without_the_password(menu_machine: Start) -> None:
    m, _screen = menu_machine(f"{WITH_PASSWORD} bootmenu.mode=shell", [])
    for _ in range(3):
        m.expect(r"Password to open the rescue shell: ", 180)
        m.send("guess\r")
    m.expect(r"no rescue shell without the password", 60)
    status = m.wait_exit(60)  # the machine restarts: QEMU (-no-reboot) exits
    output = m.output
    assert "Wrong password (attempt 3)" in output
    assert SHELL_PROMPT not in output, "a shell started"
    assert status == 0
