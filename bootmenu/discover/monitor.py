"""Finding the disks and filesystems of the machine, and the boot entries on them.

The only module that talks to udev (pyudev); what a device is (:func:`classify`) and the order
of devices are :mod:`bootmenu.discover.devices`'s (pure).  :class:`Discovery` enumerates block
devices, follows udev's add/change/remove events, mounts usable filesystems read-only through a
:class:`~bootmenu.system.mounts.Mounter`, scans each with
:class:`~bootmenu.discover.scanner.Scanner` in its own thread and publishes immutable
:class:`Snapshot` objects, settled or not.

Decisions worth knowing:

- A filesystem that is already mounted somewhere on the system (a developer machine's ``/`` or
  ``/boot``, found in ``/proc/self/mountinfo`` by major:minor or by source device) is read
  through that mount and never mounted a second time: mounting it again would share its live
  superblock, and setting BLKROSET under a mounted read-write filesystem is not ours to do.
  bootmenu only reads there (on a read-write mount the kernel may still update access times;
  the system that mounted it owns that filesystem). In the initramfs nothing is mounted yet.
- The whole disk is never mounted when it has partitions; a disk with a filesystem and no
  partitions (a "superfloppy" stick, an ISO image on a loop device) is.
- Every device is worked on by at most one thread at a time (mount, scan, unmount); events
  only record what the device looks like now and wake that thread. Scans run with at most
  ``max_workers`` at once. A device whose mount and scan take longer than ``device_timeout`` is
  reported as failed and its thread is abandoned (a daemon thread: a disk stuck in the kernel
  must not keep bootmenu from exiting, which ``concurrent.futures`` workers would, as they are
  joined at interpreter exit). Its result, should it ever come, is thrown away.
- grub configurations can name files on other filesystems (``search --fs-uuid``). When the set
  of mounted filesystems changes, volumes whose scan found a grub configuration are scanned
  again once the other scans are done; entries whose files are on a removed device disappear
  at once.
- Mounting and unmounting run on the devices' own threads, so one slow mount(2) does not hold
  up the others; the Mounter is shared between them (its bookkeeping is single list appends
  and removals, atomic in CPython), and no two threads ever work on the same device.
- Device classification happens on one thread (the event thread), after the initial
  enumeration; the monitor is listening before enumeration starts, so no event is lost.
- A "change" event that leaves the device's description unchanged does nothing (udev sends one
  whenever a program closes a device it wrote to); :meth:`Discovery.rescan` re-reads
  everything.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import select
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from bootmenu.discover.devices import (
    UDEV_PROPERTIES,
    classify,
    find_mount,
    int_or_none,
    matches,
    natural_key,
    sys_path_key,
)
from bootmenu.discover.scanner import Scanner, VolumeScan, assemble
from bootmenu.errors import DeviceError
from bootmenu.model import (
    BootEntry,
    Device,
    DeviceKind,
    DeviceState,
    DiskBootConfig,
    Source,
    Volume,
)
from bootmenu.system import syscalls
from bootmenu.system.mounts import MOUNTINFO, Mounter, parse_mountinfo
from bootmenu.system.sysfs import SECTOR

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything discovery knows at one moment, in menu order."""

    devices: tuple[Device, ...] = ()
    entries: tuple[BootEntry, ...] = ()
    disk_configs: tuple[DiskBootConfig, ...] = ()
    warnings: tuple[str, ...] = ()
    # Devnodes whose mount or scan has not finished yet.
    scanning: frozenset[str] = frozenset()
    generation: int = 0
    # The filesystems the entries are on, by name (Volume.name is the devnode).
    volumes: tuple[Volume, ...] = ()
    # Whether this is a settled view of the machine (see Discovery): the only kind an automatic
    # decision may be taken on. ``waiting`` says what discovery still waits for (empty when
    # settled), as phrases: "scanning /dev/sda1", "udev to process /dev/sdb".
    settled: bool = False
    waiting: tuple[str, ...] = ()


# --- pure helpers ------------------------------------------------------------------------------


# How long discovery waits for udev to process a block device the kernel already has (its
# "add" event has not come yet); after that the device is left out, with a warning.
UDEV_TIMEOUT: Final = 10.0
# udevd keeps this file while events are queued (``udevadm settle`` waits for it to go). At the
# start, /init has triggered the coldplug events without waiting: until they are processed a
# disk may not even exist yet (its driver is loaded by one of those events).
UDEV_QUEUE: Final = "/run/udev/queue"
# The longest discovery waits for udev's queue to empty and the devices to go quiet, counted
# from the start of each wait (the start, or a block device added while settled).
SETTLE_TIMEOUT: Final = 30.0
# How long no udev event (of any subsystem) and an empty queue must last before discovery calls
# the machine settled: a controller's driver binds (events), then its disks appear (more events).
SETTLE_QUIET: Final = 0.5
# usb-storage waits this many seconds (default 1) after a USB disk is bound before it scans it,
# with no event in between: while the module is loaded, the quiet period is that much longer.
USB_STORAGE_DELAY: Final = "/sys/module/usb_storage/parameters/delay_use"
# How often udev's queue file is looked at while discovery waits for it.
QUEUE_POLL: Final = 0.1
# Inside bootmenu's initramfs /init starts udevd and triggers the coldplug events while Python
# starts, and creates this file (named by BOOTMENU_UDEV_READY) when both are done: discovery
# looks at no device before, as if bootmenu had been started after them.
UDEV_READY_ENV: Final = "BOOTMENU_UDEV_READY"
UDEV_READY_TIMEOUT: Final = 60.0


def usb_storage_delay(text: str) -> float:
    """usb-storage's ``delay_use`` parameter in seconds: ``"1"`` (Linux ≤ 6.10) or ``"1000ms"``
    (later kernels may write milliseconds); 0 for anything else."""
    text = text.strip()
    try:
        if text.endswith("ms"):
            return max(0.0, int(text[:-2]) / 1000)
        return max(0.0, float(int(text)))
    except ValueError:
        return 0.0


# --- Discovery ---------------------------------------------------------------------------------


@dataclass
class _Mounted:
    volume: Volume
    device: Device  # what the device looked like when it was mounted
    ours: Path | None  # our mountpoint, None when the system had mounted it already
    gone: bool = False  # the device was removed: never reuse this mount, even if it returns


@dataclass
class _Slot:
    """Everything about one devnode (guarded by Discovery._lock)."""

    device: Device
    links: tuple[str, ...] = ()
    present: bool = True
    running: bool = False  # a runner thread owns the device (queued or working)
    dirty: bool = False  # the runner must (re)do its work
    stuck: threading.Thread | None = None  # an abandoned worker, still alive
    mounted: _Mounted | None = None
    scan: VolumeScan | None = None
    problem: str | None = None  # why a usable device failed
    rescan: bool = False  # rescan once the others are done (other volumes changed)


@dataclass
class _Outcome:
    scan: VolumeScan | None = None
    problem: str | None = None
    volumes_changed: bool = False
    # The volumes the scan could see (a grub.cfg's ``search`` looks among them).
    seen: frozenset[str] = frozenset()


def _same_filesystem(a: Device, b: Device) -> bool:
    return (a.fstype, a.uuid, a.size, a.sys_path) == (b.fstype, b.uuid, b.size, b.sys_path)


def _uses_other_volumes(scan: VolumeScan) -> bool:
    return any(c.source == Source.GRUB for c in scan.configs) or any(
        e.root != scan.volume for e in scan.entries
    )


class Discovery:
    """Finds block devices, mounts and scans them, and follows hot-plug events.

    ``on_change`` is called with every new :class:`Snapshot`, from a background thread, in
    generation order, outside the state lock; it should return quickly (hand the snapshot to
    the UI) and must not call :meth:`stop`. ``include``, when given, decides which devices
    discovery looks at at all (the others are left alone, not listed and not waited for).

    **Settled.** Every snapshot says whether it is a settled view of the machine, computed here
    under the lock, in one place (:meth:`_settle`). It is settled when all of these hold:

    - the first enumeration is done;
    - no block device the kernel has is still unprocessed by udev (one that stays so for
      ``udev_timeout`` is dropped from the wait, with a warning, and from ``scanning``);
    - no mount or scan is running or due (each is bounded by ``device_timeout``);
    - udev's queue (``udev_queue``) is empty and no udev event of any subsystem came for a quiet
      period (``settle_quiet``, plus usb-storage's ``delay_use`` while that module is loaded),
      for at most ``settle_timeout`` from the start of the wait (then a warning, and discovery
      goes on with what it has).

    A wait starts with :meth:`start` and again when a block device is added or a scan starts
    while settled: settled can become false again (a disk plugged in later), and nothing is
    switched off for good. The event thread looks again whenever time alone can change the
    answer, and publishes a new snapshot when it does.
    """

    def __init__(
        self,
        *,
        mounter: Mounter,
        host_arch: str | None = None,
        on_change: Callable[[Snapshot], None] | None = None,
        max_workers: int = 4,
        device_timeout: float = 20.0,
        context: Any = None,
        include: Callable[[Device], bool] | None = None,
        udev_timeout: float = UDEV_TIMEOUT,
        settle_timeout: float = SETTLE_TIMEOUT,
        udev_queue: str = UDEV_QUEUE,
        settle_quiet: float = SETTLE_QUIET,
        usb_storage_delay: str = USB_STORAGE_DELAY,
        clock: Callable[[], float] = time.monotonic,
        removable_filesystems: Collection[str] | None = None,
        udev_ready: str | None = None,
        udev_ready_timeout: float = UDEV_READY_TIMEOUT,
    ):
        self.mounter = mounter
        # A file whose existence says udevd runs and the coldplug events are triggered (None:
        # they are already).
        self.udev_ready = udev_ready
        self.udev_ready_timeout = udev_ready_timeout
        # Filesystem types mounted from removable media (None: any; see devices.classify).
        self.removable_filesystems = removable_filesystems
        self.udev_timeout = udev_timeout
        self.settle_timeout = settle_timeout
        self.udev_queue = udev_queue
        self.settle_quiet = settle_quiet
        self.usb_storage_delay = usb_storage_delay
        self._clock = clock
        # Block devices the kernel has (sysfs) but udev has not processed yet, by sys path,
        # with the time to stop waiting for them: discovery is not settled while any is left,
        # so that autoboot does not decide before the first disk is even known.
        self._pending: dict[str, float] = {}
        self._enumerated = False
        # When the current wait for settled began (None while settled), and the last udev
        # event of any subsystem (or the last time udev's queue was seen busy).
        self._unsettled_since: float | None = clock()
        self._last_event = clock()
        self._gave_up = False  # this wait ended by settle_timeout (warned once)
        self._next_check: float | None = None  # when time alone may change the answer
        self.include = include
        self.host_arch = host_arch
        self.on_change = on_change
        self.device_timeout = device_timeout
        self._context = context
        self._lock = threading.Condition(threading.Lock())
        self._publish_lock = threading.Lock()
        self._publish_wanted = False  # a snapshot was asked for and is not built yet
        self._workers = threading.BoundedSemaphore(max(1, max_workers))
        self._slots: dict[str, _Slot] = {}
        self._snapshot = Snapshot()
        self._generation = 0
        self._warnings: list[str] = []
        self._our_mounts: set[Path] = set()
        self._stopping = False
        self._started = False
        self._monitor: Any = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._resync = False

    # -- public ------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen for udev events, enumerate the block devices and start mounting and scanning
        them. Returns at once; follow progress through ``on_change`` or the wait methods."""
        import pyudev

        if self._started:
            raise RuntimeError("Discovery.start() was called twice")
        self._started = True
        if self.udev_ready:
            self._wait_udev_ready(self.udev_ready)
        if self._context is None:
            self._context = pyudev.Context()
        self._check_udev()
        try:
            # Every subsystem: block devices are followed, and any event (a USB or SCSI
            # controller binding) restarts the quiet period before discovery settles.
            monitor = pyudev.Monitor.from_netlink(self._context)
            with contextlib.suppress(OSError, ValueError):
                monitor.set_receive_buffer_size(8 * 1024 * 1024)
            monitor.start()  # listening from here on: events during enumeration are kept
        except OSError as e:
            raise DeviceError(f"cannot listen for udev events: {e.strerror or e}") from e
        self._monitor = monitor
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        with self._lock:
            self._unsettled_since = self._last_event = self._clock()
            self._gave_up = False
        self._enumerate()
        self._thread = threading.Thread(target=self._event_loop, name="udev-events", daemon=True)
        self._thread.start()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def rescan(self) -> None:
        """Enumerate the devices again (picking up anything missed) and scan every mounted
        filesystem again."""
        with self._lock:
            self._resync = True
            for slot in self._slots.values():
                if slot.present and slot.mounted is not None:
                    self._kick(slot)
        self._wake()

    def wait_settled(self, timeout: float) -> Snapshot:
        """Wait until discovery has settled (see the class); returns the settled snapshot, or
        the latest one (``settled`` False) when ``timeout`` seconds have passed first."""
        deadline = time.monotonic() + timeout
        while True:
            self.recheck()
            with self._lock:
                snapshot = self._snapshot
                remaining = deadline - time.monotonic()
                if snapshot.settled or remaining <= 0:
                    return snapshot
                self._lock.wait(min(remaining, QUEUE_POLL))

    def recheck(self) -> None:
        """Publish a new snapshot if whether discovery is settled (or what it waits for) has
        changed since the last one: time alone changes it (a quiet period over, udev's queue
        gone, a timeout). The event thread calls this; so can anybody."""
        with self._lock:
            settled, waiting = self._settle()
            changed = (settled, waiting) != (self._snapshot.settled, self._snapshot.waiting)
        if changed:
            self._publish()

    def wait_for(self, specs: Sequence[str], timeout: float) -> list[str]:
        """Wait until every spec (``UUID=…``, ``PARTUUID=…``, ``LABEL=…``, ``PARTLABEL=…`` or
        ``/dev/…``) names a present device whose scan (if any) has finished. Returns the specs
        still missing when ``timeout`` seconds have passed (an empty list: all found)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                missing = [s for s in specs if not self._found(s)]
                remaining = deadline - time.monotonic()
                if not missing or remaining <= 0:
                    return missing
                self._lock.wait(remaining)

    def stop(self, *, unmount: bool = True) -> None:
        """Stop following events, wait for running scans (each at most ``device_timeout``) and,
        with ``unmount``, unmount every filesystem discovery mounted."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._wake()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._lock.wait_for(
                lambda: not any(s.running for s in self._slots.values()),
                self.device_timeout + 5,
            )
            mounts = sorted(self._our_mounts, reverse=True)
        self._monitor = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if unmount:
            for mountpoint in mounts:
                self._unmount(mountpoint)

    # -- udev ------------------------------------------------------------------------------

    def _wait_udev_ready(self, path: str) -> None:
        """Wait for ``path`` to exist (/init has started udevd and triggered the coldplug
        events), up to ``udev_ready_timeout``; warn and go on without it after that."""
        give_up_at = self._clock() + self.udev_ready_timeout
        while not os.path.exists(path):
            if self._clock() >= give_up_at:
                self._warnings.append(
                    f"udev was not started within {self.udev_ready_timeout:g} s ({path} is "
                    f"missing): discovery goes on without waiting for it"
                )
                return
            time.sleep(0.02)

    def _check_udev(self) -> None:
        run_path = getattr(self._context, "run_path", "/run/udev")
        if not os.path.exists(os.path.join(run_path, "control")):
            self._warnings.append(
                "udev is not running: no disks can be discovered (start systemd-udevd and run "
                "'udevadm trigger' first)"
            )

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _event_loop(self) -> None:
        poller = select.poll()
        poller.register(self._monitor.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            with self._lock:
                if self._stopping:
                    return
                resync, self._resync = self._resync, False
            if resync:
                self._enumerate()
            self.recheck()
            with self._lock:
                check = self._next_check
            wait = 1.0 if check is None else min(1.0, max(0.01, check - self._clock()))
            try:
                ready = poller.poll(int(wait * 1000))
            except InterruptedError:
                continue
            for fd, _ in ready:
                if fd == self._wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                    continue
                while True:
                    try:
                        event = self._monitor.poll(timeout=0)
                    except OSError as e:
                        # ENOBUFS: the kernel dropped events; read everything again.
                        log.warning("udev monitor: %s; enumerating the devices again", e)
                        with self._lock:
                            self._resync = True
                        break
                    if event is None:
                        break
                    self._note_event()
                    if getattr(event, "subsystem", "block") != "block":
                        continue
                    try:
                        self._handle(event, event.action or "change")
                    except Exception:  # one odd device must not end event handling
                        log.exception("handling a udev event for %s", event.sys_path)

    def _enumerate(self) -> None:
        seen: set[str] = set()
        try:
            devices = list(self._context.list_devices(subsystem="block"))
        except OSError as e:
            log.warning("cannot enumerate block devices: %s", e)
            return
        # Disks first, so partitions can refer to what their disk looks like.
        devices.sort(key=lambda d: (d.device_type == "partition", natural_key(d.sys_path)))
        for udev_device in devices:
            try:
                if not udev_device.is_initialized:
                    # udev has not processed it yet; its "add" event will come. The kernel's
                    # own properties (name, type) are there already, enough for ``include``.
                    if self.include is not None:
                        described = self._describe(udev_device)
                        if described is not None and not self.include(described[0]):
                            continue
                    with self._lock:
                        path = str(udev_device.sys_path)
                        self._pending.setdefault(path, self._clock() + self.udev_timeout)
                    continue
                devnode = self._handle(udev_device, "add", publish=False)
            except Exception:
                log.exception("enumerating %s", getattr(udev_device, "sys_path", "?"))
                continue
            if devnode:
                seen.add(devnode)
        with self._lock:
            self._enumerated = True
            gone = [n for n, s in self._slots.items() if s.present and n not in seen]
        for devnode in gone:
            self._removed(devnode, publish=False)
        self._publish()

    def _describe(self, udev_device: Any) -> tuple[Device, tuple[str, ...]] | None:
        udev_properties = udev_device.properties
        properties: dict[str, str] = {}
        for key in UDEV_PROPERTIES:
            value = udev_properties.get(key)
            if value is not None:
                properties[key] = str(value)
        if not properties.get("DEVNAME"):
            return None

        def attribute(dev: Any, name: str) -> str | None:
            try:
                value = dev.attributes.get(name)
            except (OSError, KeyError, UnicodeDecodeError):
                return None
            if value is None:
                return None
            return bytes(value).decode("utf-8", "replace").strip()

        kind = udev_device.device_type
        parent = udev_device.find_parent("block", "disk") if kind == "partition" else None
        disk_device = parent if parent is not None else udev_device
        sectors = int_or_none(attribute(udev_device, "size"))
        has_partitions = False
        if kind != "partition":
            with contextlib.suppress(OSError):
                has_partitions = any(c.device_type == "partition" for c in udev_device.children)
        driver = None
        with contextlib.suppress(OSError):
            driver = next((a.driver for a in disk_device.ancestors if a.driver), None)
        device = classify(
            properties,
            sys_path=str(udev_device.sys_path),
            size=sectors * SECTOR if sectors is not None else None,
            removable=attribute(disk_device, "removable") == "1",
            has_partitions=has_partitions,
            disk=parent.device_node if parent is not None else None,
            backing_file=attribute(disk_device, "loop/backing_file"),
            driver=driver,
            mmc_type=attribute(disk_device, "device/type"),
            removable_filesystems=self.removable_filesystems,
        )
        return device, tuple(properties.get("DEVLINKS", "").split())

    # -- state -----------------------------------------------------------------------------

    def _handle(self, udev_device: Any, action: str, *, publish: bool = True) -> str | None:
        """Record what a udev event says; returns the devnode."""
        try:
            return self._record(udev_device, action, publish=publish)
        finally:
            # Only now: until the device is recorded (and its scan started) it must keep
            # discovery unsettled. (Dropping it first left a window in which nothing was
            # pending or scanning, and headless autoboot decided without the disk.)
            with self._lock:
                dropped = self._pending.pop(str(udev_device.sys_path), None) is not None
            if dropped and publish:
                self._publish()

    def _record(self, udev_device: Any, action: str, *, publish: bool) -> str | None:
        if action == "remove":
            node = udev_device.properties.get("DEVNAME")
            if node:
                node = node if node.startswith("/") else f"/dev/{node}"
                self._removed(node, publish=publish)
            return None
        described = self._describe(udev_device)
        if described is None:
            return None
        device, links = described
        if self.include is not None and not self.include(device):
            self._removed(device.devnode, publish=publish)  # in case it was included before
            return None
        refresh_parent = None
        with self._lock:
            if self._stopping:
                return device.devnode
            if action == "add":  # a new wait, and a new quiet period
                self._unsettle()
                self._last_event = self._clock()
            slot = self._slots.get(device.devnode)
            if slot is not None and slot.present and slot.device == device:
                slot.links = links
                return device.devnode  # nothing changed (a duplicate, or a write somewhere)
            if slot is None:
                slot = _Slot(device=device, links=links)
                self._slots[device.devnode] = slot
            else:  # changed, or back after a removal (its old mount may still be there)
                slot.device, slot.links, slot.present = device, links, True
                slot.scan, slot.problem = None, None
            if device.state == DeviceState.USABLE or slot.mounted is not None:
                self._kick(slot)
            if device.kind == DeviceKind.PARTITION:
                parent = self._slots.get(device.disk)
                if parent is not None and parent.device.state == DeviceState.USABLE:
                    refresh_parent = parent.device.sys_path
        if publish:
            self._publish()
        if refresh_parent:
            # A partition appeared on a disk that looked like one filesystem: look again.
            import pyudev

            with contextlib.suppress(Exception):
                parent_device = pyudev.Devices.from_sys_path(self._context, refresh_parent)
                self._handle(parent_device, "change", publish=publish)
        return device.devnode

    def _removed(self, devnode: str, *, publish: bool = True) -> None:
        with self._lock:
            slot = self._slots.get(devnode)
            if slot is None or not slot.present:
                return
            slot.present = False
            slot.scan, slot.problem = None, None
            if slot.mounted is not None:
                slot.mounted.gone = True
                self._kick(slot)
                self._volumes_changed(devnode)
            elif not slot.running and slot.stuck is None:
                del self._slots[devnode]
        if publish:
            self._publish()

    def _kick(self, slot: _Slot) -> None:
        """Have the device's runner (re)do its work (called with the lock held)."""
        slot.dirty = True
        slot.rescan = False
        if slot.running or slot.stuck is not None or self._stopping:
            return
        self._unsettle()
        slot.running = True
        thread = threading.Thread(
            target=self._runner, args=(slot.device.devnode,), name="discover", daemon=True
        )
        thread.start()

    def _volumes_changed(self, changed: str) -> None:
        """Mark scans that read other volumes for a rescan (lock held)."""
        for name, slot in self._slots.items():
            if name != changed and slot.scan is not None and _uses_other_volumes(slot.scan):
                slot.rescan = True

    def _note_event(self) -> None:
        """A udev event of any subsystem came: the quiet period starts again."""
        with self._lock:
            self._last_event = self._clock()

    def _unsettle(self) -> None:
        """A new wait for settled begins, unless one is under way (lock held)."""
        if self._unsettled_since is None:
            self._unsettled_since = self._clock()
            self._gave_up = False

    def _quiet_period(self) -> float:
        try:
            with open(self.usb_storage_delay, encoding="ascii") as f:
                delay = usb_storage_delay(f.read())
        except (OSError, UnicodeDecodeError):
            delay = 0.0
        return self.settle_quiet + delay

    def _settle(self) -> tuple[bool, tuple[str, ...]]:
        """Whether discovery is settled and what it waits for (lock held); see the class.
        Drops devices udev did not process in time, and sets ``_next_check``."""
        now = self._clock()
        waiting: list[str] = []
        checks: list[float] = []
        if not self._enumerated:
            waiting.append("the list of block devices")
        unprocessed = []
        for path, give_up in list(self._pending.items()):
            name = "/dev/" + posixpath.basename(path)
            if now >= give_up:
                del self._pending[path]
                message = (
                    f"udev did not process {name} within {self.udev_timeout:g} s; "
                    "going on without it"
                )
                log.warning("%s", message)
                self._warnings.append(message)
            else:
                unprocessed.append(name)
                checks.append(give_up)
        if unprocessed:
            waiting.append("udev to process " + ", ".join(sorted(unprocessed, key=natural_key)))
        scanning = sorted(
            (
                name
                for name, s in self._slots.items()
                if s.running or (s.rescan and s.present and s.stuck is None)
            ),
            key=natural_key,
        )
        if scanning:
            waiting.append("scanning " + ", ".join(scanning))
        if self._unsettled_since is not None:
            give_up_at = self._unsettled_since + self.settle_timeout
            queued = os.path.exists(self.udev_queue)
            if queued:
                self._last_event = max(self._last_event, now)
            quiet_at = self._last_event + self._quiet_period()
            if (queued or now < quiet_at) and now < give_up_at:
                waiting.append("udev to finish its events" if queued else "the devices to go quiet")
                checks.append(min(give_up_at, now + QUEUE_POLL if queued else quiet_at))
            elif (queued or now < quiet_at) and not self._gave_up and not waiting:
                self._gave_up = True
                message = (
                    f"udev was still busy after {self.settle_timeout:g} s; going on with the "
                    "devices found so far"
                )
                log.warning("%s", message)
                self._warnings.append(message)
        self._next_check = min(checks) if checks else None
        if waiting:
            return False, tuple(waiting)
        self._unsettled_since = None
        return True, ()

    def _found(self, spec: str) -> bool:
        for slot in self._slots.values():
            if slot.present and not slot.running and matches(spec, slot.device, links=slot.links):
                return True
        return False

    # -- workers ---------------------------------------------------------------------------

    def _runner(self, devnode: str) -> None:
        try:
            self._run_jobs(devnode)
        finally:
            self._publish()

    def _run_jobs(self, devnode: str) -> None:
        while True:
            with self._lock:
                slot = self._slots.get(devnode)
                if slot is None:
                    return
                if not slot.dirty or self._stopping:
                    self._finish(devnode, slot)
                    return
                slot.dirty = False
            while not self._workers.acquire(timeout=0.5):
                with self._lock:
                    if self._stopping:
                        self._finish(devnode, slot)
                        return
            outcome = _Outcome()
            worker = threading.Thread(
                target=self._work, args=(devnode, outcome), name=f"scan {devnode}", daemon=True
            )
            try:
                worker.start()
                worker.join(self.device_timeout)
            finally:
                self._workers.release()
            with self._lock:
                if worker.is_alive():
                    slot.stuck = worker
                    slot.scan = None
                    slot.problem = (
                        f"{devnode}: the device did not answer within "
                        f"{self.device_timeout:g} s; its entries are left out"
                    )
                    log.warning("%s", slot.problem)
                    self._finish(devnode, slot)
                    return
                if outcome.volumes_changed:
                    self._volumes_changed(devnode)
                if not slot.dirty:  # otherwise the result is already out of date
                    slot.scan, slot.problem = outcome.scan, outcome.problem
                    # A volume mounted (or gone) while this scan ran is one its grub.cfg's
                    # `search` could not see: scan again once the others are done, whatever
                    # order the disks were mounted in.
                    seen_now = {v.name for v in self._visible_volumes()}
                    if (
                        outcome.scan is not None
                        and _uses_other_volumes(outcome.scan)
                        and outcome.seen != seen_now
                    ):
                        slot.rescan = True
                    if not self._stopping:
                        self._finish(devnode, slot)
                        return
            self._publish()

    def _finish(self, devnode: str, slot: _Slot) -> None:
        """The runner ends (lock held): forget a removed device, start pending rescans."""
        slot.running = False
        if not slot.present and slot.mounted is None and slot.stuck is None:
            self._slots.pop(devnode, None)
        if not any(s.running for s in self._slots.values()) and not self._stopping:
            for other in self._slots.values():
                if other.rescan and other.present and other.stuck is None:
                    self._kick(other)
        self._lock.notify_all()

    def _work(self, devnode: str, outcome: _Outcome) -> None:
        """Bring one device's mount in line with what it looks like now, and scan it."""
        try:
            self._reconcile(devnode, outcome)
        except DeviceError as e:  # "/dev/sdb1: cannot mount vfat read-only: …"
            outcome.problem = str(e)
        except Exception as e:  # a bug must show as a failed device, not a silent thread
            log.exception("scanning %s", devnode)
            outcome.problem = f"{devnode}: scanning failed: {e}"
        finally:
            with self._lock:
                slot = self._slots.get(devnode)
                if slot is not None and slot.stuck is threading.current_thread():
                    # Abandoned after a timeout, and now finished after all: its result is
                    # stale, but the device may be worked on again.
                    slot.stuck = None
                    if slot.dirty or not slot.present:
                        slot.running = False
                        self._kick(slot)
                    else:
                        self._finish(devnode, slot)
                    publish = True
                else:
                    publish = False
            if publish:
                self._publish()

    def _reconcile(self, devnode: str, outcome: _Outcome) -> None:
        with self._lock:
            slot = self._slots[devnode]
            want = slot.device if slot.present else None
            mounted = slot.mounted
        if mounted is not None and (
            want is None
            or mounted.gone
            or want.state != DeviceState.USABLE
            or not _same_filesystem(mounted.device, want)
        ):
            if mounted.ours is not None:
                self._unmount(mounted.ours, gone=want is None)
            with self._lock:
                slot.mounted = None
            outcome.volumes_changed = True
            mounted = None
        if want is None or want.state != DeviceState.USABLE:
            return
        if mounted is None:
            mounted = self._mount(want)
            with self._lock:
                slot.mounted = mounted
                if self._stopping and mounted.ours is not None:
                    self._our_mounts.discard(mounted.ours)
                    stopped = True
                else:
                    stopped = False
            if stopped and mounted.ours is not None:
                self._unmount(mounted.ours)
                return
            outcome.volumes_changed = True
        with self._lock:
            volumes = self._visible_volumes()
        if mounted.volume not in volumes:
            volumes.append(mounted.volume)
        outcome.seen = frozenset(v.name for v in volumes)
        # The scan stops itself when the device's time is up (it is not only given up on).
        scanner = Scanner(volumes, host_arch=self.host_arch, time_limit=self.device_timeout)
        outcome.scan = scanner.scan_volume(mounted.volume)

    def _visible_volumes(self) -> list[Volume]:
        """The volumes mounted now, in machine order (lock held): what a scan can look in."""
        others = [
            s
            for s in self._slots.values()
            if s.present and s.mounted is not None and s.stuck is None
        ]
        others.sort(key=lambda s: self._order(s.device.devnode))
        return [s.mounted.volume for s in others if s.mounted is not None]

    def _mount(self, device: Device) -> _Mounted:
        try:
            mounts = parse_mountinfo(MOUNTINFO.read_text())
        except OSError:
            mounts = ()
        existing = find_mount(device, mounts, exclude=self.mounter.base)
        if existing is not None:
            log.info("%s is mounted on %s already; reading it there", device.devnode,
                     existing.mountpoint)  # fmt: skip
            return _Mounted(device.volume(Path(existing.mountpoint)), device, None)
        assert device.fstype is not None
        path = self.mounter.mount(device.devnode, device.fstype, name=device.name)
        with self._lock:
            self._our_mounts.add(path)
        return _Mounted(device.volume(path), device, path)

    def _unmount(self, mountpoint: Path, *, gone: bool = False) -> None:
        """Unmount one of our filesystems; if that fails (a scan still reads it, or the device
        vanished under it), detach it lazily: it is released when its last file is closed."""
        with self._lock:
            self._our_mounts.discard(mountpoint)
        try:
            self.mounter.unmount(mountpoint)
            return
        except DeviceError as e:
            log.info("%s; detaching it lazily%s", e, " (the device is gone)" if gone else "")
        try:
            syscalls.umount(mountpoint, syscalls.MNT_DETACH)
        except OSError as e:
            if e.errno != errno.EINVAL:
                log.warning("%s: cannot unmount: %s", mountpoint, e.strerror)

    # -- snapshots -------------------------------------------------------------------------

    def _order(self, devnode: str) -> tuple[Any, ...]:
        """Disks in the order of their place in the machine (the sysfs path: PCI function,
        then port), which does not change from one boot to the next as sda/sdb can; then
        partitions by number."""
        slot = self._slots.get(devnode)
        if slot is None:
            return (natural_key(devnode), 0, natural_key(devnode))
        d = slot.device
        disk_path = d.sys_path
        if d.disk != d.devnode and d.sys_path:  # a partition: its disk is the parent directory
            disk_path = posixpath.dirname(d.sys_path.rstrip("/"))
        if not disk_path:
            return (natural_key(d.disk), d.partnumber or 0, natural_key(d.devnode))
        return (sys_path_key(disk_path), d.partnumber or 0, natural_key(d.devnode))

    def _build(self) -> Snapshot:
        """A new snapshot of the current state (lock held)."""
        present = [s for s in self._slots.values() if s.present]
        present.sort(key=lambda s: self._order(s.device.devnode))
        devices = []
        scans = []
        problems = []
        for slot in present:
            device = slot.device
            if slot.problem is not None:
                device = replace(device, state=DeviceState.FAILED, reason=slot.problem)
                problems.append(slot.problem)
            devices.append(device)
            if slot.scan is not None and slot.problem is None and slot.stuck is None:
                scans.append(slot.scan)
        volumes = tuple(
            s.mounted.volume for s in present if s.mounted is not None and s.stuck is None
        )
        names = {v.name for v in volumes}
        settled, waiting = self._settle()
        result = assemble(scans)
        # Entries whose files are on a device that has gone (found through another volume's
        # grub.cfg) go at once; that volume is scanned again shortly. Roots that are not
        # devnodes are grub device names nothing matched; those entries carry a problem.
        entries = tuple(
            e for e in result.entries if e.root in names or not e.root.startswith("/dev/")
        )
        self._generation += 1
        return Snapshot(
            devices=tuple(devices),
            entries=entries,
            disk_configs=tuple(c for c in result.disk_configs if c.volume in names),
            warnings=(*self._warnings, *problems, *result.warnings),
            scanning=frozenset(
                [s.device.devnode for s in present if s.running]
                + ["/dev/" + posixpath.basename(p) for p in self._pending]
            ),
            generation=self._generation,
            volumes=volumes,
            settled=settled,
            waiting=waiting,
        )

    def _publish(self) -> None:
        """Build a new snapshot and hand it to ``on_change``.  Requests that come while another
        thread publishes are folded into one more snapshot by that thread (it builds again
        once its ``on_change`` returns, from the state as it is then), so the last change is
        always published but a burst of them costs one or two snapshots, not one each: with
        64 partitions each scan's end built a snapshot of all of them (and the core a view),
        half of a partition's discovery time under TCG (docs/performance.md)."""
        with self._lock:
            self._publish_wanted = True
        while True:
            if not self._publish_lock.acquire(blocking=False):
                return  # the thread holding it sees _publish_wanted before it lets go
            try:
                while True:
                    with self._lock:
                        if not self._publish_wanted:
                            break
                        self._publish_wanted = False
                        snapshot = self._build()
                        self._snapshot = snapshot
                        self._lock.notify_all()
                    if self.on_change is not None:
                        try:
                            self.on_change(snapshot)
                        except Exception:
                            log.exception("on_change failed")
            finally:
                self._publish_lock.release()
            with self._lock:
                if not self._publish_wanted:
                    return
            # a request came between the last check and the release: publish it here


__all__ = [
    "Discovery",
    "Snapshot",
    "usb_storage_delay",
]
