"""The frame shared by the menu's secondary screens: a title line, a body, a keys line, and
keys to go back that do not depend on Esc alone (terminals delay it): q, Backspace, Esc."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from bootmenu.tui.keysbar import KeysBar

if TYPE_CHECKING:
    from bootmenu.tui.app import BootmenuApp

BACK_KEYS = "q,backspace,escape"


class PageTitle(Static):
    DEFAULT_CSS = """
    PageTitle { height: 1; width: 100%; background: $primary; color: $text; padding: 0 1;
                text-style: bold; }
    """


class Body(VerticalScroll):
    """A scrollable page of text; arrows and Page Up/Down scroll it."""

    DEFAULT_CSS = """
    Body { height: 1fr; padding: 0 1; }
    Body:focus { background-tint: $foreground 0%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "down", show=False),
        Binding("k", "scroll_up", "up", show=False),
        Binding("space", "page_down", "page down", show=False),
    ]


class PageScreen(Screen[None]):
    """A title, a scrollable body of text, keys; q/Backspace/Esc go back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(BACK_KEYS, "back", "back", show=False),
    ]
    KEYS: ClassVar[Sequence[tuple[str, str]]] = [("q", "back"), ("Up/Down PgUp/PgDn", "scroll")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.page_title = title

    @property
    def menu(self) -> BootmenuApp:
        from bootmenu.tui.app import BootmenuApp

        return cast(BootmenuApp, self.app)

    def compose(self) -> ComposeResult:
        yield PageTitle(Text(self.page_title, no_wrap=True, overflow="ellipsis"))
        with Body(id="body"):
            yield Static(id="text")
        yield KeysBar(self.KEYS, id="keys")

    def on_mount(self) -> None:
        self.query_one(Body).focus()

    def set_text(self, text: Text) -> None:
        self.query_one("#text", Static).update(text)

    def action_back(self) -> None:
        self.dismiss()


def heading(text: Text, title: str) -> None:
    """Append a section heading to ``text``."""
    if text.plain:
        text.append("\n")
    text.append(title + "\n", style="bold underline")


def field(text: Text, name: str, value: object, width: int = 14) -> None:
    """Append ``name: value`` (value as plain text, never markup)."""
    text.append(f"{name + ':':<{width}}", style="bold")
    text.append(f"{value}\n")
