"""The console log level while the menu is on a system console (bootmenu/console.py)."""

from __future__ import annotations

import os
import pty
from pathlib import Path

from bootmenu import console


def test_silence_then_restore_the_console_log_level(tmp_path: Path) -> None:
    printk = tmp_path / "printk"
    printk.write_text("7\t4\t1\t7\n")
    assert console.silence(printk)
    assert printk.read_text().split() == ["1"]  # only the console level is written
    console.silence(printk)  # twice: the level from before the first call is kept
    console.restore(printk)
    assert printk.read_text().split() == ["7"]
    printk.write_text("3\n")
    console.restore(printk)  # nothing saved any more: left alone
    assert printk.read_text() == "3\n"


def test_silence_fails_quietly_without_the_file(tmp_path: Path) -> None:
    assert not console.silence(tmp_path / "missing")
    console.restore(tmp_path / "missing")  # nothing to do, no error


def test_a_pseudo_terminal_is_not_a_system_console() -> None:
    leader, follower = pty.openpty()
    try:
        assert not console.on_system_console(follower)
    finally:
        os.close(leader)
        os.close(follower)
    assert not console.on_system_console(9999)  # not open at all
