"""The autoboot line: what boots in how many seconds, or why nothing does."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Countdown(Static):
    DEFAULT_CSS = """
    Countdown { height: 1; width: 100%; padding: 0 1; }
    Countdown.-running { text-style: bold; }
    """

    def show_running(self, title: str, remaining: int, waiting: str | None) -> None:
        """The countdown runs: ``remaining`` seconds to boot ``title`` (``waiting``: why it
        is held at 0)."""
        self.add_class("-running")
        if remaining <= 0 and waiting:
            # What it waits for is on the title line ([scanning: …], [waiting: …]).
            text = f'Booting "{title}" when every disk is found. Press any key to stop.'
        else:
            text = f'Booting "{title}" in {remaining} s. Press any key to stop.'
        self.update(Text(text, no_wrap=True, overflow="ellipsis"))

    def show_text(self, text: str) -> None:
        """No countdown: ``text`` says why (or nothing)."""
        self.remove_class("-running")
        self.update(Text(text, no_wrap=True, overflow="ellipsis"))
