"""The narrow API front ends use: settings, entries, decisions, boot requests.

A front end (the CLI, headless autoboot, the Textual menu) creates a :class:`Core`, calls
:meth:`Core.start`, reads immutable :class:`View` objects (:meth:`Core.view`, or pushed through
``on_change``), asks :meth:`Core.decide` what a view boots and :meth:`Core.boot` to do it.  It
never imports pyudev, never mounts, never calls kexec.

An automatic decision is taken only on a view that is *ready*: settled (discovery has settled
and every ``wait_for`` device is there, or its ``wait_timeout`` is over) or given up on
(``settle_timeout`` has passed since the start; the decision then says so).  The decision is
taken from the entries of that same view.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from bootmenu import config as settings
from bootmenu.autoboot import Decision, decide, owner_ids
from bootmenu.boot import bootnext, handoff, kexec
from bootmenu.boot.handoff import Plan as Plan
from bootmenu.discover import firmware
from bootmenu.discover.devices import trusted as trusted_devices
from bootmenu.discover.roots import volume_for_directory
from bootmenu.discover.scanner import Scanner, ScanResult
from bootmenu.errors import ERRORS, BootmenuError, FormatError, HandoffError, PathError, UsageError
from bootmenu.model import BootEntry, DiskBootConfig, ImageInfo, Kind, Source, Volume
from bootmenu.phases import phase
from bootmenu.system import bootvars, efivars, run, syscalls, sysfs, sysinfo
from bootmenu.system.fs import MAX_IMAGE_SIZE, VolumeReader
from bootmenu.system.sysinfo import SystemInfo as SystemInfo
from bootmenu.validate import inspect_file, inspect_image
from efi import uki

# Plan and SystemInfo (imported "as" themselves) are re-exported: they are part of the front
# ends' API, and the TUI imports them from here, never from boot/ or system/.

if TYPE_CHECKING:
    from bootmenu.discover.monitor import Discovery, Snapshot
    from bootmenu.model import Device
    from bootmenu.system.mounts import Mounter

log = logging.getLogger("bootmenu")

PROC_CMDLINE = Path("/proc/cmdline")


def kernel_cmdline() -> str:
    """The running kernel's command line (empty when it cannot be read)."""
    try:
        return PROC_CMDLINE.read_text()
    except OSError:
        return ""


@dataclass(frozen=True)
class View:
    """What the front end sees at one moment."""

    entries: tuple[BootEntry, ...]
    disk_configs: tuple[DiskBootConfig, ...]
    warnings: tuple[str, ...]
    scanning: frozenset[str] = frozenset()
    generation: int = 0
    # Block devices discovery saw (empty with --root), including those it cannot use.
    devices: tuple[Device, ...] = ()
    # The filesystems entries can be on (label, type, UUID for the menu's group headings).
    volumes: tuple[Volume, ...] = ()
    # How each EFI entry would start (entry id → "starts via …"), for the menu.
    routes: Mapping[str, str] = field(default_factory=dict)
    # Whether this view is settled (see the module): only then, or once ``gave_up`` says why
    # waiting ended, may an automatic decision be taken on it. ``waiting`` says what it still
    # waits for ("scanning /dev/sda1", "LABEL=data (wait_for)"), empty when settled.
    settled: bool = True
    waiting: tuple[str, ...] = ()
    gave_up: str | None = None
    # Shared by the menus on every console (bootmenu.remote): a key was pressed on one of them
    # (the countdown stops everywhere), the countdown's seconds left as the leading menu counts
    # them, and the boot under way ("'Debian' (…): loading"), started on any console.
    touched: bool = False
    countdown: int | None = None
    booting: str | None = None

    @property
    def ready(self) -> bool:
        """Whether an automatic decision may be taken on this view."""
        return self.settled or self.gave_up is not None


@dataclass(frozen=True)
class Attempt:
    """One try to boot an entry: its plan, or why it failed."""

    entry: BootEntry
    plan: Plan | None
    error: str | None


@dataclass(frozen=True)
class Progress:
    """How far a boot has got, for the menu's progress screen.

    ``step`` is ``"read"`` (the files are read and checked: ``done`` of ``total`` bytes),
    ``"plan"`` (checked; ``plan`` is set), ``"hooks"``, ``"load"`` (the checked bytes loaded;
    ``done`` of ``total`` bytes when an older plan's files are read again) or ``"jump"``.
    ``message`` says it in words.
    """

    step: str
    entry: BootEntry
    message: str
    done: int = 0
    total: int = 0
    plan: Plan | None = None


@dataclass(frozen=True)
class FileReport:
    """The validation of one file of an entry (the menu's ``i``, like ``bootmenu inspect``);
    ``error`` when the file cannot be read."""

    role: str  # "kernel", "initrd", "module", "devicetree"
    path: str
    size: int | None
    info: ImageInfo | None
    error: str | None = None


@dataclass(frozen=True)
class FileItem:
    """One name in a directory of a scanned filesystem (the custom entry's file picker)."""

    name: str
    is_dir: bool
    size: int | None = None


class Power(StrEnum):
    REBOOT = "reboot"
    POWER_OFF = "poweroff"
    FIRMWARE_SETUP = "firmware-setup"


_POWER_WORDS = {
    Power.REBOOT: "reboot",
    Power.POWER_OFF: "power off",
    Power.FIRMWARE_SETUP: "reboot into the firmware setup",
}
MAX_LISTED_FILES = 2000


@dataclass(frozen=True)
class _State:
    """What one view is made of: a discovery snapshot (None with --root) and what the core
    made of it."""

    snapshot: Snapshot | None
    result: ScanResult
    volumes: Mapping[str, Volume]
    routes: Mapping[str, str]


class _CountingReader(VolumeReader):
    """A reader that tells ``tell(path, bytes_read)`` before (0) and after each whole read."""

    def __init__(self, volume: Volume, tell: Callable[[str, int], None]):
        super().__init__(volume)
        self._tell = tell

    def read(self, path: str, *, limit: int = MAX_IMAGE_SIZE) -> bytes:
        self._tell(path, 0)
        data = super().read(path, limit=limit)
        self._tell(path, len(data))
        return data


def _settings_file(vol: Volume) -> bytes | None:
    """The start of ``vol``'s ``/bootmenu.toml`` (one byte past the size settings files may
    have, so that a larger one is refused with a warning, not read whole), or None."""
    try:
        return VolumeReader(vol).read_head(settings.DISK_FILE, settings.MAX_FILE_SIZE + 1)[0]
    except PathError:
        return None


class Core:
    # The menu on /dev/console leads: it runs the countdown the other consoles show.
    leads = True

    def __init__(
        self,
        *,
        roots: Sequence[str] = (),
        config_file: str | None = settings.SYSTEM_FILE,
        options: Mapping[str, object] | None = None,
        cmdline: str | None = None,
        dry_run: bool = False,
        now: bool = False,
        validate: bool = True,
        efivars_dir: str | None = None,
        on_change: Callable[[View], None] | None = None,
        device_filter: Callable[[Device], bool] | None = None,
        mount_base: Path | None = None,
    ):
        self.roots = list(roots)
        self.config_file = config_file
        self.options = dict(options or {})
        self.dry_run = dry_run
        # Jump at once even where the running system's init should finish first (--now).
        self.now = now
        self.validate = validate
        self.on_change = on_change
        # Which discovered devices to look at (tests restrict it to their own loop devices).
        self.device_filter = device_filter
        self.mount_base = mount_base
        self.efivars_dir = efivars_dir or efivars.EFIVARFS
        # Firmware boot entries (Boot####) join the menu on a UEFI boot or with --efivars.
        self.efi = efivars_dir is not None or sysfs.EFI_DIR.is_dir()
        self._firmware: bootvars.FirmwareState | None = None
        self._firmware_cache: firmware.ImageCache = {}
        self._env: handoff.Environment | None = None
        self._handoff: tuple[settings.EfiHandoff, handoff.Handoff] | None = None
        self._routes: Mapping[str, str] = {}
        # Guards the state views are made of (snapshot, result, volumes, routes): discovery's
        # thread replaces it while front ends read it.
        self._state = threading.RLock()
        self.cmdline = kernel_cmdline() if cmdline is None else cmdline
        self.warnings: list[str] = []
        self.config, found = self._load_config(disk_text=None, disk_origin=settings.DISK_FILE)
        self.warnings.extend(found)
        self._volumes: dict[str, Volume] = {}
        self._disk_config: tuple[str, bytes] | None = None  # (origin, bytes) of the applied file
        # (origin, disk) of that file: its default and timeout apply to its disk's entries.
        self._settings_disk: tuple[str, str] | None = None
        self._refused_configs: set[str] = set()  # untrusted volumes whose file was looked at
        # The partition bootmenu's UKI was started from (LoaderDevicePartUUID): its disk is
        # trusted to supply settings (docs/security.md).
        self._boot_partuuid = (
            efivars.boot_partuuid(directory=self.efivars_dir) if self.efi else None
        )
        self._result = ScanResult(())
        self._snapshot: Snapshot | None = None
        self._discovery: Discovery | None = None
        self._start_lock = threading.Lock()
        self._start_done = False
        self._start_error: BaseException | None = None
        self._mounter: Mounter | None = None
        self._started_at = time.monotonic()
        self._jumped = False
        # What the menus share (View.touched, countdown, booting); one boot at a time.
        self._touched = False
        self._countdown: int | None = None
        self._booting: str | None = None
        self._boot_lock = threading.Lock()
        self._loglevel: int | None = None  # the console log level before the menu lowered it

    # -- settings ------------------------------------------------------------------------------

    def _efi_settings(self) -> Mapping[str, str]:
        try:
            return efivars.systemd_boot_settings(directory=self.efivars_dir)
        except OSError as e:
            self.warnings.append(f"systemd-boot EFI variables cannot be read: {e.strerror}")
            return {}

    def _load_config(
        self, *, disk_text: str | bytes | None, disk_origin: str
    ) -> tuple[settings.Config, tuple[str, ...]]:
        return settings.load(
            system_file=self.config_file,
            disk_text=disk_text,
            disk_origin=disk_origin,
            cmdline=self.cmdline,
            efi=self._efi_settings(),
            cli=self.options,
        )

    def _apply_disk_config(self) -> bool:
        """Apply the first ``/bootmenu.toml`` on a trusted filesystem (if allowed), and drop
        its settings once that filesystem is gone.  Called again for every discovery snapshot
        (the menu starts before any disk is scanned); a file already applied is not applied
        again.  True when the settings changed."""
        with self._state:
            volumes = list(self._volumes.values())
        for vol in volumes:
            if not vol.trusted:
                self._refuse_disk_config(vol)
                continue
            text = _settings_file(vol)
            if text is None:
                continue
            origin = settings.disk_origin(self._device_name(vol))
            if self._disk_config == (origin, text):
                return False
            self._disk_config = (origin, text)
            self._settings_disk = (origin, vol.disk or vol.name)
            self.config, found = self._load_config(disk_text=text, disk_origin=origin)
            self.warnings.extend(found)
            return True
        if self._disk_config is None:
            return False
        origin = self._disk_config[0]
        self._disk_config = self._settings_disk = None
        self.config, found = self._load_config(disk_text=None, disk_origin=settings.DISK_FILE)
        self.warnings.extend(w for w in found if w not in self.warnings)
        self.warnings.append(f"{origin}: its filesystem is gone, and its settings with it")
        return True

    @staticmethod
    def _device_name(vol: Volume) -> str:
        return f"PARTUUID={vol.partuuid}" if vol.partuuid else vol.name

    def _refuse_disk_config(self, vol: Volume) -> None:
        """Say once that an untrusted filesystem's ``/bootmenu.toml`` is not read."""
        if vol.name in self._refused_configs:
            return
        self._refused_configs.add(vol.name)
        if _settings_file(vol) is None:
            return
        self.warnings.append(
            f"{settings.disk_origin(self._device_name(vol))}: not read: only the disk bootmenu "
            "was started from and the filesystems named by disk_config_from may supply "
            "settings (docs/security.md)"
        )

    def _trust(self, volumes: Mapping[str, Volume], devices: Sequence[Device]) -> dict[str, Volume]:
        """``volumes`` with ``trusted`` set: the boot disk's and those disk_config_from names."""
        names, found = trusted_devices(
            devices, boot_partuuid=self._boot_partuuid, specs=self.config.disk_config_from
        )
        for warning in found:
            if warning not in self.warnings:
                self.warnings.append(warning)
        return {name: replace(vol, trusted=name in names) for name, vol in volumes.items()}

    # -- entries -------------------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> View:
        """Find the entries: scan the ``--root`` directories, or discover real devices.

        With ``wait`` (headless use) this returns once the devices named by ``wait_for`` are
        there (or ``wait_timeout`` is over) and discovery has settled (or ``settle_timeout``,
        counted from the start, is over: the view's ``gave_up`` says so); the view returned is
        that snapshot's, which is what ``decide``/``find`` must be given.  Without it (the
        menu) it returns at once; new views arrive through ``on_change``.

        A second call (the menu starts the core its command line started early, while Textual
        was being imported) waits for the first and returns the latest view, or raises the
        first call's error again.
        """
        with self._start_lock:
            if self._start_error is not None:
                raise self._start_error
            if self._start_done:
                return self.view()
            try:
                view = self._start(wait=wait)
            except BaseException as e:
                self._start_error = e
                raise
            self._start_done = True
            return view

    def _start(self, *, wait: bool) -> View:
        phase("start")
        self._started_at = time.monotonic()
        if self.roots:
            for root in self.roots:
                # The owner named it on bootmenu's own command line: trusted.
                vol = replace(volume_for_directory(root), trusted=True)
                if not vol.path.is_dir():
                    raise UsageError(f"bootmenu: --root {root}: not a directory")
                self._volumes[vol.name] = vol
            self._result, self._routes = self._with_firmware(
                Scanner(list(self._volumes.values()), validate=self.validate).scan(),
                self._volumes,
            )
            state = None
        else:
            state = self._start_discovery(wait=wait)
        view = self.view() if state is None else self._make_view(state)
        if self._apply_disk_config():
            view = self.view() if state is None else self._make_view(state)
        if view.entries:
            phase("first-entry")
        if view.gave_up is not None:
            log.warning("%s", view.gave_up)
        return view

    def _start_discovery(self, *, wait: bool) -> _State | None:
        """Start discovery; with ``wait``, wait for ``wait_for`` and for discovery to settle
        (up to ``settle_timeout`` from the start) and return the state of that snapshot."""
        from bootmenu.discover import monitor
        from bootmenu.system.mounts import Mounter

        mounter = Mounter(self.mount_base) if self.mount_base else Mounter()
        discovery = monitor.Discovery(
            mounter=mounter,
            on_change=self._discovered,
            include=self.device_filter,
            settle_timeout=float(self.config.settle_timeout),
            removable_filesystems=self.config.removable_filesystems,
            udev_ready=os.environ.get(monitor.UDEV_READY_ENV) or None,
        )
        self._mounter, self._discovery = mounter, discovery
        discovery.start()
        if not wait:
            return None
        if self.config.wait_for:
            missing = discovery.wait_for(self.config.wait_for, float(self.config.wait_timeout))
            for spec in missing:
                self.warnings.append(
                    f"{spec} did not appear within {self.config.wait_timeout} s (wait_for)"
                )
        left = self.config.settle_timeout - (time.monotonic() - self._started_at)
        return self._take(discovery.wait_settled(max(0.0, left)))

    def rescan(self) -> None:
        """Look at every device again (the menu's ``r``)."""
        self._firmware = None  # read the Boot#### variables again
        self._firmware_cache.clear()
        if self._discovery is not None:
            self._discovery.rescan()
        elif self.roots:
            with self._state:
                self._result, self._routes = self._with_firmware(
                    Scanner(list(self._volumes.values()), validate=self.validate).scan(),
                    self._volumes,
                )
            if self.on_change is not None:
                self.on_change(self.view())

    def _take(self, snapshot: Snapshot) -> _State:
        """Make ``snapshot`` the core's state unless a newer one is there already; returns the
        state of ``snapshot`` itself (what a decision on it must use)."""
        volumes = self._trust({v.name: v for v in snapshot.volumes}, snapshot.devices)
        entries, renames = owner_ids(snapshot.entries, volumes)
        configs = tuple(
            replace(c, default_id=renames[c.default_id]) if c.default_id in renames else c
            for c in snapshot.disk_configs
        )
        result, routes = self._with_firmware(
            ScanResult(tuple(entries), configs, snapshot.warnings), volumes
        )
        state = _State(snapshot, result, volumes, routes)
        with self._state:
            if self._snapshot is None or snapshot.generation >= self._snapshot.generation:
                self._snapshot, self._volumes = snapshot, volumes
                self._result, self._routes = result, routes
        return state

    def _discovered(self, snapshot: Snapshot) -> None:
        self._take(snapshot)
        self._apply_disk_config()
        if snapshot.entries:
            phase("first-entry")
        if self.on_change is not None:
            self.on_change(self.view())

    def _handlers(self) -> handoff.Handoff:
        """The hand-off's handlers with this machine's settings, in the order they are tried:
        the UEFI payload (EFI applications without a firmware reset), the kexec ones (Linux,
        UKIs, Multiboot), BootNext (EFI applications through the firmware)."""
        from bootmenu.boot import payload  # imported when EFI hand-offs are set up (parses ELF)

        setting = self.config.efi_handoff
        # The same instances while the setting holds: the payload handler remembers its checks.
        if self._handoff is None or self._handoff[0] is not setting:
            handlers = handoff.Handoff(
                (
                    payload.Payload(setting=setting, efivars_dir=self.efivars_dir),
                    *kexec.kexec_handlers(),
                    bootnext.BootNext(directory=self.efivars_dir, setting=setting),
                )
            )
            self._handoff = (setting, handlers)
        return self._handoff[1]

    def _environment(self) -> handoff.Environment:
        if self._env is None:
            env = handoff.environment(dry_run=self.dry_run)
            self._env = replace(env, efi=env.efi or self.efi, now=self.now)
        return self._env

    def _with_firmware(
        self, result: ScanResult, volumes: Mapping[str, Volume]
    ) -> tuple[ScanResult, Mapping[str, str]]:
        """Add the firmware's boot entries (on a UEFI boot), and give every EFI entry the
        reason it cannot start when BootNext cannot be used here; with how each EFI entry
        starts (entry id → route text)."""
        entries = result.entries
        warnings = result.warnings
        if self.efi:
            if self._firmware is None:
                self._firmware = bootvars.read_state(self.efivars_dir)
            found = firmware.firmware_entries(
                self._firmware,
                list(volumes.values()),
                validate=self.validate,
                cache=self._firmware_cache,
            )
            entries = firmware.merge(entries, found)
            warnings = (*warnings, *self._firmware.warnings)
        # EFI applications: the payload or BootNext; an entry neither can start says why.
        handlers = self._handlers()
        env = self._environment()
        routes: dict[str, str] = {}
        marked: list[BootEntry] = []
        for e in entries:
            if e.kind is Kind.EFI:
                route = handlers.route(e, env)
                if route.handler is None:
                    # The reason of the last way tried (BootNext, the one that works on any
                    # UEFI machine); the menu's route line and `i` give every reason.
                    declined = route.declined
                    why = declined[-1][1] if declined else "bootmenu cannot start EFI programs"
                    e = replace(e, problems=(*e.problems, why))
                routes[e.id] = route.text
            marked.append(e)
        return replace(result, entries=tuple(marked), warnings=warnings), routes

    def view(self) -> View:
        """The latest view, with whether it is settled as of now."""
        with self._state:
            state = _State(self._snapshot, self._result, self._volumes, self._routes)
        return self._make_view(state)

    def _make_view(self, state: _State) -> View:
        snap, result, volumes, routes = state.snapshot, state.result, state.volumes, state.routes
        settled, waiting, gave_up = self._settled(snap)
        if settled:
            phase("settled")  # the first view found settled (bench/)
        return View(
            result.entries,
            result.disk_configs,
            tuple(self.warnings) + result.warnings,
            scanning=snap.scanning if snap else frozenset(),
            generation=snap.generation if snap else 0,
            devices=snap.devices if snap else (),
            volumes=tuple(volumes.values()),
            routes=dict(routes),
            settled=settled,
            waiting=waiting,
            gave_up=gave_up,
            touched=self._touched,
            countdown=self._countdown,
            booting=self._booting,
        )

    def _settled(self, snap: Snapshot | None) -> tuple[bool, tuple[str, ...], str | None]:
        """(settled, what it waits for, why waiting ended unsettled) for a view of ``snap``."""
        if self.roots:
            return True, (), None
        if snap is None:
            waiting = ["discovery to start"]
            settled = False
        else:
            waiting, settled = list(snap.waiting), snap.settled
        elapsed = time.monotonic() - self._started_at
        discovery = self._discovery
        wanted = self.config.wait_for
        if wanted and discovery is not None and elapsed < self.config.wait_timeout:
            missing = discovery.wait_for(wanted, 0)
            if missing:
                settled = False
                waiting.append(f"{', '.join(missing)} (wait_for)")
        gave_up = None
        if not settled and elapsed >= self.config.settle_timeout:
            gave_up = (
                f"the machine had not settled after {self.config.settle_timeout} s "
                f"(settle_timeout); still waiting for {'; '.join(waiting) or 'discovery'}"
            )
        return settled, tuple(waiting), gave_up

    def find(self, ident: str, view: View | None = None) -> BootEntry:
        """The entry with id ``ident`` in ``view`` (default: the latest)."""
        entries = (view or self.view()).entries
        for entry in entries:
            if entry.id == ident:
                return entry
        known = ", ".join(e.id for e in entries[:8]) or "none"
        raise UsageError(f"bootmenu: no entry with id '{ident}' (entries: {known})")

    def decide(self, view: View | None = None) -> Decision:
        """What ``view`` (default: the latest) boots, and why.  Front ends act on it only when
        the view is ready (:attr:`View.ready`); the reason says when waiting was given up."""
        view = view or self.view()
        decision = decide(
            view.entries,
            self.config,
            view.disk_configs,
            volumes={v.name: v for v in view.volumes},
            settings_disk=self._settings_disk,
        )
        if view.gave_up is not None and not view.settled:
            decision = replace(decision, reason=f"{decision.reason} ({view.gave_up})")
        return decision

    # -- booting -------------------------------------------------------------------------------

    def reader_for(self, root: str) -> VolumeReader:
        with self._state:
            vol = self._volumes.get(root)
        if vol is None:
            raise HandoffError(f"the filesystem {root} is no longer available")
        return VolumeReader(vol)

    def plan(self, entry: BootEntry) -> Plan:
        return self._handlers().plan(entry, self.reader_for, self._environment())

    def boot(
        self,
        entries: Sequence[BootEntry],
        *,
        report: Callable[[Attempt], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> Plan:
        """Boot the first of ``entries`` that loads; with ``fallback`` the next ones are tried.

        Returns the plan on ``--dry-run``, and on a running system whose systemd finishes the
        jump (``systemctl kexec``); a boot from bootmenu's initramfs does not return.  Raises
        HandoffError when nothing could be loaded.  ``progress`` is told each step (called
        from the thread that boots).
        """
        if not self._boot_lock.acquire(blocking=False):
            raise HandoffError(f"another console is booting already: {self._booting}")
        try:
            return self._boot(entries, report=report, progress=progress)
        finally:
            self._booting = None
            self._boot_lock.release()
            self._publish()

    def _boot(
        self,
        entries: Sequence[BootEntry],
        *,
        report: Callable[[Attempt], None] | None,
        progress: Callable[[Progress], None] | None,
    ) -> Plan:
        handlers = self._handlers()
        env = self._environment()
        errors: list[str] = []

        def shared(step: Progress) -> None:
            """Every console says what the boot is doing; the one that asked sees it all."""
            booting = f"'{step.entry.title}': {step.message}"
            if booting != self._booting:
                self._booting = booting
                self._publish()
            if progress is not None:
                progress(step)

        for entry in entries if self.config.fallback else entries[:1]:
            try:
                reader_for: handoff.ReaderFor = self.reader_for
                steps: Callable[[str], None] | None = None
                reader_for, steps = self._progress_steps(entry, shared)
                plan = handlers.plan(entry, reader_for, env)
                shared(Progress("plan", entry, "checked", plan=plan))
                plan = handlers.execute(
                    plan,
                    reader_for,
                    env,
                    hooks_dir=Path(self.config.hooks_dir),
                    before_jump=self._before_jump,
                    progress=steps,
                )
            except ERRORS as e:
                errors.append(f"{entry.title}: {e}")
                if report:
                    report(Attempt(entry, None, str(e)))
                continue
            if report:
                report(Attempt(entry, plan, None))
            return plan
        raise HandoffError("; ".join(errors) or "there was nothing to boot")

    # -- what the menus share ------------------------------------------------------------------

    def _publish(self) -> None:
        if self.on_change is not None:
            self.on_change(self.view())

    def touch(self) -> None:
        """A key was pressed on one of the menus: the countdown stops on every console."""
        if not self._touched:
            self._touched = True
            self._publish()

    def set_countdown(self, seconds: int | None) -> None:
        """The leading menu's countdown (seconds left), which the other consoles show."""
        if seconds != self._countdown:
            self._countdown = seconds
            self._publish()

    def quiet_consoles(self) -> None:
        """While the menu is shown, kernel messages do not draw over it on the consoles (only
        emergencies are printed); the level comes back before the hand-off, so the kernel's own
        lines about it ("kexec_core: Starting new kernel") are seen, and when bootmenu ends."""
        if self._loglevel is None:
            self._loglevel = sysinfo.console_loglevel(1)

    def _restore_consoles(self) -> None:
        if self._loglevel is not None:
            sysinfo.console_loglevel(self._loglevel)
            self._loglevel = None

    def _before_jump(self) -> None:
        self._restore_consoles()
        self._jumped = True
        self.close()
        phase("hand-off")

    def _progress_steps(
        self, entry: BootEntry, progress: Callable[[Progress], None]
    ) -> tuple[Callable[[str], VolumeReader], Callable[[str], None]]:
        """A reader_for that reports bytes read, and Handoff.execute's step callback."""
        total = self._entry_size(entry)
        words = {"read": "Reading and checking", "load": "Reading again and loading"}

        class State:
            step = "read"
            done = 0

        def tell(root: str, path: str, count: int) -> None:
            State.done += count
            message = f"{words.get(State.step, State.step)} {root}:{path}"
            progress(Progress(State.step, entry, message, State.done, total))

        def reader_for(root: str) -> VolumeReader:
            volume = self.reader_for(root).volume
            return _CountingReader(volume, lambda path, count: tell(root, path, count))

        def steps(step: str) -> None:
            if step == "load":
                State.step, State.done = "load", 0
            messages = {
                "hooks": "Running the pre-boot hooks",
                "load": "Loading the kernel",
                "jump": "Starting the kernel",
            }
            progress(Progress(step, entry, messages.get(step, step), 0, total))

        return reader_for, steps

    def _entry_size(self, entry: BootEntry) -> int:
        """The bytes of the files a boot reads (0 where a size cannot be found)."""
        try:
            reader = self.reader_for(entry.root)
        except HandoffError:
            return 0
        total = 0
        for path in (entry.kernel, *entry.initrd, *(m.path for m in entry.modules)):
            try:
                total += reader.size(path) if path else 0
            except PathError:
                continue
        return total

    # -- what the menu needs besides booting ---------------------------------------------------

    def resume(self) -> None:
        """After a boot failed past the point where the core closed itself (the jump), start
        discovery again so that the menu stays usable."""
        if self._jumped and not self.roots and self._discovery is None:
            self._jumped = False
            self._start_discovery(wait=False)

    def inspect_entry(self, entry: BootEntry) -> tuple[FileReport, ...]:
        """Validate every file of ``entry`` as ``bootmenu inspect`` would (reads kernels)."""
        try:
            reader = self.reader_for(entry.root)
        except HandoffError as e:
            return (FileReport("kernel", entry.kernel, None, None, str(e)),)
        files: list[tuple[str, str, str | None]] = []
        if entry.kernel:
            files.append(("kernel", entry.kernel, entry.kind.value))
        files += [("initrd", path, "initrd") for path in entry.initrd]
        files += [("module", m.path, None) for m in entry.modules]
        if entry.devicetree:
            files.append(("devicetree", entry.devicetree, None))
        reports = []
        for role, path, expect in files:
            try:
                size = reader.size(path)
                checked = role in ("kernel", "initrd")
                info = inspect_file(reader, path, expect=expect) if checked else None
                reports.append(FileReport(role, path, size, info))
            except PathError as e:
                reports.append(FileReport(role, path, None, None, str(e)))
        return tuple(reports)

    def list_files(self, root: str, path: str = "/") -> tuple[FileItem, ...]:
        """The directories and regular files in ``path`` of the filesystem ``root``,
        directories first (at most MAX_LISTED_FILES); HandoffError when it is gone."""
        reader = self.reader_for(root)
        items = []
        for name in reader.listdir(path)[:MAX_LISTED_FILES]:
            full = posixpath.join(path, name)
            if reader.is_dir(full):
                items.append(FileItem(name, True))
                continue
            try:
                items.append(FileItem(name, False, reader.size(full)))
            except PathError:
                continue  # sockets, broken links
        return tuple(sorted(items, key=lambda i: (not i.is_dir, i.name.casefold())))

    def custom_entry(
        self, root: str, kernel: str, initrd: Sequence[str] = (), cmdline: str = ""
    ) -> BootEntry:
        """An entry typed in the menu (``n``), validated like scanned ones: its kind comes from
        the kernel file; problems say what is wrong."""
        problems: list[str] = []
        kind, architecture, multiboot = Kind.LINUX, None, None
        try:
            reader = self.reader_for(root)
            data = reader.read(kernel)
        except (HandoffError, PathError) as e:
            problems.append(str(e))
        else:
            found = inspect_image(data)
            if found.kind in {k.value for k in Kind}:
                kind = Kind(found.kind)
            checked = inspect_image(data, expect=kind.value)
            problems.extend(f"{kernel}: {p}" for p in checked.problems)
            architecture = checked.architecture
            version = checked.details.get("multiboot")
            multiboot = version if isinstance(version, int) else None
            if kind is Kind.UKI and not cmdline.strip():
                with contextlib.suppress(FormatError):
                    cmdline = (uki.parse_uki(data).cmdline or "").strip()
            for path in initrd:
                try:
                    rd = inspect_file(reader, path, expect="initrd")
                except PathError as e:
                    problems.append(str(e))
                    continue
                problems.extend(f"{path}: {p}" for p in rd.problems)
        return BootEntry(
            id=f"custom:{root}:{kernel}",
            title=f"Custom: {posixpath.basename(kernel) or kernel}",
            kind=kind,
            source=Source.CUSTOM,
            root=root,
            kernel=kernel,
            initrd=tuple(initrd),
            cmdline=cmdline,
            architecture=architecture,
            multiboot=multiboot,
            problems=tuple(problems),
            origin="typed in the menu",
        )

    def system_info(self) -> SystemInfo:
        """What the menu's system information screen shows."""
        view = self.view()
        return sysinfo.collect(
            devices=view.devices, volumes=view.volumes, efivars_dir=self.efivars_dir
        )

    def firmware_setup_unavailable(self) -> str | None:
        """None when "reboot into firmware setup" can work here; else why not."""
        return sysinfo.firmware_setup_unavailable(efivars_dir=self.efivars_dir)

    def power(self, action: Power) -> None:
        """Reboot, power off, or reboot into the firmware setup (OsIndications).  On
        ``--dry-run`` only logs.  Raises BootmenuError with a sentence when it fails."""
        words = _POWER_WORDS[action]
        if action is Power.FIRMWARE_SETUP:
            why = self.firmware_setup_unavailable()
            if why is not None:
                raise BootmenuError(f"cannot {words}: {why}")
        if self.dry_run:
            log.info("dry run: would %s", words)
            return
        if action is Power.FIRMWARE_SETUP:
            try:
                sysinfo.request_firmware_setup(efivars_dir=self.efivars_dir)
            except OSError as e:
                raise BootmenuError(f"cannot set OsIndications: {e.strerror or e}") from e
        command = (
            syscalls.LINUX_REBOOT_CMD_POWER_OFF
            if action is Power.POWER_OFF
            else syscalls.LINUX_REBOOT_CMD_RESTART
        )
        log.info("%s", words)
        try:
            syscalls.sync()
            syscalls.reboot(command)
        except OSError as e:
            raise BootmenuError(f"cannot {words}: {e.strerror or e}") from e

    def rescue_shell(self) -> int:
        """Run ``$SHELL`` (or ``/bin/sh``) on bootmenu's terminal and wait for it; its exit
        status.  The caller gives the terminal up first (the menu suspends itself)."""
        shells = [os.environ.get("SHELL") or "/bin/sh", "/bin/sh"]
        for shell in dict.fromkeys(shells):
            try:
                return run.run([shell], check=False, terminal=True).returncode
            except run.CommandError as e:
                log.warning("rescue shell: %s", e)
        raise BootmenuError("no shell could be started (tried " + ", ".join(shells) + ")")

    def consume_oneshot(self) -> None:
        """systemd-boot deletes LoaderEntryOneShot when it uses it; so do we (not on dry runs)."""
        if self.dry_run or not self.config.use_efi_vars:
            return
        try:
            efivars.consume_oneshot(directory=self.efivars_dir)
        except OSError as e:
            log.warning("cannot delete LoaderEntryOneShot: %s", e.strerror)

    def close(self) -> None:
        """Stop discovery and unmount everything (also called right before the jump)."""
        self._restore_consoles()
        discovery, self._discovery = self._discovery, None
        if discovery is not None:
            discovery.stop(unmount=True)
        mounter, self._mounter = self._mounter, None
        if mounter is not None:
            mounter.unmount_all()
