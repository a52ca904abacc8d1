"""Browsing one scanned filesystem for a file (the custom entry's kernel and initrd).

Everything goes through the core (``Core.list_files``), which reads the filesystem with the
same safe resolver the scanner uses: nothing outside the volume can be reached."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from bootmenu.core import FileItem
from bootmenu.tui.format import shorten, size_text

NONE_ID = "none"
UP_ID = "up"


class FilePicker(OptionList):
    """Enter opens a directory or picks a file; Backspace goes up (posts :class:`Up` at the
    top, so the screen can go a step back)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace", "up", "parent directory", show=False),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
    ]
    DEFAULT_CSS = """
    FilePicker { border: none; padding: 0; height: 1fr; max-height: 100%; }
    FilePicker:focus { border: none; }
    """

    @dataclass
    class Picked(Message):
        path: str | None  # None: "no file" was chosen

    @dataclass
    class Up(Message):
        pass

    @dataclass
    class Moved(Message):
        path: str
        error: str | None

    def __init__(
        self,
        root: str,
        lister: Callable[[str, str], tuple[FileItem, ...]],
        *,
        start: str = "/",
        none_label: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.root = root
        self.lister = lister
        self.path = start
        self.none_label = none_label
        self._items: dict[str, FileItem] = {}

    def on_mount(self) -> None:
        self.load(self.path)

    def load(self, path: str, *, select: str | None = None) -> None:
        """Show the directory ``path``; the cursor goes to ``select`` (a name in it), else
        to the first name (after "no file" and "..")."""
        error: str | None = None
        try:
            items = self.lister(self.root, path)
        except Exception as e:  # the filesystem went away; say so in the picker
            items, error = (), str(e)
        self.path = path
        self._items = {}
        options: list[Option] = []
        if self.none_label is not None:
            options.append(Option(Text(self.none_label, style="italic"), id=NONE_ID))
        if path != "/":
            options.append(Option(Text("../  (parent directory)"), id=UP_ID))
        width = max(20, (self.size.width or 76) - 2)
        for i, item in enumerate(items):
            ident = f"item{i}"
            self._items[ident] = item
            if item.is_dir:
                label = Text(shorten(item.name + "/", width), style="bold")
            else:
                size = size_text(item.size)
                label = Text(
                    f"{shorten(item.name, width - len(size) - 2):<{width - len(size) - 1}}"
                )
                label.append(size)
            options.append(Option(label, id=ident))
        if not items:
            options.append(
                Option(Text(error or "(empty directory)", style="italic"), id="-", disabled=True)
            )
        self.set_options(options)
        names = [i for i, (ident, item) in enumerate(self._items.items()) if item.name == select]
        first = (self.none_label is not None) + (path != "/")
        if names:
            self.highlighted = first + names[0]
        elif items:
            self.highlighted = first
        else:
            self.highlighted = 0 if options and not options[0].disabled else None
        self.post_message(self.Moved(path, error))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        ident = event.option_id
        if ident == NONE_ID:
            self.post_message(self.Picked(None))
        elif ident == UP_ID:
            self.action_up()
        elif ident in self._items:
            item = self._items[ident]
            full = posixpath.join(self.path, item.name)
            if item.is_dir:
                self.load(full)
            else:
                self.post_message(self.Picked(full))

    def action_up(self) -> None:
        if self.path == "/":
            self.post_message(self.Up())
        else:
            here = self.path.rstrip("/")
            self.load(posixpath.dirname(here) or "/", select=posixpath.basename(here))
