"""A core for the menu's tests: fixed entries and devices, the real decision logic
(:func:`bootmenu.autoboot.decide`), and every call recorded.  It satisfies
:class:`bootmenu.tui.coreapi.MenuCore` (mypy checks that through :func:`factory`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from bootmenu import config as settings
from bootmenu.autoboot import Decision, decide
from bootmenu.boot.handoff import Plan
from bootmenu.core import Attempt, FileItem, FileReport, Power, Progress, View
from bootmenu.errors import BootmenuError, HandoffError
from bootmenu.model import (
    BootEntry,
    Device,
    DeviceKind,
    DeviceState,
    ImageInfo,
    Kind,
    Module,
    Source,
    Volume,
)
from bootmenu.system.sysinfo import StorageRow, SystemInfo
from bootmenu.tui.coreapi import CoreFactory, MenuCore, OnChange
from tests import factories

MiB = 1024 * 1024
NVME_ROOT = "/dev/nvme0n1p2"
NVME_ESP = "/dev/nvme0n1p1"
USB = "/dev/sda1"

FEDORA_CMDLINE = "root=UUID=5c3a9e1d-7f2b-4e8a-9d1c-3b6f0a2e4d58 ro rhgb quiet"


def fedora(version: str, *, default: bool = False) -> BootEntry:
    return factories.linux(
        id=f"2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d-{version}.conf",
        title="Fedora Linux 40 (Workstation Edition)",
        root=NVME_ROOT,
        kernel=f"/vmlinuz-{version}",
        initrd=(f"/initramfs-{version}.img",),
        cmdline=FEDORA_CMDLINE,
        version=version,
        default=default,
        architecture="x86_64",
        origin=f"/loader/entries/2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d-{version}.conf",
        config_root=NVME_ROOT,
    )


FEDORA_NEW = fedora("6.8.9-300.fc40.x86_64", default=True)
FEDORA_OLD = fedora("6.8.7-300.fc40.x86_64")
XEN = factories.multiboot(
    title="Xen hypervisor 4.17 with Fedora",
    root=NVME_ROOT,
    cmdline="",
    kernel="/xen-4.17.gz",
    modules=(Module("/vmlinuz-6.8.9-300.fc40.x86_64", "root=/dev/nvme0n1p2"),),
    version="4.17",
    multiboot=2,
    origin="/grub2/grub.cfg",
)
ARCH_UKI = factories.uki(
    id="arch-linux.efi",
    title="Arch Linux",
    root=NVME_ESP,
    kernel="/EFI/Linux/arch-linux.efi",
    cmdline="root=PARTLABEL=arch rw",
    version="6.9.1-arch1-1",
    origin="/EFI/Linux/arch-linux.efi",
)
WINDOWS = factories.efi_app(
    id="windows:/EFI/Microsoft/Boot/bootmgfw.efi",
    root=NVME_ESP,
    problems=(
        "this machine did not start through UEFI, so there is no firmware boot manager to hand "
        "EFI applications to",
    ),
)
DEBIAN_ARM = factories.linux(
    id="grub:debian",
    title="Debian GNU/Linux 12 (bookworm)",
    source=Source.GRUB,
    root=USB,
    kernel="/boot/vmlinuz-6.1.0-21-arm64",
    initrd=("/boot/initrd.img-6.1.0-21-arm64",),
    cmdline="root=UUID=0e6c1f2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b ro quiet",
    version="6.1.0-21-arm64",
    problems=(
        "/boot/vmlinuz-6.1.0-21-arm64: built for aarch64, but this machine is x86_64",
        "/boot/initrd.img-6.1.0-21-arm64: no such file on /dev/sda1",
    ),
    origin="/boot/grub/grub.cfg",
)
ENTRIES = (FEDORA_NEW, FEDORA_OLD, XEN, ARCH_UKI, WINDOWS, DEBIAN_ARM)

VOLUMES = (
    factories.volume(NVME_ESP, fstype="vfat", uuid="4A1B-2C3D", label="ESP"),
    factories.volume(NVME_ROOT, uuid="5c3a9e1d", label="fedora"),
    factories.volume(USB, uuid="0e6c1f2a", label="debian-arm"),
)


def device(
    devnode: str,
    state: DeviceState,
    *,
    fstype: str | None = None,
    label: str | None = None,
    size: int | None = None,
    reason: str | None = None,
    disk: str | None = None,
    removable: bool = False,
) -> Device:
    return Device(
        devnode=devnode,
        sys_path=f"/sys/class/block/{devnode.removeprefix('/dev/')}",
        disk=disk or devnode.rstrip("0123456789").removesuffix("p"),
        kind=DeviceKind.PARTITION,
        state=state,
        reason=reason,
        fstype=fstype,
        label=label,
        size=size,
        removable=removable,
    )


DEVICES = (
    device(NVME_ESP, DeviceState.USABLE, fstype="vfat", label="ESP", size=600 * MiB),
    device(NVME_ROOT, DeviceState.USABLE, fstype="ext4", label="fedora", size=200 * 1024 * MiB),
    device(
        "/dev/nvme0n1p3",
        DeviceState.LOCKED,
        fstype="crypto_LUKS",
        size=700 * 1024 * MiB,
        reason="encrypted with LUKS",
    ),
    device(
        USB,
        DeviceState.USABLE,
        fstype="ext4",
        label="debian-arm",
        size=16 * 1024 * MiB,
        removable=True,
    ),
    device(
        "/dev/sdb1",
        DeviceState.UNSUPPORTED,
        fstype="LVM2_member",
        size=500 * 1024 * MiB,
        reason="an LVM physical volume; its logical volumes appear once the volume group is "
        "activated",
    ),
)

FILES: Mapping[tuple[str, str], tuple[FileItem, ...]] = {
    (NVME_ROOT, "/"): (
        FileItem("grub2", True),
        FileItem("loader", True),
        FileItem("initramfs-6.8.9-300.fc40.x86_64.img", False, 69_100_000),
        FileItem("vmlinuz-6.8.9-300.fc40.x86_64", False, 14_900_000),
    ),
    (NVME_ROOT, "/grub2"): (FileItem("grub.cfg", False, 6_512),),
    (NVME_ESP, "/"): (FileItem("EFI", True),),
}

SYSTEM = SystemInfo(
    firmware="UEFI (64-bit)",
    secure_boot="enabled",
    lockdown="integrity",
    memory_total=16 * 1024 * MiB,
    memory_available=15 * 1024 * MiB,
    firmware_setup=None,
    kernel="6.6.30-bootmenu",
    machine="x86_64",
    storage=tuple(
        StorageRow(d.devnode, d.size, d.fstype, d.label, d.state.value, d.reason) for d in DEVICES
    ),
)


def make_config(**values: object) -> settings.Config:
    """Settings as if /etc/bootmenu.toml said ``values`` (already typed)."""
    layer = settings.Layer("/etc/bootmenu.toml", MappingProxyType(dict(values)))
    return settings.merge([layer])


@dataclass
class FakeCore:
    """What the menu sees; tests change ``entries``/``devices`` and call :meth:`publish`."""

    on_change: OnChange
    entries: tuple[BootEntry, ...] = ENTRIES
    devices: tuple[Device, ...] = DEVICES
    volumes: tuple[Volume, ...] = VOLUMES
    config: settings.Config = field(default_factory=lambda: make_config(timeout=5))
    dry_run: bool = True
    busy_reason: str | None = None  # what the view still waits for (None: settled)
    view_error: Exception | None = None  # view() raises it once the menu has started
    boot_error: str | None = None  # boot() raises HandoffError(boot_error) when set
    boot_gate: threading.Event | None = None  # boot() waits for it after the "load" step
    start_error: str | None = None
    firmware_reason: str | None = None
    power_error: str | None = None
    warnings: tuple[str, ...] = ()
    calls: list[tuple[str, object]] = field(default_factory=list)
    generation: int = 0
    leads: bool = True  # False: the menu follows another console's (bootmenu.remote)
    touched: bool = False  # some console's key stopped the countdown (View.touched)
    countdown: int | None = None  # the leading console's countdown (View.countdown)
    booting: str | None = None  # a boot under way, started on any console (View.booting)
    countdowns: list[int | None] = field(default_factory=list)  # what set_countdown was told

    # -- MenuCore --------------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> View:
        if self.start_error:
            self.calls.append(("start", wait))
            raise BootmenuError(self.start_error)
        view = self.view()
        self.calls.append(("start", wait))
        return view

    def view(self) -> View:
        if self.view_error is not None and any(c == "start" for c, _ in self.calls):
            raise self.view_error
        scanning = frozenset({"/dev/sda1"}) if self.busy_reason else frozenset()
        return View(
            self.entries,
            (),
            self.warnings,
            scanning=scanning,
            generation=self.generation,
            devices=self.devices,
            volumes=self.volumes,
            settled=self.busy_reason is None,
            waiting=(self.busy_reason,) if self.busy_reason else (),
            touched=self.touched,
            countdown=self.countdown,
            booting=self.booting,
        )

    def decide(self, view: View | None = None) -> Decision:
        self.calls.append(("decide", view))
        return decide(view.entries if view is not None else self.entries, self.config)

    def touch(self) -> None:
        self.touched = True

    def set_countdown(self, seconds: int | None) -> None:
        self.countdowns.append(seconds)

    def rescan(self) -> None:
        self.calls.append(("rescan", None))
        self.publish()

    def boot(
        self,
        entries: Sequence[BootEntry],
        *,
        report: Callable[[Attempt], None] | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> Plan:
        self.calls.append(("boot", tuple(entries)))
        entry = entries[0]
        plan = factories.plan(entry)
        total = sum(s.size for s in plan.segments if s.sha256)
        tell = progress or (lambda _: None)
        tell(Progress("read", entry, f"Reading and checking {plan.kernel}", 0, total))
        tell(Progress("read", entry, f"Reading and checking {plan.kernel}", total, total))
        tell(Progress("plan", entry, "checked", plan=plan))
        tell(Progress("hooks", entry, "Running the pre-boot hooks", 0, total))
        tell(Progress("load", entry, f"Reading again and loading {plan.kernel}", 0, total))
        tell(Progress("load", entry, f"Reading again and loading {plan.kernel}", 14_900_000, total))
        if self.boot_gate is not None:
            self.boot_gate.wait(timeout=10)
        if self.boot_error is not None:
            if report is not None:
                report(Attempt(entry, None, self.boot_error))
            raise HandoffError(self.boot_error)
        if not self.dry_run:
            raise HandoffError("the fake core cannot jump")
        return plan

    def resume(self) -> None:
        self.calls.append(("resume", None))

    def consume_oneshot(self) -> None:
        self.calls.append(("consume_oneshot", None))

    def inspect_entry(self, entry: BootEntry) -> tuple[FileReport, ...]:
        self.calls.append(("inspect_entry", entry.id))
        kernel = ImageInfo(
            "bzimage",
            "linux",
            "x86_64",
            signed=True,
            details={"version": "6.8.9-300.fc40.x86_64", "efi_stub": True},
        )
        if entry.problems:
            kernel = ImageInfo("bzimage", "linux", "aarch64", problems=(entry.problems[0],))
        reports = [FileReport("kernel", entry.kernel, 14_900_000, kernel)]
        for path in entry.initrd:
            if entry.problems:
                reports.append(FileReport("initrd", path, None, None, entry.problems[-1]))
            else:
                info = ImageInfo("initrd", "initrd", None, details={"compression": "zstd"})
                reports.append(FileReport("initrd", path, 69_100_000, info))
        return tuple(reports)

    def list_files(self, root: str, path: str = "/") -> tuple[FileItem, ...]:
        self.calls.append(("list_files", (root, path)))
        if (root, path) not in FILES:
            raise HandoffError(f"{path}: no such directory on {root}")
        return FILES[(root, path)]

    def custom_entry(
        self, root: str, kernel: str, initrd: Sequence[str] = (), cmdline: str = ""
    ) -> BootEntry:
        self.calls.append(("custom_entry", (root, kernel, tuple(initrd), cmdline)))
        problems = () if kernel.startswith("/vmlinuz") else (f"{kernel}: not a kernel",)
        return BootEntry(
            id=f"custom:{root}:{kernel}",
            title=f"Custom: {kernel.rsplit('/', 1)[-1]}",
            kind=Kind.LINUX,
            source=Source.CUSTOM,
            root=root,
            kernel=kernel,
            initrd=tuple(initrd),
            cmdline=cmdline,
            problems=problems,
        )

    def system_info(self) -> SystemInfo:
        return SYSTEM

    def firmware_setup_unavailable(self) -> str | None:
        return self.firmware_reason

    def power(self, action: Power) -> None:
        self.calls.append(("power", action))
        if self.power_error:
            raise BootmenuError(self.power_error)

    def rescue_shell(self) -> int:
        self.calls.append(("rescue_shell", None))
        return 0

    def close(self) -> None:
        self.calls.append(("close", None))
        if self.boot_gate is not None:
            self.boot_gate.set()

    # -- for tests ---------------------------------------------------------------------------

    def publish(self, **changes: object) -> None:
        """Change the fake's state and tell the menu, from another thread as discovery does."""
        for name, value in changes.items():
            setattr(self, name, value)
        self.generation += 1
        view = self.view()
        thread = threading.Thread(target=self.on_change, args=(view,))
        thread.start()
        thread.join()

    def called(self, name: str) -> list[Any]:
        return [arg for call, arg in self.calls if call == name]


class Factory:
    """The factory the app is given; keeps the fake it built (``core``)."""

    def __init__(self, **options: object) -> None:
        self.options = options
        self.core: FakeCore | None = None

    def __call__(self, on_change: OnChange) -> MenuCore:
        core = FakeCore(on_change, **self.options)  # type: ignore[arg-type]
        self.core = core
        return core


def factory(**options: object) -> Factory:
    made = Factory(**options)
    check: CoreFactory = made  # mypy: the fake is a MenuCore
    del check
    return made


def edited(entry: BootEntry, cmdline: str) -> BootEntry:
    return replace(entry, cmdline=cmdline)
