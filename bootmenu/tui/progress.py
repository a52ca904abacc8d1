"""The boot: what is read and checked, with sizes and a bar; the plan once it is known; and,
when the boot fails, the error in words and the way back to the menu."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from bootmenu.core import Attempt, Plan, Progress
from bootmenu.errors import ERRORS
from bootmenu.model import BootEntry
from bootmenu.tui.base import BACK_KEYS, Body, PageTitle, field, heading
from bootmenu.tui.format import size_text
from bootmenu.tui.keysbar import KeysBar
from bootmenu.tui.messages import BootAttemptFailed, BootFinished, BootProgressed

if TYPE_CHECKING:
    from bootmenu.tui.app import BootmenuApp

STEP_WORDS = {
    "read": "Reading and checking the files",
    "plan": "Checked",
    "hooks": "Running the pre-boot hooks",
    "load": "Loading",
    "jump": "Starting the new kernel",
}


def bar(done: int, total: int, width: int) -> str:
    """``[#####-----]  50%`` in ``width`` cells (ASCII: it reads on every console)."""
    inner = max(4, width - 8)
    fraction = 0.0 if total <= 0 else min(1.0, done / total)
    filled = round(inner * fraction)
    return f"[{'#' * filled}{'-' * (inner - filled)}] {round(fraction * 100):3d}%"


def plan_text(text: Text, plan: Plan) -> None:
    heading(text, "What is loaded")
    for segment in plan.segments:
        if segment.what == "cmdline":
            continue
        text.append(f"  {segment.what:<8}", style="bold")
        text.append(f"{segment.source} ({size_text(segment.size)})\n")
    text.append(f"  {'cmdline':<8}", style="bold")
    text.append(f"{plan.cmdline or '(none)'}\n")
    field(text, "method", plan.reason, 8)
    for note in plan.notes:
        text.append(f"  note: {note}\n")
    for problem in plan.problems:
        text.append(f"  ! {problem}\n", style="bold")


class BootScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(BACK_KEYS, "back", "back", show=False),
    ]

    def __init__(self, entries: Sequence[BootEntry], reason: str) -> None:
        super().__init__()
        self.entries = tuple(entries)
        self.reason = reason
        self.entry = self.entries[0]
        self.progress: Progress | None = None
        self.plan: Plan | None = None
        self.failures: list[tuple[BootEntry, str]] = []
        self.error: str | None = None
        self.done = False

    @property
    def menu(self) -> BootmenuApp:
        from bootmenu.tui.app import BootmenuApp

        return cast(BootmenuApp, self.app)

    def compose(self) -> ComposeResult:
        yield PageTitle(Text(f'Booting "{self.entry.title}"', no_wrap=True, overflow="ellipsis"))
        with Body(id="body"):
            yield Static(id="text")
        yield KeysBar([("", "please wait")], id="keys")

    def on_mount(self) -> None:
        self.query_one(Body).focus()
        self.redraw()
        self.run_boot()

    @work(thread=True, exit_on_error=False, group="boot")
    def run_boot(self) -> None:
        core = self.menu.core

        def report(attempt: Attempt) -> None:
            if attempt.error is not None:
                self.post_message(BootAttemptFailed(attempt.entry, attempt.error))

        def progress(step: Progress) -> None:
            self.post_message(BootProgressed(step))

        try:
            core.consume_oneshot()
            plan = core.boot(
                self.entries,
                report=report,
                progress=progress,
            )
        except ERRORS as e:
            self.post_message(BootFinished(self.entry, None, str(e)))
            return
        except Exception as e:  # never a traceback on the screen
            self.post_message(
                BootFinished(self.entry, None, f"internal error: {e.__class__.__name__}: {e}")
            )
            return
        self.post_message(BootFinished(plan.entry, plan))

    # -- messages from the booting thread ---------------------------------------------------

    def on_boot_progressed(self, message: BootProgressed) -> None:
        progress = message.progress
        self.entry = progress.entry
        self.progress = progress
        if progress.plan is not None:
            self.plan = progress.plan
        elif progress.step == "read":
            self.plan = None
        self.redraw()

    def on_boot_attempt_failed(self, message: BootAttemptFailed) -> None:
        self.failures.append((message.entry, message.error))
        self.redraw()

    def on_boot_finished(self, message: BootFinished) -> None:
        from bootmenu.errors import EXIT_OK
        from bootmenu.tui.app import MenuResult

        self.done = True
        if message.plan is not None:
            # Core.boot returns on a dry run (the plan is what `boot --dry-run` prints) or when
            # systemd finishes the jump on a running system.
            self.menu.exit(MenuResult(EXIT_OK, message.plan, self.reason))
            return
        self.error = message.error or "the boot failed for an unknown reason"
        self.query_one(KeysBar).set_keys([("q/Backspace/Esc", "back to the menu")])
        self.redraw()
        self.menu.boot_finished(failed=True)

    # -- drawing ------------------------------------------------------------------------------

    def redraw(self) -> None:
        text = Text()
        field(text, "why", self.reason, 8)
        progress = self.progress
        if progress is not None:
            text.append("\n")
            text.append(STEP_WORDS.get(progress.step, progress.step), style="bold")
            text.append("\n")
            if progress.message and progress.step in ("read", "load"):
                text.append(f"{progress.message}\n")
            if progress.step in ("read", "load") and progress.total:
                width = max(20, (self.size.width or 80) - 4)
                text.append(bar(progress.done, progress.total, width) + "\n")
                text.append(f"{size_text(progress.done)} of {size_text(progress.total)}\n")
        elif not self.done:
            text.append("\nPreparing…\n")
        if self.plan is not None:
            plan_text(text, self.plan)
        for entry, error in self.failures:
            text.append(f"\n! {entry.title} failed: {error}\n", style="bold")
        if self.error is not None:
            heading(text, "The boot failed")
            text.append(f"! {self.error}\n", style="bold")
            text.append("The menu is still there: q, Backspace or Esc goes back to it.\n")
        self.query_one("#text", Static).update(text)

    def action_back(self) -> None:
        if self.done:
            self.dismiss()
