"""The QEMU harness itself, on the smallest real guest: the Multiboot 1 test kernel booted by
QEMU's own ``-kernel`` loader (about 2 s).  Proves the monitor works (the machine starts paused,
``info status`` says so, QMP ``cont`` starts it), the serial console reaches ``expect``, and
isa-debug-exit's value arrives as QEMU's exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mbkernel import build_mb_kernel
from tests.vm.qemu import Disk, Machine
from tests.vm.targets import MB_EXIT_STATUS, mb_line

pytestmark = pytest.mark.vm


def test_monitor_serial_console_and_exit_status(tmp_path: Path) -> None:
    kernel = build_mb_kernel(1, tmp_path / "mb")
    disk = tmp_path / "blank.img"
    disk.write_bytes(bytes(1 << 20))
    machine = Machine(
        tmp_path / "serial.log",
        kernel=kernel,
        append="harness check",
        disks=[Disk(disk, serial="blank0")],
        extra_args=["-S"],  # start paused
    )
    with machine:
        assert "paused" in machine.monitor("info status")
        assert str(disk) in machine.monitor("info block")
        machine.qmp("cont")
        cmdline = machine.expect(mb_line(1), 60).group(1)
        status = machine.wait_exit(30)

    # QEMU's Multiboot loader passes the kernel's path first, then -append.
    assert cmdline == f"{kernel} harness check"
    assert status == MB_EXIT_STATUS
    assert "BOOTMENU-MB1-OK" in (tmp_path / "serial.log").read_text()
