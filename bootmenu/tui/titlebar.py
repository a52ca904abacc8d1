"""The top line of the menu: name, what is being scanned, warnings, dry-run mode."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bootmenu import __version__


class TitleBar(Static):
    DEFAULT_CSS = """
    TitleBar { height: 1; width: 100%; background: $primary; color: $text; padding: 0 1; }
    """

    def show(
        self,
        *,
        entries: int,
        scanning: str | None,
        warnings: int,
        dry_run: bool,
        waiting: str | None = None,
    ) -> None:
        """``scanning`` says what is being scanned (None: nothing); ``waiting``, what else an
        automatic boot still waits for (udev, a quiet period, a ``wait_for`` device)."""
        left = Text(f"bootmenu {__version__}", style="bold")
        left.append(f"  {entries} entr{'y' if entries == 1 else 'ies'}")
        if dry_run:
            left.append("  [dry run]", style="bold")
        right = Text()
        if warnings:
            right.append(f"{warnings} warning{'s' if warnings != 1 else ''} (l) ")
        if scanning:
            right.append(f"[scanning: {scanning}]", style="bold")
        elif waiting:
            right.append(f"[waiting: {waiting}]", style="bold")
        width = max(0, self.size.width - 2) if self.size.width else 78
        room = width - len(left.plain) - 1
        if len(right.plain) > room:
            right.truncate(max(0, room), overflow="ellipsis")
        gap = max(1, width - len(left.plain) - len(right.plain))
        self.update(Text.assemble(left, " " * gap, right))
