"""The password prompt of the menu (the hashes and their check: :mod:`bootmenu.password`)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from bootmenu.password import verify


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

    def __init__(self, hashed: str, purpose: str) -> None:
        super().__init__()
        self.hashed = hashed
        self.purpose = purpose
        self.failures = 0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Password required to {self.purpose}.", id="password-title")
            yield Input(password=True, id="password-input", placeholder="password")
            yield Static("", id="password-error")
            yield Static("Enter: unlock   Esc or Ctrl+G: cancel", classes="keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if verify(self.hashed, event.value):
            self.dismiss(True)
            return
        self.failures += 1
        event.input.value = ""
        self.query_one("#password-error", Static).update(
            f"Wrong password (attempt {self.failures})."
        )

    def action_cancel(self) -> None:
        self.dismiss(False)
