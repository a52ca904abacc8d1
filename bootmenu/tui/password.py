"""The password prompt of the menu (the hashes and their check: :mod:`bootmenu.password`).

The check runs in a worker thread (PBKDF2 and sha512-crypt are slow on purpose, and on a slow
machine a check on the UI thread would freeze the countdown and every console); after a wrong
password the next try waits (:func:`bootmenu.password.retry_delay`), and the wait is the app's
(:class:`bootmenu.password.Attempts`), so closing the prompt does not shorten it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from bootmenu.password import Attempts


class PasswordScreen(ModalScreen[bool]):
    """Asks for the password; dismisses with True when it matches, False when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+g", "cancel", "cancel", show=False),
    ]
    DEFAULT_CSS = """
    PasswordScreen { align: center middle; }
    PasswordScreen > Vertical {
        width: 60; height: auto; border: round $primary; padding: 0 1; background: $surface;
    }
    PasswordScreen #password-error { color: $error; text-style: bold; }
    """

    def __init__(self, hashed: str, purpose: str, attempts: Attempts | None = None) -> None:
        super().__init__()
        self.hashed = hashed
        self.purpose = purpose
        self.attempts = attempts or Attempts()

    @property
    def failures(self) -> int:
        return self.attempts.failures

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Password required to {self.purpose}.", id="password-title")
            yield Input(password=True, id="password-input", placeholder="password")
            yield Static("", id="password-error")
            yield Static("Enter: unlock   Esc or Ctrl+G: cancel", classes="keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.disabled:
            return
        typed, event.input.value = event.value, ""
        event.input.disabled = True
        left = self.attempts.wait_left()
        self._say(f"Wait {left:.0f} s, then checking…" if left >= 1 else "Checking…")
        self._check(typed)

    @work(thread=True, exclusive=True, group="password")
    def _check(self, typed: str) -> None:
        ok = self.attempts.check(self.hashed, typed)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._checked, ok)

    def _checked(self, ok: bool) -> None:
        if not self.is_attached:
            return
        if ok:
            self.dismiss(True)
            return
        wait = self.attempts.wait_left()
        self._say(
            f"Wrong password (attempt {self.failures}). The next try waits {wait:.0f} s."
            if wait >= 1
            else f"Wrong password (attempt {self.failures})."
        )
        entry = self.query_one("#password-input", Input)
        entry.disabled = False
        entry.focus()

    def _say(self, text: str) -> None:
        self.query_one("#password-error", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(False)
