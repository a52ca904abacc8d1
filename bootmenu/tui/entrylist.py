"""The list of entries, grouped by the filesystem their configuration is on.

Each row has three mark columns that read without colour: ``>`` the cursor, ``*`` what boots
when the countdown ends, ``!`` an entry that cannot boot (also dimmed).  Group headings name
the device, its label, type and size; devices bootmenu cannot use (locked, unsupported…) are
listed after the groups with the reason.  Rebuilding keeps the cursor on the same entry id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from bootmenu.autoboot import foreign_files
from bootmenu.model import BootEntry, Volume
from bootmenu.tui.format import SHOWN_STATES, device_heading, device_problem, kind_label, shorten

if TYPE_CHECKING:
    from bootmenu.model import Device

ENTRY_PREFIX = "entry:"
KIND_WIDTH = 9
VERSION_WIDTH = 22


def render_row(
    entry: BootEntry, width: int, *, cursor: bool, default: bool, files_of: Volume | None = None
) -> Text:
    """One entry as a line of ``width`` cells; ``files_of``: the other filesystem whose files
    its configuration boots (said after the title)."""
    marks = (">" if cursor else " ") + ("*" if default else " ") + ("!" if entry.problems else " ")
    version = shorten(entry.version or "", VERSION_WIDTH)
    room = max(8, width - len(marks) - 1 - KIND_WIDTH - 1 - (len(version) + 1 if version else 0))
    title = entry.title
    if files_of is not None:
        title += f" (boots files of {files_of.shown_name})"
    title = shorten(title, room)
    line = f"{marks} {kind_label(entry):<{KIND_WIDTH}} {title:<{room}}"
    if version:
        line += f" {version}"
    style = "dim" if entry.problems else ""
    if default:
        style = (style + " bold").strip()
    return Text(line[:width].ljust(width), style=style, no_wrap=True, overflow="crop")


class EntryList(OptionList):
    """The menu's entries; ``highlighted_entry`` is the one under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "cursor_up", "up", show=False),
        Binding("j", "cursor_down", "down", show=False),
    ]
    DEFAULT_CSS = """
    EntryList { border: none; padding: 0; height: 1fr; max-height: 100%; background: $surface; }
    EntryList:focus { border: none; background-tint: $foreground 0%; }
    EntryList > .option-list--option-disabled { color: $foreground; }
    """

    def __init__(self) -> None:
        super().__init__(id="entries")
        self._entries: dict[str, BootEntry] = {}
        self._default_id: str | None = None
        # The other filesystem whose files an entry boots, by id (said after its title).
        self._files_of: dict[str, Volume] = {}
        self._cursor_id: str | None = None
        self._width = 78

    # -- what is shown ---------------------------------------------------------------------

    @property
    def highlighted_entry(self) -> BootEntry | None:
        option = self.highlighted_option
        if option is None or option.id is None or not option.id.startswith(ENTRY_PREFIX):
            return None
        return self._entries.get(option.id.removeprefix(ENTRY_PREFIX))

    def entry_ids(self) -> list[str]:
        """The ids of the entries in the order shown."""
        return list(self._entries)

    def show(
        self,
        menu: Sequence[BootEntry],
        *,
        default_id: str | None,
        volumes: Sequence[Volume],
        devices: Sequence[Device],
        keep: str | None,
        empty: str = "No boot entries found.",
    ) -> None:
        """Show ``menu`` (in this order, grouped by ``root``); put the cursor on the entry
        ``keep`` when it is still there, else near where it was."""
        old_index = self.highlighted
        self._width = max(20, self.scrollable_content_region.width or self._width)
        self._entries = {e.id: e for e in menu}
        self._default_id = default_id
        # Under the filesystem its configuration came from (a stick's grub.cfg that boots the
        # internal disk's kernel is the stick's entry), or its own for the firmware's entries.
        by_name = {v.name: v for v in volumes}
        self._files_of = {
            e.id: files for e in menu if (files := foreign_files(e, by_name)) is not None
        }
        groups: dict[str, list[BootEntry]] = {}
        for entry in menu:
            config = entry.config_root
            groups.setdefault(config if config in by_name else entry.root, []).append(entry)
        options: list[Option] = []
        for root, entries in groups.items():
            name, description = device_heading(root, volumes, devices)
            heading = Text(shorten(name, self._width), style="bold underline", no_wrap=True)
            if description:
                heading.append(" " + shorten(description, self._width - len(name) - 1))
            options.append(Option(heading, id=f"group:{root}", disabled=True))
            for entry in entries:
                options.append(
                    Option(
                        render_row(
                            entry,
                            self._width,
                            cursor=entry.id == keep,
                            default=entry.id == default_id,
                            files_of=self._files_of.get(entry.id),
                        ),
                        id=ENTRY_PREFIX + entry.id,
                    )
                )
        unusable = [d for d in devices if d.state.value in SHOWN_STATES]
        for device in unusable:
            line = Text(f"-  {device.devnode} ", style="bold", no_wrap=True, overflow="ellipsis")
            line.append(shorten(device_problem(device), self._width - len(line)), style="dim")
            options.append(Option(line, id=f"device:{device.devnode}", disabled=True))
        if not menu:
            options.insert(0, Option(Text(empty, style="italic"), id="empty", disabled=True))
        self._cursor_id = None
        self.set_options(options)
        target: int | None = None
        if keep is not None and keep in self._entries:
            target = self.get_option_index(ENTRY_PREFIX + keep)
        elif menu:
            entry_indexes = [
                i for i, o in enumerate(self.options) if (o.id or "").startswith(ENTRY_PREFIX)
            ]
            wanted = old_index if old_index is not None else 0
            target = min(entry_indexes, key=lambda i: (abs(i - wanted), i))
        self.highlighted = target
        self._mark_cursor()

    def select_entry(self, ident: str) -> bool:
        """Put the cursor on the entry ``ident``; False when it is not shown."""
        if ident not in self._entries:
            return False
        self.highlighted = self.get_option_index(ENTRY_PREFIX + ident)
        return True

    # -- the cursor mark -------------------------------------------------------------------

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        self._mark_cursor()

    def _mark_cursor(self) -> None:
        entry = self.highlighted_entry
        new_id = entry.id if entry is not None else None
        if new_id == self._cursor_id:
            return
        for ident, cursor in ((self._cursor_id, False), (new_id, True)):
            if ident is None or ident not in self._entries:
                continue
            self.replace_option_prompt(
                ENTRY_PREFIX + ident,
                render_row(
                    self._entries[ident],
                    self._width,
                    cursor=cursor,
                    default=ident == self._default_id,
                    files_of=self._files_of.get(ident),
                ),
            )
        self._cursor_id = new_id

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._width:
            self._width = width
            for ident, entry in self._entries.items():
                self.replace_option_prompt(
                    ENTRY_PREFIX + ident,
                    render_row(
                        entry,
                        width,
                        cursor=ident == self._cursor_id,
                        default=ident == self._default_id,
                        files_of=self._files_of.get(ident),
                    ),
                )
