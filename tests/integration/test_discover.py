"""Discovery against a real udevd and partitioned disk images on loop devices.

Every Discovery here only looks at the loop devices backed by this test's images (``include``),
so loop devices other tests on the machine use at the same time are left alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bootmenu.discover import monitor, scanner
from bootmenu.discover.monitor import Discovery, Snapshot
from bootmenu.discover.scanner import VolumeScan
from bootmenu.model import Device, DeviceState, Kind, Source, Volume
from bootmenu.system import syscalls
from bootmenu.system.mounts import Mounter
from tests import images
from tests.integration.conftest import mounts_of, sha256
from tests.integration.udev import Disk, Disks, Part, disks, udevd  # noqa: F401

pytestmark = pytest.mark.root

KERNEL = images.bzimage("6.1.0-test-amd64")
INITRD = images.initrd()


def bls_files(title: str) -> dict[str, bytes]:
    entry = (
        f"title {title}\n"
        "version 6.1.0-test-amd64\n"
        "linux /vmlinuz-6.1.0-test-amd64\n"
        "initrd /initrd.img-6.1.0-test-amd64\n"
        "options root=LABEL=root ro quiet\n"
    )
    return {
        "loader/entries/test.conf": entry.encode(),
        "vmlinuz-6.1.0-test-amd64": KERNEL,
        "initrd.img-6.1.0-test-amd64": INITRD,
    }


class Session:
    """A Discovery over the images in ``tmp``, with every snapshot it published."""

    def __init__(self, tmp: Path, **kwargs: object) -> None:
        self.snapshots: list[Snapshot] = []
        self.mounter = Mounter(tmp / "run")
        prefix = str(tmp)
        self.discovery = Discovery(
            mounter=self.mounter,
            host_arch="x86_64",
            on_change=self.snapshots.append,
            device_timeout=10,
            include=lambda d: (d.backing_file or "").startswith(prefix),
            **kwargs,  # type: ignore[arg-type]
        )

    def until(self, what: str, test: Callable[[Snapshot], bool], timeout: float = 10) -> Snapshot:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.discovery.snapshot()
            if test(snap):
                return snap
            if time.monotonic() > deadline:
                devices = "\n".join(f"  {d.devnode}: {d.state} {d.reason}" for d in snap.devices)
                raise AssertionError(
                    f"{what} did not happen within {timeout} s; last snapshot "
                    f"(generation {snap.generation}):\n{devices}\n"
                    f"  entries: {[(e.root, e.title) for e in snap.entries]}\n"
                    f"  warnings: {list(snap.warnings)}"
                )
            time.sleep(0.05)


@pytest.fixture
def session(tmp_path: Path, disks: Disks) -> Iterator[Session]:  # noqa: F811
    s = Session(tmp_path)
    try:
        yield s
    finally:
        s.discovery.stop()
        s.mounter.unmount_all()


def device(snap: Snapshot, devnode: str | Path) -> Device:
    found = [d for d in snap.devices if d.devnode == str(devnode)]
    assert found, f"{devnode} is not in the snapshot: {[d.devnode for d in snap.devices]}"
    return found[0]


MAIN_LAYOUT = [
    Part("20M", "ext4", name="boot", label="boot", files=bls_files("Test Linux")),
    Part("304M", "xfs", label="data"),  # mkfs.xfs refuses less than 300 MiB
    Part("8M", "swap"),
    Part("20M", "luks", name="secret"),
]


def test_finds_entries_and_classifies_every_partition(
    disks: Disks,  # noqa: F811
    session: Session,
) -> None:
    disk = disks.build(MAIN_LAYOUT, size="400M")
    before = sha256(disk.image)
    d = session.discovery
    d.start()
    assert d.wait_settled(20).settled, "discovery did not settle"
    snap = session.until("both filesystems scanned", lambda s: len(s.volumes) == 2)

    assert device(snap, disk.device).state == DeviceState.SKIPPED  # partitioned whole disk
    p1, p2, p3, p4 = (device(snap, disk.part(n)) for n in range(1, 5))
    assert (p1.state, p1.fstype, p1.label, p1.partlabel) == (
        DeviceState.USABLE,
        "ext4",
        "boot",
        "boot",
    )
    assert (p2.state, p2.fstype, p2.label) == (DeviceState.USABLE, "xfs", "data")
    assert (p3.state, p3.reason) == (DeviceState.SKIPPED, "swap space")
    assert (p4.state, p4.reason) == (DeviceState.LOCKED, "encrypted with LUKS2")
    assert p1.disk == str(disk.device) and p1.partnumber == 1
    assert [dev.devnode for dev in snap.devices] == [str(disk.device), *map(str, disk.parts)]

    [entry] = snap.entries
    assert entry.root == disk.part(1)
    assert (entry.title, entry.kind, entry.source) == ("Test Linux", Kind.LINUX, Source.BLS)
    assert entry.kernel == "/vmlinuz-6.1.0-test-amd64"
    assert entry.initrd == ("/initrd.img-6.1.0-test-amd64",)
    assert entry.problems == (), entry.problems
    assert entry.default
    assert not snap.scanning

    volume = next(v for v in snap.volumes if v.name == disk.part(1))
    assert volume.uuid == p1.uuid and volume.partuuid == p1.partuuid and volume.label == "boot"
    [(mountpoint, options, _)] = mounts_of(Path(disk.part(1)))
    assert mountpoint == volume.path
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(options.split(","))
    assert syscalls.block_readonly(disk.part(1))

    assert d.wait_for([f"UUID={p1.uuid}", "LABEL=data", f"PARTUUID={p4.partuuid}"], 1) == []
    assert d.wait_for(["LABEL=nowhere", disk.part(3)], 0.2) == ["LABEL=nowhere"]

    generations = [s.generation for s in session.snapshots]
    assert generations == sorted(generations) and len(set(generations)) == len(generations)

    d.stop()
    assert mounts_of(Path(disk.part(1))) == [] and mounts_of(Path(disk.part(2))) == []
    assert not syscalls.block_readonly(disk.part(1)), "the read-only flag was not restored"
    disks.release_all()
    assert sha256(disk.image) == before


def test_hot_plug_and_removal(disks: Disks, session: Session) -> None:  # noqa: F811
    first = disks.build([Part("20M", "ext4", label="first", files=bls_files("First"))])
    # A dirty ext4 (its journal needs recovery), prepared now and plugged in after start().
    plugged = Part("20M", "ext4", label="second", files=bls_files("Second"), dirty=True)
    prepared = disks.build([plugged])
    disks.detach(prepared)
    image = prepared.image
    before = sha256(image)

    d = session.discovery
    d.start()
    session.until("the first disk's entry", lambda s: [e.title for e in s.entries] == ["First"])
    before_attach = len(session.snapshots)
    second = disks.attach(image, 1)  # found through the monitor, not by enumeration
    snap = session.until(
        "the hot-plugged disk's entry",
        lambda s: {e.title for e in s.entries} == {"First", "Second"},
    )
    assert len(session.snapshots) > before_attach
    second_entry = next(e for e in snap.entries if e.title == "Second")
    assert second_entry.root == str(second.parts[0])
    assert second_entry.problems == ()
    assert device(snap, second.parts[0]).label == "second"

    disks.announce_removal(second)
    snap = session.until(
        "the removed disk's entries to go", lambda s: [e.title for e in s.entries] == ["First"]
    )
    assert str(second.parts[0]) not in {dev.devnode for dev in snap.devices}
    assert all(v.name != str(second.parts[0]) for v in snap.volumes)
    # Discovery let go of the filesystem, so the kernel could finish detaching the loop device.
    deadline = time.monotonic() + 10
    while disks.is_attached(second) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not disks.is_attached(second), "the removed loop device is still held"
    assert sha256(image) == before, "the dirty ext4 was written to"
    assert [e.title for e in d.snapshot().entries] == ["First"]
    assert first.device.exists()


def test_grub_entry_on_another_partition_is_found_whatever_the_scan_order(
    disks: Disks,  # noqa: F811
    tmp_path: Path,
) -> None:
    uuid = "1b6c9a9e-5d4f-4c3b-9a2e-7f8d6c5b4a39"
    grub_cfg = (
        f"search --no-floppy --fs-uuid --set=root {uuid}\n"
        'menuentry "Across partitions" {\n'
        "    linux /vmlinuz-6.1.0-test-amd64 root=LABEL=root ro\n"
        "    initrd /initrd.img-6.1.0-test-amd64\n"
        "}\n"
    )
    files = bls_files("unused")
    del files["loader/entries/test.conf"]
    disk = disks.build(
        [
            Part("20M", "ext4", label="grub", files={"boot/grub/grub.cfg": grub_cfg.encode()}),
            Part("20M", "ext4", label="kernels", uuid=uuid, files=files),
        ]
    )
    # One worker: the grub partition is scanned before the kernel partition is even mounted,
    # so finding the kernel needs the rescan that follows a new volume.
    s = Session(tmp_path, max_workers=1)
    try:
        s.discovery.start()
        snap = s.until(
            "the grub entry with its kernel on the other partition",
            lambda x: (
                [(e.title, e.root, e.problems) for e in x.entries]
                == [("Across partitions", disk.part(2), ())]
            ),
        )
        assert s.discovery.wait_settled(10).settled
        [config] = snap.disk_configs
        assert (config.volume, config.source) == (disk.part(1), Source.GRUB)
    finally:
        s.discovery.stop()
        s.mounter.unmount_all()


def test_grub_entry_is_found_when_its_kernel_partition_is_mounted_during_the_scan(
    disks: Disks,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers: the grub partition's scan starts before the kernel partition is mounted
    and ends after that partition's scan (found by the steering-stick VM test, where a USB
    stick's grub.cfg and the internal disk were scanned at once and the settled menu showed
    the entry with the stick's own files)."""
    uuid = "1b6c9a9e-5d4f-4c3b-9a2e-7f8d6c5b4a40"
    grub_cfg = (
        f"search --no-floppy --fs-uuid --set=root {uuid}\n"
        'menuentry "Across partitions" {\n'
        "    linux /vmlinuz-6.1.0-test-amd64 root=LABEL=root ro\n"
        "    initrd /initrd.img-6.1.0-test-amd64\n"
        "}\n"
    )
    files = bls_files("unused")
    del files["loader/entries/test.conf"]
    disk = disks.build(
        [
            Part("20M", "ext4", label="grub", files={"boot/grub/grub.cfg": grub_cfg.encode()}),
            Part("20M", "ext4", label="kernels", uuid=uuid, files=files),
        ]
    )

    class SlowGrubScan(scanner.Scanner):
        def scan_volume(self, vol: Volume) -> VolumeScan:
            if vol.label == "grub":
                time.sleep(1.5)
            return super().scan_volume(vol)

    monkeypatch.setattr(monitor, "Scanner", SlowGrubScan)
    s = Session(tmp_path, max_workers=2)
    mount = s.mounter.mount

    def slow_kernels_mount(devnode: str, fstype: str, **kw: Any) -> Path:
        if devnode == disk.part(2):
            time.sleep(0.5)
        return mount(devnode, fstype, **kw)

    monkeypatch.setattr(s.mounter, "mount", slow_kernels_mount)
    try:
        s.discovery.start()
        snap = s.discovery.wait_settled(20)
        assert snap.settled
        assert [(e.title, e.root, e.problems) for e in snap.entries] == [
            ("Across partitions", disk.part(2), ())
        ]
    finally:
        s.discovery.stop()
        s.mounter.unmount_all()


def test_filesystem_mounted_elsewhere_is_read_there(
    disks: Disks,  # noqa: F811
    tmp_path: Path,
    session: Session,
) -> None:
    disk = disks.build([Part("20M", "ext4", label="busy", files=bls_files("Busy"))])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    syscalls.mount(disk.part(1), elsewhere, "ext4", syscalls.MS_RDONLY, None)
    try:
        d = session.discovery
        d.start()
        snap = session.until("the entry", lambda s: [e.title for e in s.entries] == ["Busy"])
        [volume] = snap.volumes
        assert volume.path == elsewhere
        assert [m for m, _, _ in mounts_of(Path(disk.part(1)))] == [elsewhere]
        assert not syscalls.block_readonly(disk.part(1)), "BLKROSET under someone else's mount"
        d.stop()
        assert [m for m, _, _ in mounts_of(Path(disk.part(1)))] == [elsewhere]
    finally:
        syscalls.umount(elsewhere)


def test_slow_device_is_left_out_without_stalling_the_others(
    disks: Disks,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    disk = disks.build(
        [
            Part("20M", "ext4", label="slow", files=bls_files("Slow")),
            Part("20M", "ext4", label="fast", files=bls_files("Fast")),
        ]
    )
    release = threading.Event()
    real = scanner.Scanner.scan_volume

    def scan_volume(self: scanner.Scanner, vol: Volume) -> VolumeScan:
        if vol.label == "slow":
            release.wait(30)  # a disk stuck in the kernel
        return real(self, vol)

    monkeypatch.setattr(scanner.Scanner, "scan_volume", scan_volume)
    s = Session(tmp_path)
    s.discovery.device_timeout = 1.0
    try:
        s.discovery.start()
        snap = s.until(
            "the fast entry and the slow device's failure",
            lambda x: (
                [e.title for e in x.entries] == ["Fast"]
                and device(x, disk.part(1)).state == DeviceState.FAILED
            ),
        )
        slow = device(snap, disk.part(1))
        assert (
            slow.reason
            == f"{disk.part(1)}: the device did not answer within 1 s; its entries are left out"
        )
        assert slow.reason in snap.warnings
        assert s.discovery.wait_settled(2).settled
    finally:
        release.set()
        s.discovery.stop()
        s.mounter.unmount_all()
    assert mounts_of(Path(disk.part(1))) == [] and mounts_of(Path(disk.part(2))) == []
