"""Two lines under the list about the entry under the cursor: why it cannot boot, or what it
starts and with which command line; for an EFI application, how it will start (the UEFI
payload, or BootNext and a firmware reset, and why)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bootmenu.model import BootEntry


class EntryDetails(Static):
    DEFAULT_CSS = """
    EntryDetails { height: 3; width: 100%; padding: 0 1; border-top: solid $primary; }
    """

    def show(
        self, entry: BootEntry | None, note: str | None = None, *, route: str | None = None
    ) -> None:
        if entry is None:
            self.update(Text(note or "", no_wrap=True, overflow="ellipsis"))
            return
        if entry.problems:
            more = f" (+{len(entry.problems) - 1} more)" if len(entry.problems) > 1 else ""
            first = Text("! cannot boot: ", style="bold")
            first.append(entry.problems[0] + more)
            first.append("  i: details", style="italic")
            first.no_wrap, first.overflow = True, "ellipsis"
            second = Text(f"{entry.root}:{entry.kernel}", no_wrap=True, overflow="ellipsis")
        else:
            files = f"{entry.root}:{entry.kernel}"
            if entry.initrd:
                files += " + " + ", ".join(entry.initrd)
            first = Text(files, no_wrap=True, overflow="ellipsis")
            second = Text(
                f"cmdline: {entry.cmdline}" if entry.cmdline else "cmdline: (none)",
                no_wrap=True,
                overflow="ellipsis",
            )
            if route is not None:
                if entry.cmdline:
                    first.append(f"  {entry.cmdline}")
                second = Text(route, no_wrap=True, overflow="ellipsis")
        self.update(Text("\n").join([first, second]))
