"""The hand-off: from a chosen :class:`BootEntry` to a loaded kernel and the final jump.

Three steps, each its own function so that front ends can show what will happen before it does:

1. :meth:`Handoff.route` finds the first of the core's handlers (a :class:`Handoff` holds them,
   in the order they are tried) that accepts the entry in this :class:`Environment` (lockdown,
   which kexec system calls and tools exist), and why each one tried before declined: the one
   answer to "how would this entry start", which the menu shows (:attr:`Route.text`).
2. :meth:`Handoff.plan` reads every file the boot needs, re-validates the kernel bytes it will
   load and the initrds (``validate.inspect_image``), and returns a :class:`Plan`: the method,
   why it was chosen, each segment with its size and SHA-256, and the problems that forbid the
   boot.
3. :meth:`Handoff.execute` runs the pre-boot hooks (:mod:`bootmenu.boot.hooks`), loads (reading
   the files again and refusing any whose bytes differ from the plan's), calls the caller's
   ``before_jump`` and jumps the way the handler says (:attr:`Handler.reboot_command`).
   Anything that fails before the jump undoes the load (:meth:`Handler.undo`) and raises
   :class:`HandoffError` with a sentence.

Methods: Linux kernels and UKIs go through ``kexec_file_load`` (the kernel checks signatures);
kexec-tools' ``kexec_load`` is the fallback outside lockdown; Multiboot kernels need kexec-tools
(those three handlers: :mod:`bootmenu.boot.kexec`).  EFI applications go through the UEFI payload
(:mod:`bootmenu.boot.payload`, no firmware reset) or BootNext and a firmware reset
(:mod:`bootmenu.boot.bootnext`); the core builds the list with this machine's settings.  See
``docs/handoff.md``.
"""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from bootmenu import arch
from bootmenu.boot import hooks
from bootmenu.errors import HandoffError
from bootmenu.model import BootEntry, Kind, Module
from bootmenu.system import run, syscalls, sysinfo
from bootmenu.system.fs import VolumeReader
from bootmenu.system.sysfs import EFI_DIR

log = logging.getLogger(__name__)

# Lockdown modes in which the kernel refuses kexec_load and unsigned kexec_file_load images.
LOCKDOWN_MODES: Final = frozenset({"integrity", "confidentiality"})
# Where kexec-tools lives when PATH (in an initramfs: often just /bin) does not say.
KEXEC_TOOLS_PATH: Final = "/usr/sbin:/sbin:/usr/bin:/bin"


class Method(StrEnum):
    """How an entry is started."""

    KEXEC_FILE_LOAD = "kexec_file_load"
    KEXEC_LOAD = "kexec_load"
    MULTIBOOT = "multiboot"
    BOOTNEXT = "bootnext"
    PAYLOAD = "payload"


@dataclass(frozen=True)
class Segment:
    """One piece of what is loaded: ``what`` is ``kernel``, ``initrd``, ``module`` or
    ``cmdline``; ``source`` where it comes from (``"/dev/vda2:/vmlinuz-6.1"``,
    ``"/dev/vda1:/EFI/Linux/a.efi .linux section"``); ``sha256`` of a file's bytes (None for
    the command line)."""

    what: str
    source: str
    size: int
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "source": self.source, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Plan:
    """What :meth:`Handoff.execute` will do for ``entry``.

    ``kernel`` and ``initrd`` name sources (as in ``segments``), ``cmdline`` is the command line
    the kernel gets, ``modules`` the Multiboot modules as configured.  ``reason`` says why this
    method; ``problems`` (sentences) forbid the boot; ``notes`` are worth telling the user.
    """

    entry: BootEntry
    method: Method
    kernel: str
    initrd: tuple[str, ...]
    cmdline: str
    modules: tuple[Module, ...]
    segments: tuple[Segment, ...]
    reason: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def bootable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_json(),
            "method": self.method.value,
            "kernel": self.kernel,
            "initrd": list(self.initrd),
            "cmdline": self.cmdline,
            "modules": [{"path": m.path, "cmdline": m.cmdline} for m in self.modules],
            "segments": [s.to_json() for s in self.segments],
            "reason": self.reason,
            "bootable": self.bootable,
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


class Init(StrEnum):
    """Who runs the machine, and so who makes the jump once the next system is loaded."""

    INITRAMFS = "initramfs"  # bootmenu's own /init: bootmenu jumps (reboot(2))
    SYSTEMD = "systemd"  # a running system under systemd: `systemctl kexec` / `systemctl reboot`
    OTHER = "other"  # another init: bootmenu does not jump under it unless told to (`--now`)


@dataclass(frozen=True)
class Environment:
    """What the running system allows.  ``lockdown`` is the kernel's lockdown mode (None: no
    lockdown LSM); ``kexec_tools`` the path of the ``kexec`` program; ``dry_run``: do
    everything up to loading, but neither load nor jump; ``init``: who finishes the jump;
    ``now``: jump at once whoever runs the machine (services are not stopped, as ``kexec -e``)."""

    lockdown: str | None
    kexec_file_load_available: bool
    kexec_tools: str | None
    efi: bool
    host_arch: str
    dry_run: bool = False
    init: Init = Init.INITRAMFS
    now: bool = False

    @property
    def locked_down(self) -> bool:
        return self.lockdown in LOCKDOWN_MODES


ReaderFor = Callable[[str], VolumeReader]


class Handler(Protocol):
    """One way of starting entries (one per :class:`Method` in a :class:`Handoff`).

    ``kinds``: the entry kinds it is asked about at all.  ``accepts`` returns None when the
    handler can start ``entry`` here, else the reason it cannot.  ``plan`` may plan a method it
    delegates to (the ``kexec_file_load`` handler plans ``kexec_load`` for a kernel
    ``kexec_file_load`` would refuse).  ``load`` loads a plan of its method; on failure it
    leaves nothing loaded by itself and raises :class:`HandoffError`.  What
    :meth:`Handoff.execute` needs besides: ``reboot_command``, the ``reboot(2)`` command that
    jumps once the plan is loaded (kexec, or a firmware restart for BootNext), and ``undo``,
    which forgets what ``load`` did when the jump cannot happen (it never raises).
    """

    method: Method
    kinds: frozenset[Kind]
    reboot_command: int

    def accepts(self, entry: BootEntry, env: Environment) -> str | None: ...

    def plan(self, entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan: ...

    def load(self, plan: Plan, reader_for: ReaderFor, env: Environment) -> None: ...

    def undo(self, env: Environment) -> None: ...


def unique(items: Sequence[str]) -> tuple[str, ...]:
    """``items`` without repeats, in order (notes, problems)."""
    return tuple(dict.fromkeys(items))


def cmdline_segment(cmdline: str, source: str) -> Segment:
    """The command line as a plan's segment (its bytes and the NUL)."""
    return Segment("cmdline", source, len(cmdline.encode()) + 1)


# How the menu names each way an entry starts (Route.text).
ROUTE_WORDS: Final = {
    Method.KEXEC_FILE_LOAD: "kexec_file_load",
    Method.KEXEC_LOAD: "kexec_load",
    Method.MULTIBOOT: "kexec (Multiboot)",
    Method.BOOTNEXT: "BootNext and a firmware reset",
    Method.PAYLOAD: "the UEFI payload, no firmware reset",
}


# -- the public steps ------------------------------------------------------------------------


def _probe_kexec_file_load() -> bool:
    """Whether the running kernel has kexec_file_load.  Called with no file (fd -1) it fails
    without side effects: EBADF when it exists, ENOSYS when not (EPERM: it exists, but we may
    not use it; the real load will say so)."""
    try:
        syscalls.kexec_file_load(-1, None, "")
    except OSError as e:
        return e.errno != errno.ENOSYS
    return True


def environment(*, dry_run: bool = False, efi_dir: Path = EFI_DIR) -> Environment:
    """What the running system allows."""
    kexec = shutil.which("kexec") or shutil.which("kexec", path=KEXEC_TOOLS_PATH)
    return Environment(
        lockdown=syscalls.lockdown(),
        kexec_file_load_available=_probe_kexec_file_load(),
        kexec_tools=kexec,
        efi=efi_dir.is_dir(),
        host_arch=arch.host(),
        dry_run=dry_run,
        init=Init(sysinfo.init_system()),
    )


# What systemctl is asked for, by the jump a handler needs.
SYSTEMCTL_VERBS: Final = {
    syscalls.LINUX_REBOOT_CMD_KEXEC: "kexec",
    syscalls.LINUX_REBOOT_CMD_RESTART: "reboot",
}


def _systemctl(verb: str) -> str | None:
    """Ask systemd to stop the system and ``verb`` (kexec, reboot); None, or why it refused."""
    try:
        run.run(["systemctl", "--no-block", verb], timeout=30)
    except run.CommandError as e:
        return str(e)
    except OSError as e:
        return f"systemctl cannot be run: {e.strerror or e}"
    return None


def _not_under_other_init(title: str) -> str:
    return (
        f'not starting "{title}": this system is not run by systemd, and bootmenu does not '
        "jump under a running init (its services would not be stopped nor its filesystems "
        "unmounted); load it with --now to jump at once as `kexec -e` would, or from "
        "bootmenu's own initramfs"
    )


Declined = tuple[tuple[Method, str], ...]


@dataclass(frozen=True)
class Route:
    """How an entry would start: the handler that accepts it (None: none can) and why each
    handler tried before it declined, in order."""

    entry: BootEntry
    handler: Handler | None
    declined: Declined = ()

    @property
    def reasons(self) -> list[str]:
        return [f"{method.value}: {reason}" for method, reason in self.declined]

    @property
    def text(self) -> str:
        """One line for the menu: how the entry would start, and why not a way tried before."""
        if self.handler is None:
            return "cannot start: " + (
                "; ".join(self.reasons) or f"no way to start {self.entry.kind.value}"
            )
        text = f"starts via {ROUTE_WORDS.get(self.handler.method, self.handler.method.value)}"
        if self.reasons:
            text += " (not " + "; ".join(self.reasons) + ")"
        return text

    def require(self) -> Handler:
        """The handler, or HandoffError with every reason when none accepted the entry."""
        if self.handler is not None:
            return self.handler
        if not self.reasons:
            raise HandoffError(
                f'cannot start "{self.entry.title}": bootmenu has no way to start '
                f"{self.entry.kind.value} entries"
            )
        raise HandoffError(f'cannot start "{self.entry.title}": ' + "; ".join(self.reasons))


class Handoff:
    """The handlers of one machine, in the order they are tried (the core builds it with its
    settings), and the steps: :meth:`route`, :meth:`plan`, :meth:`execute`."""

    def __init__(self, handlers: Sequence[Handler]) -> None:
        methods = [h.method for h in handlers]
        if len(set(methods)) != len(methods):
            raise ValueError(f"one handler per method, not {[m.value for m in methods]}")
        self.handlers: tuple[Handler, ...] = tuple(handlers)

    def handler(self, method: Method) -> Handler:
        for handler in self.handlers:
            if handler.method == method:
                return handler
        raise HandoffError(f"bootmenu cannot start entries with {method.value} (not available)")

    def route(self, entry: BootEntry, env: Environment) -> Route:
        """The handler that would start ``entry`` and why each one tried before declined."""
        declined: list[tuple[Method, str]] = []
        for handler in self.handlers:
            if entry.kind not in handler.kinds:
                continue
            reason = handler.accepts(entry, env)
            if reason is None:
                return Route(entry, handler, tuple(declined))
            declined.append((handler.method, reason))
        return Route(entry, None, tuple(declined))

    def plan(self, entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Plan:
        """How ``entry`` would be started.  Problems (unreadable or invalid files, a method
        that is not allowed) are in ``Plan.problems``; HandoffError only when no handler
        accepts it.  Why the handlers tried first declined is added to the notes ("not
        payload: …")."""
        route = self.route(entry, env)
        result = route.require().plan(entry, reader_for, env)
        if route.declined:
            notes = [*result.notes, *(f"not {r}" for r in route.reasons)]
            result = replace(result, notes=unique(notes))
        return result

    def _systemd_jump(self, plan: Plan, handler: Handler, env: Environment) -> Plan:
        """Leave the jump to systemd: it stops the services, unmounts the filesystems and then
        kexecs the loaded kernel (or reboots, for BootNext); the plan is returned with a note."""
        verb = SYSTEMCTL_VERBS.get(handler.reboot_command)
        if verb is None:
            handler.undo(env)
            raise HandoffError(f'systemd cannot make the jump "{plan.entry.title}" needs')
        # Said before asking: systemd's stop of the system may end this process at once.
        log.info("systemctl %s: systemd stops the system and starts %s", verb, plan.entry.title)
        refused = _systemctl(verb)
        if refused is not None:
            handler.undo(env)
            raise HandoffError(
                f'systemd did not take the jump into "{plan.entry.title}": {refused}; the '
                "loaded kernel was unloaded"
            )
        note = f"systemd stops the running system, then starts it (systemctl {verb})"
        return replace(plan, notes=(*plan.notes, note))

    def execute(
        self,
        plan: Plan,
        reader_for: ReaderFor,
        env: Environment,
        *,
        hooks_dir: Path | None,
        before_jump: Callable[[], None],
        progress: Callable[[str], None] | None = None,
    ) -> Plan:
        """Start ``plan`` with the handler of its method: hooks, load, ``before_jump()``, then
        the jump the handler says (``reboot_command``).

        Does not return when the jump succeeds.  Any failure before it undoes the load
        (``handler.undo``) and raises :class:`HandoffError` (a hook's veto:
        :class:`hooks.HookVeto`).  With ``env.dry_run`` the hooks run (told so by
        ``BOOTMENU_DRY_RUN=1``), the files are read, checked and put into memfds, but nothing
        is loaded, ``before_jump`` is not called, and the final plan (with the hooks' changes)
        is returned.

        ``progress``, when given, is called with ``"hooks"``, ``"load"`` and ``"jump"`` as each
        step begins (for the menu's progress screen).
        """
        title = plan.entry.title
        step = progress or (lambda _: None)
        if plan.problems:
            raise HandoffError(f'cannot start "{title}": ' + "; ".join(plan.problems))
        handler = self.handler(plan.method)
        if env.init is Init.OTHER and not env.now and not env.dry_run:
            raise HandoffError(_not_under_other_init(title))

        step("hooks")
        plan = _run_hooks(plan, env, hooks_dir)
        log.info("starting %s with %s (%s)", title, plan.method.value, plan.reason)
        step("load")
        try:
            handler.load(plan, reader_for, env)
        except HandoffError:
            if not env.dry_run:
                handler.undo(env)
            raise
        except (Exception, KeyboardInterrupt) as e:
            if not env.dry_run:
                handler.undo(env)
            raise HandoffError(f'loading "{title}" failed: {e}') from e
        if env.dry_run:
            log.info("dry run: %s is ready to load; not loading, not jumping", title)
            return plan
        step("jump")
        try:
            before_jump()
        except (Exception, KeyboardInterrupt) as e:
            handler.undo(env)
            raise HandoffError(
                f'preparing the jump into "{title}" failed: {e}; the loaded kernel was unloaded'
            ) from e
        if env.init is Init.SYSTEMD and not env.now:
            return self._systemd_jump(plan, handler, env)
        try:
            syscalls.sync()
            syscalls.reboot(handler.reboot_command)
        except OSError as e:
            handler.undo(env)
            raise HandoffError(
                f'the jump into "{title}" failed: {e.strerror or e}; the loaded kernel was unloaded'
            ) from e
        handler.undo(env)
        raise HandoffError(
            f'the running kernel did not jump into "{title}"; the loaded kernel was unloaded'
        )


def _with_cmdline(
    plan: Plan, cmdline: str, source: str, notes: Sequence[str], env: Environment
) -> Plan:
    segments = tuple(
        cmdline_segment(cmdline, source) if s.what == "cmdline" else s for s in plan.segments
    )
    extra = list(notes)
    if plan.entry.kind is Kind.UKI and env.locked_down:
        extra.append(
            f"under lockdown ({env.lockdown}) and Secure Boot an edited command line may be "
            "refused or ignored"
        )
    return replace(plan, cmdline=cmdline, segments=segments, notes=unique([*plan.notes, *extra]))


def _run_hooks(plan: Plan, env: Environment, hooks_dir: Path | None) -> Plan:
    info = hooks.HookInput(
        entry_id=plan.entry.id,
        title=plan.entry.title,
        kind=plan.entry.kind.value,
        kernel=plan.kernel,
        cmdline=plan.cmdline,
        method=plan.method.value,
        plan=plan.to_json(),
        dry_run=env.dry_run,
    )
    cmdline, results = hooks.run_hooks(hooks_dir, info)
    if cmdline == plan.cmdline:
        return plan
    notes: list[str] = []
    current, source = plan.cmdline, ""
    for result in results:
        if result.cmdline is not None and result.cmdline != current:
            current, source = result.cmdline, f"pre-boot hook {result.hook}"
            notes.append(f"the pre-boot hook {result.hook} changed the command line to {current!r}")
    return _with_cmdline(plan, cmdline, source, notes, env)
