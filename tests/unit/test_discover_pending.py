"""Discovery is not idle while udev has not processed a block device the kernel already has:
otherwise autoboot could decide before the first disk is even known (seen under load: the
second disk's default was booted because the first disk's udev event came late)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootmenu.discover import Discovery


@dataclass
class FakeUdevDevice:
    sys_path: str
    is_initialized: bool
    device_type: str = "disk"
    properties: dict[str, str] = field(default_factory=dict)  # no DEVNAME: nothing to record


class FakeContext:
    def __init__(self, devices: list[FakeUdevDevice]) -> None:
        self.devices = devices

    def list_devices(self, **_match: Any) -> list[FakeUdevDevice]:
        return list(self.devices)


SDA = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"


def discovery(devices: list[FakeUdevDevice], udev_timeout: float = 30.0) -> Discovery:
    return Discovery(mounter=None, context=FakeContext(devices), udev_timeout=udev_timeout)  # type: ignore[arg-type]


def test_a_device_udev_has_not_processed_keeps_discovery_busy_until_its_event() -> None:
    d = discovery([FakeUdevDevice(SDA, is_initialized=False)])
    d._enumerate()
    assert not d.wait_idle(0.2)
    assert d.snapshot().scanning == frozenset({"/dev/sda"})
    d._handle(FakeUdevDevice(SDA, is_initialized=True), "add")  # udev got to it
    assert d.wait_idle(1.0)


def test_discovery_stops_waiting_for_udev_after_the_timeout() -> None:
    d = discovery([FakeUdevDevice(SDA, is_initialized=False)], udev_timeout=0.3)
    d._enumerate()
    started = time.monotonic()
    assert d.wait_idle(5.0)
    assert 0.2 <= time.monotonic() - started < 3.0


def test_processed_devices_do_not_make_discovery_wait() -> None:
    d = discovery([FakeUdevDevice(SDA, is_initialized=True)])
    d._enumerate()
    assert d.wait_idle(0.1)


def test_discovery_is_busy_while_udev_still_has_coldplug_events_queued(tmp_path: Path) -> None:
    """At the start a disk may not exist yet: the event that loads its driver is still in
    udev's queue (/run/udev/queue), so discovery waits for the queue to empty."""
    queue = tmp_path / "queue"
    queue.touch()
    d = Discovery(mounter=None, context=FakeContext([]), udev_queue=str(queue),  # type: ignore[arg-type]
                  settle_timeout=30.0)  # fmt: skip
    d._settle_until = time.monotonic() + d.settle_timeout  # what start() does
    d._enumerate()
    assert not d.wait_idle(0.2)
    queue.unlink()  # udevd processed everything
    assert d.wait_idle(1.0)
    queue.touch()  # later events do not hold discovery up again: it settled once
    assert d.wait_idle(0.1)


def test_the_settle_wait_ends_by_time(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    queue.touch()
    d = Discovery(mounter=None, context=FakeContext([]), udev_queue=str(queue),  # type: ignore[arg-type]
                  settle_timeout=0.3)  # fmt: skip
    d._settle_until = time.monotonic() + d.settle_timeout
    assert d.wait_idle(5.0)
