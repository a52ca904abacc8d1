"""bench: how fast and how big bootmenu's initramfs is, under QEMU.  Prints numbers; not a test.

``python -m bench.bench [--out build] [--no-build] [--firmware seabios|ovmf] [--markdown]``

Builds the initramfs (``python -m rootfs build``) unless ``--no-build``, the demo disks and two
discovery disks (1 and 64 partitions), and boots these machines, each once:

A. bootmenu, ``bootmenu.mode=autoboot``, on the demo disks: init → first entry, init → the
   autoboot decision (every disk scanned), chosen → ``kexec_core: Starting new kernel``, and
   bootmenu's peak RSS (VmHWM) read by a pre-boot hook.
B. the same initramfs with ``bootmenu.mode=shell``: a busybox script does the same discovery
   (udev settled, every filesystem mounted read-only and looked into for boot configurations),
   then a plain ``kexec -l … && kexec -e`` of the same kernel.  Everything up to the start of
   bootmenu or the shell is the same /init, so the difference is bootmenu's own cost.
C/D. bootmenu on one GPT disk with 1 and with 64 partitions (ext4 and FAT alternating, a BLS
   entry on each): discovery time against the number of filesystems.
E. (when the build's default mode is the menu) bootmenu's menu on the demo disks: init → the
   menu lists entries, then Enter → ``kexec_core: Starting new kernel``.

The bench files (the pre-boot hook and the two shell scripts) are appended to bootmenu's
initramfs as a second, uncompressed cpio archive — the kernel unpacks both — so the measured
image is the built one, byte for byte, plus those three small files.

Times are guest seconds since the kernel started (``/proc/uptime`` in bootmenu's ``phase``
lines and the scripts, printk timestamps for kernel lines).  bootmenu's decision line has no
timestamp: its guest time is estimated from its arrival on the serial line, relative to the
last timestamped line before it (TCG runs the guest clock at the host's pace).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rootfs.cpio import Entry
from tests.images import cpio_archive
from tests.vm import disks
from tests.vm.conftest import REPO, build_rootfs
from tests.vm.qemu import Disk, Firmware, Machine, MachineError, missing_prerequisites
from tests.vm.targets import TARGET_LINE, Targets, build_targets

HOOK = b"""#!/bin/sh
# bench: bootmenu's peak memory, read by a pre-boot hook (its parent is bootmenu).
read -r t _ </proc/uptime
hwm=$(sed -n 's/^VmHWM:[[:space:]]*//p' /proc/$PPID/status)
rss=$(sed -n 's/^VmRSS:[[:space:]]*//p' /proc/$PPID/status)
echo "bench-hook: t=$t VmHWM=$hwm VmRSS=$rss" >/dev/console
exit 0
"""

DISCOVER = b"""#!/bin/sh
# bench: bootmenu's discovery done by busybox sh: wait for udev, mount every filesystem
# read-only, look for boot configurations.
up() { read -r t _ </proc/uptime; echo "$t"; }
echo "bench-shell: start t=$(up)"
/usr/bin/udevadm settle
echo "bench-shell: settled t=$(up)"
first="" n=0 found=0
for sys in /sys/class/block/*; do
	name=${sys##*/}
	type=$(/usr/bin/udevadm info --query=property --name="/dev/$name" | sed -n 's/^ID_FS_TYPE=//p')
	case "$type" in ext4 | ext3 | ext2) opts=ro,noload ;; vfat) opts=ro ;; *) continue ;; esac
	n=$((n + 1))
	mkdir -p "/run/bench/$name"
	mount -t "$type" -o "$opts" "/dev/$name" "/run/bench/$name" || continue
	for f in /run/bench/$name/loader/entries/*.conf /run/bench/$name/EFI/Linux/*.efi \\
		/run/bench/$name/grub/grub.cfg /run/bench/$name/boot/grub/grub.cfg \\
		/run/bench/$name/extlinux/extlinux.conf; do
		[ -e "$f" ] || continue
		found=$((found + 1))
		[ -n "$first" ] || { first=$f; echo "bench-shell: first-entry t=$(up) $f"; }
	done
	umount "/run/bench/$name"
done
echo "bench-shell: done t=$(up) filesystems=$n configurations=$found"
"""

KEXEC = b"""#!/bin/sh
# bench: the plain way to start the default entry's kernel.  First, for comparison, the same
# files loaded with kexec_file_load (kexec -s, what bootmenu uses) and unloaded again.
up() { read -r t _ </proc/uptime; echo "$t"; }
mkdir -p /run/k /run/s
echo "bench-shell: kexec-file-start t=$(up)"
mount -t ext4 -o ro,noload "$1" /run/s
kexec -s -l "/run/s/$2" --initrd="/run/s/$3" --command-line="$4" &&
	echo "bench-shell: kexec-file-loaded t=$(up)"
kexec -u
umount /run/s
echo "bench-shell: kexec-start t=$(up)"
mount -t ext4 -o ro,noload "$1" /run/k
kexec -l "/run/k/$2" --initrd="/run/k/$3" --command-line="$4" &&
	echo "bench-shell: kexec-loaded t=$(up)" && kexec -e
"""

PHASE = re.compile(r"(bootmenu(?:-init)?|bench-shell|bench-hook): (?:phase )?([\w-]+):? t=([\d.]+)")
# printk's timestamp; in menu mode it can follow the menu's escape sequences on the same line.
PRINTK = re.compile(r"\[\s*(\d+\.\d{6})\] (.*)")
HOOK_LINE = re.compile(r"bench-hook: t=([\d.]+) VmHWM=(\d+) kB VmRSS=(\d+) kB")


@dataclass
class Run:
    """What one boot printed: phase name -> guest seconds, and the rest."""

    name: str
    phases: dict[str, float] = field(default_factory=dict)
    kexec: float | None = None  # guest time of "kexec_core: Starting new kernel"
    decision: float | None = None  # estimated guest time of "bootmenu: autoboot: <reason>"
    decision_text: str = ""
    hook: float | None = None  # guest time the pre-boot hook ran (the plan is made)
    menu_ready: float | None = None  # estimated guest time the menu first listed entries
    chosen: float | None = None  # estimated guest time Enter was sent to the menu
    hwm_kib: int | None = None
    rss_kib: int | None = None
    wall: float = 0.0
    log: Path | None = None
    stamps: list[tuple[float, float]] = field(default_factory=list)  # (host, guest) seconds

    def guest_at(self, host: float) -> float | None:
        """The guest time at host time ``host``, from the last timestamped line before it."""
        before = [(h, g) for h, g in self.stamps if h <= host]
        if not before:
            return None
        h, g = before[-1]
        return g + (host - h)

    def span(self, start: str, end: str) -> float | None:
        a, b = self.phases.get(start), self.phases.get(end)
        return None if a is None or b is None else b - a


def parse(name: str, lines: Sequence[tuple[float, str]]) -> Run:
    run = Run(name)
    offset: float | None = None  # host arrival minus guest time of the last stamped line
    for host, line in lines:
        stamp: float | None = None
        printk = PRINTK.search(line)
        if printk:
            stamp = float(printk.group(1))
            if "kexec_core: Starting new kernel" in printk.group(2) and run.kexec is None:
                run.kexec = stamp
        for m in PHASE.finditer(line):
            who, what, t = m.group(1), m.group(2), float(m.group(3))
            stamp = t
            key = what if who in ("bootmenu", "bench-hook") else f"{who}:{what}"
            run.phases.setdefault(key, t)
        hook = HOOK_LINE.search(line)
        if hook:
            run.hook = stamp = float(hook.group(1))
            run.hwm_kib, run.rss_kib = int(hook.group(2)), int(hook.group(3))
        if "bootmenu: autoboot: " in line and run.decision is None and " failed: " not in line:
            if offset is not None:
                run.decision = host - offset
            run.decision_text = line.split("bootmenu: autoboot: ", 1)[1]
        if stamp is not None:
            offset = host - stamp
            run.stamps.append((host, stamp))
    return run


def bench_initramfs(artifacts: Path, out: Path) -> Path:
    """bootmenu's initramfs with the hook and the scripts appended as a second archive."""
    extra = cpio_archive(
        [
            Entry.directory("bench"),
            Entry.file("bench/discover.sh", DISCOVER, 0o755),
            Entry.file("bench/kexec.sh", KEXEC, 0o755),
            Entry.directory("etc"),
            Entry.directory("etc/bootmenu"),
            Entry.directory("etc/bootmenu/hooks.d"),
            Entry.file("etc/bootmenu/hooks.d/00-bench", HOOK, 0o755),
        ]
    )
    data = (artifacts / "initramfs.cpio.zst").read_bytes()
    path = out / "initramfs-bench.img"
    path.write_bytes(data + b"\0" * (-len(data) % 4) + extra)
    return path


class Bench:
    def __init__(self, artifacts: Path, work: Path, firmware: Firmware) -> None:
        self.artifacts = artifacts
        self.work = work
        self.firmware = firmware
        self.initrd = bench_initramfs(artifacts, work)

    def machine(self, name: str, images: Sequence[Path], append: str) -> Machine:
        return Machine(
            self.work / f"{name}.log",
            firmware=self.firmware,
            kernel=self.artifacts / "vmlinuz",
            initrd=self.initrd,
            # BOOTMENU_PHASES=1 reaches /init's environment, so bootmenu prints its phase lines.
            append=f"console=ttyS0 BOOTMENU_PHASES=1 {append}",
            disks=[Disk(p) for p in images],
        )

    def say(self, text: str) -> None:
        print(f"bench: {text}", flush=True)

    def bootmenu(self, name: str, images: Sequence[Path]) -> Run:
        self.say(f"run {name}: bootmenu autoboot on {len(images)} disk(s)")
        with self.machine(name, images, "bootmenu.timeout=0 bootmenu.mode=autoboot") as m:
            m.expect(TARGET_LINE, 600, fail=[r"bootmenu-init: bootmenu exited", r"Kernel panic"])
            m.wait_exit(60)
            run = parse(name, m.timed_lines())
            run.wall, run.log = m.elapsed(), m.log_path
        return run

    def menu(self, name: str, images: Sequence[Path]) -> Run:
        self.say(f"run {name}: bootmenu's menu on {len(images)} disk(s), Enter boots the default")
        with self.machine(name, images, "bootmenu.mode=menu bootmenu.timeout=menu-force") as m:
            # The menu's title bar: "bootmenu 0.1.0  9 entries".
            m.expect(
                r"bootmenu [\d.]+ +[1-9]\d* entr", 300, fail=[r"bootmenu-init: bootmenu exited"]
            )
            ready = m.elapsed()
            m.expect(r"menu waits for the user", 60)
            chosen = m.elapsed()
            m.send("\r")
            with contextlib.suppress(MachineError):
                # The first key may only stop the (absent) countdown; then Enter again.
                m.expect(r"Automatic boot stopped", 10)
                time.sleep(2)
                chosen = m.elapsed()
                m.send("\r")
            m.expect(TARGET_LINE, 300)
            m.wait_exit(60)
            run = parse(name, m.timed_lines())
            run.wall, run.log = m.elapsed(), m.log_path
        run.menu_ready, run.chosen = run.guest_at(ready), run.guest_at(chosen)
        return run

    def shell(self, name: str, images: Sequence[Path]) -> Run:
        self.say(f"run {name}: busybox sh discovery and plain kexec on {len(images)} disk(s)")
        with self.machine(name, images, "bootmenu.timeout=0 bootmenu.mode=shell") as m:
            m.expect(r"bootmenu-rescue# ", 300)
            m.send("/bench/discover.sh\r")
            m.expect(r"bench-shell: done t=", 300)
            m.expect(r"bootmenu-rescue# ", 30)
            kernel = f"vmlinuz-{disks.KERNEL_VERSION}"
            initrd = f"initrd.img-{disks.KERNEL_VERSION}"
            m.send(f"/bench/kexec.sh /dev/vda2 {kernel} {initrd} '{disks.DEBIAN.options}'\r")
            m.expect(TARGET_LINE, 300)
            m.wait_exit(60)
            run = parse(name, m.timed_lines())
            run.wall, run.log = m.elapsed(), m.log_path
        return run


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def report(
    runs: dict[str, Run], manifest: dict[str, object], firmware: str, load: tuple[str, str]
) -> str:
    a, b, c, d = (runs.get(name, Run(name)) for name in "ABCD")
    init = "bootmenu-init:init"
    sh = "bench-shell:"
    file_loaded = b.phases.get(sh + "kexec-file-loaded")
    lines = [
        f"Date: {time.strftime('%Y-%m-%d')}; host: {platform.node()}, {cpu_model()}, "
        f"{_cores()} cores; QEMU TCG, -cpu max, 2 vCPUs, 1 GiB, {firmware.upper()}; "
        f"guest kernel {manifest.get('kernel_version')}. Host load average (1 min) before / "
        f"after the runs: {load[0]} / {load[1]} (other work on the host slows TCG down).",
        "",
        "### Start-up (run A: bootmenu; run B: busybox sh, same /init up to the hand-over)",
        "",
        "| guest seconds since kernel start | bootmenu (A) | busybox sh (B) |",
        "|---|---|---|",
        f"| /init starts | {_s(a.phases.get(init))} | {_s(b.phases.get(init))} |",
        f"| udevd started, coldplug triggered | {_s(a.phases.get('bootmenu-init:udev-started'))}"
        f" | {_s(b.phases.get('bootmenu-init:udev-started'))} |",
        f"| /init's module list loaded (in the background) "
        f"| {_s(a.phases.get('bootmenu-init:modules'))} "
        f"| {_s(b.phases.get('bootmenu-init:modules'))} |",
        f"| bootmenu's Python running (phase start) / shell script starts "
        f"| {_s(a.phases.get('start'))} | {_s(b.phases.get('bench-shell:start'))} |",
        f"| first entry found | {_s(a.phases.get('first-entry'))} "
        f"| {_s(b.phases.get('bench-shell:first-entry'))} |",
        f"| every disk scanned (A: autoboot decision, ≈) / script done | {_s(a.decision)} "
        f"| {_s(b.phases.get('bench-shell:done'))} |",
        f"| **init → first entry** "
        f"| **{_s(_diff(a.phases.get(init), a.phases.get('first-entry')))}** "
        f"| **{_s(_diff(b.phases.get(init), b.phases.get('bench-shell:first-entry')))}** |",
    ]
    e = runs.get("E")
    if e is not None:
        lines += [
            f"| menu shows entries (run E, menu mode, ≈) | {_s(e.menu_ready)} | |",
            f"| **init → menu ready** (E) | **{_s(_diff(e.phases.get(init), e.menu_ready))}** | |",
        ]
    lines += [
        "",
        "### Hand-off: chosen → `kexec_core: Starting new kernel`",
        "",
        "| | seconds |",
        "|---|---|",
        f"| bootmenu (A): autoboot decision (≈) → kexec_core | {_s(_diff(a.decision, a.kexec))} |",
        f"| of which: decision → pre-boot hook (files read, validated, plan made) "
        f"| {_s(_diff(a.decision, a.hook))} |",
        f"| of which: pre-boot hook → kexec_core (read again, loaded, unmounted) "
        f"| {_s(_diff(a.hook, a.kexec))} |",
        f"| plain `mount; kexec -l … && kexec -e` (B) "
        f"| {_s(_diff(b.phases.get('bench-shell:kexec-start'), b.kexec))} |",
        f"| for comparison: `mount; kexec -s -l …` (kexec_file_load) of the same files, load only "
        f"(B) | {_s(_diff(b.phases.get(sh + 'kexec-file-start'), file_loaded))} |",
    ]
    if e is not None:
        lines.append(
            f"| bootmenu's menu (E): Enter → kexec_core | {_s(_diff(e.chosen, e.kexec))} |"
        )
    lines += [
        "",
        "### Discovery against the number of partitions (one GPT disk, bootmenu autoboot)",
        "",
        "| | 1 partition (C) | 64 partitions (D) |",
        "|---|---|---|",
        f"| init → first entry | {_s(_diff(c.phases.get(init), c.phases.get('first-entry')))} "
        f"| {_s(_diff(d.phases.get(init), d.phases.get('first-entry')))} |",
        f"| bootmenu start → every partition scanned (≈) "
        f"| {_s(_diff(c.phases.get('start'), c.decision))} "
        f"| {_s(_diff(d.phases.get('start'), d.decision))} |",
        f"| bootmenu peak RSS (VmHWM) | {_kib(c.hwm_kib)} | {_kib(d.hwm_kib)} |",
        "",
        f"bootmenu's peak RSS on the demo disks (A): {_kib(a.hwm_kib)} "
        f"(VmHWM read by a pre-boot hook: after discovery, validation and planning, before "
        f"the kernel is loaded into memfds).",
        "",
        "### Initramfs size by part (manifest.json)",
        "",
        "| part | bytes (uncompressed) |",
        "|---|---|",
    ]
    sizes = manifest.get("sizes")
    if isinstance(sizes, dict):
        parts = sizes.get("parts", {})
        for part, size in sorted(parts.items(), key=lambda kv: -int(kv[1])):
            lines.append(f"| {part} | {int(size) / 1e6:.2f} MB |")
        for key, label in (("cpio", "initramfs, uncompressed"),
                           ("initramfs_zst", "initramfs, zstd"),
                           ("kernel", "kernel (vmlinuz)"), ("uki", "UKI")):  # fmt: skip
            if key in sizes:
                lines.append(f"| **{label}** | **{int(sizes[key]) / 1e6:.2f} MB** |")
    lines += ["", "Serial logs: " + ", ".join(str(r.log) for r in runs.values())]
    return "\n".join(lines)


def _kib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1024:.1f} MiB"


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def _cores() -> int:
    return os.cpu_count() or 0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def prepare(out: Path, *, firmware: Firmware, no_build: bool, needs: str) -> bool:
    """Check QEMU and the firmware are there, and build bootmenu into ``out`` (unless
    ``no_build`` and ``out/needs`` exists).  False (with the reason printed) when the bench
    cannot run."""
    missing = missing_prerequisites(firmware)
    if missing:
        print("bench: " + "; ".join(missing), file=sys.stderr)
        return False
    if not no_build or not (out / needs).is_file():
        print(f"bench: building bootmenu into {out}", flush=True)
        build_rootfs(out, show_progress=True)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "build")
    parser.add_argument("--no-build", action="store_true", help="use OUT's existing initramfs")
    parser.add_argument("--firmware", choices=("seabios", "ovmf"), default="seabios")
    parser.add_argument("--runs", default="ABCDE", help="which runs (default: %(default)s)")
    args = parser.parse_args(argv)
    out: Path = args.out
    if not prepare(out, firmware=args.firmware, no_build=args.no_build,
                   needs="initramfs.cpio.zst"):  # fmt: skip
        return 1
    manifest = json.loads((out / "manifest.json").read_text())
    work = out / "bench"
    work.mkdir(parents=True, exist_ok=True)
    print("bench: building the disks", flush=True)
    targets: Targets = build_targets(work / "targets", out)
    demo = disks.build_demo_disks(work / "demo", out)
    one = disks.build_many_partitions_disk(work / "parts-1.img", 1, targets)
    many = disks.build_many_partitions_disk(work / "parts-64.img", 64, targets)

    bench = Bench(out, work, args.firmware)
    load_before = _load()
    plan = {
        "A": lambda: bench.bootmenu("A", demo),
        "B": lambda: bench.shell("B", demo),
        "C": lambda: bench.bootmenu("C", [one]),
        "D": lambda: bench.bootmenu("D", [many]),
        "E": lambda: bench.menu("E", demo),
    }
    if manifest.get("default_mode") != "menu":
        del plan["E"]
    runs = {name: plan[name]() for name in plan if name in args.runs.upper()}
    print()
    print(report(runs, manifest, args.firmware, (load_before, _load())))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
