"""The narrow API front ends use: settings, entries, decisions, boot requests.

A front end (the CLI, headless autoboot, later the Textual menu) creates a :class:`Core`, calls
:meth:`Core.start`, reads immutable :class:`~bootmenu.discover.Snapshot`-like views through
:meth:`Core.entries`, asks :meth:`Core.decide` what to boot and :meth:`Core.boot` to do it.  It
never imports pyudev, never mounts, never calls kexec.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bootmenu import config as settings
from bootmenu import efivars, handoff
from bootmenu.autoboot import Decision, decide
from bootmenu.entries import DiskBootConfig, Scanner, ScanResult
from bootmenu.errors import BootmenuError, HandoffError, UsageError
from bootmenu.fs import Volume, VolumeReader
from bootmenu.model import BootEntry
from bootmenu.roots import volume_for_directory

if TYPE_CHECKING:
    from bootmenu.discover import Device, Discovery, Snapshot
    from bootmenu.mounts import Mounter

log = logging.getLogger("bootmenu")

PROC_CMDLINE = Path("/proc/cmdline")
PROC_UPTIME = Path("/proc/uptime")
_phases_logged: set[str] = set()


def phase(name: str) -> None:
    """Log a start-up phase once, with the seconds since the kernel started (for bench/)."""
    if name in _phases_logged:
        return
    _phases_logged.add(name)
    try:
        uptime = PROC_UPTIME.read_text().split()[0]
    except (OSError, IndexError):
        uptime = "?"
    log.info("phase %s t=%s", name, uptime)


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


@dataclass(frozen=True)
class Attempt:
    """One try to boot an entry: its plan, or why it failed."""

    entry: BootEntry
    plan: handoff.Plan | None
    error: str | None


class Core:
    def __init__(
        self,
        *,
        roots: Sequence[str] = (),
        config_file: str | None = settings.SYSTEM_FILE,
        options: Mapping[str, object] | None = None,
        cmdline: str | None = None,
        dry_run: bool = False,
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
        self.validate = validate
        self.on_change = on_change
        # Which discovered devices to look at (tests restrict it to their own loop devices).
        self.device_filter = device_filter
        self.mount_base = mount_base
        self.efivars_dir = efivars_dir or efivars.EFIVARFS
        if cmdline is None:
            try:
                cmdline = PROC_CMDLINE.read_text()
            except OSError:
                cmdline = ""
        self.cmdline = cmdline
        self.warnings: list[str] = []
        self.config, found = self._load_config(disk_text=None, disk_origin=settings.DISK_FILE)
        self.warnings.extend(found)
        self._volumes: dict[str, Volume] = {}
        self._result = ScanResult(())
        self._snapshot: Snapshot | None = None
        self._discovery: Discovery | None = None
        self._mounter: Mounter | None = None

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

    def _apply_disk_config(self) -> None:
        """Read the first ``/bootmenu.toml`` on a scanned filesystem (if allowed)."""
        for vol in self._volumes.values():
            text = VolumeReader(vol).read_text(settings.DISK_FILE)
            if text is None:
                continue
            device = f"PARTUUID={vol.partuuid}" if vol.partuuid else vol.name
            origin = settings.disk_origin(device)
            self.config, found = self._load_config(disk_text=text, disk_origin=origin)
            self.warnings.extend(found)
            return

    # -- entries -------------------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> View:
        """Find the entries: scan the ``--root`` directories, or discover real devices.

        With ``wait`` (headless use) this returns once the devices named by ``wait_for`` are
        there and every scan has finished (each bounded by discovery's per-device timeout).
        Without it (the menu) it returns at once; new views arrive through ``on_change``.
        """
        phase("start")
        if self.roots:
            for root in self.roots:
                vol = volume_for_directory(root)
                if not vol.path.is_dir():
                    raise UsageError(f"bootmenu: --root {root}: not a directory")
                self._volumes[vol.name] = vol
            self._result = Scanner(list(self._volumes.values()), validate=self.validate).scan()
        else:
            self._start_discovery(wait=wait)
        self._apply_disk_config()
        if self._result.entries:
            phase("first-entry")
        return self.view()

    def _start_discovery(self, *, wait: bool) -> None:
        from bootmenu import discover
        from bootmenu.mounts import Mounter

        mounter = Mounter(self.mount_base) if self.mount_base else Mounter()
        discovery = discover.Discovery(
            mounter=mounter, on_change=self._discovered, include=self.device_filter
        )
        self._mounter, self._discovery = mounter, discovery
        discovery.start()
        if not wait:
            return
        if self.config.wait_for:
            missing = discovery.wait_for(self.config.wait_for, float(self.config.wait_timeout))
            for spec in missing:
                self.warnings.append(
                    f"{spec} did not appear within {self.config.wait_timeout} s (wait_for)"
                )
        discovery.wait_idle(float(self.config.wait_timeout))
        self._take(discovery.snapshot())

    def rescan(self) -> None:
        """Look at every device again (the menu's ``r``)."""
        if self._discovery is not None:
            self._discovery.rescan()
        elif self.roots:
            self._result = Scanner(list(self._volumes.values()), validate=self.validate).scan()
            if self.on_change is not None:
                self.on_change(self.view())

    def _take(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._result = ScanResult(snapshot.entries, snapshot.disk_configs, snapshot.warnings)
        self._volumes = {v.name: v for v in snapshot.volumes}

    def _discovered(self, snapshot: Snapshot) -> None:
        self._take(snapshot)
        if snapshot.entries:
            phase("first-entry")
        if self.on_change is not None:
            self.on_change(self.view())

    def view(self) -> View:
        snap = self._snapshot
        return View(
            self._result.entries,
            self._result.disk_configs,
            tuple(self.warnings) + self._result.warnings,
            scanning=snap.scanning if snap else frozenset(),
            generation=snap.generation if snap else 0,
            devices=snap.devices if snap else (),
        )

    def find(self, ident: str) -> BootEntry:
        for entry in self._result.entries:
            if entry.id == ident:
                return entry
        known = ", ".join(e.id for e in self._result.entries[:8]) or "none"
        raise UsageError(f"bootmenu: no entry with id '{ident}' (entries: {known})")

    def decide(self) -> Decision:
        aliases = {
            name: [
                f"{key}={value}"
                for key, value in (
                    ("UUID", vol.uuid),
                    ("LABEL", vol.label),
                    ("PARTUUID", vol.partuuid),
                    ("PARTLABEL", vol.partlabel),
                )
                if value
            ]
            for name, vol in self._volumes.items()
        }
        return decide(self._result.entries, self.config, self._result.disk_configs, aliases)

    # -- booting -------------------------------------------------------------------------------

    def reader_for(self, root: str) -> VolumeReader:
        vol = self._volumes.get(root)
        if vol is None:
            raise HandoffError(f"the filesystem {root} is no longer available")
        return VolumeReader(vol)

    def plan(self, entry: BootEntry) -> handoff.Plan:
        env = handoff.environment(dry_run=self.dry_run)
        return handoff.plan(entry, self.reader_for, env)

    def boot(
        self, entries: Sequence[BootEntry], *, report: Callable[[Attempt], None] | None = None
    ) -> handoff.Plan:
        """Boot the first of ``entries`` that loads; with ``fallback`` the next ones are tried.

        Returns the plan only on ``--dry-run`` (a real boot does not return); raises
        HandoffError when nothing could be loaded.
        """
        env = handoff.environment(dry_run=self.dry_run)
        errors: list[str] = []
        for entry in entries if self.config.fallback else entries[:1]:
            try:
                plan = handoff.plan(entry, self.reader_for, env)
                handoff.execute(
                    plan,
                    self.reader_for,
                    env,
                    hooks_dir=Path(self.config.hooks_dir),
                    before_jump=self._before_jump,
                )
            except BootmenuError as e:
                errors.append(f"{entry.title}: {e}")
                if report:
                    report(Attempt(entry, None, str(e)))
                continue
            if report:
                report(Attempt(entry, plan, None))
            return plan
        raise HandoffError("; ".join(errors) or "there was nothing to boot")

    def _before_jump(self) -> None:
        self.close()
        phase("hand-off")

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
        discovery, self._discovery = self._discovery, None
        if discovery is not None:
            discovery.stop(unmount=True)
        mounter, self._mounter = self._mounter, None
        if mounter is not None:
            mounter.unmount_all()
