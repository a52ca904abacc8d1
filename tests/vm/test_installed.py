"""bootmenu on an installed system (issue 14): a Debian 12 guest with systemd as PID 1 on ext4.

The guest (:mod:`tests.vm.guest`) boots from its own disk under OVMF (a fresh variable store:
the removable path), and the test types on the root shell of its serial console.

- ``bootmenu install --once`` then ``systemctl reboot``: the firmware's next boot starts
  bootmenu from the ESP — OVMF's own ``BdsDxe: loading Boot#### "bootmenu"`` line names the
  entry install said it created — and bootmenu's menu comes up on the serial console.
- ``bootmenu boot second.conf`` (a marker EFI application, through edk2's Universal Payload):
  bootmenu loads the payload, asks systemd to finish (``systemctl kexec``); systemd stops the
  services and unmounts the filesystems (its shutdown messages appear), the kernel jumps
  (``kexec_core: Starting new kernel``) and the marker prints; no firmware reset (QEMU runs with
  ``-no-reboot``, and the firmware printed its start of the guest once). The guest's root
  filesystem is clean afterwards (``e2fsck -fn``: nothing to replay, nothing to fix), and the
  marker disk is bit-identical.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Final

import pytest

from tests.vm import disks
from tests.vm.conftest import Artifacts
from tests.vm.guest import PROMPT, UKI_IN_GUEST, Guest, build_guest
from tests.vm.qemu import Disk, Machine
from tests.vm.screen import DOWN, Screen
from tests.vm.test_payload import FIRST_MARKER, KEXEC_STARTED, SECOND_MARKER, build_disk

pytestmark = pytest.mark.vm

# The guest's kernel died, or its initramfs found no root.
GUEST_FAILED: Final = (r"Kernel panic", r"guest-initramfs: no root filesystem",
                       r"Failed to start .*guest-shell")  # fmt: skip
# OVMF starting a Boot#### option (printed on the serial console by its BdsDxe).
FIRMWARE_LOADING: Final = r'BdsDxe: loading (Boot[0-9A-F]{4}) "([^"\r\n]*)"'
# What systemd prints while it shuts the system down for kexec (manager, then systemd-shutdown).
SHUTDOWN_LINES: Final = (
    r"Reached target .*final\.target",
    re.escape("systemd-shutdown[1]: All filesystems unmounted."),
    re.escape("systemd-shutdown[1]: Rebooting with kexec."),
)


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory, artifacts: Artifacts) -> Guest:
    return build_guest(tmp_path_factory.mktemp("guest"), artifacts.directory)


def guest_machine(tmp_path: Path, guest: Guest, *extra: Disk, no_reboot: bool) -> Machine:
    disk = disks.copy_image(guest.disk, tmp_path / "guest.img")
    return Machine(
        tmp_path / "serial.log",
        firmware="ovmf",
        disks=[Disk(disk, bus="ahci"), *extra],
        memory_mib=2048,
        no_reboot=no_reboot,
    )


def type_command(vm: Machine, command: str) -> None:
    """Wait for the guest's shell, then type ``command`` and Enter."""
    vm.expect(re.escape(PROMPT), 300, fail=GUEST_FAILED)
    vm.send(command + "\r")


def root_partition(disk: Path, out: Path) -> Path:
    """Copy the guest's root filesystem (its second partition) out of ``disk`` into ``out``."""
    listed = subprocess.run(
        ["sfdisk", "--json", str(disk)], capture_output=True, text=True, check=True
    )
    table = json.loads(listed.stdout)["partitiontable"]
    part = table["partitions"][1]
    sector = table.get("sectorsize", 512)
    with open(disk, "rb") as src, open(out, "wb") as dst:
        src.seek(part["start"] * sector)
        left = part["size"] * sector
        while left:
            chunk = src.read(min(left, 1 << 20))
            dst.write(chunk)
            left -= len(chunk)
    return out


def test_install_once_then_reboot_starts_bootmenu_from_the_esp(
    tmp_path: Path, guest: Guest
) -> None:
    vm = guest_machine(tmp_path, guest, no_reboot=False)
    with vm:
        type_command(vm, f"bootmenu install --once {UKI_IN_GUEST} && systemctl reboot")
        created = vm.expect(r'create (Boot[0-9A-F]{4}) "bootmenu": HD\(1,GPT,([0-9a-f-]+),',
                            120, fail=GUEST_FAILED)  # fmt: skip
        number = created.group(1)
        assert created.group(2) == guest.esp_partuuid
        vm.expect(re.escape(f"set BootNext to {number}"), 30, fail=GUEST_FAILED)
        vm.expect(r"reboot: Restarting system", 120, fail=GUEST_FAILED)
        loading = vm.expect(FIRMWARE_LOADING, 120, fail=GUEST_FAILED)
        assert (loading.group(1), loading.group(2)) == (number, "bootmenu"), loading.group(0)
        screen = Screen(vm)
        screen.wait(
            "bootmenu's menu with the guest's ESP",
            lambda: screen.entry_count() is not None and not screen.scanning()
            and any("EFI removable path" in row.title for row in screen.rows()),
            240,
        )  # fmt: skip
        screen.type(DOWN)  # stop the countdown: the test ends here
        print("\n".join(screen.steps))


def test_boot_from_the_running_system_shuts_it_down_then_starts_the_application(
    tmp_path: Path, guest: Guest
) -> None:
    markers = build_disk(tmp_path / "markers.img", default="first.conf")
    before = disks.sha256(markers)
    vm = guest_machine(tmp_path, guest, Disk(markers, bus="ahci"), no_reboot=True)
    with vm:
        type_command(vm, "bootmenu boot second.conf")
        failed = (*GUEST_FAILED, FIRST_MARKER)
        vm.expect(r"bootmenu: systemctl kexec: systemd stops the system", 240, fail=failed)
        for line in SHUTDOWN_LINES:
            vm.expect(line, 120, fail=failed)
        vm.expect(re.escape(KEXEC_STARTED), 120, fail=failed)
        vm.expect(re.escape(SECOND_MARKER), 180, fail=failed)
        output = vm.output
    assert FIRST_MARKER not in output
    # One firmware start of the guest's own UKI and one kernel: no reset came between.
    assert len(re.findall(FIRMWARE_LOADING, output)) == 1, re.findall(FIRMWARE_LOADING, output)
    assert output.count("Linux version ") == 1
    assert disks.sha256(markers) == before
    root = root_partition(tmp_path / "guest.img", tmp_path / "root.img")
    fsck = subprocess.run(["e2fsck", "-fn", str(root)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    # e2fsck -n exits 0 on wrong free counts (what a jump with the filesystem mounted leaves,
    # with needs_recovery set: seen with `bootmenu boot --now`); every question it declined
    # counts here.
    said = fsck.stdout + fsck.stderr
    assert fsck.returncode == 0, said
    assert "Fix? no" not in said and "skipping journal recovery" not in said, said
    header = subprocess.run(["dumpe2fs", "-h", str(root)], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    assert re.search(r"^Filesystem state:\s+clean$", header, re.M), header
    assert "needs_recovery" not in header
