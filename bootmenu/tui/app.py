"""The boot menu: a Textual app around the core (``bootmenu menu``; the initramfs default).

The app owns the menu's state: the core (built by ``core_factory``, the same factory tests
use to inject a fake), the latest :class:`~bootmenu.core.View`, the decision, the countdown,
and whether the password was given.  Screens ask it to act (boot, rescan, power, shell).

Threads: the core calls ``on_change`` from discovery threads; the app turns each call into a
:class:`~bootmenu.tui.messages.ViewChanged` message with ``post_message`` (thread-safe and,
unlike ``call_from_thread``, never blocking a discovery thread on the UI).  Everything slow
(starting, rescanning, booting, reading kernels for ``i``) runs in thread workers.

Exit statuses (see docs/menu.md): 0 quit or dry-run plan chosen, 1 error, 3 rescue shell
requested (inside the initramfs only).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Final

from textual import events, work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType

from bootmenu.autoboot import Decision
from bootmenu.core import Plan, Power, View
from bootmenu.errors import ERRORS, EXIT_ERROR, EXIT_OK, EXIT_SHELL
from bootmenu.model import BootEntry
from bootmenu.password import Attempts
from bootmenu.phases import phase
from bootmenu.tui.coreapi import CoreFactory, MenuCore, OnChange
from bootmenu.tui.logbuffer import LogBuffer
from bootmenu.tui.messages import Started, ViewChanged

log = logging.getLogger("bootmenu.menu")


# Terminals that get the theme made of the 16 ANSI colours (serial consoles, the Linux console).
ANSI_TERMS: Final = ("linux", "vt100", "vt102", "vt220", "vt320", "ansi", "xterm-16color")


@dataclass(frozen=True)
class MenuResult:
    """How the menu ended: ``status`` for the process; ``plan`` and ``reason`` when a dry run
    chose an entry."""

    status: int
    plan: Plan | None = None
    reason: str = ""
    message: str | None = None


def in_initramfs() -> bool:
    """Whether bootmenu runs as the initramfs's menu: ``BOOTMENU_INITRAMFS`` (1/0) says so
    explicitly; otherwise PID 1 must be ``/init`` (directly, or a script run by a shell)."""
    flag = os.environ.get("BOOTMENU_INITRAMFS")
    if flag is not None:
        return flag.strip().lower() not in ("", "0", "no", "false")
    try:
        args = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"/init" in args[:2] and os.path.exists("/init")


# Terminals without colour (or whose colours cannot be relied on).
MONO_TERMS: Final = ("vt100", "vt102", "vt220", "vt320", "dumb")


def monochrome() -> bool:
    """Whether to show cursors in reverse video: NO_COLOR is set, or a vt100-like terminal."""
    return "NO_COLOR" in os.environ or os.environ.get("TERM", "") in MONO_TERMS


def default_theme() -> str:
    term = os.environ.get("TERM", "")
    return "ansi-dark" if term in ANSI_TERMS or term.startswith("vt") else "textual-dark"


# Keys that end a terminal program (Textual's Ctrl+Q and Ctrl+C; with signals off, Ctrl+\\ and
# Ctrl+Z arrive as keys too): bound with priority, so that no screen or field sees them first.
ENDING_KEYS: Final = "ctrl+q,ctrl+c,ctrl+backslash,ctrl+z"
ENDING_WORDS: Final = (
    "This key does not leave the boot manager: p reboots or powers off, x opens the rescue shell."
)


class BootmenuApp(App[MenuResult], inherit_bindings=False):
    CSS_PATH = "bootmenu.tcss"
    ENABLE_COMMAND_PALETTE = False
    # Not Textual's own bindings (inherit_bindings=False: its Ctrl+Q quits at once, whatever the
    # screen, the password prompt included): in the initramfs nothing ends the menu, and with a
    # password nothing ends it without the password (docs/security.md).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(ENDING_KEYS, "ending_key", show=False, priority=True, system=True),
        Binding("ctrl+d", "nothing", show=False, system=True),
    ]
    TITLE = "bootmenu"

    def __init__(
        self,
        core_factory: CoreFactory,
        *,
        dry_run: bool = False,
        initramfs: bool | None = None,
        tick: float = 1.0,
        log_buffer: LogBuffer | None = None,
        theme: str | None = None,
    ) -> None:
        """``tick`` is how long one countdown second lasts (tests make it long to freeze the
        countdown, or short to run it)."""
        # With NO_COLOR, Textual strips colours (NoColor) only for themes of ANSI colours;
        # otherwise it maps them to greys, which turns the ANSI theme black on black.
        super().__init__(ansi_color=True if "NO_COLOR" in os.environ else None)
        self.core_factory = core_factory
        self.dry_run = dry_run
        self.initramfs = in_initramfs() if initramfs is None else initramfs
        self.tick = tick
        self.log_buffer = log_buffer or LogBuffer()
        self.theme = theme or default_theme()
        self._core: MenuCore | None = None
        self.view: View = View((), (), ())
        self.decision: Decision | None = None
        self.started = False
        self.start_error: str | None = None
        self.touched = False
        self.elapsed = 0  # countdown seconds gone by
        self.booting = False
        self.unlocked = False
        self.attempts = Attempts()
        self.rescanning = False
        self.busy_reason: str | None = "starting"
        # The latest view the core called ready (settled, or waiting given up): the only one
        # an automatic decision is taken on. None while it is not ready.
        self.ready_view: View | None = None

    # -- the core ---------------------------------------------------------------------------

    @property
    def core(self) -> MenuCore:
        if self._core is None:
            raise RuntimeError("the menu's core is not running")
        return self._core

    def _core_changed(self, view: View) -> None:
        """Called by the core from any thread."""
        # RuntimeError: the event loop is gone, the menu has ended.
        with contextlib.suppress(RuntimeError):
            self.post_message(ViewChanged(view))

    def on_mount(self) -> None:
        if monochrome():
            self.add_class("-mono")
        logger = logging.getLogger("bootmenu")
        if self.log_buffer not in logger.handlers:
            logger.addHandler(self.log_buffer)
        from bootmenu.tui.main import MainScreen

        self.push_screen(MainScreen())
        try:
            self._core = self.core_factory(self._core_changed)
        except ERRORS as e:
            self.start_error = str(e)
            self._refresh()
            return
        self.dry_run = self.dry_run or self.core.dry_run
        self._start_core()
        self.set_interval(self.tick, self.tick_countdown, name="countdown")

    def on_unmount(self) -> None:
        logging.getLogger("bootmenu").removeHandler(self.log_buffer)

    @work(thread=True, exit_on_error=False, group="core")
    def _start_core(self) -> None:
        try:
            view = self.core.start(wait=False)
        except ERRORS as e:
            self.post_message(Started(None, str(e)))
            return
        except Exception as e:  # never a traceback on the screen
            log.exception("starting the core failed")
            self.post_message(Started(None, f"internal error: {e.__class__.__name__}: {e}"))
            return
        self.post_message(Started(view))

    def on_started(self, message: Started) -> None:
        self.started = True
        self.start_error = message.error
        if message.error:
            log.error("%s", message.error)
        if message.view is not None and message.view.generation >= self.view.generation:
            self.view = message.view
        self._refresh()

    def on_view_changed(self, message: ViewChanged) -> None:
        if message.view.generation < self.view.generation:
            return  # an older snapshot overtaken by a newer one
        self.view = message.view
        if message.view.touched and not self.touched:
            self.touched = True  # a key on another console stopped the countdown
        self._refresh()

    # -- state shown by the main screen -----------------------------------------------------

    def _main(self) -> object | None:
        from bootmenu.tui.main import MainScreen

        for screen in self.screen_stack:
            if isinstance(screen, MainScreen) and screen.is_mounted:
                return screen
        return None

    def _refresh(self) -> None:
        """Recompute the decision and redraw the main screen."""
        if self._core is not None and self.started:
            try:
                self.decision = self.core.decide()
            except ERRORS as e:
                log.warning("cannot decide what to boot: %s", e)
        self._update_busy()
        main = self._main()
        if main is not None:
            main.refresh_view()  # type: ignore[attr-defined]
            if self.ready_view is not None:
                # Once the screen shows a settled view's entries (bench/ times this).
                self.call_after_refresh(phase, "menu-settled")
        self._maybe_autoboot()

    def _update_busy(self) -> None:
        """Ask the core whether the machine has settled (time alone changes that: a quiet
        period, a timeout). A probe that fails counts as busy, never as settled."""
        self.ready_view = None
        if not self.started or self._core is None:
            self.busy_reason = "starting"
            return
        if self.rescanning:
            self.busy_reason = "rescanning"
            return
        try:
            view = self.core.view()
        except Exception as e:  # a failing probe must not stop the menu, nor boot anything
            log.warning("cannot tell whether the disks are all found: %s", e)
            self.busy_reason = "the core did not answer"
            return
        if view.ready:
            self.busy_reason = None
            self.ready_view = view
        else:
            self.busy_reason = "; ".join(view.waiting) or "starting"

    @property
    def leads(self) -> bool:
        """Whether this menu runs the countdown (the one on /dev/console), or shows the one
        another console runs (bootmenu.remote)."""
        return self._core is None or self._core.leads

    @property
    def remaining(self) -> int | None:
        """Seconds left on the countdown; None when there is none (or it was stopped)."""
        decision = self.decision
        if self.touched or decision is None or decision.timeout is None:
            return None
        if not self.leads:
            return self.view.countdown
        return max(0, math.ceil(decision.timeout) - self.elapsed)

    def countdown_text(self) -> tuple[str, int | None, str | None]:
        """(title of what boots, seconds left, why it waits) or a sentence with None."""
        decision = self.decision
        if self.start_error:
            return f"bootmenu could not start: {self.start_error}", None, None
        if self.view.booting and not self.booting:
            return f"Another console boots {self.view.booting}", None, None
        if decision is None:
            return "Looking for boot entries…", None, None
        remaining = self.remaining
        if remaining is None:
            if self.touched:
                return "Automatic boot stopped. Enter boots the selected entry.", None, None
            return f"No automatic boot: {decision.timeout_reason}.", None, None
        if decision.entry is None:
            if self.busy_reason:
                return f"Looking for boot entries ({self.busy_reason})…", None, None
            return f"Nothing to boot automatically: {decision.reason}.", None, None
        return decision.entry.title, remaining, self.busy_reason

    def touch(self) -> None:
        """The user pressed a key: the countdown stops for good, on every console."""
        if not self.touched:
            self.touched = True
            if self._core is not None:
                try:
                    self._core.touch()
                except ERRORS as e:
                    log.warning("cannot stop the countdown on the other consoles: %s", e)
            main = self._main()
            if main is not None:
                main.refresh_countdown()  # type: ignore[attr-defined]

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.touch()
        await super().on_event(event)

    def tick_countdown(self) -> None:
        """One second of the countdown has passed (called by the timer; tests call it)."""
        if not self.touched and self.decision is not None and self.decision.timeout is not None:
            self.elapsed += 1
        if self.leads and self._core is not None and self.started:
            try:
                self._core.set_countdown(self.remaining)
            except ERRORS as e:
                log.debug("cannot share the countdown: %s", e)
        self._update_busy()
        main = self._main()
        if main is not None:
            main.refresh_status()  # type: ignore[attr-defined]
        self._maybe_autoboot()

    def _maybe_autoboot(self) -> None:
        if self.touched or self.booting or not self.started or self.start_error:
            return
        if not self.leads or self.view.booting:
            return  # the leading console boots; or a boot is under way already
        view = self.ready_view
        if self.remaining != 0 or self.busy_reason or view is None:
            return
        # Decide from the entries of the very view that was found settled.
        decision = self.core.decide(view)
        self.decision = decision
        if decision.entry is None:
            self.touched = True
            log.warning("nothing to boot automatically: %s", decision.reason)
            main = self._main()
            if main is not None:
                main.refresh_countdown()  # type: ignore[attr-defined]
                main.notify_text(f"Nothing to boot: {decision.reason}")  # type: ignore[attr-defined]
            return
        log.info("autoboot: %s", decision.reason)
        self.boot([decision.entry, *decision.fallbacks], decision.reason)

    # -- actions ------------------------------------------------------------------------------

    def boot(self, entries: Sequence[BootEntry], reason: str) -> None:
        """Show the progress screen and boot the first of ``entries`` that loads."""
        from bootmenu.tui.progress import BootScreen

        if self.booting or not entries:
            return
        self.touched = True
        self.booting = True
        self.push_screen(BootScreen(tuple(entries), reason))

    def boot_finished(self, failed: bool) -> None:
        """The progress screen is done (``failed``: the menu is back in charge)."""
        self.booting = False
        if failed and self._core is not None:
            try:
                self.core.resume()
            except ERRORS as e:
                log.error("cannot resume discovery: %s", e)

    def boot_with_cmdline(self, entry: BootEntry, cmdline: str) -> None:
        edited = replace(entry, cmdline=cmdline)
        reason = f"'{entry.title}' ({entry.id}): chosen in the menu"
        if cmdline != entry.cmdline:
            reason += " with an edited command line"
            log.info("command line of %s edited for this boot: %s", entry.id, cmdline)
        self.boot([edited], reason)

    def require_password(self, purpose: str, then: Callable[[], None]) -> None:
        """Run ``then`` once the password was given (at once when none is set)."""
        from bootmenu.tui.password import PasswordScreen

        hashed = self._core.config.password if self._core is not None else None
        if hashed is None or self.unlocked:
            then()
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.unlocked = True
                log.info("password accepted")
                then()
            else:
                log.info("password not given; %s cancelled", purpose)

        self.push_screen(PasswordScreen(hashed, purpose, self.attempts), done)

    @work(thread=True, exit_on_error=False, group="rescan")
    def rescan(self) -> None:
        try:
            self.core.rescan()
        except ERRORS as e:
            log.error("rescan failed: %s", e)
        finally:
            self.call_from_thread(self._rescanned)

    def start_rescan(self) -> None:
        if self.rescanning or self._core is None:
            return
        self.rescanning = True
        log.info("rescanning")
        self._update_busy()
        main = self._main()
        if main is not None:
            main.refresh_status()  # type: ignore[attr-defined]
        self.rescan()

    def _rescanned(self) -> None:
        self.rescanning = False
        self._refresh()

    def power(self, action: Power) -> str | None:
        """Reboot, power off or reboot into firmware setup; the error in words, or None (a
        dry run returns; a real one does not)."""
        try:
            self.core.power(action)
        except ERRORS as e:
            log.error("%s", e)
            return str(e)
        if self.dry_run:
            return f"dry run: would {action.value}"
        return None

    def rescue_shell(self) -> None:
        """``x``: inside the initramfs, end with EXIT_SHELL (/init starts the shell); else
        suspend the menu and run a shell on this terminal."""
        if self.initramfs:
            log.info("rescue shell requested")
            self.exit(MenuResult(EXIT_SHELL, message="rescue shell requested"))
            return
        try:
            with self.suspend():
                print("bootmenu: rescue shell; exit it to return to the menu", flush=True)
                status = self.core.rescue_shell()
        except SuspendNotSupported:
            status = self.core.rescue_shell()
        except ERRORS as e:
            log.error("%s", e)
            self.say(str(e))
            return
        log.info("the rescue shell ended (status %d)", status)
        self.say(f"The rescue shell ended (status {status}).")

    def say(self, text: str) -> None:
        """A one-line message on the main screen (errors, results of actions)."""
        main = self._main()
        if main is not None:
            main.notify_text(text)  # type: ignore[attr-defined]

    @property
    def password_set(self) -> bool:
        return self._core is not None and self._core.config.password is not None

    def quit_menu(self) -> None:
        """Leave the menu (outside the initramfs only; with a password, once it is given)."""
        if self.initramfs:
            self.say("This is the boot manager: p reboots or powers off, x opens a shell.")
            return
        self.require_password("leave the menu", lambda: self.exit(MenuResult(EXIT_OK)))

    def action_ending_key(self) -> None:
        """Ctrl+Q, Ctrl+C…: on a workstation without a password they leave, as in any program;
        in the initramfs or with a password they only say what to do instead."""
        if self.initramfs or self.password_set:
            log.info("a key that ends programs was ignored (the boot manager keeps running)")
            self.say(ENDING_WORDS)
            return
        self.exit(MenuResult(EXIT_OK))

    def action_nothing(self) -> None:
        """Ctrl+D outside a text field: nothing (it is not 'end of input' here)."""


def run_menu(core_factory: CoreFactory, *, dry_run: bool = False) -> MenuResult:
    """Run the menu on this terminal until it ends; closes every core it made.

    While the menu runs, bootmenu's log goes to the menu's log screen instead of standard
    error (which would scribble over the screen); the handlers come back afterwards."""
    logger = logging.getLogger("bootmenu")
    consoles = [
        h
        for h in logger.handlers
        if isinstance(h, logging.StreamHandler)
        and getattr(h, "stream", None) in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    ]
    for handler in consoles:
        logger.removeHandler(handler)
    cores: list[MenuCore] = []

    def factory(on_change: OnChange) -> MenuCore:
        core = core_factory(on_change)
        cores.append(core)
        return core

    app = BootmenuApp(factory, dry_run=dry_run)
    try:
        result = app.run()
    finally:
        for handler in consoles:
            logger.addHandler(handler)
        for core in cores:
            try:
                core.close()
            except ERRORS as e:
                log.warning("closing: %s", e)
    if result is None:
        return MenuResult(EXIT_ERROR, message="the menu ended unexpectedly")
    return result
