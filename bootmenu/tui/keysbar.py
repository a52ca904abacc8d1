"""The line of keys at the bottom of every screen."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static


class KeysBar(Static):
    """``Enter:boot e:edit …``: keys in bold, so the line reads without colour."""

    DEFAULT_CSS = """
    KeysBar { height: 1; width: 100%; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, keys: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_keys(keys)

    def set_keys(self, keys: Sequence[tuple[str, str]]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (key, label) in enumerate(keys):
            if i:
                text.append(" ")
            if key:
                text.append(key, style="bold reverse")
                text.append(":")
            text.append(label)
        self.update(text)
