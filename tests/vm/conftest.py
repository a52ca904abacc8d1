"""Fixtures of the VM tier: the bootmenu initramfs, the targets, disk images, QEMU machines.

The initramfs under test is built once per session with ``python -m rootfs build`` into a
session directory (downloads are cached by the builder), so the tests always boot the current
code.  ``BOOTMENU_VM_ARTIFACTS=DIR`` boots an existing build (``DIR/vmlinuz``,
``DIR/initramfs.cpio.zst``) instead.

Every machine's serial console is logged to a file in the test's temporary directory; when a
test fails, the report lists those files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.vm import disks
from tests.vm.qemu import Disk, Firmware, Machine, missing_prerequisites
from tests.vm.screen import Screen
from tests.vm.targets import Targets, build_targets

REPO = Path(__file__).resolve().parents[2]

# Every boot of bootmenu gets these (the command line external checks use), then the test's.
BASE_APPEND = "console=ttyS0 bootmenu.timeout=0"
# bootmenu's headless mode, named explicitly: the tests check its logged decision.  The
# initramfs' default mode (the menu) is booted by test_boot's first test with exactly the
# command line external checks use, "console=ttyS0 bootmenu.timeout=0".
AUTOBOOT = "bootmenu.mode=autoboot"
# What ends a test at once: bootmenu never returns when it boots something.
BOOTMENU_FAILED = (
    r"bootmenu-init: bootmenu exited with status \d+",
    r"bootmenu-init: rescue shell",
    r"Kernel panic",
)

_serial_logs = pytest.StashKey[list[Path]]()


@pytest.fixture(autouse=True)
def _vm_prerequisites(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("vm") is None:
        return
    missing = missing_prerequisites("ovmf")
    if missing:
        pytest.skip("; ".join(missing))


@dataclass(frozen=True)
class Artifacts:
    """What ``python -m rootfs build`` wrote."""

    directory: Path
    vmlinuz: Path
    initramfs: Path
    build_seconds: float | None = None


def build_rootfs(out: Path, *, show_progress: bool = False) -> Artifacts:
    """Run ``python -m rootfs build --out OUT``; its output goes to the terminal with
    ``show_progress``, else it is kept for the error message."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rootfs", "build", "--out", str(out)],
        cwd=REPO,
        capture_output=not show_progress,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stderr or "")[-4000:] or (result.stdout or "")[-4000:]
        raise RuntimeError(
            f"python -m rootfs build --out {out} failed ({result.returncode}):\n{output}"
        )
    return Artifacts(out, out / "vmlinuz", out / "initramfs.cpio.zst",
                     time.monotonic() - started)  # fmt: skip


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    given = os.environ.get("BOOTMENU_VM_ARTIFACTS")
    if given:
        directory = Path(given)
        found = Artifacts(directory, directory / "vmlinuz", directory / "initramfs.cpio.zst")
    else:
        try:
            found = build_rootfs(tmp_path_factory.mktemp("rootfs"))
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)
    for path in (found.vmlinuz, found.initramfs):
        if not path.is_file():
            pytest.fail(f"the bootmenu build has no {path}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def targets(tmp_path_factory: pytest.TempPathFactory, artifacts: Artifacts) -> Targets:
    return build_targets(tmp_path_factory.mktemp("targets"), artifacts.directory)


DiskFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def _disk_cache(tmp_path_factory: pytest.TempPathFactory, targets: Targets) -> dict[str, Path]:
    return {}


@pytest.fixture
def make_disk(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    targets: Targets,
    _disk_cache: dict[str, Path],
) -> DiskFactory:
    """``make_disk("boot", default=disks.MISSING)`` → a private copy (in the test's tmp dir) of
    a disk image built once per session for those arguments.  Kinds: ``boot``, ``extlinux``."""

    def make(kind: str, **options: object) -> Path:
        key = f"{kind}-" + "-".join(f"{k}={options[k]!r}" for k in sorted(options))
        if key not in _disk_cache:
            directory = tmp_path_factory.mktemp("disk")
            path = directory / f"{kind}.img"
            if kind == "boot":
                disks.build_boot_disk(path, targets, **options)  # type: ignore[arg-type]
            elif kind == "extlinux":
                disks.build_extlinux_disk(path, targets)
            else:
                raise ValueError(f"unknown disk kind {kind!r}")
            _disk_cache[key] = path
        copy = tmp_path / f"{kind}-{len(list(tmp_path.glob(f'{kind}-*.img')))}.img"
        return disks.copy_image(_disk_cache[key], copy)

    return make


@dataclass
class BootResult:
    output: str  # everything on the serial console
    match_text: str  # the marker's captured group (the command line the target got)
    status: int  # QEMU's exit status
    seconds: float
    checksums_before: dict[Path, str] = field(default_factory=dict)
    checksums_after: dict[Path, str] = field(default_factory=dict)

    def bootmenu_lines(self) -> list[str]:
        """bootmenu's own log lines (``bootmenu: …``), without carriage returns."""
        lines = self.output.replace("\r", "").splitlines()
        return [line[line.index("bootmenu: ") :] for line in lines if "bootmenu: " in line]


# boot_bootmenu's function: ``boot(disks, marker, firmware=…, append=…, bus=…)``.
Boot = Callable[..., BootResult]


@pytest.fixture
def boot_bootmenu(
    request: pytest.FixtureRequest, tmp_path: Path, artifacts: Artifacts
) -> Iterator[Callable[..., BootResult]]:
    """``boot_bootmenu(disks, marker, firmware=…, append=…, bus=…)``: boot bootmenu's kernel and
    initramfs with ``console=ttyS0 bootmenu.timeout=0`` plus ``append`` and the disks on ``bus``
    (``virtio`` or ``ahci``: one for all disks or one per disk), wait for ``marker`` (a compiled
    pattern whose group 1 is returned) and for QEMU to exit; checksum every disk image before
    and after."""
    machines: list[Machine] = []
    request.node.stash[_serial_logs] = []

    def boot(
        images: list[Path],
        marker: object,
        *,
        firmware: Firmware = "seabios",
        append: str = "",
        bus: str | Sequence[str] = "virtio",
        timeout: float = 240,
    ) -> BootResult:
        buses = [bus] * len(images) if isinstance(bus, str) else list(bus)
        before = {p: disks.sha256(p) for p in images}
        log = tmp_path / f"serial-{len(machines)}-{firmware}.log"
        request.node.stash[_serial_logs].append(log)
        machine = Machine(
            log,
            firmware=firmware,
            kernel=artifacts.vmlinuz,
            initrd=artifacts.initramfs,
            append=f"{BASE_APPEND} {append}".strip(),
            disks=[
                Disk(p, bus=b, serial=f"disk{n}")  # type: ignore[arg-type]
                for n, (p, b) in enumerate(zip(images, buses, strict=True))
            ],
        )
        machines.append(machine)
        with machine:
            match = machine.expect(marker, timeout, fail=BOOTMENU_FAILED)  # type: ignore[arg-type]
            status = machine.wait_exit(60)
            seconds = machine.elapsed()
            output = machine.output
        after = {p: disks.sha256(p) for p in images}
        return BootResult(output, match.group(1), status, seconds, before, after)

    yield boot
    for machine in machines:
        machine.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    logs = item.stash.get(_serial_logs, [])
    if report.failed and logs:
        report.sections.append(("serial console logs", "\n".join(str(p) for p in logs)))
    return report


@pytest.fixture
def menu_machine(
    tmp_path: Path, artifacts: Artifacts
) -> Iterator[Callable[..., tuple[Machine, Screen]]]:
    """``start(append, disks, extra_args=())`` → a running machine with bootmenu's kernel and
    initramfs (``console=ttyS0`` first), and its screen."""
    machines: list[Machine] = []

    def start(
        append: str, images: list[Disk], extra_args: tuple[str, ...] = ()
    ) -> tuple[Machine, Screen]:
        machine = Machine(
            tmp_path / f"serial-{len(machines)}.log",
            kernel=artifacts.vmlinuz,
            initrd=artifacts.initramfs,
            append=f"console=ttyS0 {append}",
            disks=images,
            extra_args=extra_args,
        )
        machines.append(machine)
        machine.start()
        return machine, Screen(machine)

    yield start
    for machine in machines:
        machine.close()
