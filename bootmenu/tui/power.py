"""``p``: reboot, power off, or reboot into the firmware's setup (UEFI OsIndications; shown
disabled, with the reason, where the firmware does not offer it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from bootmenu.core import Power
from bootmenu.tui.base import BACK_KEYS
from bootmenu.tui.keysbar import KeysBar

if TYPE_CHECKING:
    from bootmenu.tui.app import BootmenuApp

LABELS = {
    Power.REBOOT: "r  Reboot",
    Power.POWER_OFF: "o  Power off",
    Power.FIRMWARE_SETUP: "f  Reboot into firmware setup",
}


class PowerScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(BACK_KEYS, "back", "back", show=False),
        Binding("r", "do('reboot')", "reboot", show=False),
        Binding("o", "do('poweroff')", "power off", show=False),
        Binding("f", "do('firmware-setup')", "firmware setup", show=False),
    ]
    DEFAULT_CSS = """
    PowerScreen { align: center middle; }
    PowerScreen > Vertical {
        width: 64; height: auto; border: solid $primary; background: $surface; padding: 0 1;
    }
    PowerScreen OptionList, PowerScreen OptionList:focus { border: none; padding: 0; height: auto; }
    PowerScreen #power-note { color: $text-muted; }
    PowerScreen #power-message { text-style: bold; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.firmware_reason: str | None = None
        self.working = False

    @property
    def menu(self) -> BootmenuApp:
        from bootmenu.tui.app import BootmenuApp

        return cast(BootmenuApp, self.app)

    def compose(self) -> ComposeResult:
        try:
            self.firmware_reason = self.menu.core.firmware_setup_unavailable()
        except Exception as e:
            self.firmware_reason = f"cannot tell ({e})"
        options = [Option(LABELS[p], id=p.value) for p in Power]
        if self.firmware_reason:
            options[-1] = Option(
                Text(LABELS[Power.FIRMWARE_SETUP] + " (not available)", style="dim"),
                id=Power.FIRMWARE_SETUP.value,
                disabled=True,
            )
        with Vertical():
            yield Static(Text("Power", style="bold"))
            yield OptionList(*options, id="power-options")
            note = (
                f"Firmware setup: {self.firmware_reason}."
                if self.firmware_reason
                else "Firmware setup: the firmware shows its setup on the next boot."
            )
            yield Static(Text(note), id="power-note")
            yield Static("", id="power-message")
            yield KeysBar([("Enter", "do it"), ("r/o/f", "choose"), ("q", "back")])

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_id:
            self.action_do(event.option_id)

    def action_do(self, action: str) -> None:
        power = Power(action)
        if power is Power.FIRMWARE_SETUP and self.firmware_reason:
            self.say(f"Not available: {self.firmware_reason}.")
            return
        if self.working:
            return
        self.working = True
        self.say(f"{LABELS[power][3:]}…")
        self.run_power(power)

    @work(thread=True, exit_on_error=False)
    def run_power(self, power: Power) -> None:
        message = self.menu.power(power)
        self.app.call_from_thread(self._done, message)

    def _done(self, message: str | None) -> None:
        self.working = False
        self.say(message or "")

    def say(self, text: str) -> None:
        self.query_one("#power-message", Static).update(Text(text))

    def action_back(self) -> None:
        self.dismiss()
