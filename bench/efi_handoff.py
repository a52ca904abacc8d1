"""bench: Enter → the EFI application's first output, through the UEFI payload and through
BootNext + a firmware reset, in the same QEMU setup.  Prints numbers; not a test.

``python -m bench.efi_handoff [--out build] [--no-build] [--repeat N]``

The setup is the VM test's (tests/vm/test_payload.py) with bootmenu started the way a machine
starts it: OVMF boots bootmenu's UKI from the ESP's removable path (``\\EFI\\BOOT\\BOOTX64.EFI``)
on an AHCI disk that also holds two marker EFI applications with a BLS entry each.
``/bootmenu.toml`` on the ESP chooses the second one as the default and ``timeout = "menu-force"``
(the menu waits); the BootNext run's UKI has ``bootmenu.efi_handoff=bootnext`` added to its
command line (a disk may not choose the hand-off).  The bench waits
until the menu shows the cursor on the second application, sends Enter, and measures host
seconds from Enter to:

- ``kexec_core: Starting new kernel`` (payload) or ``reboot: Restarting system`` (BootNext):
  bootmenu's own part (plan, checks, loading, unmounting);
- the marker application's line on the serial console: the whole hand-off.

Host seconds, because the guest clock starts again after a firmware reset.  Under TCG on the
2-core development machine; with ``BOOTMENU_QEMU_ACCEL=kvm`` on a machine where KVM works.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.bench import prepare
from efi.uki import parse_uki
from tests import debian
from tests.vm.conftest import REPO
from tests.vm.qemu import Disk, Machine, MachineError, accel
from tests.vm.screen import ENTER, Screen, wait_for_cursor
from tests.vm.test_payload import FAILED, SECOND_MARKER, SECOND_TITLE, build_disk

LEFT: dict[str, str] = {
    "payload": r"kexec_core: Starting new kernel",
    "bootnext": r"reboot: Restarting system",
}


@dataclass
class Result:
    path: str
    menu_ready: float  # host seconds since QEMU started
    left_linux: float  # Enter → kexec / reset
    marker: float  # Enter → the application's line


def with_cmdline(uki: Path, extra: str, work: Path) -> Path:
    """``uki`` (build/bootmenu.efi) with ``extra`` added to its command line: the same kernel
    (build/vmlinuz) and initramfs (build/initramfs.cpio.zst)."""
    shipped = parse_uki(uki.read_bytes())
    cmdline = f"{(shipped.cmdline or '').strip()} {extra}"
    data = debian.build_uki(
        work,
        {
            ".osrel": (shipped.osrel or "").encode(),
            ".cmdline": cmdline.encode(),
            ".initrd": (uki.parent / "initramfs.cpio.zst").read_bytes(),
            ".linux": (uki.parent / "vmlinuz").read_bytes(),
        },
    )
    path = work / f"{uki.stem}-{extra.rsplit('=', 1)[-1]}.efi"
    path.write_bytes(data)
    return path


def one_run(uki: Path, work: Path, path: str) -> Result:
    toml = '# bench/efi_handoff.py\ndefault = "second.conf"\ntimeout = "menu-force"\n'
    if path == "bootnext":
        uki = with_cmdline(uki, "bootmenu.efi_handoff=bootnext", work)
    disk = build_disk(work / f"{path}.img", default="first.conf", bootx64=uki, toml=toml)
    machine = Machine(
        work / f"{path}-serial.log",
        firmware="ovmf",
        disks=[Disk(disk, bus="ahci", serial="esp0")],
        no_reboot=path == "payload",  # the payload path must not reset
        memory_mib=2048,
    )
    with machine:
        screen = Screen(machine)
        wait_for_cursor(screen, SECOND_TITLE, 240)
        ready = machine.elapsed()
        time.sleep(1.0)  # let the menu settle (the bench measures the hand-off, not drawing)
        enter = time.monotonic()
        screen.type(ENTER)
        fail = FAILED if path == "payload" else FAILED[:-1]
        machine.expect(LEFT[path], 120, fail=fail)
        left = time.monotonic() - enter
        machine.expect(re.escape(SECOND_MARKER), 240, fail=fail)
        marker = time.monotonic() - enter
    return Result(path, ready, left, marker)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.efi_handoff", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "build")
    parser.add_argument("--no-build", action="store_true", help="use OUT's existing bootmenu.efi")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each path (default 1)")
    args = parser.parse_args(argv)
    out: Path = args.out
    if not prepare(out, firmware="ovmf", no_build=args.no_build, needs="bootmenu.efi"):
        return 1
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-efi-", dir=out) as scratch:
        for n in range(args.repeat):
            for path in ("payload", "bootnext"):
                print(f"bench: run {n + 1}/{args.repeat}, {path}", flush=True)
                try:
                    results.append(one_run(out / "bootmenu.efi", Path(scratch), path))
                except MachineError as e:
                    print(f"bench: the {path} run failed: {e}", file=sys.stderr)
                    return 1
    print()
    print(f"EFI hand-off, Enter → the application's first output (QEMU -accel {accel()}, "
          "q35, OVMF, 2 vCPUs, 2 GiB, AHCI; host seconds)")  # fmt: skip
    print(f"{'path':<10} {'Enter → leaves Linux':>22} {'Enter → application':>20}")
    for path in ("payload", "bootnext"):
        mine = [r for r in results if r.path == path]
        left = statistics.median(r.left_linux for r in mine)
        marker = statistics.median(r.marker for r in mine)
        print(f"{path:<10} {left:>20.1f} s {marker:>18.1f} s")
    for r in results:
        print(
            f"  {r.path}: menu ready {r.menu_ready:.1f} s after QEMU started; "
            f"left Linux {r.left_linux:.1f} s, application {r.marker:.1f} s after Enter"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
