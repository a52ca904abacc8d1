"""Peak memory of booting a large image: is a 500 MiB initrd held once, or several times?

Runs on the host, no VM: a ``--root`` directory holds a small bzImage and an uncompressed newc
initrd of ``--size`` MiB (one file of zeros inside), and one BLS entry for them.  A child
process runs bootmenu's core on it exactly as ``bootmenu boot --dry-run`` does (read and
validate every file for the plan, read them again, compare the hashes and fill the sealed
memfds kexec_file_load would get; no kexec) and reports its peak RSS (``ru_maxrss``).  The
ratio to the image's size is printed: near 1.0 means one copy; every extra copy adds 1.0.

    .venv/bin/python -m bench.image_memory            # 500 MiB (images may be up to 512 MiB)
    .venv/bin/python -m bench.image_memory --size 128

Prints numbers, asserts nothing (docs/security.md, "Bounded parsing").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.images import bzimage

MIB = 1024 * 1024
CHILD = "bench-image-memory-child"


def _newc_header(name: str, mode: int, size: int, ino: int) -> bytes:
    """A newc (SVR4, no CRC) cpio header for ``name``, padded to 4 bytes with its name."""
    fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    return head + b"\0" * (-len(head) % 4)


def make_root(root: Path, size_mib: int) -> None:
    """``root`` with a bzImage, an uncompressed newc initrd holding one file of ``size_mib``
    MiB of zeros (written without holding it in memory) and a BLS entry for them."""
    (root / "loader/entries").mkdir(parents=True)
    (root / "vmlinuz").write_bytes(bzimage("6.1.0-bench-amd64"))
    size = size_mib * MIB
    with open(root / "initrd.img", "wb") as f:
        f.write(_newc_header("big", 0o100644, size, 1))
        chunk = b"\0" * MIB
        for _ in range(size_mib):
            f.write(chunk)
        f.write(_newc_header("TRAILER!!!", 0, 0, 0))
    (root / "loader/entries/big.conf").write_text(
        "title Big initrd\nlinux /vmlinuz\ninitrd /initrd.img\noptions quiet\n"
    )


def child(root: str) -> None:
    from bootmenu.core import Core

    started = time.monotonic()
    core = Core(roots=[root], config_file=None, cmdline="", dry_run=True, efivars_dir=root)
    view = core.start()
    entry = core.find("big.conf", view)
    if not entry.bootable:
        raise SystemExit(f"the entry cannot boot: {entry.problems}")
    core.boot([entry])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_rss": peak, "seconds": time.monotonic() - started}))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [CHILD]:
        child(argv[1])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=500, help="initrd size in MiB (bootmenu accepts up to 512)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        root = Path(scratch) / "root"
        make_root(root, args.size)
        image = (root / "initrd.img").stat().st_size
        # The interpreter and bootmenu's modules alone, for the baseline.
        empty = Path(scratch) / "empty"
        make_root(empty, 1)
        runs = {}
        for name, where in (("1 MiB initrd", empty), (f"{args.size} MiB initrd", root)):
            out = subprocess.run(
                [sys.executable, "-m", "bench.image_memory", CHILD, str(where)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "BOOTMENU_DRY_RUN": "1"},
            )
            runs[name] = json.loads(out.stdout.strip().splitlines()[-1])
    base = runs["1 MiB initrd"]["peak_rss"]
    big = runs[f"{args.size} MiB initrd"]
    extra = big["peak_rss"] - base
    print(f"image: {image / MIB:.1f} MiB initrd (plan + dry-run load into sealed memfds)")
    print(f"peak RSS with a 1 MiB initrd: {base / MIB:.1f} MiB")
    print(f"peak RSS with the big initrd: {big['peak_rss'] / MIB:.1f} MiB ({big['seconds']:.2f} s)")
    print(f"extra peak over the image size: {extra / image:.2f} copies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
