"""``make demo``: build bootmenu's initramfs and two demo disks, then boot them in QEMU here.

Runs ``python -m rootfs build --out build`` (its progress shows), builds the demo disks into
``build/demo/`` (a GPT disk with an ESP and an ext4 /boot, a second disk with extlinux; see
tests/vm/disks.py) and replaces itself with QEMU on this terminal: OVMF, serial console on
stdio, and, when there is a display ($DISPLAY or $WAYLAND_DISPLAY), a QEMU window with a VGA
screen.  bootmenu shows its menu on both (the menu on every console, docs/menu.md): pick an entry
with the arrow keys and Enter, on either.  The targets print one line
(``BOOTMENU-TARGET-OK cmdline=…``) and power off, which ends QEMU.  Ctrl-A X quits QEMU at any
time; Ctrl-A C switches to QEMU's monitor and back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.vm import disks
from tests.vm.conftest import REPO, build_rootfs
from tests.vm.qemu import QEMU, Disk, Machine, missing_prerequisites

BANNER = """
bootmenu demo: QEMU ({firmware}, TCG) with bootmenu's initramfs and two disks
  {disk0}: ESP (a UKI, systemd-boot) + ext4 /boot (BLS entries, one broken on purpose, grub.cfg)
  {disk1}: ext4 with extlinux.conf (a Linux entry, a Multiboot kernel via mboot.c32)
Kernel command line: {append}

  Ctrl-A X   quit QEMU            Ctrl-A C   QEMU monitor (again to come back)

Under emulation (TCG) bootmenu needs about 20-30 s to start.
"""

NO_MENU = """\
This build of bootmenu has no menu yet: it boots the disks' default entry at once.  To boot
another one, pass its id, e.g.
  .venv/bin/python -m tests.vm.demo --no-build --append "console=ttyS0 bootmenu.once=ID"
with ID one of debian-6.1-rescue, debian-uki, syslinux:mb1, Multiboot?2*.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "build", help="build directory")
    parser.add_argument("--no-build", action="store_true", help="reuse OUT's initramfs")
    parser.add_argument("--firmware", choices=("ovmf", "seabios"), default="ovmf")
    parser.add_argument(
        "--no-window", action="store_true", help="the terminal only, even with a display"
    )
    parser.add_argument(
        "--append",
        default=None,
        help="kernel command line of bootmenu's kernel (default: the menu without a countdown, "
        "or, in a build without the menu, autoboot)",
    )
    args = parser.parse_args(argv)

    missing = missing_prerequisites("ovmf")
    if missing:
        print("demo: " + "; ".join(missing) + " (run: bash scripts/setup)", file=sys.stderr)
        return 1
    out: Path = args.out
    if not args.no_build or not (out / "initramfs.cpio.zst").is_file():
        print(f"demo: building bootmenu's initramfs into {out} (python -m rootfs build)")
        build_rootfs(out, show_progress=True)
    manifest = json.loads((out / "manifest.json").read_text())
    menu = manifest.get("default_mode") == "menu"
    window = not args.no_window and bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    append = args.append
    if append is None:
        # The UKI's consoles: the screen (tty0) and the serial port, the last /dev/console.
        consoles = "console=tty0 console=ttyS0" if window else "console=ttyS0"
        append = f"{consoles} bootmenu.timeout=menu-force" if menu else consoles
    print(f"demo: building the demo disks in {out / 'demo'}")
    images = disks.build_demo_disks(out / "demo", artifacts=out)
    state = out / "demo" / "qemu"
    state.mkdir(parents=True, exist_ok=True)
    machine = Machine(
        state / "serial.log",
        firmware=args.firmware,
        kernel=out / "vmlinuz",
        initrd=out / "initramfs.cpio.zst",
        append=append,
        disks=[Disk(p, serial=f"demo{n}") for n, p in enumerate(images)],
        no_reboot=False,
        state_dir=state,
        extra_args=("-vga", "std") if window else (),
    )
    print(BANNER.format(firmware=args.firmware.upper(), disk0=images[0].name,
                        disk1=images[1].name, append=append))  # fmt: skip
    if not menu and args.append is None:
        print(NO_MENU)
    sys.stdout.flush()
    qemu_args = list(machine.args)
    if window:  # a window as well as the terminal (-serial mon:stdio stays)
        qemu_args.remove("-nographic")
    os.execvp(QEMU, [QEMU, *qemu_args])


if __name__ == "__main__":
    sys.exit(main())
