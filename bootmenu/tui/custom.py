"""``n``: boot a kernel of the user's choice, in four steps: the filesystem, the kernel, the
initrd (or none), the command line.  The entry is checked like scanned ones before it boots."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from bootmenu.model import BootEntry
from bootmenu.tui.base import PageTitle
from bootmenu.tui.filepicker import FilePicker
from bootmenu.tui.format import device_heading
from bootmenu.tui.keysbar import KeysBar

if TYPE_CHECKING:
    from bootmenu.tui.app import BootmenuApp

STEPS = ("filesystem", "kernel", "initrd", "cmdline")
PICK_KEYS = [("Enter", "open/choose"), ("Backspace", "up/back"), ("Esc/Ctrl+G", "cancel")]
CMDLINE_KEYS = [("Enter", "check and boot"), ("Ctrl+B", "back a step"), ("Esc/Ctrl+G", "cancel")]


class CustomScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+g", "cancel", "cancel", show=False, priority=True),
        Binding("ctrl+b", "step_back", "back", show=False, priority=True),
        Binding("q", "cancel", "cancel", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.step = "filesystem"
        self.root: str | None = None
        self.kernel: str | None = None
        self.initrd: str | None = None
        self.cmdline = ""
        self.checking = False

    @property
    def menu(self) -> BootmenuApp:
        from bootmenu.tui.app import BootmenuApp

        return cast(BootmenuApp, self.app)

    def compose(self) -> ComposeResult:
        yield PageTitle("Boot a kernel of your choice")
        yield Static(id="custom-summary")
        yield Static(id="custom-prompt")
        yield Vertical(id="custom-step")
        yield Static(id="custom-message")
        yield KeysBar(PICK_KEYS, id="keys")

    async def on_mount(self) -> None:
        await self.show_step("filesystem")

    # -- steps -------------------------------------------------------------------------------

    def summary(self) -> Text:
        text = Text()
        for name, value in (
            ("filesystem", self.root),
            ("kernel", self.kernel),
            ("initrd", self.initrd if self.step == "cmdline" else None),
        ):
            if value is not None:
                text.append(f"{name + ':':<12}", style="bold")
                text.append(f"{value}\n")
        if self.step == "cmdline" and self.initrd is None:
            text.append(f"{'initrd:':<12}", style="bold")
            text.append("(none)\n")
        return text

    async def show_step(self, step: str) -> None:
        self.step = step
        container = self.query_one("#custom-step", Vertical)
        await container.remove_children()
        self.say("")
        prompts = {
            "filesystem": "1/4 Which filesystem is the kernel on?",
            "kernel": "2/4 Choose the kernel (or UKI, or Multiboot kernel):",
            "initrd": "3/4 Choose the initrd:",
            "cmdline": "4/4 The kernel's command line:",
        }
        self.query_one("#custom-prompt", Static).update(Text(prompts[step], style="bold"))
        self.query_one("#custom-summary", Static).update(self.summary())
        keys = self.query_one(KeysBar)
        keys.set_keys(CMDLINE_KEYS if step == "cmdline" else PICK_KEYS)
        widget: OptionList | FilePicker | Input
        if step == "filesystem":
            volumes = self.menu.view.volumes
            options = []
            for volume in volumes:
                name, description = device_heading(volume.name, volumes, self.menu.view.devices)
                options.append(Option(Text(f"{name}  {description}".rstrip()), id=volume.name))
            if not options:
                options.append(
                    Option(Text("No filesystem is available yet.", style="italic"), disabled=True)
                )
            widget = OptionList(*options, id="custom-filesystems")
        elif step in ("kernel", "initrd"):
            assert self.root is not None
            start = "/"
            if step == "initrd" and self.kernel:
                start = posixpath.dirname(self.kernel) or "/"
            widget = FilePicker(
                self.root,
                self.menu.core.list_files,
                start=start,
                none_label="(no initrd)" if step == "initrd" else None,
                id="custom-picker",
            )
        else:
            widget = Input(self.cmdline, placeholder="e.g. root=/dev/sda2 ro", id="custom-cmdline")
        await container.mount(widget)
        widget.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id != "custom-filesystems" or event.option_id is None:
            return
        event.stop()
        self.root = event.option_id
        self.run_worker(self.show_step("kernel"))

    def on_file_picker_picked(self, event: FilePicker.Picked) -> None:
        event.stop()
        if self.step == "kernel":
            if event.path is None:
                return
            self.kernel = event.path
            self.run_worker(self.show_step("initrd"))
        elif self.step == "initrd":
            self.initrd = event.path
            self.run_worker(self.show_step("cmdline"))

    def on_file_picker_up(self, event: FilePicker.Up) -> None:
        event.stop()
        self.action_step_back()

    def on_file_picker_moved(self, event: FilePicker.Moved) -> None:
        event.stop()
        self.say(f"! {event.error}" if event.error else f"{self.root}:{event.path}")

    def action_step_back(self) -> None:
        index = STEPS.index(self.step)
        if index == 0:
            self.dismiss()
            return
        if self.step == "cmdline":
            self.cmdline = self.query_one("#custom-cmdline", Input).value
        self.run_worker(self.show_step(STEPS[index - 1]))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.checking or self.root is None or self.kernel is None:
            return
        self.cmdline = event.value.strip()
        self.checking = True
        self.say("Checking the files…")
        self.check(self.root, self.kernel, self.initrd, self.cmdline)

    @work(thread=True, exit_on_error=False)
    def check(self, root: str, kernel: str, initrd: str | None, cmdline: str) -> None:
        try:
            entry = self.menu.core.custom_entry(root, kernel, (initrd,) if initrd else (), cmdline)
        except Exception as e:
            self.app.call_from_thread(self._checked, None, str(e))
            return
        self.app.call_from_thread(self._checked, entry, None)

    def _checked(self, entry: BootEntry | None, error: str | None) -> None:
        self.checking = False
        if entry is None:
            self.say(f"! cannot check the files: {error}")
            return
        if entry.problems:
            self.say("! cannot boot: " + "; ".join(entry.problems))
            return
        self.dismiss()
        self.menu.boot([entry], f"'{entry.title}' ({entry.id}): typed in the menu")

    def say(self, text: str) -> None:
        self.query_one("#custom-message", Static).update(Text(text))

    def action_cancel(self) -> None:
        self.dismiss()
