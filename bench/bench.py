"""bench: bootmenu against the same work done by hand, as ratios inside one run.  Not a test.

``python -m bench.bench [--out build] [--no-build] [--runs menu,auto,…] [--compare OLD NEW]``

Builds the initramfs (``python -m rootfs build``) unless ``--no-build``, the disks, and boots
one QEMU machine per run (SeaBIOS, the built kernel and initramfs):

- ``menu``: the menu on the demo disks: /init → the menu shows a settled view's entries;
- ``auto``: headless autoboot on the demo disks: /init → the decision, decision →
  ``kexec_core: Starting new kernel``, bootmenu's peak RSS (VmHWM in its phase lines);
- ``shell``: the same initramfs with ``bootmenu.mode=shell``: a busybox script does the same
  discovery (udev settled, every filesystem mounted read-only and looked into), then
  ``kexec -s -l`` and ``kexec -e`` of the default entry's files: the baselines;
- ``parts-1|8|32|64``: one GPT disk with that many partitions (ext4 and FAT, a BLS entry each);
  ``disks-16x4``: 16 such disks of 4 partitions; ``bls-1|10|100``: one filesystem with that many
  BLS entries, each with its own kernel and initrd file; ``grub-40``: Ubuntu 22.04's generated
  grub.cfg with 40 kernels (81 entries): discovery = bootmenu's phase start (its core
  imported, discovery begins) → the decision;
- ``efi``: bench/efi_handoff.py's two runs (OVMF): Enter → leaving Linux through the UEFI
  payload and through BootNext.

It prints each goal of docs/performance.md with its baseline from the same run, the ratio and
PASS/FAIL, the phases of every run, writes them all to ``bench/results/<date>-<time>.json``
(``--compare OLD NEW`` prints two such files side by side) and draws discovery time against
partitions and entries into ``docs/performance-discovery.svg``.  Exit status 3 when a goal fails.

Times are guest seconds since the kernel started: ``/proc/uptime`` in the ``phase`` lines of
/init and bootmenu (``BOOTMENU_PHASES`` on the kernel command line; the menu writes its own to a
second serial port, a file on the host, so nothing draws over its screen), in the bench scripts,
and printk timestamps.  The two bench scripts are appended
to bootmenu's initramfs as a second, uncompressed cpio archive, so the measured image is the
built one plus two small files.
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
from typing import Any, Final

from rootfs.cpio import Entry
from tests.images import cpio_archive
from tests.vm import disks
from tests.vm.conftest import REPO, build_rootfs
from tests.vm.qemu import Disk, Firmware, Machine, MachineError, accel, missing_prerequisites
from tests.vm.targets import TARGET_LINE, Targets, build_targets

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
# bench: the plain way to start the default entry's kernel with the system call bootmenu uses
# (kexec_file_load: kexec -s), from mounting its filesystem to the jump.
up() { read -r t _ </proc/uptime; echo "$t"; }
mkdir -p /run/k
echo "bench-shell: kexec-start t=$(up)"
mount -t ext4 -o ro,noload "$1" /run/k
kexec -s -l "/run/k/$2" --initrd="/run/k/$3" --command-line="$4" &&
	echo "bench-shell: kexec-loaded t=$(up)" && kexec -e
"""

PHASE = re.compile(
    r"(bootmenu(?:-init)?|bench-shell): (?:phase )?([\w-]+):? t=([\d.]+)(?: hwm=(\d+))?"
)
# printk's timestamp; in menu mode it can follow the menu's escape sequences on the same line.
PRINTK = re.compile(r"\[\s*(\d+\.\d{6})\] (.*)")


@dataclass
class Run:
    """What one boot printed: phase name -> guest seconds, and the rest."""

    name: str
    phases: dict[str, float] = field(default_factory=dict)
    kexec: float | None = None  # guest time of "kexec_core: Starting new kernel"
    decision: float | None = None  # estimated guest time of "bootmenu: autoboot: <reason>"
    decision_text: str = ""
    menu_ready: float | None = None  # estimated guest time the menu first listed entries
    chosen: float | None = None  # estimated guest time Enter was sent to the menu
    hwm_kib: int | None = None  # bootmenu's peak RSS, from its last phase line
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
            key = what if who == "bootmenu" else f"{who}:{what}"
            run.phases.setdefault(key, t)
            if m.group(4) is not None:
                run.hwm_kib = max(run.hwm_kib or 0, int(m.group(4)))
        if "bootmenu: autoboot: " in line and run.decision is None and " failed: " not in line:
            if offset is not None:
                run.decision = host - offset
            run.decision_text = line.split("bootmenu: autoboot: ", 1)[1]
        if stamp is not None:
            offset = host - stamp
            run.stamps.append((host, stamp))
    return run


def bench_initramfs(artifacts: Path, out: Path) -> Path:
    """bootmenu's initramfs with the bench scripts appended as a second archive."""
    extra = cpio_archive(
        [
            Entry.directory("bench"),
            Entry.file("bench/discover.sh", DISCOVER, 0o755),
            Entry.file("bench/kexec.sh", KEXEC, 0o755),
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

    def machine(
        self, name: str, images: Sequence[Path], append: str, *, phases: str = "1",
        extra_args: Sequence[str] = (),
    ) -> Machine:  # fmt: skip
        return Machine(
            self.work / f"{name}.log",
            firmware=self.firmware,
            kernel=self.artifacts / "vmlinuz",
            initrd=self.initrd,
            # BOOTMENU_PHASES reaches /init's environment, so bootmenu prints its phase lines.
            append=f"console=ttyS0 BOOTMENU_PHASES={phases} {append}",
            disks=[Disk(p) for p in images],
            extra_args=extra_args,
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
        """The menu on the console; its phase lines go to a second serial port (a file here),
        so they neither draw over the menu nor depend on reading its screen."""
        self.say(f"run {name}: bootmenu's menu on {len(images)} disk(s), Enter boots the default")
        phases = self.work / f"{name}-phases.log"
        phases.unlink(missing_ok=True)
        with self.machine(
            name, images, "bootmenu.mode=menu bootmenu.timeout=menu-force",
            phases="/dev/ttyS1", extra_args=("-serial", f"file:{phases}"),
        ) as m:  # fmt: skip
            deadline = time.monotonic() + 300
            waits = False
            while "phase menu-settled" not in _read(phases):
                if time.monotonic() > deadline:
                    raise MachineError(f"{name}: the menu never showed a settled view", m.log_path)
                # Keep reading the console while waiting: QEMU stops the guest's serial port
                # (and with it the guest) when nobody reads what it prints.
                try:
                    m.expect(r"menu waits for the user", 0.2)
                    waits = True
                except MachineError:
                    pass
            if not waits:
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
        for line in _read(phases).splitlines():
            for found in PHASE.finditer(line):
                run.phases.setdefault(found.group(2), float(found.group(3)))
                if found.group(4) is not None:
                    run.hwm_kib = max(run.hwm_kib or 0, int(found.group(4)))
        run.chosen = run.guest_at(chosen)
        return run

    def shell(self, name: str, images: Sequence[Path]) -> Run:
        self.say(f"run {name}: busybox sh discovery and kexec -s on {len(images)} disk(s)")
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


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


# -- the goals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table: a measured value against its baseline from the same run of the
    bench (or, with ``absolute``, against a fixed limit), and the goal for the ratio."""

    key: str
    what: str
    baseline_what: str
    value: float | None
    baseline: float | None
    goal: float
    unit: str = "s"
    absolute: bool = False  # the goal is a limit for the value itself (sizes)

    @property
    def ratio(self) -> float | None:
        if self.absolute or self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def verdict(self) -> str:
        if self.absolute:
            return "n/a" if self.value is None else "PASS" if self.value <= self.goal else "FAIL"
        ratio = self.ratio
        return "n/a" if ratio is None else "PASS" if ratio <= self.goal else "FAIL"

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key, "what": self.what, "baseline_what": self.baseline_what,
            "value": self.value, "baseline": self.baseline, "unit": self.unit,
            "ratio": self.ratio, "goal": self.goal, "absolute": self.absolute,
            "verdict": self.verdict,
        }  # fmt: skip


INIT = "bootmenu-init:init"
PARTITIONS: Final = (1, 8, 32, 64)
ENTRIES: Final = (1, 10, 100)
DISKS_X_PARTS: Final = (16, 4)
GRUB_KERNELS: Final = 40


def discovery(run: Run | None) -> float | None:
    """bootmenu's discovery: its Python running (phase start) → the autoboot decision taken
    on a settled view."""
    return None if run is None else run.span("start", "decision")


def rows(runs: dict[str, Run], efi: dict[str, float], sizes: dict[str, float]) -> list[Row]:
    def get(name: str) -> Run:
        return runs.get(name, Run(name))

    menu, auto, shell = get("menu"), get("auto"), get("shell")
    shell_done = _diff(shell.phases.get(INIT), shell.phases.get("bench-shell:done"))
    one_part = discovery(runs.get("parts-1"))
    one_entry = discovery(runs.get("bls-1"))
    d, p = DISKS_X_PARTS
    hwm = [r.hwm_kib for r in runs.values() if r.hwm_kib is not None]
    return [
        Row("menu", "/init → the menu shows every entry of the demo disks (settled)",
            "/init → busybox sh has done the same discovery",
            _diff(menu.phases.get(INIT), menu.phases.get("menu-settled")), shell_done, 1.5),
        Row("headless", "/init → headless autoboot decision (demo disks)",
            "/init → busybox sh has done the same discovery",
            _diff(auto.phases.get(INIT), auto.phases.get("decision")), shell_done, 1.3),
        Row("handoff", "decision → kexec_core: Starting new kernel (bootmenu, autoboot)",
            "mount; kexec -s -l …; kexec -e (busybox sh, same files)",
            _diff(auto.phases.get("decision"), auto.kexec),
            _diff(shell.phases.get("bench-shell:kexec-start"), shell.kexec), 1.1),
        Row("parts-64", "discovery of 64 partitions (one disk)", "of 1 partition",
            discovery(runs.get("parts-64")), one_part, 3.0),
        Row(f"disks-{d}x{p}", f"discovery of {d} disks × {p} partitions", "of 1 partition",
            discovery(runs.get(f"disks-{d}x{p}")), one_part, 3.0),
        Row("bls-100", "discovery of a disk with 100 BLS entries (100 kernels)", "with 1 entry",
            discovery(runs.get("bls-100")), one_entry, 2.0),
        Row(f"grub-{GRUB_KERNELS}", f"discovery of Ubuntu's grub.cfg with {GRUB_KERNELS} kernels",
            "with 1 entry", discovery(runs.get(f"grub-{GRUB_KERNELS}")), one_entry, 2.0),
        Row("efi", "Enter → leaving Linux, UEFI payload route (OVMF)", "the BootNext route",
            efi.get("payload"), efi.get("bootnext"), 1.1),
        Row("initramfs", "initramfs with the payload, zstd", "limit", sizes.get("initramfs"),
            None, 12.0, unit="MiB", absolute=True),
        Row("rss", "bootmenu's peak RSS (VmHWM, largest of the runs)", "limit",
            max(hwm) / 1024 if hwm else None, None, 80.0, unit="MiB", absolute=True),
    ]  # fmt: skip


def table(result: Sequence[Row]) -> str:
    lines = [
        "| what | value | baseline (same run) | ratio | goal | |",
        "|---|---|---|---|---|---|",
    ]
    for row in result:
        value = "n/a" if row.value is None else f"{row.value:.2f} {row.unit}"
        if row.absolute:
            base, ratio, goal = "—", "—", f"≤ {row.goal:g} {row.unit}"
        else:
            base = "n/a" if row.baseline is None else f"{row.baseline:.2f} {row.unit}"
            base = f"{base} ({row.baseline_what})"
            ratio = "n/a" if row.ratio is None else f"{row.ratio:.2f}×"
            goal = f"≤ {row.goal:g}×"
        lines.append(f"| {row.what} | {value} | {base} | {ratio} | {goal} | **{row.verdict}** |")
    return "\n".join(lines)


def series(runs: dict[str, Run]) -> dict[str, list[tuple[int, float]]]:
    """Discovery seconds against partitions and against entries, for the plot."""
    out: dict[str, list[tuple[int, float]]] = {"partitions": [], "entries": []}
    for n in PARTITIONS:
        t = discovery(runs.get(f"parts-{n}"))
        if t is not None:
            out["partitions"].append((n, t))
    for n in ENTRIES:
        t = discovery(runs.get(f"bls-{n}"))
        if t is not None:
            out["entries"].append((n, t))
    return out


def svg_plot(data: dict[str, list[tuple[int, float]]], caption: str) -> str:
    """Two small line charts side by side (seconds against count), as plain SVG."""
    width, height, pad = 320, 220, 44
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height + 30}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{2 * width}" height="{height + 30}" fill="white"/>',
    ]
    ymax = max((t for points in data.values() for _, t in points), default=1.0) * 1.15 or 1.0
    for k, (label, points) in enumerate(data.items()):
        x0 = k * width
        xmax = max((n for n, _ in points), default=1)

        def px(n: float, x0: int = x0, xmax: int = xmax) -> float:
            return x0 + pad + (width - 1.5 * pad) * n / xmax

        def py(t: float) -> float:
            return height - pad + 10 - (height - 1.5 * pad) * t / ymax

        parts.append(f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(xmax):.1f}" '
                     f'y2="{py(0):.1f}" stroke="black"/>')  # fmt: skip
        parts.append(f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(0):.1f}" '
                     f'y2="{py(ymax):.1f}" stroke="black"/>')  # fmt: skip
        for i in range(5):
            t = ymax * i / 4
            parts.append(f'<text x="{px(0) - 4:.1f}" y="{py(t) + 4:.1f}" '
                         f'text-anchor="end">{t:.1f}</text>')  # fmt: skip
        for n, t in points:
            parts.append(f'<text x="{px(n):.1f}" y="{py(0) + 14:.1f}" '
                         f'text-anchor="middle">{n}</text>')  # fmt: skip
            parts.append(f'<circle cx="{px(n):.1f}" cy="{py(t):.1f}" r="3" fill="#1f5fa8"/>')
            parts.append(f'<text x="{px(n) + 5:.1f}" y="{py(t) - 5:.1f}">{t:.2f} s</text>')
        path = " ".join(f"{px(n):.1f},{py(t):.1f}" for n, t in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
        parts.append(f'<text x="{x0 + width / 2:.1f}" y="{height + 2:.1f}" '
                     f'text-anchor="middle">{label}</text>')  # fmt: skip
        parts.append(f'<text x="{x0 + 8}" y="14">discovery seconds vs {label}</text>')
    parts.append(f'<text x="8" y="{height + 22}" fill="#555">{caption}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def details(runs: dict[str, Run]) -> str:
    """The phases of each run, for finding where the time goes."""
    lines = ["| run | /init | udev started | Python running | bootmenu start | first entry | "
             "settled | decision / menu | kexec_core | peak RSS |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in runs.items():

        def at(key: str, r: Run = r) -> str:
            value = r.phases.get(key)
            return "" if value is None else f"{value:.2f}"

        decided = at("decision") or at("menu-settled") or at("bench-shell:done")
        kexec = "" if r.kexec is None else f"{r.kexec:.2f}"
        rss = "" if r.hwm_kib is None else f"{r.hwm_kib / 1024:.1f} MiB"
        lines.append(
            f"| {name} | {at(INIT)} | {at('bootmenu-init:udev-started')} | {at('python')} "
            f"| {at('start') or at('bench-shell:start')} | "
            f"{at('first-entry') or at('bench-shell:first-entry')} | {at('settled')} "
            f"| {decided} | {kexec} | {rss} |"
        )
    return "\n".join(lines)


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


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


def compare(old: Path, new: Path) -> str:
    """Two result files side by side."""
    a = {r["key"]: r for r in json.loads(old.read_text())["rows"]}
    b = {r["key"]: r for r in json.loads(new.read_text())["rows"]}
    lines = [f"| what | {old.name} | {new.name} |", "|---|---|---|"]

    def cell(r: dict[str, Any] | None) -> str:
        if r is None or r["value"] is None:
            return "n/a"
        ratio = "" if r["ratio"] is None else f", {r['ratio']:.2f}×"
        return f"{r['value']:.2f} {r['unit']}{ratio} {r['verdict']}"

    for key in [*a, *(k for k in b if k not in a)]:
        what = (b.get(key) or a[key])["what"]
        lines.append(f"| {what} | {cell(a.get(key))} | {cell(b.get(key))} |")
    return "\n".join(lines)


RUN_NAMES: Final = (
    "menu", "auto", "shell",
    *(f"parts-{n}" for n in PARTITIONS), f"disks-{DISKS_X_PARTS[0]}x{DISKS_X_PARTS[1]}",
    *(f"bls-{n}" for n in ENTRIES), f"grub-{GRUB_KERNELS}", "efi",
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "build")
    parser.add_argument("--no-build", action="store_true", help="use OUT's existing initramfs")
    parser.add_argument("--firmware", choices=("seabios", "ovmf"), default="seabios")
    parser.add_argument("--runs", default=",".join(RUN_NAMES),
                        help="comma-separated runs (default: all: %(default)s)")  # fmt: skip
    parser.add_argument("--results", type=Path, default=REPO / "bench/results",
                        help="where the JSON result goes (default: %(default)s)")  # fmt: skip
    parser.add_argument("--plot", type=Path, default=REPO / "docs/performance-discovery.svg",
                        help="the discovery plot (default: %(default)s)")  # fmt: skip
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"),
                        help="print two result files side by side and exit")  # fmt: skip
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(*args.compare))
        return 0
    wanted = [name for name in args.runs.split(",") if name]
    unknown = [name for name in wanted if name not in RUN_NAMES]
    if unknown:
        parser.error(f"unknown runs: {', '.join(unknown)} (known: {', '.join(RUN_NAMES)})")
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

    bench = Bench(out, work, args.firmware)
    load_before = _load()

    def run_one(name: str) -> Run:
        if name in ("menu", "auto", "shell"):
            return {"menu": bench.menu, "auto": bench.bootmenu, "shell": bench.shell}[name](
                name, demo
            )
        kind, _, arg = name.partition("-")
        image = work / f"{name}.img"
        if kind == "parts":
            images = [disks.build_many_partitions_disk(image, int(arg), targets)]
        elif kind == "disks":
            count, each = DISKS_X_PARTS
            one = disks.build_many_partitions_disk(image, each, targets)
            images = [one, *(disks.copy_image(one, work / f"{name}-{k}.img")
                             for k in range(1, count))]  # fmt: skip
        elif kind == "bls":
            images = [disks.build_entries_disk(image, int(arg), targets)]
        else:
            images = [disks.build_ubuntu_grub_disk(image, int(arg), targets)]
        return bench.bootmenu(name, images)

    runs: dict[str, Run] = {}
    efi: dict[str, float] = {}
    for name in wanted:
        if name == "efi":
            efi = efi_runs(out, work)
        else:
            runs[name] = run_one(name)
    sizes = {"initramfs": (out / "initramfs.cpio.zst").stat().st_size / 2**20}
    result = rows(runs, efi, sizes)
    load = (load_before, _load())
    header = (
        f"{time.strftime('%Y-%m-%d %H:%M')}; {platform.node()}, {cpu_model()}, "
        f"{os.cpu_count()} cores; QEMU -accel {accel()}, -cpu max, 2 vCPUs, 1 GiB, "
        f"{args.firmware.upper()} (the EFI row: OVMF, 2 GiB); guest kernel "
        f"{manifest.get('kernel_version')}; load average before / after: {load[0]} / {load[1]}"
    )
    print()
    print(header)
    print()
    print(table(result))
    print()
    print(details(runs))
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({
        "header": header, "rows": [r.as_json() for r in result],
        "runs": {n: {"phases": r.phases, "kexec": r.kexec, "hwm_kib": r.hwm_kib}
                 for n, r in runs.items()},
        "efi": efi, "series": series(runs), "sizes": manifest.get("sizes"),
    }, indent=1) + "\n")  # fmt: skip
    print(f"\nbench: results in {path}")
    data = series(runs)
    if any(data.values()):
        args.plot.write_text(svg_plot(data, header.split(";")[0] + ", bench/bench.py"))
        print(f"bench: plot in {args.plot}")
    return 0 if all(r.verdict != "FAIL" for r in result) else 3


def efi_runs(out: Path, work: Path) -> dict[str, float]:
    """Enter → leaving Linux on each EFI route (bench/efi_handoff.py's runs, OVMF)."""
    from bench.efi_handoff import one_run

    efi_dir = work / "efi"
    efi_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, float] = {}
    for route in ("payload", "bootnext"):
        print(f"bench: run efi: {route}", flush=True)
        found[route] = one_run(out / "bootmenu.efi", efi_dir, route).left_linux
    return found


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(1)
