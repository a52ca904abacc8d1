"""One core, a menu on every console: the core's server and the menus' stand-in for the core.

The menu that /init starts on ``/dev/console`` owns the :class:`~bootmenu.core.Core`
(discovery, decisions, the hand-off) and serves it (:class:`CoreServer`); the menu on each other
console the kernel writes to (``/sys/class/tty/console/active``) is a process that talks to it
through :class:`RemoteCore`, which has exactly the methods the menu uses of a core
(:class:`bootmenu.tui.coreapi.MenuCore`).  So every console shows the same entries, the same
decision and the same countdown; a key on any console stops the countdown everywhere (``touch``);
a boot chosen on one runs in the core, which tells every console what it is doing
(``View.booting``); the password is asked by the menu where it is typed.

Messages (:mod:`bootmenu.system.ipc`): a menu sends ``("call", n, name, args, kwargs)`` and gets
``("reply", n, result)`` or ``("error", n, kind, text)``; the server sends ``("view", view)``
whenever the core's view changes and ``("progress", n, progress)`` / ``("attempt", n,
attempt)`` while a boot the menu asked for (call ``n``) runs.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from bootmenu import config as settings
from bootmenu.autoboot import Decision
from bootmenu.core import Attempt, Core, FileItem, FileReport, Plan, Power, Progress, View
from bootmenu.errors import (
    BootmenuError,
    ConfigError,
    DeviceError,
    HandoffError,
    PathError,
    UsageError,
)
from bootmenu.model import BootEntry
from bootmenu.system import ipc, run
from bootmenu.system.sysinfo import SystemInfo

log = logging.getLogger(__name__)

SOCKET: Final = Path("/run/bootmenu/core.sock")
# What a menu may ask the core for (nothing else is dispatched).
CALLS: Final = frozenset(
    {"start", "view", "decide", "rescan", "boot", "resume", "consume_oneshot", "inspect_entry",
     "list_files", "custom_entry", "system_info", "firmware_setup_unavailable", "power",
     "touch", "hello"}
)  # fmt: skip
_ERRORS: Final[dict[str, type[BootmenuError]]] = {
    cls.__name__: cls
    for cls in (BootmenuError, ConfigError, DeviceError, HandoffError, PathError, UsageError)
}


def _portable(config: settings.Config) -> settings.Config:
    """The config as a message can carry it (its sources are a read-only mapping)."""
    return replace(config, sources=dict(config.sources))


class CoreServer:
    """Serves ``core`` on ``path`` to the menus of the other consoles.  ``publish`` is to be
    called with every new view (make it, or chain it into, the core's ``on_change``)."""

    def __init__(self, core: Core, path: Path = SOCKET) -> None:
        self.core = core
        self.path = path
        self._listener = ipc.listen(path)
        self._clients: list[ipc.Channel] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="core server", daemon=True).start()

    def publish(self, view: View) -> None:
        with self._lock:
            clients = list(self._clients)
        for channel in clients:
            with contextlib.suppress(ipc.ChannelClosed):
                channel.send(("view", view))

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            clients, self._clients = self._clients, []
        for channel in clients:
            channel.close()
        self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            channel = ipc.Channel(sock)
            with self._lock:
                self._clients.append(channel)
            threading.Thread(
                target=self._serve, args=(channel,), name="core client", daemon=True
            ).start()

    def _serve(self, channel: ipc.Channel) -> None:
        try:
            while True:
                message = channel.recv()
                if not (isinstance(message, tuple) and len(message) == 5 and message[0] == "call"):
                    raise ipc.ChannelClosed("not a call")
                _, number, name, args, kwargs = message
                if name == "boot":
                    # Long: in its own thread, so that the menu can still ask for views.
                    threading.Thread(
                        target=self._call, args=(channel, number, name, args, kwargs),
                        name="core boot", daemon=True,
                    ).start()  # fmt: skip
                else:
                    self._call(channel, number, name, args, kwargs)
        except ipc.ChannelClosed as e:
            log.debug("a menu left: %s", e)
        finally:
            with self._lock:
                if channel in self._clients:
                    self._clients.remove(channel)
            channel.close()

    def _call(self, channel: ipc.Channel, number: int, name: str, args: Any, kwargs: Any) -> None:
        try:
            if name not in CALLS or not isinstance(args, tuple) or not isinstance(kwargs, dict):
                raise UsageError(f"the core has no call {name!r}")
            result = self._dispatch(channel, number, name, args, kwargs)
        except BootmenuError as e:
            reply: tuple[Any, ...] = ("error", number, type(e).__name__, str(e))
        except Exception as e:  # never lose the connection to a bug: say it
            log.exception("core call %s", name)
            reply = ("error", number, "BootmenuError", f"internal error: {e}")
        else:
            reply = ("reply", number, result)
        with contextlib.suppress(ipc.ChannelClosed):
            channel.send(reply)

    def _dispatch(
        self, channel: ipc.Channel, number: int, name: str, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:  # fmt: skip
        core = self.core
        if name == "hello":
            return (_portable(core.config), core.dry_run)
        if name == "start":
            return core.view()  # the owner of the core started it already
        if name == "boot":

            def progress(step: Progress) -> None:
                with contextlib.suppress(ipc.ChannelClosed):
                    channel.send(("progress", number, step))

            def report(attempt: Attempt) -> None:
                with contextlib.suppress(ipc.ChannelClosed):
                    channel.send(("attempt", number, attempt))

            return core.boot(*args, progress=progress, report=report)
        result = getattr(core, name)(*args, **kwargs)
        if name in ("consume_oneshot", "rescan", "resume", "touch", "power"):
            return None
        return result


class RemoteCore:
    """The core of another process, for the menu on this console (see the module)."""

    leads = False

    def __init__(self, on_change: Callable[[View], None], path: Path = SOCKET) -> None:
        self.on_change = on_change
        self._channel = ipc.connect(path)
        self._numbers = itertools.count(1)
        self._waiting: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._streams: dict[int, tuple[Callable[[Progress], None] | None,
                                       Callable[[Attempt], None] | None]] = {}  # fmt: skip
        self._lock = threading.Lock()
        self._latest: View | None = None
        self._gone: str | None = None
        threading.Thread(target=self._read, name="remote core", daemon=True).start()
        self.config, self.dry_run = self._call("hello")

    # -- the connection -------------------------------------------------------------------

    def _read(self) -> None:
        try:
            while True:
                message = self._channel.recv()
                kind = message[0]
                if kind == "view":
                    self._latest = message[1]
                    self.on_change(message[1])
                elif kind in ("progress", "attempt"):
                    progress, report = self._streams.get(message[1], (None, None))
                    if kind == "progress" and progress is not None:
                        progress(message[2])
                    elif kind == "attempt" and report is not None:
                        report(message[2])
                elif kind in ("reply", "error"):
                    with self._lock:
                        waiter = self._waiting.pop(message[1], None)
                    if waiter is not None:
                        waiter[1].append(message)
                        waiter[0].set()
        except ipc.ChannelClosed as e:
            self._gone = str(e)
        finally:
            with self._lock:
                waiters, self._waiting = list(self._waiting.values()), {}
            for event, _ in waiters:
                event.set()

    def _call(
        self,
        name: str,
        *args: Any,
        streams: tuple[Callable[[Progress], None] | None, Callable[[Attempt], None] | None]
        | None = None,
        **kwargs: Any,
    ) -> Any:
        number = next(self._numbers)
        event: threading.Event = threading.Event()
        box: list[Any] = []
        with self._lock:
            if self._gone is not None:
                raise BootmenuError(f"the boot manager is gone: {self._gone}")
            self._waiting[number] = (event, box)
            if streams is not None:
                self._streams[number] = streams
        self._channel.send(("call", number, name, args, kwargs))
        event.wait()
        self._streams.pop(number, None)
        if not box:
            raise BootmenuError(f"the boot manager is gone: {self._gone}")
        reply = box[0]
        if reply[0] == "error":
            raise _ERRORS.get(reply[2], BootmenuError)(reply[3])
        return reply[2]

    # -- MenuCore ---------------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> View:
        del wait  # the core's owner started discovery
        view: View = self._call("start")
        return view

    def view(self) -> View:
        view: View = self._call("view")
        return view

    def decide(self, view: View | None = None) -> Decision:
        decision: Decision = self._call("decide", view)
        return decision

    def rescan(self) -> None:
        self._call("rescan")

    def touch(self) -> None:
        self._call("touch")

    def set_countdown(self, seconds: int | None) -> None:
        del seconds  # the leading menu's countdown is the one every console shows

    def boot(
        self,
        entries: Sequence[BootEntry],
        *,
        report: Callable[[Attempt], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> Plan:
        plan: Plan = self._call("boot", tuple(entries), streams=(progress, report))
        return plan

    def resume(self) -> None:
        self._call("resume")

    def consume_oneshot(self) -> None:
        self._call("consume_oneshot")

    def inspect_entry(self, entry: BootEntry) -> tuple[FileReport, ...]:
        reports: tuple[FileReport, ...] = self._call("inspect_entry", entry)
        return reports

    def list_files(self, root: str, path: str = "/") -> tuple[FileItem, ...]:
        items: tuple[FileItem, ...] = self._call("list_files", root, path)
        return items

    def custom_entry(
        self, root: str, kernel: str, initrd: Sequence[str] = (), cmdline: str = ""
    ) -> BootEntry:
        entry: BootEntry = self._call("custom_entry", root, kernel, tuple(initrd), cmdline)
        return entry

    def system_info(self) -> SystemInfo:
        info: SystemInfo = self._call("system_info")
        return info

    def firmware_setup_unavailable(self) -> str | None:
        reason: str | None = self._call("firmware_setup_unavailable")
        return reason

    def power(self, action: Power) -> None:
        self._call("power", action)

    def rescue_shell(self) -> int:
        """A shell on this console (outside the initramfs; inside, /init's supervisor runs it)."""
        return run.run(["/bin/sh"], check=False, terminal=True).returncode

    def close(self) -> None:
        self._channel.close()


# -- the menus on the other consoles ------------------------------------------------------------

# A menu that keeps ending this quickly is started again only after a pause.
QUICK: Final = 10.0
EXIT_SHELL: Final = 3  # the menu asked for the rescue shell (it asked for the password first)


def terminal_of(console: str) -> str:
    """The device to open for a console name: ``tty0`` (the current virtual terminal) is the
    first one, ``/dev/tty1``; the others are themselves."""
    name = console.removeprefix("/dev/")
    return "/dev/tty1" if name == "tty0" else f"/dev/{name}"


def other_consoles(
    active: Sequence[str], chosen: Sequence[str] = (), *, own: str | None = None
) -> list[str]:
    """The terminals a following menu runs on: the ``console`` setting's, else every console
    the kernel writes to; without the leading menu's own terminal (``own``; by default the
    last console, which is /dev/console).  A driver gives the kernel one console only (two
    ``console=ttyS…`` words make ttyS1 *or* ttyS0 a console, not both): a second serial port is
    named with the ``console`` setting."""
    names = list(chosen) or list(active)
    lead = own or (terminal_of(active[-1]) if active else None)
    terminals = [terminal_of(n) for n in names]
    return [t for t in dict.fromkeys(terminals) if t != lead]


class Consoles:
    """Runs a following menu on each of ``terminals`` while the leading menu runs, again when
    it ends, and the rescue shell on that terminal when the menu asks for it (status 3)."""

    def __init__(
        self,
        terminals: Sequence[str],
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.terminals = list(terminals)
        self.command = list(command)
        self.env = env
        self._clock = clock or time.monotonic
        self._stopped = threading.Event()
        self._running: dict[str, Any] = {}
        self._lock = threading.Lock()
        for terminal in self.terminals:
            threading.Thread(
                target=self._keep, args=(terminal,), name=f"menu on {terminal}", daemon=True
            ).start()

    def _keep(self, terminal: str) -> None:
        while not self._stopped.is_set():
            started = self._clock()
            status = self._run(terminal, self.command)
            if self._stopped.is_set() or status is None:
                return
            if status == EXIT_SHELL:
                log.info("rescue shell on %s", terminal)
                self._run(terminal, ["/bin/sh", "-l"])
            elif self._clock() - started < QUICK:
                log.warning("the menu on %s ended (status %d); again in %g s", terminal,
                            status, QUICK)  # fmt: skip
                self._stopped.wait(QUICK)

    def _run(self, terminal: str, command: Sequence[str]) -> int | None:
        try:
            process = run.spawn_on_terminal(command, terminal, env=self.env)
        except run.CommandError as e:
            log.warning("no menu on %s: %s", terminal, e)
            return None
        with self._lock:
            self._running[terminal] = process
        try:
            status: int = process.wait()
        finally:
            with self._lock:
                self._running.pop(terminal, None)
        return status

    def stop(self) -> None:
        """End the menus (and shells) on the other consoles."""
        self._stopped.set()
        with self._lock:
            running = list(self._running.values())
        for process in running:
            with contextlib.suppress(OSError):
                process.terminate()
