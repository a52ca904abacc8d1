"""End-to-end boots under QEMU: bootmenu's initramfs finds the test disks and starts a target.

Each test is one real boot: OVMF or SeaBIOS starts the Debian kernel with bootmenu's initramfs
(``console=ttyS0 bootmenu.timeout=0`` + the test's words), bootmenu boots without asking
(``bootmenu.mode=autoboot``, or the initramfs' default mode with timeout 0), and the *target*
proves what happened: the Linux target prints ``BOOTMENU-TARGET-OK cmdline=…`` and powers off
(QEMU exit status 0), a Multiboot kernel prints ``BOOTMENU-MBn-OK cmdline=…`` and exits through
isa-debug-exit (status 33).  Every disk image must be bit-identical after the boot.

The disks (tests/vm/disks.py): a GPT boot disk with an ESP (a UKI, systemd-boot at the removable
path) and an ext4 /boot (BLS entries: the default, a rescue entry, one with a truncated kernel,
one whose kernel is missing; Debian-style grub.cfg with a multiboot2 entry), and a second disk
with extlinux (a Linux entry and an mboot.c32 Multiboot entry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.vm import disks
from tests.vm.conftest import AUTOBOOT, Boot, BootResult
from tests.vm.targets import MB_EXIT_STATUS, TARGET_EXIT_STATUS, TARGET_LINE, mb_line

pytestmark = pytest.mark.vm

MakeDisk = Callable[..., Path]


def assert_disks_unchanged(result: BootResult) -> None:
    for path, digest in result.checksums_before.items():
        assert result.checksums_after[path] == digest, f"{path.name} was changed by the boot"


def autoboot_line(result: BootResult) -> str:
    """bootmenu's ``autoboot: <reason>`` line (the decision, not a per-attempt line)."""
    lines = [
        line
        for line in result.bootmenu_lines()
        if line.startswith("bootmenu: autoboot: ") and " failed: " not in line
        and not line.startswith("bootmenu: autoboot: loading ")
    ]  # fmt: skip
    assert lines, "bootmenu logged no 'autoboot:' decision:\n" + "\n".join(result.bootmenu_lines())
    return lines[0]


@pytest.mark.parametrize(
    ("firmware", "bus", "append"),
    [
        pytest.param("ovmf", ["virtio", "virtio"], "", id="uefi-virtio-default-mode"),
        # AHCI names its disks in probe order (sda/sdb can swap), but bootmenu orders disks
        # by their place in the machine (controller, then port): the boot disk on port 0
        # comes first whatever name it got.
        pytest.param("seabios", ["ahci", "ahci"], AUTOBOOT, id="bios-ahci-autoboot"),
    ],
)
def test_autoboot_default_bls_entry(
    boot_bootmenu: Boot, make_disk: MakeDisk, firmware: str, bus: list[str], append: str
) -> None:
    images = [make_disk("boot"), make_disk("extlinux")]

    result = boot_bootmenu(images, TARGET_LINE, firmware=firmware, bus=bus, append=append)

    assert result.match_text == disks.DEBIAN.options
    assert result.status == TARGET_EXIT_STATUS
    if append == AUTOBOOT:
        line = autoboot_line(result)
        assert f"({disks.DEBIAN.file}): the disk's default" in line, line
    assert_disks_unchanged(result)


def test_once_on_the_kernel_command_line_chooses_another_entry(
    boot_bootmenu: Boot, make_disk: MakeDisk
) -> None:
    images = [make_disk("boot"), make_disk("extlinux")]

    result = boot_bootmenu(
        images, TARGET_LINE, append=f"{AUTOBOOT} bootmenu.once=debian-6.1-rescue"
    )

    assert result.match_text == disks.RESCUE.options
    assert result.status == TARGET_EXIT_STATUS
    assert "one-shot entry 'debian-6.1-rescue' from kernel command line" in autoboot_line(result)
    assert_disks_unchanged(result)


def test_disk_config_file_chooses_the_uki_which_boots_with_its_own_cmdline(
    boot_bootmenu: Boot, make_disk: MakeDisk
) -> None:
    images = [
        make_disk("boot", bootmenu_toml='# chosen by the VM test\ndefault = "debian-uki*"\n'),
        make_disk("extlinux"),
    ]

    # Booted with -kernel, bootmenu has no LoaderDevicePartUUID: the owner names the disk whose
    # settings count (docs/security.md).
    append = f"{AUTOBOOT} bootmenu.disk_config_from=LABEL=boot"
    result = boot_bootmenu(images, TARGET_LINE, firmware="ovmf", append=append)

    assert result.match_text == disks.UKI_CMDLINE  # the UKI's .cmdline section, nothing else
    assert result.status == TARGET_EXIT_STATUS
    line = autoboot_line(result)
    assert f"({disks.UKI_ID})" in line and "bootmenu.toml" in line, line
    assert_disks_unchanged(result)


def test_multiboot1_kernel_from_extlinux_mboot_c32(
    boot_bootmenu: Boot, make_disk: MakeDisk
) -> None:
    images = [make_disk("boot"), make_disk("extlinux")]

    result = boot_bootmenu(
        images, mb_line(1), append=f"{AUTOBOOT} bootmenu.once={disks.EXTLINUX_MB1_ID}"
    )

    # kexec-tools puts the kernel's file name first, as GRUB Legacy did (docs/handoff.md).
    assert re.fullmatch(rf"\S+ {re.escape(disks.EXTLINUX_MB1_ARGS)}", result.match_text)
    assert result.status == MB_EXIT_STATUS
    assert_disks_unchanged(result)


def test_multiboot2_kernel_from_grub_cfg(boot_bootmenu: Boot, make_disk: MakeDisk) -> None:
    images = [make_disk("boot"), make_disk("extlinux")]

    # A value with spaces, quoted the way the kernel splits its command line.
    result = boot_bootmenu(
        images, mb_line(2), append=f'{AUTOBOOT} bootmenu.once="{disks.GRUB_MB2_TITLE}"'
    )

    assert re.fullmatch(rf"(\S+ )?{re.escape(disks.GRUB_MB2_ARGS)}", result.match_text)
    assert result.status == MB_EXIT_STATUS
    assert_disks_unchanged(result)


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        pytest.param(disks.MISSING, "no such file", id="missing-kernel"),
        pytest.param(disks.CORRUPT, "truncated", id="truncated-kernel"),
    ],
)
def test_broken_default_is_refused_and_the_next_entry_boots(
    boot_bootmenu: Boot, make_disk: MakeDisk, broken: disks.BlsEntry, reason: str
) -> None:
    images = [make_disk("boot", default=broken), make_disk("extlinux")]

    result = boot_bootmenu(images, TARGET_LINE, append=AUTOBOOT)

    line = autoboot_line(result)
    assert f"({broken.file}), which cannot boot" in line, line
    assert broken.kernel in line and reason in line, line
    assert f"chose '{disks.DEBIAN.title}' ({disks.DEBIAN.file})" in line, line
    assert result.match_text == disks.DEBIAN.options
    assert result.status == TARGET_EXIT_STATUS
    assert_disks_unchanged(result)
