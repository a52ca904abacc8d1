"""The ``bootmenu`` command line.

Only ``main()`` exits: 0 ok, 1 error (or "not bootable" for ``inspect``), 2 usage.  Tracebacks
are shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from bootmenu import __version__
from bootmenu.entries import ScanResult, scan
from bootmenu.errors import BootmenuError, PathError, UsageError
from bootmenu.fs import read_host_file
from bootmenu.model import BootEntry
from bootmenu.roots import volume_for_directory
from bootmenu.validate import inspect_image, report_json

log = logging.getLogger("bootmenu")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bootmenu",
        description="A boot manager for Linux initramfs environments.",
    )
    parser.add_argument("--version", action="version", version=f"bootmenu {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p_list = sub.add_parser("list", help="list the boot entries found")
    p_list.add_argument(
        "--root",
        metavar="DIR",
        action="append",
        default=[],
        help="treat DIR as a mounted filesystem to scan (repeatable)",
    )
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_list.add_argument(
        "--no-validate", action="store_true", help="do not open kernels and initrds"
    )

    p_inspect = sub.add_parser("inspect", help="validate one kernel, EFI application or initrd")
    p_inspect.add_argument("path", metavar="PATH")
    p_inspect.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _scan_roots(roots: Sequence[str], *, validate: bool) -> ScanResult:
    if not roots:
        raise UsageError(
            "bootmenu list: device discovery is not available yet; name filesystems with --root DIR"
        )
    volumes = []
    for root in roots:
        volume = volume_for_directory(root)
        if not volume.path.is_dir():
            raise UsageError(f"bootmenu: --root {root}: not a directory")
        volumes.append(volume)
    return scan(volumes, validate=validate)


def _table(entries: Sequence[BootEntry]) -> str:
    # Cut lines to the terminal's width only on a terminal; pipes and files get everything.
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 1 << 16
    rows = [("", "KIND", "TITLE", "VERSION", "ROOT", "STATUS")]
    for e in entries:
        status = "ok" if e.bootable else f"cannot boot: {e.problems[0]}"
        rows.append(
            ("*" if e.default else "", e.kind.value, e.title, e.version or "", e.root, status)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    widths[2] = min(widths[2], 48)
    lines = []
    for r in rows:
        cells = [r[i][: widths[i]].ljust(widths[i]) for i in range(5)]
        line = " ".join(cells) + " " + r[5]
        lines.append(line[:width].rstrip())
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    result = _scan_roots(args.root, validate=not args.no_validate)
    if args.json:
        doc: dict[str, Any] = {"entries": [e.to_json() for e in result.entries]}
        if result.warnings:
            doc["warnings"] = list(result.warnings)
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    for warning in result.warnings:
        log.warning("%s", warning)
    if not result.entries:
        print("No boot entries found.")
        return EXIT_OK
    print(_table(result.entries))
    return EXIT_OK


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


COMMANDS = {"list": cmd_list, "inspect": cmd_inspect}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="bootmenu: %(message)s",
        stream=sys.stderr,
    )
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("bootmenu: a command is required (list, inspect); see --help")
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except BootmenuError as e:
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
