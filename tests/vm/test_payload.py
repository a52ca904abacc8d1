"""EFI applications through kexec into the UEFI Universal Payload.

OVMF starts bootmenu (its kernel and initramfs, the payload inside); one AHCI disk holds an ESP
with two marker EFI applications (:mod:`tests.efi_marker`) and a BLS entry for each.  bootmenu
must start the *second* one through the payload: kexec into edk2's Universal Payload, whose DXE
driver of ours sets ``Boot0B00``/``BootNext`` from bootmenu's HOBs, whose BDS then starts it.

What proves it:

- the second application's marker appears, the first one's never does;
- no firmware reset happened: QEMU runs with ``-no-reboot``, so a reset would end it before
  any marker; the firmware's start of bootmenu's kernel (the EFI stub's "Loaded initrd" line,
  printed while OVMF's boot services run) and the kernel banner appear exactly once in the serial
  log, and bootmenu's /init ran once;
- the hand-off went through ``kexec`` ("kexec_core: Starting new kernel") and bootmenu said it
  would use the payload;
- the disk image is bit-identical afterwards.

Once through autoboot (the disk's ``loader.conf`` names the second entry) and once through the
Textual menu, with the entry chosen by keystrokes.

After the hand-off the application must also get what a firmware's own boot would give it:
keys typed on a PS/2 and on a USB keyboard (:func:`tests.efi_marker.build_key_app` reads UEFI's
``ConIn``), and, for Debian's kernel started through the payload on four CPUs, all four CPUs,
the machine's ACPI tables and its SMBIOS.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Final

import pytest

from tests.efi_marker import build_key_app, build_marker_app
from tests.vm import disks
from tests.vm.conftest import Artifacts
from tests.vm.qemu import Bus, Disk, Machine
from tests.vm.screen import DOWN, ENTER, Screen, wait_for_cursor
from tests.vm.targets import TARGET_EXIT_STATUS, TARGET_LINE, Targets

pytestmark = pytest.mark.vm

UP: Final = "\x1b[A"  # what a VT100 sends for the Up arrow
FIRST_MARKER: Final = "BOOTMENU-UPL-FIRST-41c7"
SECOND_MARKER: Final = "BOOTMENU-UPL-SECOND-9e2b"
FIRST_TITLE: Final = "First marker application"
SECOND_TITLE: Final = "Second marker application"
LINUX_TITLE: Final = "Debian's kernel as an EFI application"
OPTIONS_WORD: Final = "bootmenu-load-options=passed"
KEY_TITLE: Final = "Application reading a key"
KEY_PROMPT: Final = "BOOTMENU-UPL-TYPE-NOW-5d1e"
KEY_MARKER: Final = "BOOTMENU-UPL-TYPED-3a8f"
# What QEMU gives the guest to type on, and nothing else that takes keys (QMP's send-key goes
# to whichever keyboard is there; input-send-event's device argument names a display, not a
# keyboard).  The serial console, also a ConIn of the payload, is never typed on.
KEYBOARDS: Final = {
    "ps2": (),  # q35's i8042 (its keyboard port)
    "usb": ("-machine", "i8042=off",
            "-device", "qemu-xhci,id=kbdhc", "-device", "usb-kbd,bus=kbdhc.0,id=kbd"),
}  # fmt: skip
ESP_PARTUUID: Final = "0b007a1d-0000-4000-8000-00000000e5b7"
DISK_GUID: Final = "0b007a1d-0000-4000-8000-0000000d15c7"

# Printed by Linux's EFI stub while OVMF starts bootmenu's kernel (OVMF hands QEMU's -initrd over
# as LINUX_EFI_INITRD_MEDIA_GUID), and the kernel's banner: a firmware reset that came back to
# bootmenu would print both again.
FIRMWARE_STARTED_KERNEL: Final = "EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID"
KERNEL_BANNER: Final = "Linux version "
INIT_STARTED: Final = "bootmenu-init: phase init"
KEXEC_STARTED: Final = "kexec_core: Starting new kernel"
# bootmenu did not get as far as the hand-off, or the machine came back (a reset).
FAILED: Final = (
    r"bootmenu-init: bootmenu \w+ exited with status \d+",
    r"bootmenu-init: rescue shell",
    r"Kernel panic",
    FIRST_MARKER,
)


def build_disk(
    path: Path, *, default: str, bootx64: Path | None = None, toml: str | None = None
) -> Path:
    """A GPT disk with one ESP: two marker applications, a BLS entry each, and ``loader.conf``
    naming ``default`` (no timeout: the menu test sets its own with the command line).
    ``bootx64``: also bootmenu's UKI as the removable-path loader; ``toml``: /bootmenu.toml."""
    with tempfile.TemporaryDirectory(prefix="upl-esp-", dir=path.parent) as scratch:
        work = Path(scratch)
        files: dict[str, Path] = {}
        for name, title, marker in (
            ("first", FIRST_TITLE, FIRST_MARKER),
            ("second", SECOND_TITLE, SECOND_MARKER),
        ):
            entry = work / f"{name}.conf"
            entry.write_text(f"title {title}\nefi /EFI/markers/{name}.efi\n")
            files[f"/loader/entries/{name}.conf"] = entry
            files[f"/EFI/markers/{name}.efi"] = build_marker_app(marker)
        if bootx64 is not None:
            files["/EFI/BOOT/BOOTX64.EFI"] = bootx64
        if toml is not None:
            (work / "bootmenu.toml").write_text(toml)
            files["/bootmenu.toml"] = work / "bootmenu.toml"
        loader_conf = work / "loader.conf"
        loader_conf.write_text(f"default {default}\ntimeout 0\n")
        files["/loader/loader.conf"] = loader_conf
        return disks.esp_disk(
            path, files, partuuid=ESP_PARTUUID, disk_guid=DISK_GUID, volid="0B00E5B7"
        )


def build_key_disk(path: Path) -> Path:
    """A GPT disk with one ESP whose default (and only) entry is the key-reading application."""
    with tempfile.TemporaryDirectory(prefix="upl-key-", dir=path.parent) as scratch:
        work = Path(scratch)
        entry = work / "key.conf"
        entry.write_text(f"title {KEY_TITLE}\nefi /EFI/keys/key.efi\n")
        loader_conf = work / "loader.conf"
        loader_conf.write_text("default key.conf\ntimeout 0\n")
        files = {
            "/EFI/keys/key.efi": build_key_app(KEY_PROMPT, KEY_MARKER),
            "/loader/entries/key.conf": entry,
            "/loader/loader.conf": loader_conf,
        }
        return disks.esp_disk(
            path, files, partuuid=ESP_PARTUUID, disk_guid=DISK_GUID, volid="0B00E5B9"
        )


def machine(
    tmp_path: Path, artifacts: Artifacts, disk: Path, append: str, bus: Bus = "ahci",
    extra_args: tuple[str, ...] = (), cpus: int = 2,
) -> Machine:  # fmt: skip
    return Machine(
        tmp_path / "serial.log",
        firmware="ovmf",
        kernel=artifacts.vmlinuz,
        initrd=artifacts.initramfs,
        append=f"console=ttyS0 {append}",
        disks=[Disk(disk, bus=bus, serial="esp0")],
        no_reboot=True,  # a firmware reset ends QEMU before any marker could appear
        memory_mib=2048,
        cpus=cpus,
        extra_args=extra_args,
    )


def check_no_reset(output: str, *, quiet: bool = False) -> None:
    """``quiet``: bootmenu's kernel ran with ``quiet`` (the menu), so it printed no messages and
    only /init's line tells that bootmenu started once."""
    assert SECOND_MARKER in output
    assert FIRST_MARKER not in output, "the payload started the first application"
    assert output.count(INIT_STARTED) == 1, "bootmenu started more than once"
    if quiet:
        return
    assert output.count(KEXEC_STARTED) == 1
    assert output.count(FIRMWARE_STARTED_KERNEL) == 1, "the firmware started the kernel again"
    assert output.count(KERNEL_BANNER) == 1


@pytest.mark.parametrize(
    ("bus", "extra_args"),
    [
        pytest.param("ahci", (), id="ahci"),
        pytest.param("virtio", (), id="virtio"),
        pytest.param("ahci", ("-device", "VGA"), id="ahci-display"),
    ],
)
def test_autoboot_starts_the_second_application_through_the_payload(
    tmp_path: Path, artifacts: Artifacts, bus: Bus, extra_args: tuple[str, ...]
) -> None:
    """AHCI; virtio-blk (which Haiku developers use under QEMU: QEMU's default, transitional
    device); and with a display: Linux then has OVMF's EFI framebuffer, and bootmenu hands it to
    the payload as a GraphicsInfo HOB, on which the payload installs its GOP."""
    disk = build_disk(tmp_path / "esp.img", default="second.conf")
    before = disks.sha256(disk)
    vm = machine(tmp_path, artifacts, disk, "bootmenu.mode=autoboot", bus, extra_args)
    with vm:
        vm.expect(INIT_STARTED, 120, fail=FAILED)
        vm.expect(r"starts via the UEFI payload|method: payload|kexec into the UEFI payload", 150,
                  fail=FAILED)  # fmt: skip
        vm.expect(KEXEC_STARTED, 120, fail=FAILED)
        started = vm.elapsed()
        vm.expect(re.escape(SECOND_MARKER), 120, fail=FAILED)
        print(f"kexec → marker: {vm.elapsed() - started:.1f} s")
        output = vm.output
    check_no_reset(output)
    handed = re.search(r"payload: the machine as handed over: ([^\r\n]*)", output)
    assert handed is not None, "bootmenu did not log what it handed the payload"
    if extra_args:  # the display: Linux's EFI framebuffer went to the payload
        assert re.search(r"framebuffer \d+x\d+ at 0x[0-9a-f]+ \(GraphicsInfo\)", handed[1]), handed[
            1
        ]
    else:
        assert "no framebuffer" in handed[1], handed[1]
    assert disks.sha256(disk) == before


def test_menu_keystrokes_start_the_second_application_through_the_payload(
    tmp_path: Path, artifacts: Artifacts
) -> None:
    disk = build_disk(tmp_path / "esp.img", default="first.conf")
    before = disks.sha256(disk)
    vm = machine(tmp_path, artifacts, disk, "quiet bootmenu.mode=menu bootmenu.timeout=menu-force")
    with vm:
        screen = Screen(vm)
        wait_for_cursor(screen, FIRST_TITLE, 180)
        details = screen.text()
        assert "starts via the UEFI payload, no firmware reset" in details, screen.dump()
        # Move to the second application with the arrow keys, wherever the list put it.
        order = [row.title for row in screen.rows()]
        steps = order.index(SECOND_TITLE) - order.index(FIRST_TITLE)
        screen.type((DOWN if steps > 0 else UP) * abs(steps))
        wait_for_cursor(screen, SECOND_TITLE)
        screen.type(ENTER)
        vm.expect(re.escape(SECOND_MARKER), 240, fail=FAILED)
        output = vm.output
        print("\n".join(screen.steps))
    check_no_reset(output, quiet=True)
    assert disks.sha256(disk) == before


@pytest.mark.parametrize("keyboard", sorted(KEYBOARDS))
def test_a_key_typed_on_the_keyboard_reaches_the_application_after_the_payload(
    tmp_path: Path, artifacts: Artifacts, keyboard: str
) -> None:
    """A loader started through the payload must read the keyboard (issue 14: a laptop's PS/2
    keyboard was dead in Haiku's and Windows' loaders).  The application prints its prompt, the
    test types the keyboard's name and Enter on the emulated keyboard through QMP, and the
    application prints the line it read from ConIn.  The machine has no other keyboard (checked
    in QEMU's device tree), and the serial console gets no input, so the key came from that
    keyboard through the payload's driver for it."""
    disk = build_key_disk(tmp_path / "key.img")
    vm = machine(tmp_path, artifacts, disk, "bootmenu.mode=autoboot",
                 extra_args=KEYBOARDS[keyboard])  # fmt: skip
    with vm:
        devices = vm.monitor("info qtree")
        assert ("i8042" in devices) == (keyboard == "ps2"), devices
        assert ("usb-kbd" in devices) == (keyboard == "usb"), devices
        vm.expect(INIT_STARTED, 120, fail=FAILED)
        vm.expect(KEXEC_STARTED, 150, fail=FAILED)
        vm.expect(re.escape(KEY_PROMPT), 120, fail=FAILED)
        prompted = vm.elapsed()
        for key in [*keyboard, "ret"]:  # one key at a time: send-key's list is a chord
            vm.qmp("send-key", keys=[{"type": "qcode", "data": key}])
        got = vm.expect(re.escape(KEY_MARKER) + r"\[([^\]\r\n]*)\]", 60, fail=FAILED)
        print(f"prompt → line read: {vm.elapsed() - prompted:.1f} s")
        status = vm.wait_exit(60)
        output = vm.output
    assert got.group(1) == keyboard
    assert status == 0  # GRUB's halt: the payload's ResetSystem(EfiResetShutdown)
    assert output.count(INIT_STARTED) == 1
    assert output.count(FIRMWARE_STARTED_KERNEL) == 1


def test_linux_efi_stub_through_the_payload_gets_its_command_line_cpus_acpi_and_smbios(
    tmp_path: Path, artifacts: Artifacts, targets: Targets
) -> None:
    """Debian's kernel is an EFI application too (its EFI stub): started through the payload
    as an ``efi`` BLS entry, it must get the entry's ``options`` as its load options (its
    command line, with the ``initrd=`` its stub loads from the ESP), leave the payload's boot
    services and run to the target's marker.  This proves the load options pass through, and
    that an OS started by the payload survives ExitBootServices (with ``-cpu max`` the CPU has
    5-level paging, which the trampoline must not hand on).

    On four CPUs, it must also bring up all four (loaders such as Haiku's start the application
    processors themselves, after the payload's MP services had them), and find the machine's
    ACPI tables and SMBIOS: the ones bootmenu's kernel found in OVMF's system table."""
    options = f"console=ttyS0 initrd=\\EFI\\target\\initrd.img {OPTIONS_WORD}"
    with tempfile.TemporaryDirectory(prefix="upl-linux-", dir=tmp_path) as scratch:
        work = Path(scratch)
        entry = work / "linux.conf"
        entry.write_text(f"title {LINUX_TITLE}\nefi /EFI/target/vmlinuz.efi\noptions {options}\n")
        loader_conf = work / "loader.conf"
        loader_conf.write_text("default linux.conf\ntimeout 0\n")
        files = {
            "/EFI/target/vmlinuz.efi": targets.vmlinuz,
            "/EFI/target/initrd.img": targets.initrd,
            "/loader/entries/linux.conf": entry,
            "/loader/loader.conf": loader_conf,
        }
        disk = disks.esp_disk(
            tmp_path / "linux.img", files, partuuid=ESP_PARTUUID, disk_guid=DISK_GUID,
            volid="0B00E5B8",
        )  # fmt: skip
    before = disks.sha256(disk)
    vm = machine(tmp_path, artifacts, disk, "bootmenu.mode=autoboot", cpus=4)
    with vm:
        vm.expect(INIT_STARTED, 120, fail=FAILED)
        vm.expect(KEXEC_STARTED, 150, fail=FAILED)
        got = vm.expect(TARGET_LINE, 300, fail=FAILED)
        status = vm.wait_exit(60)
        output = vm.output
    assert got.group(1).split() == options.split(), got.group(1)
    assert status == TARGET_EXIT_STATUS
    assert output.count(INIT_STARTED) == 1
    assert output.count(FIRMWARE_STARTED_KERNEL) == 1  # the target's stub: "from command line"
    assert output.count(KERNEL_BANNER) == 2  # bootmenu's kernel, then the target
    assert disks.sha256(disk) == before
    bootmenu_log, target_log = output.split(KERNEL_BANNER)[1:]
    check_target_sees_the_machine(bootmenu_log, target_log)


ACPI_TABLE_LINE: Final = re.compile(r"^\[[ \d.]+\] ACPI: (\w{4}) 0x[0-9A-F]{16} (.*)$", re.M)
SMBIOS_LINES: Final = re.compile(r"^\[[ \d.]+\] ((?:SMBIOS [\d.]+ present\.|DMI: .*))$", re.M)


def check_target_sees_the_machine(bootmenu_log: str, target_log: str) -> None:
    """The kernel started through the payload (its log, ``target_log``) runs on all four CPUs
    and finds the machine's ACPI tables and SMBIOS: the same tables (signature, length, OEM and
    revision fields) and the same SMBIOS version and DMI identity as bootmenu's kernel found in
    OVMF's.  (The payload copies both into its own memory, so the addresses differ.)"""
    assert "smpboot: Total of 4 processors activated" in bootmenu_log  # the machine has four
    assert "smpboot: Total of 4 processors activated" in target_log, "not all four CPUs came up"
    firmware_tables = [m.groups() for m in ACPI_TABLE_LINE.finditer(bootmenu_log)]
    target_tables = [m.groups() for m in ACPI_TABLE_LINE.finditer(target_log)]
    assert {"RSDP", "FACP", "APIC"} <= {sig for sig, _ in firmware_tables}, firmware_tables
    assert target_tables == firmware_tables
    firmware_smbios = SMBIOS_LINES.findall(bootmenu_log)
    assert len(firmware_smbios) == 2, firmware_smbios
    assert SMBIOS_LINES.findall(target_log) == firmware_smbios
    assert re.search(r"efi: .*\bSMBIOS=0x[0-9a-f]+", target_log), "no SMBIOS in the system table"
