"""What the menu needs from the core: :class:`bootmenu.core.Core` satisfies it, and so do the
tests' fakes (checked by mypy).  The menu is given a factory that builds one; the factory
receives the callback for new views (called from any thread)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from bootmenu.autoboot import Decision
from bootmenu.config import Config
from bootmenu.core import Attempt, FileItem, FileReport, Plan, Power, Progress, SystemInfo, View
from bootmenu.model import BootEntry


class MenuCore(Protocol):
    config: Config
    dry_run: bool
    # Whether this menu leads (runs the countdown and the automatic boot) or follows the one
    # that does, on another console (bootmenu.remote).
    leads: bool

    def start(self, *, wait: bool = True) -> View: ...

    def view(self) -> View: ...

    def decide(self, view: View | None = None) -> Decision: ...

    def rescan(self) -> None: ...

    def touch(self) -> None: ...

    def set_countdown(self, seconds: int | None) -> None: ...

    def boot(
        self,
        entries: Sequence[BootEntry],
        *,
        report: Callable[[Attempt], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> Plan: ...

    def resume(self) -> None: ...

    def consume_oneshot(self) -> None: ...

    def inspect_entry(self, entry: BootEntry) -> tuple[FileReport, ...]: ...

    def list_files(self, root: str, path: str = "/") -> tuple[FileItem, ...]: ...

    def custom_entry(
        self, root: str, kernel: str, initrd: Sequence[str] = (), cmdline: str = ""
    ) -> BootEntry: ...

    def system_info(self) -> SystemInfo: ...

    def firmware_setup_unavailable(self) -> str | None: ...

    def power(self, action: Power) -> None: ...

    def rescue_shell(self) -> int: ...

    def close(self) -> None: ...


OnChange = Callable[[View], None]
CoreFactory = Callable[[OnChange], MenuCore]
