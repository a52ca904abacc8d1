"""``?``: every key of the menu."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from bootmenu.tui.base import BACK_KEYS, PageScreen, heading

HELP: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "The menu",
        [
            ("Up/Down j/k", "move between entries (grouped by disk)"),
            ("Home/End PgUp/PgDn", "first, last entry; a page up or down"),
            ("Enter", "boot the entry under the cursor"),
            ("e", "edit the command line, for this boot only"),
            ("n", "boot a kernel, initrd and command line you choose"),
            ("i", "details: origin, files checked, problems"),
            ("s", "system: firmware, Secure Boot, lockdown, memory, disks"),
            ("l", "bootmenu's log and warnings"),
            ("r", "rescan every device"),
            ("p", "power: reboot, power off, firmware setup"),
            ("x", "rescue shell"),
            ("? h F1", "this help"),
            ("q", "quit (only outside the initramfs)"),
        ],
    ),
    (
        "Marks",
        [
            (">", "the cursor"),
            ("*", "what boots when the countdown ends"),
            ("!", "cannot boot (reason below the list; i: all)"),
            ("-", "a device bootmenu cannot use (locked, unsupported…)"),
        ],
    ),
    (
        "Everywhere",
        [
            ("q Backspace Esc", "back (in text fields: Esc or Ctrl+G)"),
            ("any key", "stops the automatic boot countdown"),
        ],
    ),
]


class HelpScreen(PageScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(BACK_KEYS + ",question_mark,f1,h", "back", "back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__("Help: keys of the boot menu")

    def on_mount(self) -> None:
        super().on_mount()
        text = Text()
        for title, rows in HELP:
            heading(text, title)
            for key, words in rows:
                text.append(f"  {key:<20}", style="bold")
                text.append(f"{words}\n")
        if self.menu.initramfs:
            text.append("\nThe rescue shell: exit it to come back to the menu.\n")
        self.set_text(text)
