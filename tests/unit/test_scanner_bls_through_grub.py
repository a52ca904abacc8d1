"""BLS entry files that grub.cfg's ``blscfg`` reads too: one entry each, as GRUB boots it.

Scenarios under tests/fixtures/grub/ (see test_scanner_paths for how they become volumes):
CentOS 8 on EFI keeps grub.cfg and grubenv (with ``kernelopts``) on the ESP and its BLS
entries on /boot; Fedora CoreOS sets ``$ignition_firstboot`` in /boot/grub2/grub.cfg.
"""

from __future__ import annotations

from tests.unit.test_scanner_paths import scan, volumes

MID = "b4a2e8c0d9f14e6a8c3b5d7e9f1a2b3c"
CENTOS_KERNELOPTS = (
    "root=/dev/mapper/cl-root ro crashkernel=auto resume=/dev/mapper/cl-swap "
    "rd.lvm.lv=cl/root rd.lvm.lv=cl/swap rhgb quiet"
)


def test_centos8_entries_are_shown_once_with_grubs_variables() -> None:
    result = scan(volumes("centos8-efi"))
    assert [(e.id, e.cmdline, e.initrd) for e in result.entries] == [
        (
            f"{MID}-4.18.0-348.7.1.el8_5.x86_64.conf",
            CENTOS_KERNELOPTS,
            ("/initramfs-4.18.0-348.7.1.el8_5.x86_64.img",),
        ),
        (
            f"{MID}-4.18.0-348.el8.x86_64.conf",
            CENTOS_KERNELOPTS,
            ("/initramfs-4.18.0-348.el8.x86_64.img",),
        ),
        (f"{MID}-0-rescue.conf", CENTOS_KERNELOPTS, (f"/initramfs-0-rescue-{MID}.img",)),
    ]
    assert [e.default for e in result.entries] == [True, False, False]  # saved_entry
    assert all(e.problems == () for e in result.entries)


def test_variables_grub_does_not_know_expand_to_nothing() -> None:
    # /boot alone: the grubenv with kernelopts is on the ESP, tuned is not installed.
    boot = [v for v in volumes("centos8-efi") if v.name == "centos-boot"]
    (newest, _older, _rescue) = scan(boot).entries
    assert newest.cmdline == ""
    assert newest.initrd == ("/initramfs-4.18.0-348.7.1.el8_5.x86_64.img",)
    assert newest.problems == ()


def test_fedora_coreos_entry_is_shown_once_with_ignition_firstboot() -> None:
    result = scan(volumes("fcos"))
    (entry,) = result.entries
    assert entry.title == "Fedora CoreOS 39.20231101.3.0 (ostree:0)"
    assert entry.root == "boot"
    assert entry.cmdline.startswith(
        "mitigations=auto,nosmt ignition.platform.id=metal ignition.firstboot ostree=/ostree/"
    )
    assert entry.default
