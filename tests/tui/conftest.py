"""The menu's tests run with a known terminal: colour, no NO_COLOR (tests that want the
monochrome look set it themselves)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("BOOTMENU_INITRAMFS", raising=False)
