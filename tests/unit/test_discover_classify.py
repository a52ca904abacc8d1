"""classify() and the pure helpers of bootmenu.discover.monitor, over `udevadm info` dumps.

The dumps in tests/fixtures/udev/ without a comment header were captured with `udevadm info` on
loop devices of the development VM (GPT and MBR images made with sfdisk, mkfs, mkswap,
cryptsetup luksFormat, xorriso); those with a "# Modelled on" header were written by hand after
real machines' output (NVMe, SATA, USB, device-mapper, CD drive). The sysfs facts classify()
also needs (size, removable, partitions, loop backing file, driver) are given per test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.discover.devices import (
    UDEV_PROPERTIES,
    classify,
    find_mount,
    matches,
    natural_key,
    udev_decode,
)
from bootmenu.model import Device, DeviceKind, DeviceState
from bootmenu.system.mounts import MountInfo, parse_mountinfo

FIXTURES = Path(__file__).parent.parent / "fixtures" / "udev"
MIB = 1024 * 1024


def udev(name: str) -> dict[str, str]:
    """The E: lines (properties) of a `udevadm info` dump."""
    props = {}
    for line in (FIXTURES / f"{name}.txt").read_text().splitlines():
        if line.startswith("E: "):
            key, _, value = line[3:].partition("=")
            props[key] = value
    return props


def sys_path(name: str) -> str:
    for line in (FIXTURES / f"{name}.txt").read_text().splitlines():
        if line.startswith("P: "):
            return "/sys" + line[3:]
    return ""


# --- real dumps from loop devices ----------------------------------------------------------


def test_gpt_ext4_partition_is_usable_with_all_identifiers() -> None:
    dev = classify(
        udev("gpt-ext4"), sys_path=sys_path("gpt-ext4"), size=20 * MIB, disk="/dev/loop0"
    )
    assert dev.state == DeviceState.USABLE
    assert dev.reason is None
    assert dev.devnode == "/dev/loop0p1"
    assert dev.sys_path == "/sys/devices/virtual/block/loop0/loop0p1"
    assert dev.disk == "/dev/loop0"
    assert dev.kind == DeviceKind.PARTITION
    assert (dev.fstype, dev.fsversion, dev.label) == ("ext4", "1.0", "boot")
    assert dev.uuid == "71cd6f39-8a89-4657-98a4-697c9d08669e"
    assert dev.partuuid == "243e4f91-18a1-5844-8476-be6767f83fee"
    assert dev.partlabel == "boot"
    assert dev.parttype == "0fc63daf-8483-4772-8e79-3d69d8477de4"
    assert dev.partnumber == 1
    assert dev.table == "gpt"
    assert dev.devnum == (259, 0)
    assert dev.size == 20 * MIB


def test_volume_carries_what_grub_search_needs() -> None:
    dev = classify(udev("gpt-xfs"), disk="/dev/loop0", size=320 * MIB)
    vol = dev.volume(Path("/run/bootmenu/mnt-x/loop0p2"))
    assert vol.name == "/dev/loop0p2"
    assert vol.path == Path("/run/bootmenu/mnt-x/loop0p2")
    assert (vol.fstype, vol.uuid, vol.label) == (
        "xfs",
        "f5674677-ba03-4f08-83b5-157bce5be5ca",
        "data",
    )
    assert vol.partuuid == "090c38c6-9136-384f-b497-4471312c1ebe"
    assert vol.parttype == "0fc63daf-8483-4772-8e79-3d69d8477de4"


def test_swap_is_skipped() -> None:
    dev = classify(udev("gpt-swap"), size=8 * MIB, disk="/dev/loop0")
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason == "swap space"
    assert dev.label == "swap"


def test_luks2_is_locked_and_partlabel_is_decoded() -> None:
    dev = classify(udev("gpt-luks2"), size=20 * MIB, disk="/dev/loop0")
    assert dev.state == DeviceState.LOCKED
    assert dev.reason == "encrypted with LUKS2"
    assert dev.partlabel == "EFI System"  # ID_PART_ENTRY_NAME=EFI\x20System
    assert dev.uuid == "0e766056-5353-4ba5-8c4c-24f686067cd0"


def test_bios_boot_partition_is_skipped_with_its_purpose() -> None:
    dev = classify(udev("gpt-bios-boot"), size=1 * MIB, disk="/dev/loop0")
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason is not None and "BIOS boot partition" in dev.reason
    assert dev.fstype is None


def test_partitioned_disk_is_skipped() -> None:
    dev = classify(udev("gpt-disk"), size=400 * MIB, has_partitions=True, backing_file="/x.img")
    assert dev.kind == DeviceKind.DISK
    assert dev.disk == "/dev/loop0"
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason is not None and "partitioned" in dev.reason
    assert dev.table == "gpt"


def test_disk_with_partition_table_but_no_partition_devices_yet_is_skipped() -> None:
    dev = classify(udev("dos-disk"), size=64 * MIB, has_partitions=False, backing_file="/x")
    assert dev.state == DeviceState.SKIPPED
    assert dev.table == "dos"


def test_mbr_esp_vfat_label_and_type() -> None:
    dev = classify(udev("dos-esp-vfat"), size=16 * MIB, disk="/dev/loop0")
    assert dev.state == DeviceState.USABLE
    assert dev.label == "MY ESP"  # from ID_FS_LABEL_ENC, not the mangled ID_FS_LABEL=MY_ESP
    assert dev.parttype == "0xef"
    assert dev.partuuid == "70d58910-01"
    assert (dev.fsversion, dev.uuid) == ("FAT16", "EA1C-B0F4")
    assert dev.table == "dos"


def test_extended_partition_is_skipped() -> None:
    dev = classify(udev("dos-extended"), size=1024, disk="/dev/loop0")  # sysfs size: 2 sectors
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason is not None and "extended partition" in dev.reason
    assert dev.partnumber == 2


def test_logical_partition_is_usable() -> None:
    dev = classify(udev("dos-logical-ext2"), size=20 * MIB, disk="/dev/loop0")
    assert dev.state == DeviceState.USABLE
    assert (dev.partnumber, dev.label, dev.fstype) == (5, "root fs", "ext2")


def test_iso_on_unpartitioned_loop_device_is_usable() -> None:
    dev = classify(udev("iso9660-loop"), size=368 * 1024, backing_file="/tmp/h8.iso")
    assert dev.kind == DeviceKind.DISK
    assert dev.state == DeviceState.USABLE
    assert dev.label == "Debian 12 amd64"
    assert dev.uuid == "2026-11-22-06-41-32-00"


def test_unattached_loop_device_is_skipped() -> None:
    dev = classify(udev("loop-unattached"), size=0)
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason == "loop1 is a loop device with no file attached"


def test_zram_is_skipped() -> None:
    dev = classify(udev("zram"), size=0)
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason is not None and dev.reason.startswith("zram0 is compressed memory")


def test_unreadable_virtio_disk_has_no_filesystem_and_keeps_its_path() -> None:
    dev = classify(udev("virtio-disk-unreadable"), size=256 * 1024 * MIB, driver="virtio_blk")
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason == "no filesystem was found on it"
    assert dev.id_path == "pci-0000:00:02.0"
    assert dev.driver == "virtio_blk"
    assert dev.devnum == (254, 0)


# --- dumps modelled on real machines ---------------------------------------------------------


def test_nvme_esp_normalises_guids_to_lower_case() -> None:
    dev = classify(udev("nvme-esp-vfat"), size=600 * MIB, disk="/dev/nvme0n1", driver="nvme")
    assert dev.state == DeviceState.USABLE
    assert dev.parttype == "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
    assert dev.partuuid == "9a3b5c1e-0f4d-4b2a-8e6c-1d2f3a4b5c6d"
    assert dev.partlabel == "EFI System Partition"
    assert dev.id_path == "pci-0000:02:00.0-nvme-1"
    assert dev.label is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("sata-lvm-pv", "LVM physical volume"),
        ("sata-md-member", "software RAID"),
        ("zfs-member", "ZFS pool"),
    ],
)
def test_volume_manager_members_are_unsupported(name: str, words: str) -> None:
    dev = classify(udev(name), size=100 * MIB, disk="/dev/sda")
    assert dev.state == DeviceState.UNSUPPORTED
    assert dev.reason is not None and words in dev.reason


def test_sata_device_has_bus() -> None:
    dev = classify(udev("sata-lvm-pv"), size=100 * MIB, disk="/dev/sda")
    assert dev.bus == "ata"
    assert dev.fsversion == "LVM2 001"


def test_bitlocker_is_locked() -> None:
    dev = classify(udev("nvme-bitlocker"), size=200 * 1024 * MIB, disk="/dev/nvme0n1")
    assert dev.state == DeviceState.LOCKED
    assert dev.reason is not None and "BitLocker" in dev.reason
    assert dev.partlabel == "Basic data partition"


def test_microsoft_reserved_is_skipped() -> None:
    dev = classify(udev("nvme-msr"), size=16 * MIB, disk="/dev/nvme0n1")
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason is not None and "Microsoft reserved" in dev.reason


def test_ntfs_is_usable() -> None:
    dev = classify(udev("nvme-ntfs"), size=600 * MIB, disk="/dev/nvme0n1")
    assert dev.state == DeviceState.USABLE
    assert dev.parttype == "de94bba4-06d1-4d40-a16a-bfd50179d6ac"


def test_apfs_is_unknown() -> None:
    dev = classify(udev("apfs"), size=100 * MIB, disk="/dev/sdd")
    assert dev.state == DeviceState.UNKNOWN
    assert dev.reason == "bootmenu cannot read apfs filesystems"


def test_iso_hybrid_stick_disk_with_partitions_is_skipped_but_its_esp_is_usable() -> None:
    disk = classify(
        udev("usb-iso-hybrid-disk"),
        sys_path=sys_path("usb-iso-hybrid-disk"),
        size=4 * 1024 * MIB,
        removable=True,
        has_partitions=True,
        driver="usb-storage",
    )
    assert disk.state == DeviceState.SKIPPED
    assert disk.fstype == "iso9660"  # still described, just not mounted
    assert disk.removable and disk.bus == "usb"
    esp = classify(udev("usb-iso-hybrid-esp"), size=8832 * 512, removable=True, disk="/dev/sdc")
    assert esp.state == DeviceState.USABLE
    assert (esp.parttype, esp.disk, esp.partnumber) == ("0xef", "/dev/sdc", 2)


def test_iso_hybrid_disk_without_partition_devices_is_mounted_whole() -> None:
    disk = classify(udev("usb-iso-hybrid-disk"), size=4 * 1024 * MIB, has_partitions=False)
    assert disk.state == DeviceState.USABLE
    assert disk.label == "Debian 12.0.0 amd64 n"


def test_opened_luks_volume_is_usable() -> None:
    dev = classify(udev("dm-crypt-opened"), size=20 * MIB)
    assert dev.state == DeviceState.USABLE
    assert dev.fstype == "ext4"


def test_lvm_internal_device_is_skipped_by_name() -> None:
    dev = classify(udev("dm-lvm-internal"), size=4 * MIB)
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason is not None and "vg0-pool0_tmeta" in dev.reason


def test_empty_dvd_drive_is_skipped() -> None:
    dev = classify(udev("sr0-no-medium"), size=0, removable=True)
    assert dev.state == DeviceState.SKIPPED
    assert dev.reason == "the device is empty (no medium)"


def test_kernel_style_devname_gets_dev_prefix() -> None:
    dev = classify({"DEVNAME": "sda1", "DEVTYPE": "partition", "ID_FS_TYPE": "ext4"})
    assert dev.devnode == "/dev/sda1"
    assert dev.state == DeviceState.USABLE


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "DEVNAME",
                "DEVTYPE",
                "ID_FS_TYPE",
                "ID_FS_USAGE",
                "ID_FS_LABEL_ENC",
                "MAJOR",
                "MINOR",
                "ID_PART_ENTRY_TYPE",
                "ID_PART_ENTRY_NUMBER",
                "ID_PART_ENTRY_NAME",
                "ID_PART_TABLE_TYPE",
                "ID_PART_ENTRY_SCHEME",
                "DM_NAME",
            ]
        ),
        st.text(max_size=20),
    ),
    st.one_of(st.none(), st.integers(min_value=0, max_value=1 << 40)),
    st.booleans(),
)
def test_classify_total(props: dict[str, str], size: int | None, parted: bool) -> None:
    dev = classify(props, size=size, has_partitions=parted)
    assert isinstance(dev.state, DeviceState)
    assert (dev.reason is None) == (dev.state == DeviceState.USABLE)


# --- helpers ---------------------------------------------------------------------------------


def test_natural_key_orders_devices_like_people_do() -> None:
    names = ["/dev/sdb", "/dev/loop10", "/dev/sda", "/dev/loop2", "/dev/nvme0n1", "/dev/sdaa"]
    assert sorted(names, key=natural_key) == [
        "/dev/loop2",
        "/dev/loop10",
        "/dev/nvme0n1",
        "/dev/sda",
        "/dev/sdaa",
        "/dev/sdb",
    ]


def test_udev_decode() -> None:
    assert udev_decode(r"EFI\x20System") == "EFI System"
    assert udev_decode(r"caf\xc3\xa9\x5cx") == "café\\x"
    assert udev_decode("plain") == "plain"


MOUNTINFO = (
    r"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw"
    "\n"
    r"30 22 259:1 / /boot/efi rw,relatime shared:9 - vfat /dev/nvme0n1p1 rw,fmask=0077"
    "\n"
    r"31 22 0:45 / /home rw,relatime shared:10 - btrfs /dev/nvme0n1p3 rw,subvol=/home"
    "\n"
    r"32 22 0:45 /@root /srv rw,relatime shared:11 - btrfs /dev/nvme0n1p3 rw"
    "\n"
    r"40 22 8:17 /data /mnt/with\040space rw - xfs /dev/sdb1 rw"
    "\n"
    r"41 22 8:33 / /run/bootmenu/mnt-abc/sdc1 ro - ext4 /dev/sdc1 ro"
    "\n"
    "garbage line\n"
)


def test_parse_mountinfo() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert len(mounts) == 6
    assert mounts[0] == MountInfo((254, 0), "/", "/", "ext4", "/dev/vda")
    assert mounts[4].mountpoint == "/mnt/with space"
    assert mounts[4].root == "/data"


def _dev(devnode: str, devnum: tuple[int, int]) -> Device:
    return Device(devnode, "", devnode, DeviceKind.PARTITION, DeviceState.USABLE, devnum=devnum)


def test_find_mount_by_devnum_and_by_source_for_btrfs() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    found = find_mount(_dev("/dev/nvme0n1p1", (259, 1)), mounts)
    assert found is not None and found.mountpoint == "/boot/efi"
    btrfs = find_mount(_dev("/dev/nvme0n1p3", (259, 3)), mounts)
    assert btrfs is not None and btrfs.mountpoint == "/home"  # mountinfo says 0:45 for btrfs


def test_find_mount_ignores_subdirectory_mounts_and_our_own() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert find_mount(_dev("/dev/sdb1", (8, 17)), mounts) is None  # only /data is visible
    ours = Path("/run/bootmenu/mnt-abc")
    assert find_mount(_dev("/dev/sdc1", (8, 33)), mounts, exclude=ours) is None
    assert find_mount(_dev("/dev/sdc1", (8, 33)), mounts) is not None


def test_matches_specs() -> None:
    dev = classify(udev("gpt-ext4"), size=20 * MIB, disk="/dev/loop0")
    assert matches("UUID=71CD6F39-8A89-4657-98A4-697C9D08669E", dev)
    assert matches("PARTUUID=243E4F91-18A1-5844-8476-BE6767F83FEE", dev)
    assert matches("LABEL=boot", dev)
    assert matches("PARTLABEL=boot", dev)
    assert matches("/dev/loop0p1", dev)
    assert matches("/dev/disk/by-label/boot", dev, links=("/dev/disk/by-label/boot",))
    assert not matches("LABEL=Boot", dev)
    assert not matches("UUID=f5674677-ba03-4f08-83b5-157bce5be5ca", dev)
    assert not matches("/dev/loop0p2", dev)
    luks = classify(udev("gpt-luks2"), size=20 * MIB, disk="/dev/loop0")
    assert matches("PARTLABEL=EFI System", luks)


def test_sys_path_key_orders_disks_by_their_place_in_the_machine() -> None:
    from bootmenu.discover.devices import sys_path_key

    sda = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
    sdb = "/sys/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb"
    sdj = "/sys/devices/pci0000:00/0000:00:1f.2/ata10/host9/target9:0:0/9:0:0:0/block/sdj"
    vda = "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda"
    nvme = "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/nvme/nvme0/nvme0n1"
    loop = "/sys/devices/virtual/block/loop0"
    # PCI functions by address (hex: 02.0 < 1c.0 < 1f.2), ports naturally (ata2 < ata10), and
    # what the kernel names them does not matter (sdj is on port 10).
    assert sorted([loop, sdj, sda, nvme, vda, sdb], key=sys_path_key) == [
        vda,
        nvme,
        sda,
        sdb,
        sdj,
        loop,
    ]


# --- removable media (docs/security.md) -------------------------------------------------------

DEFAULT_REMOVABLE = ("vfat", "iso9660", "udf", "ext4", "exfat", "squashfs")


def test_usb_sd_and_cd_media_are_named_whatever_sysfs_removable_says() -> None:
    usb = classify(udev("usb-iso-hybrid-esp"), disk="/dev/sdc", size=MIB)
    assert usb.media == "USB"
    sd = classify(udev("mmc-sd-ext4"), disk="/dev/mmcblk1", size=MIB, mmc_type="SD")
    assert sd.media == "SD card"
    emmc = classify(udev("mmc-sd-ext4"), disk="/dev/mmcblk1", size=MIB, mmc_type="MMC")
    assert emmc.media is None  # soldered eMMC is the machine's own disk
    cd = classify(udev("sr0-no-medium"), size=None)
    assert cd.media == "CD/DVD"
    nvme = classify(udev("nvme-esp-vfat"), size=600 * MIB, disk="/dev/nvme0n1", driver="nvme")
    assert nvme.media is None
    assert nvme.volume(Path("/m")).media is None and usb.volume(Path("/m")).media == "USB"


def test_only_the_listed_filesystem_types_are_mounted_from_removable_media() -> None:
    stick = classify(
        udev("usb-btrfs"), disk="/dev/sdd", size=500 * MIB, removable_filesystems=DEFAULT_REMOVABLE
    )
    assert stick.state is DeviceState.UNSUPPORTED
    assert stick.reason is not None and "btrfs on USB media is not mounted" in stick.reason
    assert "removable_filesystems" in stick.reason
    # The same type on a fixed disk, and the listed types on the stick, are mounted.
    fixed = classify(
        udev("gpt-xfs"), disk="/dev/loop0", size=MIB, removable_filesystems=DEFAULT_REMOVABLE
    )
    assert fixed.state is DeviceState.USABLE
    esp = classify(
        udev("usb-iso-hybrid-esp"),
        disk="/dev/sdc",
        size=MIB,
        removable_filesystems=DEFAULT_REMOVABLE,
    )
    assert esp.state is DeviceState.USABLE
    assert classify(udev("usb-btrfs"), disk="/dev/sdd", size=MIB).state is DeviceState.USABLE


class _Recording(Mapping[str, str]):
    """udev properties that remember which keys were asked for."""

    def __init__(self, props: dict[str, str]) -> None:
        self.props = props
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.props[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("classify must not walk every property: it gets UDEV_PROPERTIES")

    def __len__(self) -> int:
        return len(self.props)


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.txt")))
@pytest.mark.parametrize("removable", [False, True])
def test_classify_reads_only_the_properties_discovery_fetches(name: str, removable: bool) -> None:
    """Discovery fetches only UDEV_PROPERTIES from udev (one call each, not a walk over all
    of a device's properties): a key classify() read that is not in that list would always be
    missing on a real machine while every test with full dumps passed."""
    props = _Recording(udev(name))
    classify(props, sys_path=sys_path(name), size=20 * MIB, removable=removable)
    assert props.asked <= set(UDEV_PROPERTIES), props.asked - set(UDEV_PROPERTIES)
