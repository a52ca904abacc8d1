"""``python -m rootfs build [--out DIR] [--check-reproducible]``: see :mod:`rootfs`."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rootfs.build import build
from rootfs.host import BuildError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rootfs", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("build", help="build vmlinuz, initramfs.cpio.zst, bootmenu.efi")
    p.add_argument("--out", type=Path, default=Path("build"), help="output directory (build/)")
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="download cache ($BOOTMENU_CACHE or ~/.cache/bootmenu)",
    )
    p.add_argument(
        "--check-reproducible",
        action="store_true",
        help="build a second time into a scratch directory and compare the outputs byte by byte",
    )
    payload = p.add_mutually_exclusive_group()
    payload.add_argument(
        "--payload",
        type=Path,
        default=None,
        metavar="ELF",
        help="include this UniversalPayload.elf (default: build it with scripts/build-payload, "
        "cached)",
    )
    payload.add_argument(
        "--no-payload",
        action="store_true",
        help="leave the UEFI payload out (EFI applications then start through BootNext only)",
    )
    p.add_argument(
        "--settings",
        type=Path,
        default=None,
        metavar="TOML",
        help="build this bootmenu settings file in as /etc/bootmenu.toml (checked first; a "
        "password set there cannot be changed from the kernel command line)",
    )
    p.add_argument("--keep-stage", action="store_true", help="keep the staged tree in OUT/.stage")
    p.add_argument("-v", "--verbose", action="store_true", help="show the commands run")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, flush=True)

    try:
        result = build(
            args.out, progress=progress, cache=args.cache, keep_stage=args.keep_stage,
            verbose=args.verbose, payload=False if args.no_payload else args.payload or True,
            settings=args.settings,
        )  # fmt: skip
        if args.check_reproducible:
            scratch = Path(tempfile.mkdtemp(prefix="rootfs-check-", dir=result.out))
            try:
                progress("rootfs: building again to check that the outputs are reproducible")
                again = build(
                    scratch, progress=lambda _m: None, cache=args.cache,
                    payload=False if args.no_payload else args.payload or True,
                    settings=args.settings,
                )  # fmt: skip
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            differ = [n for n, d in result.outputs.items() if again.outputs.get(n) != d]
            if differ:
                print(f"rootfs: NOT reproducible: {', '.join(differ)} differ", file=sys.stderr)
                return 1
            progress("rootfs: reproducible: a second build gave the same bytes")
    except BuildError as e:
        print(f"rootfs: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
