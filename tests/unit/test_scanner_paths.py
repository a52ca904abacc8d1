"""Where the scanner finds boot configurations: every place the distributions' loaders read.

Each scenario is a fixture tree under tests/fixtures/grub/ or tests/fixtures/syslinux/, one
directory per filesystem (``devices.json`` gives their UUIDs and labels); kernels and initrds
are empty files, so nothing is validated here.
"""

from __future__ import annotations

import json
from pathlib import Path

from bootmenu.discover.scanner import ESP_TYPE, Scanner, ScanResult
from bootmenu.model import Source, Volume

FIXTURES = Path(__file__).parent.parent / "fixtures"


def volumes(scenario: str) -> list[Volume]:
    """The filesystems of a grub scenario, in devices.json order (the ESP first, as on disk)."""
    base = FIXTURES / "grub" / scenario
    devices: dict[str, dict[str, str]] = json.loads((base / "devices.json").read_text())
    out = []
    for name, ids in devices.items():
        esp = name == "esp"
        out.append(
            Volume(
                name,
                base / name,
                "vfat" if esp else "ext4",
                uuid=ids.get("fs-uuid"),
                label=ids.get("label"),
                parttype=ESP_TYPE if esp else None,
            )
        )
    return out


def scan(vols: list[Volume]) -> ScanResult:
    return Scanner(vols, host_arch="x86_64", validate=False).scan()


def test_centos7_efi_grub_cfg_on_the_esp_is_read() -> None:
    result = scan(volumes("centos7-efi"))
    grub = [e for e in result.entries if e.source is Source.GRUB]
    assert [e.title for e in grub] == [
        "CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)",
        "CentOS Linux (3.10.0-1127.el7.x86_64) 7 (Core)",
        "CentOS Linux (0-rescue-4d1b7f0c2a9e4e8b9f3a6c5d2e1f0a9b) 7 (Core)",
    ]
    first = grub[0]
    assert (first.root, first.kernel, first.initrd) == (
        "centos-boot",
        "/vmlinuz-3.10.0-1160.el7.x86_64",
        ("/initramfs-3.10.0-1160.el7.x86_64.img",),
    )
    assert first.origin == "/EFI/centos/grub.cfg"
    assert first.default  # saved_entry in EFI/centos/grubenv names it
    assert [(c.volume, c.origin) for c in result.disk_configs] == [
        ("esp", "esp/EFI/centos/grub.cfg")
    ]


def test_install_media_grub_cfg_beside_the_removable_loader() -> None:
    (dvd,) = volumes("centos7-dvd")
    result = scan([dvd])
    assert [e.title for e in result.entries] == [
        "Install CentOS 7",
        "Test this media & install CentOS 7",
        "Troubleshooting --> > Install CentOS 7 in basic graphics mode",
        "Troubleshooting --> > Rescue a CentOS system",
    ]
    assert [e.origin for e in result.entries] == ["/EFI/BOOT/grub.cfg"] * 4
    assert result.entries[1].default  # set default="1"


def test_grub_cfg_at_the_root_and_in_boot() -> None:
    result = scan(volumes("handwritten"))
    assert [(e.title, e.root, e.origin) for e in result.entries] == [
        ("SystemRescue (x86_64)", "stick", "/grub.cfg"),
        ("Linux 6.6", "data", "/boot/grub.cfg"),
    ]


def test_alpine_extlinux_conf_in_boot_is_read() -> None:
    root = FIXTURES / "syslinux" / "alpine"
    result = scan([Volume("/dev/vda3", root, "ext4")])
    assert [(e.source, e.title, e.kernel, e.origin) for e in result.entries] == [
        (Source.SYSLINUX, "Linux lts", "/boot/vmlinuz-lts", "/boot/extlinux.conf")
    ]


def test_ubuntu_efi_firmware_settings_is_the_power_screens_and_nothing_warns() -> None:
    # The ESP's EFI/ubuntu/grub.cfg loads /boot/grub/grub.cfg, which runs recordfail,
    # load_video and gfxmode in its entries and ends with 30_uefi-firmware's entry.
    result = scan(volumes("ubuntu2204"))
    assert [e.title for e in result.entries] == [
        "Ubuntu",
        "Advanced options for Ubuntu > Ubuntu, with Linux 5.15.0-91-generic",
        "Advanced options for Ubuntu > Ubuntu, with Linux 5.15.0-91-generic (recovery mode)",
        "Advanced options for Ubuntu > Ubuntu, with Linux 5.15.0-89-generic",
        "Advanced options for Ubuntu > Ubuntu, with Linux 5.15.0-89-generic (recovery mode)",
    ]
    assert all(e.problems == () for e in result.entries)
    assert result.warnings == ()
