"""The menu itself: entries grouped by device, the entry under the cursor, the countdown."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, ParamSpec, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import OptionList, Static

from bootmenu.tui.countdown import Countdown
from bootmenu.tui.details import EntryDetails
from bootmenu.tui.entrylist import EntryList
from bootmenu.tui.keysbar import KeysBar
from bootmenu.tui.titlebar import TitleBar

if TYPE_CHECKING:
    from bootmenu.tui.app import BootmenuApp

MAIN_KEYS = [
    ("Enter", "boot"),
    ("e", "edit"),
    ("n", "new"),
    ("i", "info"),
    ("s", "system"),
    ("l", "log"),
    ("r", "rescan"),
    ("p", "power"),
    ("x", "shell"),
    ("?", "help"),
]


P = ParamSpec("P")


def _while_drawn(method: Callable[P, None]) -> Callable[P, None]:
    """Redraw only while the screen holds its widgets: a timer or a core callback can still
    fire while the app is closing and the widgets are being removed (NoMatches), which must
    not end the menu with a traceback."""

    @functools.wraps(method)
    def redraw(*args: P.args, **kwargs: P.kwargs) -> None:
        with contextlib.suppress(NoMatches):
            method(*args, **kwargs)

    return redraw


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "edit", show=False),
        Binding("n", "new", "new entry", show=False),
        Binding("i", "info", "info", show=False),
        Binding("s", "system", "system", show=False),
        Binding("l", "log", "log", show=False),
        Binding("r", "rescan", "rescan", show=False),
        Binding("p", "power", "power", show=False),
        Binding("x", "shell", "shell", show=False),
        Binding("question_mark,f1,h", "help", "help", show=False),
        Binding("q", "quit_menu", "quit", show=False),
    ]

    @property
    def menu(self) -> BootmenuApp:
        from bootmenu.tui.app import BootmenuApp

        return cast(BootmenuApp, self.app)

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield EntryList()
        yield EntryDetails(id="details")
        yield Static("", id="message")
        yield Countdown(id="countdown")
        yield KeysBar(MAIN_KEYS, id="keys")

    def on_mount(self) -> None:
        self.query_one(EntryList).focus()
        self.refresh_view()

    # -- redrawing ---------------------------------------------------------------------------

    @property
    def entries(self) -> EntryList:
        return self.query_one(EntryList)

    @_while_drawn
    def refresh_view(self) -> None:
        app = self.menu
        decision = app.decision
        menu = decision.menu if decision is not None else app.view.entries
        current = self.entries.highlighted_entry
        if not app.touched and decision is not None and decision.entry is not None:
            keep: str | None = decision.entry.id
        else:
            keep = current.id if current is not None else None
        if app.start_error:
            empty = f"bootmenu could not start: {app.start_error}"
        elif app.busy_reason:
            empty = "Looking for boot entries…"
        else:
            empty = "No boot entries found. r rescans, n boots a kernel of your choice."
        self.entries.show(
            menu,
            default_id=decision.entry.id if decision and decision.entry else None,
            volumes=app.view.volumes,
            devices=app.view.devices,
            keep=keep,
            empty=empty,
        )
        self.refresh_details()
        self.refresh_status()

    @_while_drawn
    def refresh_details(self) -> None:
        entry = self.entries.highlighted_entry
        route = self.menu.view.routes.get(entry.id) if entry is not None else None
        self.query_one(EntryDetails).show(entry, route=route)

    @_while_drawn
    def refresh_status(self) -> None:
        app = self.menu
        self.query_one(TitleBar).show(
            entries=len(app.decision.menu if app.decision else app.view.entries),
            scanning=", ".join(sorted(app.view.scanning)) or None,
            waiting=app.busy_reason,
            warnings=len(app.view.warnings),
            dry_run=app.dry_run,
        )
        self.refresh_countdown()

    @_while_drawn
    def refresh_countdown(self) -> None:
        text, remaining, waiting = self.menu.countdown_text()
        countdown = self.query_one(Countdown)
        if remaining is None:
            countdown.show_text(text)
        else:
            countdown.show_running(text, remaining, waiting)

    @_while_drawn
    def notify_text(self, text: str) -> None:
        self.query_one("#message", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.refresh_details()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        entry = self.entries.highlighted_entry
        if entry is None:
            return
        if entry.problems:
            self.notify_text(f"{entry.title} cannot boot: {entry.problems[0]}")
            self.action_info()
            return
        self.menu.boot([entry], f"'{entry.title}' ({entry.id}): chosen in the menu")

    # -- keys -------------------------------------------------------------------------------

    def action_edit(self) -> None:
        from bootmenu.tui.edit import EditScreen

        entry = self.entries.highlighted_entry
        if entry is None:
            self.notify_text("No entry selected.")
            return

        def edit() -> None:
            self.app.push_screen(EditScreen(entry))

        self.menu.require_password("edit a command line", edit)

    def action_new(self) -> None:
        from bootmenu.tui.custom import CustomScreen

        def new() -> None:
            self.app.push_screen(CustomScreen())

        self.menu.require_password("boot a kernel of your choice", new)

    def action_info(self) -> None:
        from bootmenu.tui.info import InfoScreen

        entry = self.entries.highlighted_entry
        if entry is None:
            self.notify_text("No entry selected.")
            return
        self.app.push_screen(InfoScreen(entry))

    def action_system(self) -> None:
        from bootmenu.tui.system import SystemScreen

        self.app.push_screen(SystemScreen())

    def action_log(self) -> None:
        from bootmenu.tui.logview import LogScreen

        self.app.push_screen(LogScreen())

    def action_rescan(self) -> None:
        self.notify_text("Rescanning every device…")
        self.menu.start_rescan()

    def action_power(self) -> None:
        from bootmenu.tui.power import PowerScreen

        self.app.push_screen(PowerScreen())

    def action_shell(self) -> None:
        self.menu.require_password("start the rescue shell", self.menu.rescue_shell)

    def action_help(self) -> None:
        from bootmenu.tui.help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_quit_menu(self) -> None:
        self.menu.quit_menu()
