"""Discovery's one notion of "settled", with a fake clock, a fake udev and a queue file.

An automatic boot is decided only on a settled snapshot, so each rule here is one way a boot
could otherwise pick the wrong entry: a disk udev has not processed yet, udev still busy with
coldplug events, a USB disk that usb-storage scans a second after it is bound, a disk added
while discovery was about to call it settled.  Nothing here sleeps: the clock is advanced.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bootmenu.discover.monitor import SETTLE_QUIET, Discovery, Snapshot, usb_storage_delay

SDA = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
SDB = "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeUdevDevice:
    """What Discovery reads of a pyudev device. With ``devname`` it describes an empty disk
    (size 0: classified as skipped, so nothing is mounted)."""

    sys_path: str
    is_initialized: bool = True
    devname: str | None = None
    device_type: str = "disk"
    properties: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, bytes] = field(default_factory=lambda: {"size": b"0"})
    children: tuple[Any, ...] = ()
    ancestors: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.devname:
            self.properties = {"DEVNAME": self.devname, "DEVTYPE": "disk", **self.properties}

    def find_parent(self, *_: str) -> None:
        return None


class FakeContext:
    def __init__(self, devices: list[FakeUdevDevice]) -> None:
        self.devices = devices

    def list_devices(self, **_match: Any) -> list[FakeUdevDevice]:
        return list(self.devices)


@dataclass
class Rig:
    discovery: Discovery
    clock: Clock
    queue: Path
    usb_delay: Path
    published: list[Snapshot]

    def snapshot(self) -> Snapshot:
        self.discovery.recheck()
        return self.discovery.snapshot()

    def settled_after(self, seconds: float) -> Snapshot:
        self.clock.advance(seconds)
        return self.snapshot()


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path, [])


def make_rig(tmp_path: Path, devices: list[FakeUdevDevice], *, udev_timeout: float = 10.0) -> Rig:
    clock = Clock()
    published: list[Snapshot] = []
    discovery = Discovery(
        mounter=None,  # type: ignore[arg-type]
        context=FakeContext(devices),
        on_change=published.append,
        udev_timeout=udev_timeout,
        settle_timeout=30.0,
        udev_queue=str(tmp_path / "queue"),
        usb_storage_delay=str(tmp_path / "delay_use"),
        clock=clock,
    )
    return Rig(discovery, clock, tmp_path / "queue", tmp_path / "delay_use", published)


def test_not_settled_before_the_first_enumeration(rig: Rig) -> None:
    snap = rig.settled_after(60)
    assert not snap.settled
    assert snap.waiting == ("the list of block devices",)


def test_settles_after_a_quiet_period_and_not_before(rig: Rig) -> None:
    rig.discovery._enumerate()
    first = rig.snapshot()
    assert not first.settled
    assert first.waiting == ("the devices to go quiet",)
    assert not rig.settled_after(SETTLE_QUIET / 2).settled
    assert rig.settled_after(SETTLE_QUIET).settled
    assert rig.published[-1].settled and rig.published[-1].waiting == ()


def test_a_device_udev_has_not_processed_keeps_it_unsettled_until_its_event(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, [FakeUdevDevice(SDA, is_initialized=False)])
    rig.discovery._enumerate()
    snap = rig.settled_after(5)
    assert not snap.settled
    assert snap.waiting == ("udev to process /dev/sda",)
    assert snap.scanning == frozenset({"/dev/sda"})
    rig.discovery._handle(FakeUdevDevice(SDA, devname="/dev/sda"), "add")  # udev got to it
    assert not rig.snapshot().settled  # the add restarted the quiet period
    snap = rig.settled_after(SETTLE_QUIET)
    assert snap.settled and snap.scanning == frozenset()
    assert [d.devnode for d in snap.devices] == ["/dev/sda"]


def test_a_device_udev_never_processes_is_dropped_with_a_warning(tmp_path: Path) -> None:
    """The product state "going on without it" is left: the device leaves ``scanning`` and
    the snapshot settles (before, ``scanning`` kept it for ever)."""
    rig = make_rig(tmp_path, [FakeUdevDevice(SDA, is_initialized=False)], udev_timeout=10)
    rig.discovery._enumerate()
    assert not rig.settled_after(9.9).settled
    snap = rig.settled_after(0.2)
    assert snap.settled
    assert snap.scanning == frozenset()
    assert "udev did not process /dev/sda within 10 s; going on without it" in snap.warnings


def test_a_device_stays_waited_for_until_its_event_is_recorded(tmp_path: Path) -> None:
    """Between udev's event for a pending device and the device's record (and scan), discovery
    must not look settled: dropping it from the wait first left a window in which headless
    autoboot decided without that disk (a CI run booted the other disk's default)."""
    rig = make_rig(tmp_path, [FakeUdevDevice(SDA, is_initialized=False)])
    rig.discovery._enumerate()
    rig.clock.advance(5)  # the quiet period is long over: only the pending device holds it
    seen: list[tuple[bool, tuple[str, ...]]] = []

    class Attributes(dict[str, bytes]):
        def get(self, key: str, default: Any = None) -> Any:  # read while the event is handled
            with rig.discovery._lock:
                seen.append(rig.discovery._settle())
            return super().get(key, default)

    event = FakeUdevDevice(SDA, devname="/dev/sda", attributes=Attributes(size=b"0"))
    rig.discovery._handle(event, "add")
    assert seen and not any(settled for settled, _ in seen)
    assert rig.settled_after(SETTLE_QUIET).settled


def test_include_leaves_other_unprocessed_devices_out_of_the_wait(tmp_path: Path) -> None:
    """The integration tests look only at their own loop devices: a host disk that the
    tests' udevd never processed must not hold them up."""
    host = FakeUdevDevice(SDA, is_initialized=False, devname="/dev/vda")
    rig = make_rig(tmp_path, [host])
    rig.discovery.include = lambda d: d.devnode != "/dev/vda"
    rig.discovery._enumerate()
    snap = rig.settled_after(SETTLE_QUIET)
    assert snap.settled and snap.scanning == frozenset()


def test_a_disk_added_during_the_quiet_period_restarts_it(rig: Rig) -> None:
    rig.discovery._enumerate()
    rig.clock.advance(SETTLE_QUIET * 0.8)
    rig.discovery._note_event()  # the USB controller's events …
    rig.discovery._handle(FakeUdevDevice(SDB, devname="/dev/sdb"), "add")  # … then its disk
    assert not rig.settled_after(SETTLE_QUIET * 0.8).settled
    snap = rig.settled_after(SETTLE_QUIET * 0.3)
    assert snap.settled
    assert [d.devnode for d in snap.devices] == ["/dev/sdb"]


def test_any_udev_event_restarts_the_quiet_period(rig: Rig) -> None:
    rig.discovery._enumerate()
    for _ in range(5):
        rig.clock.advance(SETTLE_QUIET * 0.6)
        rig.discovery._note_event()  # usb, scsi_host … events while a controller comes up
        assert not rig.snapshot().settled
    assert rig.settled_after(SETTLE_QUIET).settled


def test_the_queue_file_coming_and_going(rig: Rig) -> None:
    rig.queue.touch()  # coldplug events still queued
    rig.discovery._enumerate()
    snap = rig.settled_after(5)
    assert not snap.settled and snap.waiting == ("udev to finish its events",)
    rig.queue.unlink()  # processed: the quiet period runs from when it was last seen busy
    assert not rig.settled_after(SETTLE_QUIET / 2).settled
    assert rig.settled_after(SETTLE_QUIET).settled
    rig.queue.touch()  # events of other devices (a keyboard) do not unsettle a settled view
    assert rig.settled_after(1).settled
    # A block device added while settled starts a new wait, and the queue counts again:
    # nothing was switched off for good when discovery settled the first time.
    rig.discovery._handle(FakeUdevDevice(SDB, devname="/dev/sdb"), "add")
    snap = rig.settled_after(5)
    assert not snap.settled and snap.waiting == ("udev to finish its events",)
    rig.queue.unlink()
    assert rig.settled_after(SETTLE_QUIET * 1.1).settled


def test_the_wait_for_udev_is_bounded_by_settle_timeout(rig: Rig) -> None:
    rig.queue.touch()  # a udev that never empties its queue
    rig.discovery._enumerate()
    assert not rig.settled_after(29.9).settled
    snap = rig.settled_after(0.2)
    assert snap.settled
    assert any("udev was still busy after 30 s" in w for w in snap.warnings)


def test_usb_storage_delay_lengthens_the_quiet_period(rig: Rig) -> None:
    """usb-storage binds a USB disk, then waits delay_use seconds with no event before it
    scans it: the quiet period covers that while the module is loaded."""
    rig.usb_delay.write_text("1\n")
    rig.discovery._enumerate()
    assert not rig.settled_after(SETTLE_QUIET + 0.9).settled
    assert rig.settled_after(0.2).settled


def test_the_event_thread_is_told_when_to_look_again(rig: Rig) -> None:
    rig.discovery._enumerate()
    rig.discovery.recheck()
    assert rig.discovery._next_check == pytest.approx(rig.clock.now + SETTLE_QUIET)
    rig.clock.advance(SETTLE_QUIET)
    rig.discovery.recheck()
    assert rig.discovery._next_check is None  # settled: nothing changes by time alone


def test_wait_settled_returns_the_latest_snapshot_when_time_runs_out(rig: Rig) -> None:
    rig.queue.touch()
    rig.discovery._enumerate()
    snap = rig.discovery.wait_settled(0.05)
    assert not snap.settled and snap.waiting == ("udev to finish its events",)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1\n", 1.0), ("0", 0.0), ("5", 5.0), ("1000ms", 1.0), ("250ms\n", 0.25), ("x", 0.0)],
)
def test_usb_storage_delay_values(text: str, seconds: float) -> None:
    assert usb_storage_delay(text) == seconds


def test_waits_for_udev_to_be_started_before_it_looks(tmp_path: Path) -> None:
    """Inside the initramfs /init starts udevd while Python starts: discovery looks at no
    device before /init's file says udevd runs and the coldplug events are triggered."""
    ready = tmp_path / "udev-started"
    discovery = Discovery(mounter=None, udev_ready=str(ready))  # type: ignore[arg-type]
    threading.Timer(0.2, ready.touch).start()
    started = time.monotonic()
    discovery._wait_udev_ready(str(ready))
    assert time.monotonic() - started >= 0.2
    assert discovery._warnings == []


def test_goes_on_with_a_warning_when_udev_is_never_started(tmp_path: Path) -> None:
    clock = Clock()

    def ticking() -> float:
        clock.advance(1.0)
        return clock.now

    discovery = Discovery(
        mounter=None,  # type: ignore[arg-type]
        udev_ready=str(tmp_path / "never"),
        udev_ready_timeout=5.0,
        clock=ticking,
    )
    discovery._wait_udev_ready(str(tmp_path / "never"))
    assert len(discovery._warnings) == 1
    assert "udev was not started within 5 s" in discovery._warnings[0]


def test_changes_while_a_snapshot_is_published_are_folded_into_one_more(tmp_path: Path) -> None:
    """Ten scans end while the menu is still taking the previous snapshot: they give one more
    snapshot (built after the menu returns, with all ten), not ten; and the last change is
    never lost."""
    taking = threading.Event()
    release = threading.Event()
    seen: list[int] = []

    def on_change(snapshot: Snapshot) -> None:
        seen.append(snapshot.generation)
        if len(seen) == 1:
            taking.set()
            release.wait(10)

    discovery = Discovery(
        mounter=None,  # type: ignore[arg-type]
        on_change=on_change,
        udev_queue=str(tmp_path / "queue"),
        usb_storage_delay=str(tmp_path / "delay_use"),
    )
    first = threading.Thread(target=discovery._publish)
    first.start()
    assert taking.wait(10)
    others = [threading.Thread(target=discovery._publish) for _ in range(10)]
    for t in others:
        t.start()
    for t in others:
        t.join(0.5)  # at once: they leave the building to the thread publishing now
    assert seen == [1]
    release.set()
    first.join(10)
    for t in others:
        t.join(10)
    assert seen == [1, 2]
    assert discovery.snapshot().generation == 2
