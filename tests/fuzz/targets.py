"""One fuzz target per parser or validator that a disk's bytes (or an EFI variable) reach.

Each target takes the bytes a fuzzer made and feeds them to the entry point the way bootmenu
does (text files decoded as ``VolumeReader.read_text`` decodes them, UTF-8 with replacement),
then uses the result as its callers do (sorting, rendering, matching).  ``raises`` is what the
entry point's contract lets escape: the project's typed errors (:data:`bootmenu.errors.ERRORS`)
for parsers that reject input by raising, nothing for those that report problems instead
(``inspect_image``, ``grubcfg.interpret``, ``syslinux.parse``, ``config.load``…).  Any other
exception, or one of those from a parser that promised not to raise, is a bug; so is an input
that takes longer than :data:`SLOW_SECONDS` (:func:`check`).

The module imports only what the targets call, so that ``python -m tests.fuzz`` can import it
under atheris' instrumentation.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bootmenu import config, validate
from bootmenu.discover import devices
from bootmenu.discover.firmware import firmware_entry, partuuid_of
from bootmenu.errors import ERRORS
from bootmenu.formats import (
    bls,
    bzimage,
    elf,
    grubcfg,
    grubenv,
    initrd,
    multiboot,
    osrelease,
    syslinux,
)
from bootmenu.model import Volume
from bootmenu.system.bootvars import FirmwareOption, classify
from efi import hob, loaders, pe, uki, upl
from efi.loadoption import parse_load_option, parse_u16, parse_u16_list
from efi.variables import EfiVariable, decode_utf16_string

# An input that takes longer than this is reported like a crash (bounded time per input).
SLOW_SECONDS = 1.0

Errors = tuple[type[BaseException], ...]


class SlowInput(Exception):
    """An input took longer than the target's time bound."""


class BrokenPromise(Exception):
    """A target's result breaks a documented property (a codec that does not round-trip)."""


# Where inputs slower than their bound are written (tests/fuzz/README.md).
SLOW_DIR = Path(__file__).resolve().parents[2] / "build" / "fuzz"


@dataclass(frozen=True)
class Target:
    """A fuzz target: ``run`` feeds one input to ``entry``; ``raises`` may escape it."""

    name: str
    entry: str
    run: Callable[[bytes], object]
    raises: Errors
    # Words the mutators insert (libFuzzer's -dict): keywords of a text format.
    tokens: tuple[bytes, ...] = ()
    # Inputs larger than this are cut (images are large, configuration files are not).
    max_len: int = 64 * 1024
    slow_seconds: float = SLOW_SECONDS


def check(target: Target, data: bytes, *, slow_seconds: float | None = None) -> None:
    """Run ``target`` on ``data``; raise what escapes that its contract does not allow, and
    :class:`SlowInput` when the input took too long."""
    limit = target.slow_seconds if slow_seconds is None else slow_seconds
    start = time.perf_counter()
    with contextlib.suppress(*target.raises):
        target.run(data[: target.max_len])
    took = time.perf_counter() - start
    if took > limit:
        # Kept where the campaign's artifacts go (libFuzzer does not save an input whose
        # Python exception ends the run), so that it can be replayed and pinned.
        keep = SLOW_DIR / target.name
        with contextlib.suppress(OSError):
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"slow-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
        raise SlowInput(f"{target.name}: one input took {took:.2f} s (bound {limit:.2f} s)")


def _text(data: bytes) -> str:
    """Bytes as the scanner reads a configuration file (``VolumeReader.read_text``)."""
    return data.decode("utf-8", errors="replace")


def _name_and_body(data: bytes, default: str) -> tuple[str, bytes]:
    """Inputs that carry a file name: the name, a NUL, the file's contents."""
    name, sep, body = data.partition(b"\0")
    if not sep:
        return default, data
    return _text(name) or default, body


def _suppress() -> contextlib.suppress:
    """For a step whose typed error should not stop the target's next steps."""
    return contextlib.suppress(*ERRORS)


# -- boot loader configurations ----------------------------------------------------------------

# What a typical grubenv gives BLS entries (Fedora's and RHEL's entries use $kernelopts).
GRUB_VARIABLES: Mapping[str, str] = {
    "kernelopts": "root=/dev/mapper/rhel-root ro crashkernel=auto",
    "tuned_params": "skew_tick=1",
    "tuned_initrd": "/tuned-initrd.img /early.img",
}
# Other entries' ids and sort fields, to sort and match the fuzzed one against.
ENTRY_IDS: tuple[str, ...] = (
    "arch.conf",
    "arch-lts.conf",
    "2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d-6.8.5-300.fc40.x86_64.conf",
    "fedora-6.11-rc5+2-1.conf",
    "windows.efi",
)
OTHER_FIELDS: tuple[bls.SortFields, ...] = (
    bls.SortFields("arch.conf", "arch", None, "6.10.9-arch1-1", None, None),
    bls.SortFields("f.conf", "fedora", "2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d", "6.11~rc5", 2, 1),
    bls.SortFields("u.conf", None, None, "6.8.0-45^generic", 0, 3),
)


def bls_entry(data: bytes) -> None:
    """A type #1 entry (``name\\0text``), with and without GRUB's variable expansion, sorted
    among others as systemd-boot sorts the menu."""
    name, body = _name_and_body(data, "entry.conf")
    text = _text(body)
    bls.parse_counting(name)
    parsed = [bls.parse_entry(name, text, None), bls.parse_entry(name, text, GRUB_VARIABLES)]
    fields = [
        bls.SortFields(e.id, e.sort_key, e.machine_id, e.version, e.tries_left, e.tries_done)
        for e in parsed
    ]
    bls.sort_entries([*fields, *OTHER_FIELDS], key=lambda f: f)


def loader_conf(data: bytes) -> None:
    """``loader.conf``, and its ``default`` glob matched against entry ids."""
    conf = bls.parse_loader_conf(_text(data))
    if conf.default:
        bls.match_default(conf.default, [*ENTRY_IDS, conf.default])


class _GrubFiles:
    """GrubFiles for one fuzzed grub.cfg: the first few ``*.cfg`` reads give the input again
    (so ``source``, ``configfile`` and their loops run; more would spend the campaign on
    re-reading one file, which MAX_READ bounds), the grubenv and BLS entries are fixed, every
    other file exists and every search finds a device."""

    def __init__(self, data: bytes, files: Mapping[str, bytes], *, cfg_reads: int = 2) -> None:
        self.data = data
        self.files = files
        self.cfg_reads = cfg_reads

    def read(self, device: str | None, path: str) -> bytes | None:
        if path.endswith(".cfg"):
            self.cfg_reads -= 1
            return self.data if self.cfg_reads >= 0 else None
        return self.files.get(path)

    def exists(self, device: str | None, path: str) -> bool:
        return True

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        prefix = path.rstrip("/") + "/"
        names = [p.removeprefix(prefix) for p in self.files if p.startswith(prefix)]
        return sorted(n for n in names if "/" not in n) or None

    def search(self, how: str, value: str) -> str | None:
        return None if value == "missing" else f"{how}:{value}"


GRUBENV_BLOCK = (
    b"# GRUB Environment Block\nsaved_entry=gnulinux-advanced>gnulinux-6.1.0\n"
    b"kernelopts=root=UUID=0b2a1b7c ro quiet\nnext_entry=\n"
)
GRUBENV_BLOCK += b"#" * (1024 - len(GRUBENV_BLOCK))
GRUB_FILES: Mapping[str, bytes] = {
    "/boot/grub/grubenv": GRUBENV_BLOCK,
    "/boot/grub2/grubenv": GRUBENV_BLOCK,
    "/loader/entries/fedora.conf": (
        b"title Fedora\nversion 6.8.5\nlinux /vmlinuz-6.8.5\ninitrd /initramfs-6.8.5.img\n"
        b"options $kernelopts\n"
    ),
    "/loader/entries/rescue.conf": b"title Rescue\nlinux /vmlinuz-0-rescue\n",
}


# The scanner gives grub.cfg's interpreter a deadline (its filesystem's scan time); here a
# short one, so that an input over SLOW_SECONDS means something did not stop at it.
GRUB_DEADLINE = 0.25


def grub_cfg(data: bytes) -> None:
    """``grub.cfg`` run by the interpreter (never raises: problems and warnings instead)."""
    deadline = time.perf_counter() + GRUB_DEADLINE
    grubcfg.interpret(
        _text(data),
        _GrubFiles(data, GRUB_FILES),
        root="disk",
        platform="efi",
        expired=lambda: time.perf_counter() > deadline,
    )


def syslinux_cfg(data: bytes) -> None:
    """``syslinux.cfg``/``extlinux.conf``; every ``INCLUDE`` reads the input again."""
    text = _text(data)

    def read(path: str) -> str | None:
        return None if path.endswith("missing.cfg") else text

    syslinux.parse(text, "/boot/syslinux/syslinux.cfg", read)


BLS_WITH_VARIABLES = "title RHEL\nlinux /vmlinuz\ninitrd $tuned_initrd\noptions $kernelopts $x\n"


def grubenv_block(data: bytes) -> None:
    """A GRUB environment block; its variables then expand each other and a BLS entry."""
    variables = grubenv.parse_grubenv(data)
    for value in variables.values():
        grubenv.expand_report(value, variables)
    bls.parse_entry("rhel.conf", BLS_WITH_VARIABLES, variables)


def os_release(data: bytes) -> None:
    """An os-release file (a UKI's ``.osrel``), and the menu fields derived from it."""
    osrel = osrelease.parse_os_release(_text(data))
    osrelease.uki_fields(osrel, "linux+3-1.efi")


# -- images --------------------------------------------------------------------------------


def image(data: bytes) -> None:
    """Any file a boot entry names, validated as the scanner and the menu's ``i`` do."""
    validate.inspect_image(data, host_arch="x86_64")
    validate.inspect_image(data, expect="initrd", total_size=len(data) + 4096)


def pe_image(data: bytes) -> None:
    """A PE image: EFI applications, UKIs (their sections as kexec reads them), loaders."""
    image = pe.parse_pe(data)
    loaders.identify(data, image)
    for name in (".linux", ".initrd", ".cmdline", ".osrel", ".uname", ".sbat"):
        pe.section_data(data, image, name)
    parsed = uki.parse_uki(data)
    if parsed.osrel is not None:
        with _suppress():
            osrelease.parse_os_release(parsed.osrel)


def bzimage_image(data: bytes) -> None:
    """The x86 boot protocol's setup header (a bzImage kernel)."""
    bzimage.inspect_bzimage(data)


def elf_image(data: bytes) -> None:
    """An ELF file: headers, program headers, Multiboot headers inside."""
    elf.inspect_elf(data)


def multiboot_image(data: bytes) -> None:
    """Multiboot 1 and 2 headers (a kernel with neither gives None)."""
    multiboot.inspect_multiboot(data)


def initrd_image(data: bytes) -> None:
    """An initrd, whole and as the head of a longer file (what ``inspect_file`` reads)."""
    initrd.inspect_initrd(data)
    initrd.inspect_initrd(data, total_size=len(data) * 2 + 1)


def upl_payload(data: bytes) -> None:
    """A UEFI Universal Payload ELF (the initramfs' own payload; parsed before a hand-off)."""
    upl.problems(data)


_GUID_HOB_BODIES = (
    hob.ExtraData,
    hob.SerialPortInfo,
    hob.AcpiTable,
    hob.SmbiosTable,
    hob.GraphicsInfo,
    hob.BootmenuVariable,
)


def hob_list(data: bytes) -> None:
    """A HOB list (bootmenu writes them for the payload; the parsers read them back), each
    GUID HOB's data read as every GUID HOB body bootmenu knows."""
    for item in hob.parse_hob_list(data):
        bytes(item)
        if isinstance(item, hob.GuidHob):
            for body in _GUID_HOB_BODIES:
                with _suppress():
                    body.parse(item.data)


# -- EFI variables and udev ----------------------------------------------------------------

EFI_VOLUME = Volume(name="/dev/vda1", path=Path("/nonexistent/esp"), fstype="vfat")


def load_option(data: bytes) -> None:
    """A ``Boot####`` variable's data: decoded, written back (byte for byte), rendered and
    made into a menu entry as the firmware entries are."""
    option = parse_load_option(data, what="EFI variable Boot0001")
    if bytes(option) != data:
        raise BrokenPromise("parse_load_option and bytes(LoadOption) do not round-trip")
    for path in option.paths:
        str(path)
        path.file  # noqa: B018 (the property decodes File() nodes)
    classify(option.path)
    hd = option.path.hard_drive if option.path is not None else None
    volumes = [EFI_VOLUME]
    if hd is not None:
        volumes.append(
            Volume(name="/dev/vda2", path=Path("/nonexistent"), partuuid=partuuid_of(hd))
        )
    firmware_entry(FirmwareOption(1, option), volumes, host_arch="x86_64", validate=False)


# systemd-boot's variables that bootmenu reads as settings (config.parse_efi).
SYSTEMD_BOOT_VARIABLES = (
    "LoaderConfigTimeout",
    "LoaderConfigTimeoutOneShot",
    "LoaderEntryDefault",
    "LoaderEntryOneShot",
)


def efi_variable(data: bytes) -> None:
    """An efivarfs file (``Name-GUID\\0contents``): attributes, then its data read as each
    variable bootmenu uses is read (UTF-16 settings, BootOrder, BootNext)."""
    name, raw = _name_and_body(data, "LoaderEntryDefault-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
    with _suppress():
        EfiVariable.parse(name, raw)
    variable = EfiVariable.parse("BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c", raw)
    with _suppress():
        parse_u16_list(variable.data)
    with _suppress():
        parse_u16(variable.data)
    text = decode_utf16_string(variable.data, what="EFI variable LoaderEntryDefault")
    config.parse_efi(dict.fromkeys(SYSTEMD_BOOT_VARIABLES, text))


def udev_properties(data: bytes) -> None:
    """A block device's udev properties (labels and partition names come from the disk)."""
    properties: dict[str, str] = {}
    for line in _text(data).splitlines():
        key, sep, value = line.removeprefix("E: ").partition("=")
        if sep:
            properties[key] = value
    devices.classify(properties, sys_path="/devices/virtual/block/vda/vda1", size=1 << 30)


# -- bootmenu's own settings from a disk and the command line ------------------------------


def disk_config(data: bytes) -> None:
    """A disk's ``/bootmenu.toml`` (bytes, as read), merged with the other layers."""
    merged, _ = config.load(system_file=None, disk_text=data, disk_origin="/dev/vda1:/x.toml")
    config.dump(merged)


def kernel_cmdline(data: bytes) -> None:
    """A kernel command line (``/proc/cmdline``, which an unsigned UKI's ``.cmdline`` sets)."""
    text = _text(data)
    config.split_cmdline(text)
    merged, _ = config.load(system_file=None, cmdline=text)
    config.dump(merged)


# ------------------------------------------------------------------------------------------

_GRUB_TOKENS = (
    b"menuentry", b"submenu", b"if", b"then", b"elif", b"else", b"fi", b"for", b"in", b"do",
    b"done", b"while", b"until", b"function", b"source", b"configfile", b"set", b"export",
    b"linux", b"initrd", b"multiboot2", b"module2", b"chainloader", b"search", b"--set=root",
    b"--fs-uuid", b"load_env", b"save_env", b"insmod", b"blscfg", b"[", b"]", b"-s", b"-f",
    b"-z", b"-n", b"=", b"!=", b"${", b"}", b"$", b"'", b'"', b"\\", b";", b"{", b"\n",
    b"default", b"timeout", b"break", b"return", b"shift", b"$@", b"true", b"false",
)  # fmt: skip
_SYSLINUX_TOKENS = (
    b"LABEL ", b"KERNEL ", b"LINUX ", b"APPEND ", b"INITRD ", b"DEFAULT ", b"INCLUDE ",
    b"MENU INCLUDE ", b"MENU BEGIN", b"MENU END", b"MENU LABEL ", b"MENU DEFAULT", b"MENU HIDE",
    b"TIMEOUT ", b"PROMPT ", b"UI ", b"COM32 ", b"LOCALBOOT ", b"FDT ", b"FDTDIR ", b"IPAPPEND ",
    b"TEXT HELP", b"ENDTEXT", b"initrd=", b" --- ", b"mboot.c32", b"menu.c32", b"\n",
)  # fmt: skip
_BLS_TOKENS = (
    b"title ", b"version ", b"machine-id ", b"sort-key ", b"linux ", b"initrd ", b"efi ",
    b"uki ", b"options ", b"devicetree ", b"devicetree-overlay ", b"architecture ", b"$", b"${",
    b"}", b"+1-2.conf", b".conf", b"\0", b"\n", b"default ", b"timeout ", b"menu-force",
    b"console-mode ", b"editor ", b"auto-entries ", b"@saved", b"*", b"?", b"[a-z]", b"~",
    b"^",
)  # fmt: skip
_OSREL_TOKENS = (
    b"NAME=", b"ID=", b"ID_LIKE=", b"PRETTY_NAME=", b"VERSION=", b"VERSION_ID=", b"IMAGE_ID=",
    b"IMAGE_VERSION=", b"BUILD_ID=", b'"', b"'", b"\\", b"$", b"`", b"\n", b"#",
)  # fmt: skip
_CONFIG_TOKENS = (
    b"timeout", b"default", b"once", b"hide", b"password", b"theme", b"order_first",
    b"order_last", b"allow_disk_config", b"efi_handoff", b"use_efi_vars", b"bootmenu.",
    b"=", b"[", b"]", b"{", b"}", b'"', b"'", b'"""', b"true", b"false", b"1e999", b"\n",
    b"menu-force", b"-", b",",
)  # fmt: skip

# fmt: off
TARGETS: tuple[Target, ...] = (
    Target("bls", "bootmenu.formats.bls.parse_entry", bls_entry, ERRORS, _BLS_TOKENS),
    Target("loader", "bootmenu.formats.bls.parse_loader_conf", loader_conf, ERRORS, _BLS_TOKENS),
    # 4 KiB: grub.cfg runs at about a microsecond a byte (far slower instrumented); larger
    # inputs would cost the campaign most of its inputs without reaching more of the code.
    Target("grubcfg", "bootmenu.formats.grubcfg.interpret", grub_cfg, (), _GRUB_TOKENS,
           max_len=4096),
    Target("syslinux", "bootmenu.formats.syslinux.parse", syslinux_cfg, (), _SYSLINUX_TOKENS),
    Target("grubenv", "bootmenu.formats.grubenv.parse_grubenv", grubenv_block, ERRORS),
    Target("osrelease", "bootmenu.formats.osrelease.parse_os_release", os_release, ERRORS,
           _OSREL_TOKENS),
    Target("image", "bootmenu.validate.inspect_image", image, (), max_len=1 << 20),
    Target("pe", "efi.pe.parse_pe, efi.uki.parse_uki", pe_image, ERRORS, max_len=1 << 20),
    Target("bzimage", "bootmenu.formats.bzimage.inspect_bzimage", bzimage_image, ERRORS),
    Target("elf", "bootmenu.formats.elf.inspect_elf", elf_image, ERRORS),
    Target("multiboot", "bootmenu.formats.multiboot.inspect_multiboot", multiboot_image, ()),
    Target("initrd", "bootmenu.formats.initrd.inspect_initrd", initrd_image, ()),
    Target("upl", "efi.upl.problems", upl_payload, ()),
    Target("hob", "efi.hob.parse_hob_list", hob_list, ERRORS),
    Target("loadoption", "efi.loadoption.parse_load_option", load_option, ERRORS),
    Target("efivar", "efi.variables.EfiVariable.parse", efi_variable, ERRORS),
    Target("udev", "bootmenu.discover.devices.classify", udev_properties, ()),
    Target("config", "bootmenu.config.load(disk_text=…)", disk_config, (), _CONFIG_TOKENS),
    Target("cmdline", "bootmenu.config.load(cmdline=…)", kernel_cmdline, (), _CONFIG_TOKENS),
)
# fmt: on
BY_NAME: Mapping[str, Target] = {t.name: t for t in TARGETS}
