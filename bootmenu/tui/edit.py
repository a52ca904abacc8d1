"""``e``: the command line of one entry, edited for this boot only (nothing is written)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static, TextArea

from bootmenu.model import BootEntry, Kind
from bootmenu.tui.base import PageTitle
from bootmenu.tui.keysbar import KeysBar

if TYPE_CHECKING:
    from bootmenu.tui.app import BootmenuApp


class CmdlineArea(TextArea):
    """The command line, wrapped over several lines (it is still one line: Enter boots)."""

    DEFAULT_CSS = """
    CmdlineArea, CmdlineArea:focus { height: 7; border: solid $primary; }
    """


def one_line(text: str) -> str:
    """The edited text as one command line (pasted line breaks become spaces)."""
    return " ".join(text.replace("\r", "\n").split("\n")).strip()


class EditScreen(Screen[None]):
    # Priority bindings: the text area would otherwise take Enter and Esc as text keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,ctrl+x", "boot", "boot", show=False, priority=True),
        Binding("escape,ctrl+g", "back", "back", show=False, priority=True),
        Binding("ctrl+r", "reset", "reset", show=False, priority=True),
    ]

    def __init__(self, entry: BootEntry) -> None:
        super().__init__()
        self.entry = entry

    @property
    def menu(self) -> BootmenuApp:
        from bootmenu.tui.app import BootmenuApp

        return cast(BootmenuApp, self.app)

    def compose(self) -> ComposeResult:
        yield PageTitle(
            Text(f"Edit: {self.entry.title}", no_wrap=True, overflow="ellipsis"),
        )
        with Vertical(id="edit-body"):
            yield Static(
                Text(
                    "The command line for this boot only: nothing is saved, the entry on "
                    "disk stays as it is."
                )
            )
            yield Static(Text(f"{self.entry.root}:{self.entry.kernel}", style="bold"))
            area = CmdlineArea(
                self.entry.cmdline,
                soft_wrap=True,
                show_line_numbers=False,
                tab_behavior="focus",
                id="cmdline",
            )
            yield area
            if self.entry.kind is Kind.UKI:
                yield Static(
                    Text(
                        "A UKI has its own command line; under Secure Boot an edited one "
                        "may be refused or ignored."
                    )
                )
            yield Static("", id="edit-message")
        yield KeysBar([("Enter", "boot"), ("Ctrl+R", "reset"), ("Esc/Ctrl+G", "back")], id="keys")

    def on_mount(self) -> None:
        area = self.query_one(CmdlineArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_boot(self) -> None:
        cmdline = one_line(self.query_one(CmdlineArea).text)
        self.dismiss()
        self.menu.boot_with_cmdline(self.entry, cmdline)

    def action_reset(self) -> None:
        area = self.query_one(CmdlineArea)
        area.text = self.entry.cmdline
        area.move_cursor(area.document.end)
        self.query_one("#edit-message", Static).update("The command line is as on disk again.")

    def action_back(self) -> None:
        self.dismiss()
