"""The ``bootmenu`` command line.

Only ``main()`` exits: 0 ok, 1 error (or "not bootable" for ``inspect``), 2 usage.  Tracebacks
are shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bootmenu import __version__
from bootmenu import config as settings
from bootmenu.boot.handoff import Plan
from bootmenu.core import Attempt, Core, View, kernel_cmdline
from bootmenu.errors import (
    ERRORS,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    HandoffError,
    PathError,
    UsageError,
)
from bootmenu.model import BootEntry
from bootmenu.phases import phase
from bootmenu.system import efivars
from bootmenu.system.fs import read_host_file
from bootmenu.validate import inspect_image, report_json

log = logging.getLogger("bootmenu")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _scan_options(p: argparse.ArgumentParser, *, boots: bool) -> None:
    p.add_argument(
        "--root",
        metavar="DIR",
        action="append",
        default=[],
        help="treat DIR as a mounted filesystem to scan (repeatable); without it, discover devices",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        default=settings.SYSTEM_FILE,
        help=f"bootmenu's settings file (default {settings.SYSTEM_FILE})",
    )
    p.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="settings",
        help="override a setting (repeatable; see the settings below)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--efivars",
        metavar="DIR",
        default=None,
        help="read (and for EFI entries write) UEFI variables in DIR instead of "
        "/sys/firmware/efi/efivars; adds the firmware's boot entries (Boot####) to the menu",
    )
    if boots:
        p.add_argument(
            "--dry-run",
            action="store_true",
            help="do everything except loading and starting the kernel; print the plan",
        )
        p.add_argument(
            "--now",
            action="store_true",
            help="on a running system, jump at once (as `kexec -e`: services are not stopped, "
            "filesystems not unmounted); without it systemd finishes the jump (systemctl kexec) "
            "and under another init bootmenu refuses",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bootmenu",
        description="A boot manager for Linux initramfs environments.",
    )
    parser.add_argument("--version", action="version", version=f"bootmenu {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p_list = sub.add_parser("list", help="list the boot entries found")
    _scan_options(p_list, boots=False)
    p_list.add_argument(
        "--no-validate", action="store_true", help="do not open kernels and initrds"
    )

    p_inspect = sub.add_parser("inspect", help="validate one kernel, EFI application or initrd")
    p_inspect.add_argument("path", metavar="PATH")
    p_inspect.add_argument("--json", action="store_true", help="print JSON")

    p_boot = sub.add_parser("boot", help="boot one entry by its id")
    p_boot.add_argument("id", metavar="ID")
    _scan_options(p_boot, boots=True)

    p_auto = sub.add_parser("autoboot", help="decide what to boot by configuration and boot it")
    _scan_options(p_auto, boots=True)
    p_menu = sub.add_parser("menu", help="show the boot menu on this terminal")
    _scan_options(p_menu, boots=True)
    p_menu.add_argument(
        "--attach",
        metavar="SOCKET",
        type=Path,
        default=None,
        help="show the menu of the bootmenu serving SOCKET (the menu on another console; "
        "started by the menu on /dev/console)",
    )
    p_unlock = sub.add_parser(
        "unlock",
        help="ask for the menu's password on this terminal (exit 0: given, or none is set); "
        "the initramfs' /init asks it before any shell",
    )
    p_unlock.add_argument(
        "--config", metavar="FILE", default=settings.SYSTEM_FILE,
        help=f"bootmenu's settings file (default {settings.SYSTEM_FILE})",
    )  # fmt: skip
    p_unlock.add_argument(
        "--for", dest="purpose", metavar="TEXT", default="open the rescue shell",
        help="what the password is for, as the prompt says it",
    )  # fmt: skip
    p_unlock.add_argument(
        "--tries", type=int, default=3, metavar="N", help="wrong passwords before giving up"
    )
    p_install = sub.add_parser(
        "install",
        help="from a running Linux: copy bootmenu's UKI to the ESP and add a firmware boot entry "
        "for it (docs/install.md)",
    )
    p_install.add_argument("uki", metavar="UKI", type=Path, help="bootmenu's UKI (bootmenu.efi)")
    where = p_install.add_mutually_exclusive_group()
    where.add_argument("--first", action="store_true", help="put the entry first in BootOrder")
    where.add_argument(
        "--once",
        action="store_true",
        help="try it on the next boot only (BootNext); BootOrder is not changed",
    )
    p_install.add_argument(
        "--systemd-boot",
        action="store_true",
        help="also copy it to \\EFI\\Linux\\bootmenu.efi, where systemd-boot lists UKIs",
    )
    p_remove = sub.add_parser(
        "remove", help="remove the UKI and the boot entry bootmenu install made"
    )
    for p in (p_install, p_remove):
        p.add_argument(
            "--esp", metavar="DIR", type=Path, default=None,
            help="the ESP's mount point (default: /efi, /boot/efi or /boot, else the one ESP "
            "partition, mounted for the time of the command)",
        )  # fmt: skip
        p.add_argument(
            "--efivars", metavar="DIR", default=efivars.EFIVARFS,
            help="the UEFI variables (default %(default)s)",
        )  # fmt: skip
        p.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    for p in (parser, p_list, p_boot, p_auto, p_menu):
        settings.add_help_epilog(p)
    return parser


def _options(texts: Sequence[str]) -> dict[str, object]:
    """``--set NAME=VALUE`` options: checked now (a bad one is a usage error), then handed on as
    the text the user typed, so they are parsed exactly like kernel command-line words."""
    options: dict[str, object] = {}
    for text in texts:
        name, value = settings.parse_assignment(text)
        _, equals, raw = text.partition("=")
        options[name] = raw if equals else value
    return options


class _SaysWhatItWaitsFor:
    """``on_change`` for commands that wait for a settled machine: once the wait has lasted a
    second, say on standard error what it still waits for, each time that changes."""

    def __init__(self, after: float = 1.0) -> None:
        self.started = time.monotonic()
        self.after = after
        self.said: str | None = None
        self.lock = threading.Lock()

    def __call__(self, view: View) -> None:
        if view.settled or not view.waiting:
            return
        text = "; ".join(view.waiting)
        with self.lock:
            if text == self.said or time.monotonic() - self.started < self.after:
                return
            self.said = text
        print(f"bootmenu: waiting for {text}", file=sys.stderr, flush=True)


def _core(args: argparse.Namespace, on_change: Callable[[View], None] | None = None) -> Core:
    options = _options(args.settings)
    return Core(
        on_change=on_change,
        roots=args.root,
        config_file=args.config,
        options=options,
        dry_run=getattr(args, "dry_run", False),
        now=getattr(args, "now", False),
        validate=not getattr(args, "no_validate", False),
        efivars_dir=getattr(args, "efivars", None),
    )


# On a terminal the STATUS column keeps at least this much room; TITLE at least TITLE_MIN.
STATUS_MIN = 14
TITLE_MIN = 24


def _table(entries: Sequence[BootEntry], routes: Mapping[str, str] | None = None) -> str:
    """The entries as a table.  On a terminal it fits the terminal's width: a long title wraps
    inside its column (so titles that differ only at the end, ``… (recovery mode)``, stay
    apart) and a status too long for the line ends in ``…``; pipes and files get every line
    whole."""
    width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else 1 << 16
    rows = [("", "KIND", "TITLE", "VERSION", "ROOT", "STATUS")]
    for e in entries:
        status = "ok" if e.bootable else f"cannot boot: {e.problems[0]}"
        if e.bootable and routes and e.id in routes:
            status += f", {routes[e.id]}"  # EFI applications: the payload or BootNext
        rows.append(
            ("*" if e.default else "", e.kind.value, e.title, e.version or "", e.root, status)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    others = sum(widths) - widths[2] + 5  # the other columns and the five separators
    widths[2] = min(widths[2], max(TITLE_MIN, width - others - STATUS_MIN))
    lines = []
    for r in rows:
        title = textwrap.wrap(r[2], widths[2], break_on_hyphens=False) or [""]
        for n, part in enumerate(title):
            cells = [r[i] if n == 0 else "" for i in range(5)]
            cells[2] = part
            line = " ".join(c.ljust(widths[i]) for i, c in enumerate(cells))
            line += " " + r[5] if n == 0 else ""
            if len(line) > width:
                line = line[: width - 1] + "…"
            lines.append(line.rstrip())
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    core = _core(args, on_change=None if args.root else _SaysWhatItWaitsFor())
    try:
        view = core.start()
    finally:
        core.close()
    unusable = [d for d in view.devices if d.state.value not in ("usable", "skipped")]
    if args.json:
        doc: dict[str, Any] = {
            "entries": [
                {**e.to_json(), **({"route": view.routes[e.id]} if e.id in view.routes else {})}
                for e in view.entries
            ]
        }
        if view.devices:
            doc["devices"] = [
                {
                    "device": d.devnode,
                    "state": d.state.value,
                    "fstype": d.fstype,
                    "reason": d.reason,
                }
                for d in view.devices
            ]
        if view.warnings:
            doc["warnings"] = list(view.warnings)
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    for warning in view.warnings:
        log.warning("%s", warning)
    if not view.entries:
        print("No boot entries found.")
    else:
        print(_table(view.entries, view.routes))
    for device in unusable:
        print(f"{device.devnode}: {device.state.value}: {device.reason or device.fstype or ''}")
    return EXIT_OK


def _print_plan(args: argparse.Namespace, plan: Plan, reason: str) -> None:
    doc = plan.to_json()
    doc["method_reason"] = doc.get("reason")
    doc["reason"] = reason
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    verb = "would boot" if args.dry_run else "booting"
    print(f"{verb}: {plan.entry.title} ({plan.entry.id})")
    print(f"  why: {reason}")
    print(f"  method: {doc['method']} ({doc['method_reason']})")
    for segment in plan.segments:
        print(f"  {segment.what}: {segment.source} ({segment.size} bytes)")
    print(f"  command line: {plan.cmdline}")
    for note in plan.notes:
        print(f"  note: {note}")
    for problem in plan.problems:
        print(f"  problem: {problem}")


def _report(attempt: Attempt) -> None:
    entry = attempt.entry
    if attempt.error is not None:
        log.warning("autoboot: %s (%s) failed: %s", entry.title, entry.id, attempt.error)
    else:
        log.info("autoboot: loading %s (%s)", entry.title, entry.id)


def cmd_boot(args: argparse.Namespace) -> int:
    core = _core(args)
    try:
        view = core.start()
        entry = core.find(args.id, view)
        if not entry.bootable:
            raise HandoffError(f"{entry.title} cannot boot: {'; '.join(entry.problems)}")
        plan = core.boot([entry], report=_report)
        _print_plan(args, plan, f"'{entry.title}' ({entry.id}): chosen on the command line")
        return EXIT_OK
    finally:
        core.close()


def cmd_autoboot(args: argparse.Namespace) -> int:
    core = _core(args)
    try:
        view = core.start()
        for warning in view.warnings:
            log.warning("%s", warning)
        decision = core.decide(view)
        phase("decision")
        log.info("autoboot: %s", decision.reason)
        if decision.entry is None:
            raise HandoffError(f"nothing to boot: {decision.reason}")
        core.consume_oneshot()
        plan = core.boot([decision.entry, *decision.fallbacks], report=_report)
        reason = decision.reason
        if plan.entry != decision.entry:
            reason += f"; it failed to load, so the fallback '{plan.entry.title}' was used"
        _print_plan(args, plan, reason)
        return EXIT_OK
    finally:
        core.close()


def _serve_other_consoles(core: Core, on_change: Callable[[View], None], served: list[Any]) -> None:
    """The menu on every console (docs/menu.md): serve ``core`` and start a following menu on
    each console the kernel writes to besides /dev/console (or those the ``console`` setting
    names)."""
    from bootmenu import remote
    from bootmenu.system.sysfs import active_consoles

    try:
        own = os.ttyname(sys.stdin.fileno())
    except OSError:
        own = None
    if own == "/dev/console":
        own = None  # which console that is: the last one the kernel lists
    terminals = remote.other_consoles(active_consoles(), core.config.console, own=own)
    if not terminals:
        return
    try:
        server = remote.CoreServer(core)
    except OSError as e:
        log.warning("the menu stays on this console only: %s", e.strerror or e)
        return
    served.append(server)

    def both(view: View) -> None:
        on_change(view)
        server.publish(view)

    core.on_change = both
    command = [sys.executable, "-m", "bootmenu", "menu", "--attach", str(server.path)]
    served.append(remote.Consoles(terminals, command, env=dict(os.environ)))
    log.info("the menu runs on %s too", ", ".join(terminals))


def _start_early(core: Core) -> None:
    """``core.start`` ahead of the menu; an error is the menu's to show (its own call to
    ``start`` raises it again)."""
    with contextlib.suppress(Exception):
        core.start(wait=False)


def cmd_menu(args: argparse.Namespace) -> int:
    """The Textual menu; exits 3 when the user asks for the rescue shell inside the initramfs
    (see docs/menu.md)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("bootmenu menu: needs a terminal (standard input and output)")
    core: Core | None = None
    early_error: Exception | None = None
    if args.attach is None:
        # The leading menu's core starts discovering now, in a thread, while Textual is
        # imported (the largest import of all); the menu then takes its view as it is.
        try:
            core = _core(args)
        except ERRORS as e:  # the menu shows it, as when the core could not start
            early_error = e
        else:
            thread = threading.Thread(target=_start_early, args=(core,), name="core-start")
            thread.daemon = True
            thread.start()
    from bootmenu import remote
    from bootmenu.tui.app import in_initramfs, run_menu  # Textual only for the menu

    if args.attach is not None:
        # A following menu, on another console: the core is the leading menu's.
        result = run_menu(lambda on_change: remote.RemoteCore(on_change, args.attach))
        return result.status

    served: list[remote.CoreServer | remote.Consoles] = []

    def factory(on_change: Callable[[View], None]) -> Core:
        if early_error is not None:
            raise early_error
        assert core is not None
        core.on_change = on_change
        if in_initramfs():
            core.quiet_consoles()
            _serve_other_consoles(core, on_change, served)
        return core

    try:
        result = run_menu(factory, dry_run=args.dry_run)
    finally:
        for thing in reversed(served):
            if isinstance(thing, remote.Consoles):
                thing.stop()
            else:
                thing.close()
    if result.plan is not None:
        _print_plan(args, result.plan, result.reason)
    elif result.message and result.status != EXIT_OK:
        print(f"bootmenu: {result.message}", file=sys.stderr)
    return result.status


def cmd_inspect(args: argparse.Namespace) -> int:
    try:
        data = read_host_file(args.path)
    except PathError as e:
        if args.json:
            print(json.dumps({"path": args.path, "error": str(e)}, indent=2))
        else:
            print(f"bootmenu: {e}", file=sys.stderr)
        return EXIT_ERROR
    info = inspect_image(data)
    report = report_json(args.path, info)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        verdict = "bootable on this machine" if report["bootable"] else "NOT bootable"
        print(f"{args.path}: {info.format}, {info.kind or 'unknown kind'}, "
              f"{info.architecture or 'unknown architecture'} — {verdict}")  # fmt: skip
        if info.signed is not None:
            print(f"  signed: {'yes' if info.signed else 'no'}")
        for problem in info.problems:
            print(f"  problem: {problem}")
        for key, value in info.details.items():
            if not isinstance(value, dict | list):
                print(f"  {key}: {value}")
    return EXIT_OK if report["bootable"] else EXIT_ERROR


def cmd_unlock(args: argparse.Namespace) -> int:
    """The password, asked on this terminal with the menu's delays (none set: at once 0)."""
    import getpass
    import signal

    from bootmenu.password import Attempts

    # Neither Ctrl+Z nor Ctrl+\\ may stop or kill the question instead of answering it (a stopped
    # child would hang /init); Ctrl+C ends it unanswered (status 130).
    for sig in (signal.SIGTSTP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    config, warnings = settings.load(system_file=args.config, cmdline=kernel_cmdline())
    for warning in warnings:
        log.warning("%s", warning)
    if config.password is None:
        log.info("no password is set")
        return EXIT_OK
    attempts = Attempts()
    for _ in range(max(1, args.tries)):
        try:
            typed = getpass.getpass(f"Password to {args.purpose}: ")
        except EOFError:
            break
        if attempts.wait_left() >= 1:
            print(f"Checking in {attempts.wait_left():.0f} s…", flush=True)
        if attempts.check(config.password, typed):
            log.info("password accepted")
            return EXIT_OK
        print(f"Wrong password (attempt {attempts.failures}).", flush=True)
    log.warning("the password was not given")
    return EXIT_ERROR


def cmd_install(args: argparse.Namespace) -> int:
    from bootmenu import install  # only for install/remove: the boot path never loads it

    placement = (
        install.Placement.FIRST
        if args.first
        else install.Placement.ONCE
        if args.once
        else install.Placement.LAST
    )
    with install.esp(args.esp, dry_run=args.dry_run) as esp:
        done = install.install(
            args.uki,
            esp,
            placement=placement,
            systemd_boot=args.systemd_boot,
            efivars_dir=args.efivars,
            dry_run=args.dry_run,
        )
    print("\n".join(done))
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from bootmenu import install

    with install.esp(args.esp, dry_run=args.dry_run) as esp:
        done = install.remove(esp, efivars_dir=args.efivars, dry_run=args.dry_run)
    print("\n".join(done))
    return EXIT_OK


COMMANDS = {
    "list": cmd_list,
    "inspect": cmd_inspect,
    "boot": cmd_boot,
    "autoboot": cmd_autoboot,
    "menu": cmd_menu,
    "unlock": cmd_unlock,
    "install": cmd_install,
    "remove": cmd_remove,
}


def _setup_logging(debug: bool) -> None:
    """bootmenu's messages go to standard error, one line each (the console, in the initramfs)."""
    logger = logging.getLogger("bootmenu")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bootmenu: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _setup_logging(debug)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError(
                "bootmenu: a command is required (list, inspect, boot, autoboot, menu, unlock, "
                "install, remove); "
                "see --help"
            )
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except ERRORS as e:
        if debug:
            raise
        print(f"bootmenu: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # the last line of defence: never a traceback on screen
        if debug:
            raise
        print(f"bootmenu: internal error: {e.__class__.__name__}: {e} (run with --debug)",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
