"""``l``: the warnings of the last scan and bootmenu's log, newest at the bottom."""

from __future__ import annotations

from rich.text import Text

from bootmenu.tui.base import Body, PageScreen, heading

LEVEL_MARKS = {"WARNING": "!", "ERROR": "!!", "CRITICAL": "!!"}


class LogScreen(PageScreen):
    def __init__(self) -> None:
        super().__init__("Log")
        self._serial = -1

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()
        self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        buffer = self.menu.log_buffer
        if buffer.serial == self._serial:
            return
        self._serial = buffer.serial
        text = Text()
        warnings = self.menu.view.warnings
        if warnings:
            heading(text, f"Warnings of the last scan ({len(warnings)})")
            for warning in warnings:
                text.append(f"! {warning}\n")
        heading(text, "bootmenu's log")
        lines = buffer.lines()
        if not lines:
            text.append("(empty)\n")
        for level, line in lines:
            mark = LEVEL_MARKS.get(level, " ")
            text.append(f"{mark:<2}{line}\n", style="bold" if mark.strip() else "")
        self.set_text(text)
        self.query_one(Body).scroll_end(animate=False)
