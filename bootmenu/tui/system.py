"""``s``: firmware, Secure Boot, lockdown, memory, and every disk and filesystem found."""

from __future__ import annotations

from rich.text import Text
from textual import work

from bootmenu.core import SystemInfo
from bootmenu.tui.base import PageScreen, field, heading
from bootmenu.tui.format import shorten, size_text


def system_text(info: SystemInfo) -> Text:
    text = Text()
    heading(text, "Machine")
    field(text, "firmware", info.firmware, 16)
    field(text, "Secure Boot", info.secure_boot, 16)
    field(text, "lockdown", info.lockdown, 16)
    memory = size_text(info.memory_total)
    if info.memory_available is not None:
        memory += f" ({size_text(info.memory_available)} available)"
    field(text, "memory", memory, 16)
    field(text, "kernel", f"{info.kernel} ({info.machine})", 16)
    field(text, "firmware setup", info.firmware_setup or "can reboot into it (p)", 16)
    heading(text, "Disks and filesystems")
    if not info.storage:
        text.append("none found\n")
    for row in info.storage:
        line = f"{shorten(row.device, 16):<16} {size_text(row.size) if row.size else '':>10} "
        line += (
            f"{shorten(row.fstype or '-', 11):<11} {shorten(row.label or '', 14):<14} {row.state}"
        )
        text.append(line + "\n", style="" if row.state in ("usable", "directory") else "bold")
        if row.note:
            text.append(f"{'':<17}{row.note}\n", style="dim")
    return text


class SystemScreen(PageScreen):
    def __init__(self) -> None:
        super().__init__("System information")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_text(Text("Reading…"))
        self.collect()

    @work(thread=True, exit_on_error=False)
    def collect(self) -> None:
        try:
            text = system_text(self.menu.core.system_info())
        except Exception as e:
            text = Text(f"! cannot read the system information: {e}")
        self.app.call_from_thread(self.set_text, text)
