"""Turn filesystems into boot entries.

For every :class:`~bootmenu.system.fs.Volume` this module finds the boot configurations a real
machine carries (BLS type 1 entries, UKIs, grub.cfg, syslinux/extlinux, the EFI removable path,
Windows Boot Manager, Haiku's EFI loader), hands their text or bytes to the pure parsers in
``bootmenu.formats`` and ``efi``, validates every file an entry names, and returns the entries in
menu order.  A problem with one entry is data attached to that entry; nothing here stops a scan.
"""

from __future__ import annotations

import logging
import math
import posixpath
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bootmenu import arch
from bootmenu.errors import FormatError, PathError
from bootmenu.formats import bls, grubcfg, grubenv, osrelease, syslinux
from bootmenu.model import BootEntry, DiskBootConfig, ImageInfo, Kind, Module, Source, Volume
from bootmenu.system.fs import VolumeReader, normalize
from bootmenu.validate import inspect_file, inspect_image
from efi import loaders, pe, uki

log = logging.getLogger(__name__)

ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
BLS_DIRS = ("/loader/entries", "/boot/loader/entries")
LOADER_CONF = ("/loader/loader.conf", "/boot/loader/loader.conf")
GRUBENV_PATHS = ("/grub2/grubenv", "/boot/grub2/grubenv", "/grub/grubenv", "/boot/grub/grubenv")
# Where GRUB's images find their grub.cfg: ``$prefix`` is ``/boot/grub`` (Debian, Ubuntu, Arch)
# or ``/boot/grub2`` (Fedora, RHEL, openSUSE), without ``/boot`` on a separate /boot partition;
# a prefix of the filesystem root or of /boot itself reads ``/grub.cfg`` or ``/boot/grub.cfg``.
# The signed EFI images of Fedora, RHEL/CentOS, Debian and Ubuntu set ``$prefix`` to their own
# directory, ``/EFI/<vendor>`` (RHEL/CentOS <= 8 and older Fedora keep their only grub.cfg
# there; the others a stub that loads the one in /boot), and install media carry one beside
# the removable-path loader, ``/EFI/BOOT/grub.cfg``.  Those are GRUB_EFI_DIR's subdirectories.
GRUB_CFG_PATHS = (
    "/boot/grub/grub.cfg",
    "/grub/grub.cfg",
    "/boot/grub2/grub.cfg",
    "/grub2/grub.cfg",
    "/boot/grub.cfg",
    "/grub.cfg",
)
GRUB_EFI_DIR = "/EFI"
# The first of these that exists is read, as syslinux and U-Boot look for their configuration:
# extlinux in its install directory (``/boot/extlinux`` for Fedora's and Debian's extlinux and
# u-boot-menu, ``/boot`` for Alpine's update-extlinux, ``/boot/syslinux`` for Arch), then in
# ``/boot/syslinux``, ``/syslinux`` and ``/``, ``extlinux.conf`` before ``syslinux.cfg``
# (syslinux's generic_load_config); U-Boot in ``/extlinux/`` and ``/boot/extlinux/``;
# isolinux in ``/boot/isolinux`` and ``/isolinux`` before the syslinux directories.
SYSLINUX_PATHS = (
    "/extlinux/extlinux.conf",
    "/boot/extlinux/extlinux.conf",
    "/boot/extlinux.conf",
    "/boot/syslinux/extlinux.conf",
    "/boot/syslinux/syslinux.cfg",
    "/syslinux/extlinux.conf",
    "/syslinux/syslinux.cfg",
    "/isolinux/isolinux.cfg",
    "/boot/isolinux/isolinux.cfg",
    "/extlinux.conf",
    "/syslinux.cfg",
    "/isolinux.cfg",
)
UKI_DIR = "/EFI/Linux"
WINDOWS_LOADER = "/EFI/Microsoft/Boot/bootmgfw.efi"
# How many .efi files under \EFI\<vendor>\ are opened to look for loaders recognised by content.
MAX_EFI_FILES = 64
# How long one filesystem's scan may take, validation included: past it the scan stops itself
# (grub.cfg's interpreter too) and lists what it found, each entry not yet checked with that
# problem.  Discovery gives its scans its device_timeout (20 s by default), the time after which
# it gives up on a device, so the thread ends when it is given up on instead of running on.
SCAN_TIME_LIMIT = 20.0
KERNEL_PREFIXES = ("vmlinuz-", "vmlinux-", "bzImage-", "kernel-", "linux-")


@dataclass(frozen=True)
class ScanResult:
    entries: tuple[BootEntry, ...]
    disk_configs: tuple[DiskBootConfig, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class VolumeScan:
    """Entries of one volume before validation, plus what its configurations say."""

    volume: str
    entries: list[BootEntry] = field(default_factory=list)
    configs: list[DiskBootConfig] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Identity keys of the entries the volume's configurations name as their default, and
    # whether a configuration named it (True) or it is only the first entry (False).
    defaults: list[tuple[int, bool]] = field(default_factory=list)
    # When this scan must stop (the scanner's clock); infinite: no limit.
    deadline: float = math.inf
    # Which BLS entry file each entry is, by position: (the volume of its directory, the
    # entry's id without ".conf"), for the entries read from the file and those grub.cfg's
    # blscfg made of it.
    bls_files: dict[int, tuple[str, str]] = field(default_factory=dict)

    def add(
        self,
        entries: Sequence[BootEntry],
        default: BootEntry | None,
        explicit: bool,
        bls_files: Sequence[tuple[str, str] | None] = (),
    ) -> None:
        """Append one configuration's entries, remembering which of them is its default (and
        which BLS file each one is, parallel to ``entries``)."""
        start = len(self.entries)
        self.entries.extend(entries)
        if default is not None:
            position = next(i for i, e in enumerate(entries) if e is default)
            self.defaults.append((start + position, explicit))
        for position, key in enumerate(bls_files):
            if key is not None:
                self.bls_files[start + position] = key


def _version_from_kernel(path: str | None) -> str | None:
    if not path:
        return None
    base = posixpath.basename(path)
    for prefix in KERNEL_PREFIXES:
        if base.startswith(prefix) and len(base) > len(prefix):
            return base[len(prefix) :]
    return None


def _bls_file(g: grubcfg.GrubEntry, volume: str) -> tuple[str, str] | None:
    """Which BLS entry file grub.cfg's blscfg made ``g`` of: (volume, id as the BLS scan
    names it, boot counter removed and lower-cased, without ".conf")."""
    if g.bls_id is None:
        return None
    ident: str = bls.parse_counting(g.bls_id + bls.TYPE1_SUFFIX)[0].lower()
    return (g.root or volume, ident.removesuffix(bls.TYPE1_SUFFIX))


def _identity(entry: BootEntry) -> tuple[str, ...]:
    """Two entries that boot the same files the same way are one entry in the menu."""
    modules = tuple(f"{m.path} {m.cmdline}" for m in entry.modules)
    return (
        entry.kind.value,
        entry.root,
        entry.kernel.casefold(),
        *entry.initrd,
        entry.cmdline,
        *modules,
    )


class _GrubFiles:
    """grub's view of the filesystems: device tokens are volume names."""

    def __init__(self, readers: dict[str, VolumeReader], volumes: Sequence[Volume]):
        self._readers = readers
        self._volumes = volumes

    def _reader(self, device: str | None) -> VolumeReader | None:
        return self._readers.get(device or "")

    def read(self, device: str | None, path: str) -> bytes | None:
        reader = self._reader(device)
        return reader.read_bytes(path) if reader else None

    def exists(self, device: str | None, path: str) -> bool:
        reader = self._reader(device)
        return reader.exists(path) if reader else False

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        reader = self._reader(device)
        if reader is None or not reader.is_dir(path):
            return None
        return reader.listdir(path)

    def search(self, how: str, value: str) -> str | None:
        for vol in self._volumes:
            if how == "fs-uuid" and vol.uuid and vol.uuid.lower() == value.lower():
                return vol.name
            if how == "label" and vol.label == value:
                return vol.name
            if how == "file" and self._readers[vol.name].exists(value):
                return vol.name
        return None


class Scanner:
    """Find and validate the boot entries on a set of volumes."""

    def __init__(
        self,
        volumes: Sequence[Volume],
        *,
        host_arch: str | None = None,
        validate: bool = True,
        efi_platform: bool = True,
        time_limit: float = SCAN_TIME_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.volumes = list(volumes)
        self.time_limit = time_limit
        self.clock = clock
        self.host = host_arch or arch.host()
        self.validate = validate
        self.efi_platform = efi_platform
        self.readers = {v.name: VolumeReader(v) for v in self.volumes}
        self._image_cache: dict[tuple[str, str, str], ImageInfo | str] = {}

    # -- public ------------------------------------------------------------------------------

    def scan(self) -> ScanResult:
        return assemble([self.scan_volume(vol) for vol in self.volumes])

    def scan_volume(self, vol: Volume) -> VolumeScan:
        """Entries of one volume, validated (the slow part: kernels and initrds are read).

        Volumes can be scanned concurrently; :func:`assemble` puts the results together.
        """
        out = VolumeScan(volume=vol.name, deadline=self.clock() + self.time_limit)
        for step in (self._scan_bls_and_uki, self._scan_grub, self._scan_syslinux, self._scan_esp):
            if self._expired(out):
                break
            try:
                step(vol, out)
            except (FormatError, PathError, OSError) as e:
                out.warnings.append(f"{vol.name}: {e}")
        if self.validate:
            checked: list[BootEntry] = []
            for entry in out.entries:
                if self._expired(out) and entry.kernel and not entry.problems:
                    late = "not checked: the time for scanning its filesystem ran out"
                    checked.append(replace(entry, problems=(late,)))
                else:
                    checked.append(self._validated(entry))
            out.entries = checked
        if self._expired(out):
            out.warnings.append(
                f"{vol.name}: scanning stopped after {self.time_limit:.0f} s; the entries found "
                "until then are listed"
            )
        return out

    def _expired(self, out: VolumeScan) -> bool:
        return self.clock() > out.deadline

    # -- BLS type 1 and type 2 ---------------------------------------------------------------

    def _grub_variables(self, reader: VolumeReader) -> dict[str, str]:
        candidates = list(GRUBENV_PATHS)
        candidates += [f"/EFI/{d}/grubenv" for d in reader.listdir("/EFI")]
        for path in candidates:
            data = reader.read_bytes(path)
            if data is None:
                continue
            try:
                return grubenv.parse_grubenv(data)
            except FormatError as e:
                log.warning("%s%s: %s", reader.volume.name, path, e)
        return {}

    def _scan_bls_and_uki(self, vol: Volume, out: VolumeScan) -> None:
        reader = self.readers[vol.name]
        found: list[tuple[BootEntry, bls.SortFields]] = []
        variables: dict[str, str] | None = None
        seen_dirs: set[str] = set()
        for directory in BLS_DIRS:
            if not reader.is_dir(directory):
                continue
            real = str(reader.resolve(directory))
            if real in seen_dirs:
                continue
            seen_dirs.add(real)
            if variables is None:
                variables = self._grub_variables(reader)
            for name in reader.listdir(directory):
                if not name.lower().endswith(".conf"):
                    continue
                if self._expired(out):
                    break
                found.append(self._bls_entry(vol, reader, f"{directory}/{name}", name, variables))
        if reader.is_dir(UKI_DIR):
            for name in reader.listdir(UKI_DIR):
                if name.lower().endswith(".efi") and not name.startswith("."):
                    found.append(self._uki_entry(vol, reader, f"{UKI_DIR}/{name}", name))
        if not found:
            return
        ordered = [e for e, _ in bls.sort_entries(found, key=lambda pair: pair[1])]
        conf_text = next((t for t in map(reader.read_text, LOADER_CONF) if t is not None), None)
        pattern = None
        timeout: float | None = None
        origin = f"{vol.name}{LOADER_CONF[0]}"
        if conf_text is not None:
            conf = bls.parse_loader_conf(conf_text)
            pattern, timeout = conf.default, conf.timeout
            out.warnings.extend(f"{origin}: {p}" for p in conf.problems)
        chosen = None
        if pattern:
            chosen_id = bls.match_default(pattern, [e.id for e in ordered])
            chosen = next((e for e in ordered if e.id == chosen_id), None)
        explicit = chosen is not None
        if chosen is None:
            # systemd-boot's rule: without a (matching) default, the first bootable entry.
            chosen = next((e for e in ordered if e.tries_left != 0), ordered[0])
        keys = [
            (vol.name, e.id.removesuffix(bls.TYPE1_SUFFIX)) if e.source is Source.BLS else None
            for e in ordered
        ]
        out.add(ordered, chosen, explicit, keys)
        out.configs.append(DiskBootConfig(vol.name, Source.BLS, origin, timeout, chosen.id))

    def _bls_entry(
        self, vol: Volume, reader: VolumeReader, path: str, name: str, variables: dict[str, str]
    ) -> tuple[BootEntry, bls.SortFields]:
        text = reader.read_text(path)
        try:
            if text is None:
                raise FormatError(f"{path}: cannot be read")
            e = bls.parse_entry(name, text, variables)
        except FormatError as err:
            ident, left, done = bls.parse_counting(name)
            entry = BootEntry(
                id=ident, title=name, kind=Kind.LINUX, source=Source.BLS, root=vol.name,
                kernel="", origin=path, config_root=vol.name, tries_left=left, tries_done=done,
                problems=(str(err),),
            )  # fmt: skip
            return entry, bls.SortFields(ident, None, None, None, left, done)
        problems = list(e.problems)
        if e.architecture and not arch.can_run(e.architecture, self.host, efi=e.efi is not None):
            problems.append(f"the entry is for {e.architecture}, but this machine is {self.host}")
        kind = Kind.LINUX if e.linux else Kind.EFI
        kernel = e.linux or e.efi or ""
        if not kernel:
            problems.append("the entry names neither a 'linux' nor an 'efi' program")
        title = e.title or e.id.removesuffix(".conf")
        entry = BootEntry(
            id=e.id,
            title=title,
            kind=kind,
            source=Source.BLS,
            root=vol.name,
            kernel=normalize(kernel) if kernel else "",
            initrd=tuple(normalize(i) for i in e.initrd),
            cmdline=e.options,
            version=e.version,
            tries_left=e.tries_left,
            tries_done=e.tries_done,
            architecture=e.architecture,
            problems=tuple(problems),
            origin=path,
            config_root=vol.name,
            devicetree=normalize(e.devicetree) if e.devicetree else None,
            sort_key=e.sort_key,
            machine_id=e.machine_id,
        )
        fields = bls.SortFields(
            e.id, e.sort_key, e.machine_id, e.version, e.tries_left, e.tries_done
        )
        return entry, fields

    def _uki_entry(
        self, vol: Volume, reader: VolumeReader, path: str, name: str
    ) -> tuple[BootEntry, bls.SortFields]:
        ident, left, done = bls.parse_counting(name)
        base = BootEntry(
            id=ident, title=ident.removesuffix(".efi"), kind=Kind.UKI, source=Source.UKI,
            root=vol.name, kernel=path, tries_left=left, tries_done=done, origin=path,
            config_root=vol.name,
        )  # fmt: skip
        try:
            data = reader.read(path)
            image = uki.parse_uki(data)
        except (PathError, FormatError) as err:
            entry = replace(base, problems=(str(err),))
            return entry, bls.SortFields(ident, None, None, None, left, done)
        title, version, sort_key = base.title, None, None
        problems = list(image.problems)
        if image.osrel is not None:
            try:
                osrel = osrelease.parse_os_release(image.osrel)
                title, version, sort_key = osrelease.uki_fields(osrel, ident)
            except FormatError as err:
                problems.append(f".osrel: {err}")
        if version is None and image.uname:
            version = image.uname
        self._image_cache[(vol.name, path, Kind.UKI.value)] = inspect_image(
            data, expect=Kind.UKI.value, host_arch=self.host
        )
        entry = replace(
            base,
            title=title,
            version=version,
            cmdline=(image.cmdline or "").strip(),
            sort_key=sort_key,
            problems=tuple(problems),
        )
        return entry, bls.SortFields(ident, sort_key, None, version, left, done)

    # -- grub ----------------------------------------------------------------------------------

    def _scan_grub(self, vol: Volume, out: VolumeScan) -> None:
        reader = self.readers[vol.name]
        seen: set[str] = set()
        vendors = [f"{GRUB_EFI_DIR}/{d}/grub.cfg" for d in reader.listdir(GRUB_EFI_DIR)]
        for path in (*GRUB_CFG_PATHS, *vendors):
            if not reader.is_file(path):
                continue
            real = str(reader.resolve(path))
            if real in seen:
                continue
            seen.add(real)
            text = reader.read_text(path)
            if text is None:
                continue
            files = _GrubFiles(self.readers, self.volumes)
            config = grubcfg.interpret(
                text,
                files,
                config_path=path,
                root=vol.name,
                platform="efi" if self.efi_platform else "pc",
                expired=lambda: self._expired(out),
            )
            origin = f"{vol.name}{path}"
            out.warnings.extend(f"{origin}: {w}" for w in config.warnings)
            # "UEFI Firmware Settings" (fwsetup), "System restart"/"System shutdown" (reboot,
            # halt): the power screen offers them; they are not entries that boot something.
            actions = [g for g in config.entries if g.action is not None and g.kind == "none"]
            for g in actions:
                log.debug("%s: %r (%s) is left to the power screen", origin, g.title, g.action)
            booting = [g for g in config.entries if g.action is None or g.kind != "none"]
            converted = [(g, self._grub_entry(vol, path, g)) for g in booting]
            default = next((e for g, e in converted if g is config.default), None)
            keys = [_bls_file(g, vol.name) for g, _ in converted]
            out.add([e for _, e in converted], default, True, keys)
            out.configs.append(
                DiskBootConfig(
                    vol.name,
                    Source.GRUB,
                    origin,
                    None if config.timeout is None else float(config.timeout),
                    default.id if default else None,
                )
            )

    def _grub_entry(self, vol: Volume, path: str, g: grubcfg.GrubEntry) -> BootEntry:
        problems = list(g.problems)
        root = g.root or vol.name
        if root not in self.readers:
            problems.append(
                f"the files are on grub device ({root}), "
                "which bootmenu cannot match to a filesystem"
            )
        kind = Kind.LINUX
        kernel = g.kernel or ""
        multiboot_version = None
        if g.kind in ("multiboot", "multiboot2"):
            kind = Kind.MULTIBOOT
            multiboot_version = 2 if g.kind == "multiboot2" else 1
        elif g.kind == "chainloader":
            kind = Kind.EFI
            kernel = g.chainloader or ""
            if kernel.startswith("+") or not kernel:
                problems.append(
                    "the entry chain-loads a BIOS boot sector, which cannot be started from Linux"
                )
                kernel = ""
        elif g.kind != "linux":
            problems.append("the entry loads no kernel (it only runs grub commands)")
        ident = "grub:" + (g.bls_id or g.id or ">".join(g.path))
        return BootEntry(
            id=ident,
            title=" > ".join(g.path) if len(g.path) > 1 else g.title,
            kind=kind,
            source=Source.GRUB,
            root=root,
            kernel=normalize(kernel) if kernel else "",
            initrd=tuple(normalize(i) for i in g.initrd),
            cmdline=g.cmdline,
            modules=tuple(Module(normalize(m.path), m.cmdline) for m in g.modules),
            version=_version_from_kernel(kernel),
            problems=tuple(problems),
            origin=path,
            config_root=vol.name,
            multiboot=multiboot_version,
        )

    # -- syslinux ------------------------------------------------------------------------------

    def _scan_syslinux(self, vol: Volume, out: VolumeScan) -> None:
        reader = self.readers[vol.name]
        for path in SYSLINUX_PATHS:
            text = reader.read_text(path)
            if text is None:
                continue
            config = syslinux.parse(text, path, reader.read_text)
            origin = f"{vol.name}{path}"
            out.warnings.extend(f"{origin}: {w}" for w in config.warnings)
            converted = [(lab, self._syslinux_entry(vol, path, lab)) for lab in config.labels]
            converted = [(lab, e) for lab, e in converted if not lab.hidden]
            default = next((e for lab, e in converted if lab.name == config.default), None)
            if default is None:  # a submenu's MENU DEFAULT is only that submenu's
                marked = (e for lab, e in converted if lab.menu_default and not lab.submenu)
                default = next(marked, None)
            explicit = default is not None
            if default is None and converted:
                default = converted[0][1]
            out.add([e for _, e in converted], default, explicit)
            out.configs.append(
                DiskBootConfig(
                    vol.name,
                    Source.SYSLINUX,
                    origin,
                    config.timeout,
                    default.id if default else None,
                )
            )
            return  # the first configuration found is the one the loader reads

    def _syslinux_entry(self, vol: Volume, path: str, lab: syslinux.SyslinuxLabel) -> BootEntry:
        problems = list(lab.problems)
        kind = Kind.LINUX
        kernel = lab.kernel or ""
        modules = lab.modules
        mb_version = None
        if lab.kernel_type == "multiboot":
            # mboot.c32: the parser gives the Multiboot kernel (xen.gz) as the kernel, its
            # arguments as append, and the files after each '---' as modules.
            kind = Kind.MULTIBOOT
            mb_version = 1
            cmdline = lab.append
            if not kernel:
                problems.append("mboot.c32 is given no kernel")
        else:
            cmdline = lab.append
            if lab.kernel_type != "linux":
                what = {
                    "localboot": "boots the local disk through the BIOS",
                    "com32": f"runs the syslinux module {lab.kernel}",
                    "chain": "chain-loads another boot sector",
                }.get(lab.kernel_type, f"is of syslinux type '{lab.kernel_type}'")
                problems.append(f"the entry {what}, which cannot be started from Linux")
        # Inside MENU BEGIN submenus the title carries the menu path, as grub's entries do.
        title = " > ".join((*lab.submenu, lab.menu_label or lab.name))
        return BootEntry(
            id=f"syslinux:{lab.name}",
            title=title,
            kind=kind,
            source=Source.SYSLINUX,
            root=vol.name,
            kernel=normalize(kernel) if kernel else "",
            initrd=tuple(normalize(i) for i in lab.initrd),
            cmdline=cmdline,
            modules=tuple(Module(normalize(m.path), m.cmdline) for m in modules),
            version=_version_from_kernel(kernel),
            problems=tuple(problems),
            origin=path,
            config_root=vol.name,
            multiboot=mb_version,
        )

    # -- EFI loaders on an ESP ----------------------------------------------------------------

    def _is_esp(self, vol: Volume, reader: VolumeReader) -> bool:
        if vol.parttype == ESP_TYPE:
            return True
        return reader.is_dir("/EFI") and (vol.fstype in (None, "vfat", "msdos"))

    def _scan_esp(self, vol: Volume, out: VolumeScan) -> None:
        reader = self.readers[vol.name]
        if not self._is_esp(vol, reader):
            return
        candidates: list[str] = []
        for name in reader.listdir("/EFI/BOOT"):
            if name.lower().startswith("boot") and name.lower().endswith(".efi"):
                candidates.append(f"/EFI/BOOT/{name}")
        if reader.is_file(WINDOWS_LOADER):
            candidates.append(WINDOWS_LOADER)
        for vendor in reader.listdir("/EFI"):
            if vendor.lower() in ("boot", "linux", "microsoft") or not reader.is_dir(
                f"/EFI/{vendor}"
            ):
                continue
            for name in reader.listdir(f"/EFI/{vendor}"):
                if name.lower().endswith(".efi"):
                    candidates.append(f"/EFI/{vendor}/{name}")
        befs_nearby = any((v.fstype or "") == "befs" for v in self.volumes)
        for path in candidates[:MAX_EFI_FILES]:
            entry = self._efi_entry(vol, reader, path, befs_nearby)
            if entry is not None:
                out.entries.append(entry)

    def _efi_entry(
        self, vol: Volume, reader: VolumeReader, path: str, befs_nearby: bool
    ) -> BootEntry | None:
        removable = path.upper().startswith("/EFI/BOOT/")
        is_windows_path = path.lower() == WINDOWS_LOADER.lower()
        identity: str | None = None
        problems: list[str] = []
        try:
            data = reader.read(path)
            identity = loaders.identify(data, pe.parse_pe(data))
        except (PathError, FormatError) as err:
            problems.append(str(err))
        shown = path  # the name as it is spelled on disk (FAT is case-insensitive)
        if reader.exists(path):
            shown = "/" + reader.resolve(path).relative_to(reader.base).as_posix()
        if identity == "haiku" or (removable and identity is None and befs_nearby):
            source, title = Source.HAIKU, "Haiku"
            if identity is None:
                title = "Haiku (loader not recognised; a BFS partition is present)"
        elif identity == "windows-boot-manager" or is_windows_path:
            source, title = Source.WINDOWS, "Windows Boot Manager"
            if removable:
                title += " (removable path)"
        elif removable:
            source = Source.EFI_REMOVABLE
            title = f"EFI removable path ({identity})" if identity else "EFI removable path"
        else:
            return None  # other vendors' loaders are reached through firmware boot entries
        key = {Source.HAIKU: "haiku", Source.WINDOWS: "windows"}.get(source, "efi")
        return BootEntry(
            id=f"{key}:{shown.lower()}",
            title=title,
            kind=Kind.EFI,
            source=source,
            root=vol.name,
            kernel=shown,
            problems=tuple(problems),
            origin=shown,
            config_root=vol.name,
        )

    # -- validation ----------------------------------------------------------------------------

    def _inspect(self, root: str, path: str, expect: str) -> ImageInfo | str:
        """Validate one file; a str is a problem sentence about the path itself."""
        key = (root, path, expect)
        if key in self._image_cache:
            return self._image_cache[key]
        reader = self.readers.get(root)
        result: ImageInfo | str
        if reader is None:
            result = f"{path}: the filesystem {root} is not available"
        else:
            try:
                result = inspect_file(reader, path, expect=expect, host_arch=self.host, quick=True)
            except PathError as e:
                result = str(e)
        self._image_cache[key] = result
        return result

    def _validated(self, entry: BootEntry) -> BootEntry:
        if entry.problems or not entry.kernel:
            return entry
        problems: list[str] = []
        info = self._inspect(entry.root, entry.kernel, entry.kind.value)
        architecture = entry.architecture
        if isinstance(info, str):
            problems.append(info)
        else:
            problems.extend(f"{entry.kernel}: {p}" for p in info.problems)
            architecture = architecture or info.architecture
        for path in entry.initrd:
            rd = self._inspect(entry.root, path, "initrd")
            if isinstance(rd, str):
                problems.append(rd)
            else:
                problems.extend(f"{path}: {p}" for p in rd.problems)
        reader = self.readers.get(entry.root)
        extra = [m.path for m in entry.modules] + ([entry.devicetree] if entry.devicetree else [])
        for path in extra:
            if reader is not None:
                try:
                    reader.size(path)
                except PathError as e:
                    problems.append(str(e))
        return replace(entry, problems=tuple(problems), architecture=architecture)


def assemble(scans: Sequence[VolumeScan]) -> ScanResult:
    """Put per-volume scans together in menu order: remove duplicates, make ids unique, mark
    the one default."""
    entries: list[BootEntry] = []
    configs: list[DiskBootConfig] = []
    warnings: list[str] = []
    # (rank, position): explicit defaults first, in scan order; then implicit ones.
    candidates: list[tuple[int, int]] = []
    bls_files: dict[int, tuple[str, str]] = {}
    for found in scans:
        for index, explicit in found.defaults:
            candidates.append((0 if explicit else 1, len(entries) + index))
        bls_files.update((len(entries) + i, key) for i, key in found.bls_files.items())
        entries.extend(found.entries)
        configs.extend(found.configs)
        warnings.extend(found.warnings)
    kept, moved = _dedupe(entries, bls_files)
    default = None
    for _, position in sorted(candidates):
        default = moved[position]
        break
    final = [replace(e, default=(i == default)) for i, e in enumerate(kept)]
    return ScanResult(tuple(_unique_ids(final)), tuple(configs), tuple(warnings))


def _config_key(entry: BootEntry) -> tuple[str, ...]:
    """Which configuration an entry came from: all BLS/UKI entries of a volume are one menu."""
    if entry.source in (Source.BLS, Source.UKI):
        return ("bls", entry.config_root or entry.root)
    return (entry.source.value, entry.config_root or entry.root, entry.origin or "")


def _dedupe(
    entries: Sequence[BootEntry], bls_files: Mapping[int, tuple[str, str]] | None = None
) -> tuple[list[BootEntry], list[int]]:
    """Drop an entry that another configuration already listed with the same files and command
    line (Debian's ESP grub.cfg only points at the one in /boot).  Entries of one configuration
    are all kept, even when they are alike.

    A BLS entry file that grub.cfg's ``blscfg`` also made an entry of is one entry, where the
    first of the two is, as GRUB boots it: the BLS entry (its id, title, version) with the
    command line, initrds and problems of grub's, whose variables come from grubenv and from
    grub.cfg itself (CentOS 8 keeps grubenv on the ESP, Fedora CoreOS sets them in grub.cfg).

    Returns the kept entries and, for every input position, the kept entry's position that
    stands for it (so a default named by a dropped duplicate moves to the one kept)."""
    files = bls_files or {}
    # For every BLS file read both ways: the first position (the survivor, as merged) and the
    # other one (dropped, standing for the survivor).
    direct: dict[tuple[str, str], int] = {}
    through_grub: dict[tuple[str, str], int] = {}
    for i, file in files.items():
        side = direct if entries[i].source is Source.BLS else through_grub
        side.setdefault(file, i)
    survivor: dict[int, BootEntry] = {}
    stands_for: dict[int, int] = {}
    for file, b in direct.items():
        g = through_grub.get(file)
        if g is None:
            continue
        grub = entries[g]
        survivor[min(b, g)] = replace(
            entries[b],
            cmdline=grub.cmdline,
            initrd=grub.initrd,
            devicetree=grub.devicetree,
            problems=grub.problems,
        )
        stands_for[max(b, g)] = min(b, g)

    first: dict[tuple[str, ...], tuple[int, tuple[str, ...]]] = {}
    kept: list[BootEntry] = []
    moved: list[int] = []
    for i, original in enumerate(entries):
        if i in stands_for:
            moved.append(moved[stands_for[i]])
            continue
        e = survivor.get(i, original)
        key = _identity(e)
        if e.kernel and key in first and first[key][1] != _config_key(e):
            moved.append(first[key][0])
            continue
        first.setdefault(key, (len(kept), _config_key(e)))
        moved.append(len(kept))
        kept.append(e)
    return kept, moved


def _unique_ids(entries: list[BootEntry]) -> list[BootEntry]:
    seen: dict[str, int] = {}
    out = []
    for e in entries:
        if e.id in seen:
            seen[e.id] += 1
            candidate = f"{e.id}@{e.root}"
            if candidate in seen:
                candidate = f"{candidate}#{seen[e.id]}"
            seen[candidate] = 1
            out.append(replace(e, id=candidate))
        else:
            seen[e.id] = 1
            out.append(e)
    return out


def scan(
    volumes: Sequence[Volume],
    *,
    host_arch: str | None = None,
    validate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Scan ``volumes`` in order and return their entries in menu order."""
    del progress  # reserved for the discovery layer
    return Scanner(volumes, host_arch=host_arch, validate=validate).scan()
