"""``i``: everything about one entry, and every file of it checked as ``bootmenu inspect``
checks it (the kernel is read, so this runs in a worker)."""

from __future__ import annotations

from rich.text import Text
from textual import work

from bootmenu.core import FileReport
from bootmenu.model import BootEntry
from bootmenu.tui.base import PageScreen, field, heading
from bootmenu.tui.format import kind_label, size_text


def verdict_text(entry: BootEntry) -> Text:
    text = Text()
    if entry.problems:
        text.append("! cannot boot:\n", style="bold")
        for problem in entry.problems:
            text.append(f"  - {problem}\n")
    else:
        text.append("bootable: every file was found and checked when it was scanned\n")
    return text


def entry_text(text: Text, entry: BootEntry, reason: str | None = None) -> None:
    heading(text, "Entry")
    field(text, "title", entry.title)
    field(text, "id", entry.id)
    field(text, "kind", f"{kind_label(entry)} ({entry.kind.value}, from {entry.source.value})")
    if entry.version:
        field(text, "version", entry.version)
    field(text, "filesystem", entry.root)
    if entry.origin:
        where = f"{entry.config_root}:{entry.origin}" if entry.config_root else entry.origin
        field(text, "defined in", where)
    field(text, "kernel", entry.kernel or "(none)")
    for path in entry.initrd:
        field(text, "initrd", path)
    for module in entry.modules:
        field(text, "module", f"{module.path} {module.cmdline}".rstrip())
    if entry.devicetree:
        field(text, "devicetree", entry.devicetree)
    field(text, "cmdline", entry.cmdline or "(none)")
    if entry.architecture:
        field(text, "architecture", entry.architecture)
    if entry.tries_left is not None:
        field(text, "boot tries", f"{entry.tries_left} left, {entry.tries_done or 0} done")
    if reason:
        field(text, "boots by default", reason)


def report_text(text: Text, reports: tuple[FileReport, ...]) -> None:
    heading(text, "Files, checked now (as `bootmenu inspect` does)")
    for report in reports:
        text.append(f"{report.role} {report.path}", style="bold")
        if report.error is not None:
            text.append(f"\n  ! {report.error}\n")
            continue
        text.append(f" ({size_text(report.size)})\n")
        info = report.info
        if info is None:
            text.append("  present (its content is not checked)\n")
            continue
        verdict = "bootable on this machine" if not info.problems else "! NOT bootable"
        what = f"{info.format}, {info.kind or 'unknown kind'}"
        text.append(f"  {what}, {info.architecture or 'unknown architecture'} — {verdict}\n")
        if info.signed is not None:
            text.append(f"  signed: {'yes' if info.signed else 'no'}\n")
        for problem in info.problems:
            text.append(f"  ! problem: {problem}\n")
        for key, value in info.details.items():
            if not isinstance(value, dict | list | tuple):
                text.append(f"  {key}: {value}\n")


class InfoScreen(PageScreen):
    def __init__(self, entry: BootEntry) -> None:
        super().__init__(f"Details: {entry.title}")
        self.entry = entry

    def on_mount(self) -> None:
        super().on_mount()
        decision = self.menu.decision
        self.reason = (
            decision.reason
            if decision is not None
            and decision.entry is not None
            and decision.entry.id == self.entry.id
            else None
        )
        pending = verdict_text(self.entry)
        heading(pending, "Files")
        pending.append("checking…\n")
        entry_text(pending, self.entry, self.reason)
        self.set_text(pending)
        self.inspect()

    def show_reports(self, reports: tuple[FileReport, ...] | None, error: str | None) -> None:
        text = verdict_text(self.entry)
        if reports is None:
            heading(text, "Files")
            text.append(f"! cannot check the files: {error}\n")
        else:
            report_text(text, reports)
        entry_text(text, self.entry, self.reason)
        self.set_text(text)

    @work(thread=True, exit_on_error=False)
    def inspect(self) -> None:
        try:
            reports = self.menu.core.inspect_entry(self.entry)
        except Exception as e:  # show it; the menu goes on
            self.app.call_from_thread(self.show_reports, None, str(e))
            return
        self.app.call_from_thread(self.show_reports, reports, None)
