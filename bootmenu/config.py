"""bootmenu's own settings, declared once in :data:`SETTINGS`.

Everything else is derived from that table: the TOML file parser (:func:`parse_toml`), the kernel
command-line parser (:func:`parse_cmdline`, ``bootmenu.NAME=VALUE``), the systemd-boot EFI
variable mapping (:func:`parse_efi`), command-line options (:func:`parse_options`), ``--help``
text (:func:`settings_help`) and the reference part of ``docs/config.md``
(:func:`render_markdown`; regenerate with ``python -m bootmenu.config --update-docs``).

Layers, lowest precedence first (:func:`load` assembles them, :func:`merge` applies them):

1. built-in defaults
2. ``/etc/bootmenu.toml`` in the initramfs
3. ``/bootmenu.toml`` on a discovered filesystem the owner trusts (the disk bootmenu was started
   from, or one named by ``disk_config_from``), only when ``allow_disk_config`` is true; it
   may set only the settings marked ``disk`` in the table
4. systemd-boot's EFI variables (``LoaderConfigTimeout``, ``LoaderConfigTimeoutOneShot``,
   ``LoaderEntryDefault``, ``LoaderEntryOneShot``), only when ``use_efi_vars`` is true
5. ``bootmenu.*`` words on the kernel command line
6. bootmenu's command-line options

A bad file or word never stops the boot: it becomes a warning (a sentence naming where, which
setting and what is wrong) and the setting keeps its value from the layers below.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import re
import sys
import textwrap
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from bootmenu.errors import ConfigError
from bootmenu.model import Kind, Source

SYSTEM_FILE: Final = "/etc/bootmenu.toml"
DISK_FILE: Final = "/bootmenu.toml"
CMDLINE_PREFIX: Final = "bootmenu."
MAX_FILE_SIZE: Final = 1 << 20  # a settings file larger than this is not read

ORIGIN_DEFAULT: Final = "default"
ORIGIN_CMDLINE: Final = "kernel command line"
ORIGIN_CLI: Final = "command line option"

# timeout: show the menu and wait for the user, without a countdown (systemd-boot's "menu-force").
TIMEOUT_MENU_FORCE: Final = -1
_MAX_SECONDS: Final = 2**31 - 1

DOCS_BEGIN: Final = "<!-- BEGIN GENERATED SETTINGS -->"
DOCS_END: Final = "<!-- END GENERATED SETTINGS -->"


class EfiHandoff(StrEnum):
    """How an EFI application (which kexec cannot start) is handed to the firmware."""

    AUTO = "auto"
    BOOTNEXT = "bootnext"
    PAYLOAD = "payload"


class Mode(StrEnum):
    """What the initramfs's /init starts."""

    MENU = "menu"
    AUTOBOOT = "autoboot"
    SHELL = "shell"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class _Invalid(Exception):
    """A value does not fit its setting; the message completes "<origin>: <name>: …"."""


def _toml_type(value: object) -> str:
    """How TOML calls the type of a value tomllib returned, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _show(value: object) -> str:
    """A value as a person would type it in TOML, shortened, for messages."""
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- value types -------------------------------------------------------------------------------


class ValueType(ABC):
    """How one kind of setting is written in TOML and in text (kernel command line, EFI)."""

    metavar = "VALUE"
    doc = ""  # completes "Type: …" in the documentation

    @abstractmethod
    def from_toml(self, value: object) -> object:
        """Check and convert a value tomllib produced; raise _Invalid."""

    @abstractmethod
    def from_text(self, text: str | None) -> object:
        """Check and convert text; None is a bare ``bootmenu.NAME`` word without ``=``."""

    @abstractmethod
    def render(self, value: object) -> str | None:
        """A value in TOML syntax for the documentation; None means "not set"."""


def _need_text(text: str | None) -> str:
    if text is None:
        raise _Invalid("needs a value (NAME=VALUE)")
    return text


def _seconds(text: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise _Invalid(f"{_show(text)} is not {what}")
    return _in_range(int(text))


def _in_range(seconds: int) -> int:
    if seconds > _MAX_SECONDS:
        raise _Invalid(f"{seconds} seconds is too long")
    return seconds


class Seconds(ValueType):
    metavar = "SECONDS"
    doc = "integer number of seconds, 0 or more"

    def from_toml(self, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise _Invalid(f"must be 0 or more, not {value}")
            return _in_range(value)
        raise _Invalid(f"expected a number of seconds, got {_toml_type(value)} ({_show(value)})")

    def from_text(self, text: str | None) -> object:
        return _seconds(_need_text(text), "a number of seconds")

    def render(self, value: object) -> str | None:
        return str(value)


class Timeout(ValueType):
    """Seconds, or "auto" (None: the disk's boot configuration decides), or "menu-force"."""

    metavar = "SECONDS|auto|menu-force"
    doc = (
        'integer number of seconds, 0 or more; or `"auto"` (use the disk\'s boot configuration); '
        'or `"menu-force"` (show the menu with no countdown)'
    )
    _WORDS: Final = {"auto": None, "menu-force": TIMEOUT_MENU_FORCE}

    def from_toml(self, value: object) -> object:
        if isinstance(value, str):
            if value in self._WORDS:
                return self._WORDS[value]
            raise _Invalid(
                f'expected a number of seconds, "auto" or "menu-force", got {_show(value)}'
            )
        return Seconds().from_toml(value)

    def from_text(self, text: str | None) -> object:
        text = _need_text(text)
        if text in self._WORDS:
            return self._WORDS[text]
        return _seconds(text, 'a number of seconds, "auto" or "menu-force"')

    def render(self, value: object) -> str | None:
        if value is None:
            return '"auto"'
        if value == TIMEOUT_MENU_FORCE:
            return '"menu-force"'
        return str(value)


class Bool(ValueType):
    metavar = "BOOL"
    doc = (
        "boolean (on the kernel command line: 1/0, yes/no, true/false, on/off; a bare name is true)"
    )
    _TEXT: Final = {
        **dict.fromkeys(("1", "y", "yes", "true", "on"), True),
        **dict.fromkeys(("0", "n", "no", "false", "off"), False),
    }

    def from_toml(self, value: object) -> object:
        if isinstance(value, bool):
            return value
        raise _Invalid(f"expected true or false, got {_toml_type(value)} ({_show(value)})")

    def from_text(self, text: str | None) -> object:
        if text is None:
            return True
        try:
            return self._TEXT[text.lower()]
        except KeyError:
            raise _Invalid(f"{_show(text)} is not a yes/no value (1/0, yes/no, on/off)") from None

    def render(self, value: object) -> str | None:
        return "true" if value else "false"


def _check_text(text: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise _Invalid(f"{_show(text)} contains control characters")
    return text


class OptionalText(ValueType):
    """A string (a glob pattern); the empty string means "not set" (None)."""

    metavar = "GLOB"
    doc = 'string (a glob pattern: `*`, `?`, `[…]`); `""` means not set'

    def from_toml(self, value: object) -> object:
        if isinstance(value, str):
            return self.from_text(value)
        raise _Invalid(f"expected a string, got {_toml_type(value)} ({_show(value)})")

    def from_text(self, text: str | None) -> object:
        return _check_text(_need_text(text)) or None

    def render(self, value: object) -> str | None:
        return None if value is None else _toml_string(str(value))


class Choice(ValueType):
    def __init__(self, values: type[StrEnum]):
        self.values = values
        self.metavar = "|".join(values)
        self.doc = "one of " + ", ".join(f'`"{v}"`' for v in values)

    def from_toml(self, value: object) -> object:
        if isinstance(value, str):
            return self.from_text(value)
        raise _Invalid(f"expected a string, got {_toml_type(value)} ({_show(value)})")

    def from_text(self, text: str | None) -> object:
        text = _need_text(text)
        try:
            return self.values(text.lower())
        except ValueError:
            choices = ", ".join(self.values)
            raise _Invalid(f"{_show(text)} is not one of {choices}") from None

    def render(self, value: object) -> str | None:
        return _toml_string(str(value))


# sha512-crypt as crypt(3) writes it (mkpasswd -m sha-512, openssl passwd -6), and PBKDF2-SHA256
# in passlib's format ($pbkdf2-sha256$ITERATIONS$SALT$CHECKSUM, "adapted" base64).
PASSWORD_HASH: Final = re.compile(
    r"\$6\$(rounds=[0-9]{1,9}\$)?[^$:\s]{0,16}\$[./0-9A-Za-z]{86}"
    r"|\$?pbkdf2-sha256\$[0-9]{1,10}\$[./0-9A-Za-z+]*=*\$[./0-9A-Za-z+]{16,}=*"
)


class PasswordHash(ValueType):
    """A password hash (never the password itself); the empty string means no password."""

    metavar = "HASH"
    doc = (
        'a password hash: sha512-crypt (`"$6$…"`, from `mkpasswd -m sha-512` or `openssl passwd '
        '-6`) or PBKDF2-SHA256 (`"$pbkdf2-sha256$…"`, from `python -m bootmenu.password`); '
        '`""` means no password'
    )

    def from_toml(self, value: object) -> object:
        if isinstance(value, str):
            return self.from_text(value)
        raise _Invalid(f"expected a string, got {_toml_type(value)}")

    def from_text(self, text: str | None) -> object:
        text = _need_text(text).strip()
        if not text:
            return None
        if not PASSWORD_HASH.fullmatch(text):
            # Never echo the value: it may be a password typed where its hash belongs.
            raise _Invalid(
                "is not a sha512-crypt ($6$…) or $pbkdf2-sha256$… hash (a plain password is "
                "not accepted)"
            )
        return text

    def render(self, value: object) -> str | None:
        return None if value is None else _toml_string(str(value))


class AbsolutePath(ValueType):
    metavar = "PATH"
    doc = "absolute path (a string starting with `/`)"

    def from_toml(self, value: object) -> object:
        if isinstance(value, str):
            return self.from_text(value)
        raise _Invalid(f"expected a path, got {_toml_type(value)} ({_show(value)})")

    def from_text(self, text: str | None) -> object:
        text = _check_text(_need_text(text))
        if not text.startswith("/"):
            raise _Invalid(f"{_show(text)} is not an absolute path")
        return text

    def render(self, value: object) -> str | None:
        return _toml_string(str(value))


class TextList(ValueType):
    """A list of strings. TOML: an array (or a single string); text: comma-separated."""

    def __init__(self, item: Callable[[str], str], item_doc: str, metavar: str):
        self.item = item
        self.metavar = f"{metavar},…"
        self.doc = f"array of strings: {item_doc} (on the kernel command line: comma-separated)"

    def _items(self, items: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.item(_check_text(i)) for i in items)

    def from_toml(self, value: object) -> object:
        if isinstance(value, str):
            return self._items([value])
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise _Invalid(
                        f"item {i + 1} should be a string, not {_toml_type(item)} ({_show(item)})"
                    )
            return self._items(value)
        raise _Invalid(f"expected an array of strings, got {_toml_type(value)} ({_show(value)})")

    def from_text(self, text: str | None) -> object:
        return self._items(i.strip() for i in _need_text(text).split(",") if i.strip())

    def render(self, value: object) -> str | None:
        assert isinstance(value, tuple)
        return "[" + ", ".join(_toml_string(str(v)) for v in value) + "]"


def _glob(item: str) -> str:
    if not item:
        raise _Invalid("an empty pattern matches nothing")
    return item


def _glob_over(values: Iterable[str], noun: str) -> Callable[[str], str]:
    known = tuple(values)

    def check(item: str) -> str:
        if not any(fnmatch.fnmatchcase(v, _glob(item)) for v in known):
            raise _Invalid(f"{_show(item)} matches no {noun} (known: {', '.join(known)})")
        return item

    return check


_DEVICE_SPEC: Final = re.compile(r"(UUID|PARTUUID|LABEL|PARTLABEL)=.+|/dev/.+")


def _device_spec(item: str) -> str:
    if not _DEVICE_SPEC.fullmatch(item):
        raise _Invalid(
            f"{_show(item)} is not a device (UUID=…, PARTUUID=…, LABEL=…, PARTLABEL=… or /dev/…)"
        )
    return item


_FSTYPE: Final = re.compile(r"[a-z0-9_]+")


def _fstype(item: str) -> str:
    if not _FSTYPE.fullmatch(item):
        raise _Invalid(f"{_show(item)} is not a filesystem type (like vfat or ext4)")
    return item


_CONSOLE: Final = re.compile(r"(/dev/)?[A-Za-z][A-Za-z0-9_.-]*")


def _console(item: str) -> str:
    if not _CONSOLE.fullmatch(item):
        raise _Invalid(f"{_show(item)} is not a console device name (like ttyS0 or tty0)")
    return item.removeprefix("/dev/")


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting: its name (TOML key; ``bootmenu.NAME`` on the kernel command line), how its
    values are written, its default and the help shown to users."""

    name: str
    type: ValueType
    default: object
    help: str
    # Whether /bootmenu.toml on a disk may set it (not for what is needed before disks are read,
    # nor for what decides what code runs).
    disk: bool = True
    # systemd-boot EFI variables that set it, lowest precedence first.
    efi: tuple[str, ...] = ()

    @property
    def cmdline(self) -> str:
        """The kernel command-line parameter (``-`` may be written for ``_``)."""
        return CMDLINE_PREFIX + self.name


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "timeout",
        Timeout(),
        None,
        "Seconds to show the menu before the default entry is booted. 0 boots at once without "
        'showing the menu; "menu-force" shows the menu until a key is pressed; "auto" (not set) '
        "uses the timeout of the boot configuration found on disk (loader.conf, grub.cfg, "
        "syslinux.cfg).",
        efi=("LoaderConfigTimeout", "LoaderConfigTimeoutOneShot"),
    ),
    Setting(
        "default",
        OptionalText(),
        None,
        "The entry to boot when the timeout runs out: a glob pattern matched against each "
        'entry\'s id, title and version, e.g. "fedora-*" or "Windows*". Not set: the default '
        "of the boot configuration found on disk.",
        efi=("LoaderEntryDefault",),
    ),
    Setting(
        "once",
        OptionalText(),
        None,
        "Like default, for this boot only, and taking precedence over it. systemd sets it with "
        "`systemctl reboot --boot-loader-entry=ID` (EFI variable LoaderEntryOneShot, which "
        "bootmenu deletes once read).",
        efi=("LoaderEntryOneShot",),
        disk=False,
    ),
    Setting(
        "order_devices",
        TextList(_glob, "glob patterns", "GLOB"),
        (),
        "Preferred devices, first first: glob patterns matched against the device node "
        "(/dev/nvme0n1p2) and against UUID=…, LABEL=…, PARTUUID=… and PARTLABEL=… of the "
        "filesystem an entry was found on (write LABEL=data, not data). Entries on devices no "
        "pattern matches come last.",
    ),
    Setting(
        "order_sources",
        TextList(_glob_over(Source, "entry source"), "glob patterns", "GLOB"),
        (),
        "Preferred kinds of boot configuration, first first: glob patterns over "
        + ", ".join(Source)
        + ".",
    ),
    Setting(
        "order_kinds",
        TextList(_glob_over(Kind, "entry kind"), "glob patterns", "GLOB"),
        (),
        "Preferred ways of booting, first first: glob patterns over " + ", ".join(Kind) + ".",
    ),
    Setting(
        "fallback",
        Bool(),
        True,
        "When the chosen entry cannot be started, try the next one in order instead of "
        "returning to the menu.",
        disk=False,
    ),
    Setting(
        "wait_for",
        TextList(_device_spec, "UUID=…, PARTUUID=…, LABEL=…, PARTLABEL=… or /dev/…", "DEVICE"),
        (),
        "Devices to wait for before entries are looked for (slow USB or NVMe, RAID members). "
        "The search starts when all have appeared or wait_timeout has passed.",
        disk=False,
    ),
    Setting(
        "wait_timeout",
        Seconds(),
        10,
        "How long to wait for the devices in wait_for, in seconds.",
        disk=False,
    ),
    Setting(
        "settle_timeout",
        Seconds(),
        30,
        "The longest an automatic boot (the menu's countdown, timeout 0, headless autoboot, "
        "list and boot ID) waits for the machine to settle, in seconds from the start: every "
        "block device processed by udev, every scan done, udev's queue empty and no device "
        "event for a moment. It normally settles in well under a second; when this runs out, "
        "the decision is taken with what was found and says so.",
        disk=False,
    ),
    Setting(
        "hide",
        TextList(_glob, "glob patterns", "GLOB"),
        (),
        "Entries to leave out of the menu: glob patterns matched against each entry's id and "
        'title, e.g. "*rescue*".',
        disk=False,
    ),
    Setting(
        "console",
        TextList(_console, 'console device names such as "ttyS0" or "tty0"', "TTY"),
        (),
        "Consoles to show the menu on besides /dev/console (the last console= on the kernel "
        "command line), in the initramfs. Empty: every console the kernel writes to "
        "(/sys/class/tty/console/active); tty0 means the first virtual terminal, tty1. Each shows "
        "the same menu and countdown; a key on any of them stops the countdown on all.",
        disk=False,
    ),
    Setting(
        "hooks_dir",
        AbsolutePath(),
        "/etc/bootmenu/hooks.d",
        "Directory, in the initramfs, of executable hooks run before an entry is started.",
        disk=False,
    ),
    Setting(
        "efi_handoff",
        Choice(EfiHandoff),
        EfiHandoff.AUTO,
        "How to start an EFI application (Windows Boot Manager, Haiku's loader, shim, another "
        'boot loader), which Linux cannot run itself: "payload" kexecs into edk2\'s UEFI '
        'Universal Payload, which starts it with no firmware reset; "bootnext" sets the '
        "firmware's BootNext variable and reboots (the firmware checks Secure Boot signatures); "
        '"auto" takes the payload when it can work (no lockdown, Secure Boot off, the payload '
        "has a driver for the application's disk controller) and BootNext otherwise. Where the "
        "payload cannot be used, BootNext is used, and the menu says why.",
        disk=False,
    ),
    Setting(
        "mode",
        Choice(Mode),
        Mode.MENU,
        'What the initramfs starts: "menu" (the boot menu with its countdown), "autoboot" '
        '(decide and boot with no menu) or "shell" (a rescue shell). Read by /init from the '
        "kernel command line (bootmenu.mode=); bootmenu itself only records it.",
        disk=False,
    ),
    Setting(
        "allow_disk_config",
        Bool(),
        True,
        f"Whether {DISK_FILE} is read at all, from the filesystems disk_config_from allows. "
        "It may set only the menu's presentation (order_*, log_level) and the default and "
        "timeout among its own disk's entries; its settings leave with the disk. Only the "
        "initramfs file, the kernel command line and command-line options can change this.",
        disk=False,
    ),
    Setting(
        "disk_config_from",
        TextList(_device_spec, "UUID=…, PARTUUID=…, LABEL=…, PARTLABEL=… or /dev/…", "DEVICE"),
        (),
        f"Filesystems whose {DISK_FILE} is read, besides those on the disk bootmenu was "
        "started from (the partition systemd-stub names in the EFI variable "
        "LoaderDevicePartUUID, and the other partitions of its disk). No other disk may supply "
        "settings. A name that more than one device answers to (two disks labelled alike) "
        "trusts none of them.",
        disk=False,
    ),
    Setting(
        "autoboot_removable",
        Bool(),
        False,
        "Whether automatic boot (the countdown, timeout 0, headless autoboot, fallback) may "
        "choose an entry on removable media (USB, SD cards, CDs and DVDs). They are always "
        "listed and a person can boot them.",
        disk=False,
    ),
    Setting(
        "removable_filesystems",
        TextList(_fstype, "filesystem types", "TYPE"),
        ("vfat", "iso9660", "udf", "ext4", "exfat", "squashfs"),
        "Filesystem types mounted from removable media (USB, SD cards, CDs): a stick's "
        "filesystem is untrusted input to a kernel driver, so only these are mounted (read-only "
        "as everything). Filesystems of other types on removable media are listed as not "
        "mounted.",
        disk=False,
    ),
    Setting(
        "log_level",
        Choice(LogLevel),
        LogLevel.INFO,
        "How much bootmenu logs.",
    ),
    Setting(
        "use_efi_vars",
        Bool(),
        True,
        "Honour systemd-boot's EFI variables LoaderConfigTimeout, LoaderConfigTimeoutOneShot, "
        "LoaderEntryDefault and LoaderEntryOneShot, as set by `bootctl set-default`, "
        "`bootctl set-oneshot`, `bootctl set-timeout` and `systemctl reboot "
        "--boot-loader-entry=`.",
        disk=False,
    ),
    Setting(
        "password",
        PasswordHash(),
        None,
        "A password the menu asks for before editing a command line (e), adding a custom entry "
        "(n), starting the rescue shell (x, and /init's shell) or leaving the menu; booting the "
        "listed entries needs none. A hash, never the password: see docs/menu.md for how to make "
        "one. Not set: no password. Built into the initramfs (/etc/bootmenu.toml) it cannot be "
        "changed from the kernel command line; set only with `bootmenu.password=`, anyone who can "
        "edit the kernel command line can change it (see docs/security.md).",
        disk=False,
    ),
)

BY_NAME: Final[Mapping[str, Setting]] = MappingProxyType({s.name: s for s in SETTINGS})


@dataclass(frozen=True)
class Config:
    """The settings in effect; see :data:`SETTINGS` for what each means.

    ``sources`` tells, for every setting, where its value came from: ``"default"``, a file
    (``"/etc/bootmenu.toml"``, ``"PARTUUID=…:/bootmenu.toml"``), ``"EFI variable
    LoaderEntryOneShot"``, ``"kernel command line"`` or ``"command line option"``.
    ``timeout``, ``default`` and ``once`` are None when nothing set them (or ``timeout`` was set
    to "auto"): the boot configuration on disk then decides.
    """

    timeout: int | None
    default: str | None
    once: str | None
    order_devices: tuple[str, ...]
    order_sources: tuple[str, ...]
    order_kinds: tuple[str, ...]
    fallback: bool
    wait_for: tuple[str, ...]
    wait_timeout: int
    settle_timeout: int
    hide: tuple[str, ...]
    console: tuple[str, ...]
    hooks_dir: str
    efi_handoff: EfiHandoff
    mode: Mode
    allow_disk_config: bool
    disk_config_from: tuple[str, ...]
    autoboot_removable: bool
    removable_filesystems: tuple[str, ...]
    log_level: LogLevel
    use_efi_vars: bool
    password: str | None
    sources: Mapping[str, str] = field(compare=False)

    def is_set(self, name: str) -> bool:
        """Whether some layer set ``name`` (as opposed to its built-in default)."""
        return self.sources[name] != ORIGIN_DEFAULT


def _check_table() -> None:
    """The Config dataclass and the table must name the same settings, in the same order."""
    declared = tuple(f.name for f in fields(Config) if f.name != "sources")
    if declared != tuple(BY_NAME):
        raise AssertionError(f"Config fields {declared} differ from SETTINGS {tuple(BY_NAME)}")


_check_table()


@dataclass(frozen=True)
class Layer:
    """Values from one place, already checked; ``origin`` names the place for users."""

    origin: str
    values: Mapping[str, object]


# --- parsers -----------------------------------------------------------------------------------


def _unknown(origin: str, key: str, spelled: str) -> str:
    close = difflib.get_close_matches(key.replace("-", "_").lower(), BY_NAME, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{origin}: unknown setting {spelled!r} ignored{hint}"


def parse_toml(text: str, origin: str, *, on_disk: bool = False) -> tuple[Layer, tuple[str, ...]]:
    """Parse a settings file; ``origin`` names it in messages and in ``Config.sources``.

    Unknown keys and values of the wrong type become warnings and are ignored; ``on_disk``
    (the file comes from a discovered filesystem) also ignores settings a disk may not change.
    Raises ConfigError when the text is not TOML at all.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{origin}: not valid TOML: {e}") from None
    except (ValueError, RecursionError) as e:  # huge integers, absurdly nested arrays
        raise ConfigError(f"{origin}: not valid TOML: {e}") from None
    values: dict[str, object] = {}
    warnings: list[str] = []
    for key, raw in data.items():
        setting = BY_NAME.get(key)
        if setting is None:
            warnings.append(_unknown(origin, key, key))
        elif on_disk and not setting.disk:
            warnings.append(f"{origin}: {key} cannot be set in a file on disk; ignored")
        else:
            try:
                values[key] = setting.type.from_toml(raw)
            except _Invalid as e:
                warnings.append(f"{origin}: {key}: {e}; ignored")
    return Layer(origin, MappingProxyType(values)), tuple(warnings)


_SPACE: Final = " \t\n\v\f\r"


def split_cmdline(cmdline: str) -> tuple[tuple[str, str | None], ...]:
    """Split a kernel command line into (parameter, value) pairs the way the kernel does.

    Follows ``next_arg()`` in ``kernel/params.c``: words are separated by spaces outside double
    quotes; a quote at the start of a word or of its value, and the matching one at its end, are
    removed (``bootmenu.default="Arch Linux"`` gives ``Arch Linux``); quotes elsewhere stay.
    The value is None for a word without ``=``.
    """
    words: list[tuple[str, str | None]] = []
    i, n = 0, len(cmdline)
    while True:
        while i < n and cmdline[i] in _SPACE:
            i += 1
        if i >= n:
            break
        quoted = cmdline[i] == '"'
        if quoted:
            i += 1
        start, equals, in_quote = i, -1, quoted
        while i < n and (in_quote or cmdline[i] not in _SPACE):
            if equals < 0 and cmdline[i] == "=":
                equals = i
            if cmdline[i] == '"':
                in_quote = not in_quote
            i += 1
        word = cmdline[start:i]
        closing = word.endswith('"')
        if equals < 0:
            param, value = (word[:-1] if quoted and closing else word), None
        else:
            param, value = cmdline[start:equals], cmdline[equals + 1 : i]
            if value.startswith('"'):
                value = value[1:]
                if closing and value.endswith('"'):
                    value = value[:-1]
            elif quoted and closing:
                value = value[:-1]
        if param:
            words.append((param, value))
    return tuple(words)


def parse_cmdline(cmdline: str) -> tuple[Layer, tuple[str, ...]]:
    """The ``bootmenu.NAME=VALUE`` words of a kernel command line (``/proc/cmdline``).

    Other words are ignored, including ``--`` (words after it, which the kernel gives to init,
    count too: bootmenu is init). When a setting appears twice, the last word wins.
    """
    values: dict[str, object] = {}
    warnings: list[str] = []
    for param, value in split_cmdline(cmdline):
        if not param.startswith(CMDLINE_PREFIX):
            continue
        name = param.removeprefix(CMDLINE_PREFIX).replace("-", "_")
        setting = BY_NAME.get(name)
        if setting is None:
            warnings.append(_unknown(ORIGIN_CMDLINE, name, param))
            continue
        try:
            values[name] = setting.type.from_text(value)
        except _Invalid as e:
            warnings.append(f"{ORIGIN_CMDLINE}: {param}: {e}; ignored")
    return Layer(ORIGIN_CMDLINE, MappingProxyType(values)), tuple(warnings)


def _efi_timeout(variable: str, text: str) -> int:
    """Boot Loader Interface timeouts: seconds or menu-force/menu-hidden/menu-disabled; in
    LoaderConfigTimeoutOneShot, 0 means no countdown (``systemctl reboot --boot-loader-menu=0``)."""
    if text == "menu-force" or (variable.endswith("OneShot") and text == "0"):
        return TIMEOUT_MENU_FORCE
    if text in ("menu-hidden", "menu-disabled"):
        return 0
    return _seconds(text, "a number of seconds, menu-force, menu-hidden or menu-disabled")


def parse_efi(variables: Mapping[str, str]) -> tuple[tuple[Layer, ...], tuple[str, ...]]:
    """Layers from systemd-boot's variables, as ``bootmenu.system.efivars.systemd_boot_settings()``
    returns them (name → decoded string); one layer per variable, so that ``Config.sources``
    names it. Other names are ignored."""
    layers: list[Layer] = []
    warnings: list[str] = []
    for setting in SETTINGS:
        for variable in setting.efi:
            if variable not in variables:
                continue
            origin = f"EFI variable {variable}"
            text = variables[variable]
            try:
                value: object = (
                    _efi_timeout(variable, text)
                    if isinstance(setting.type, Timeout)
                    else setting.type.from_text(text)
                )
            except _Invalid as e:
                warnings.append(f"{origin}: {e}; ignored")
                continue
            if value is not None:
                layers.append(Layer(origin, MappingProxyType({setting.name: value})))
    return tuple(layers), tuple(warnings)


def parse_options(values: Mapping[str, object], origin: str = ORIGIN_CLI) -> Layer:
    """Settings given as program options (e.g. by argparse); None values are "not given".

    A value may be text (parsed as on the kernel command line) or already typed (checked as in
    TOML). Raises ConfigError for an unknown setting or a bad value: the user typed it just now.
    """
    checked: dict[str, object] = {}
    for name, value in values.items():
        if value is None:
            continue
        setting = BY_NAME.get(name)
        if setting is None:
            raise ConfigError(_unknown(origin, name, name).removesuffix(" ignored"))
        try:
            if isinstance(value, str):
                checked[name] = setting.type.from_text(value)
            else:
                checked[name] = setting.type.from_toml(value)
        except _Invalid as e:
            raise ConfigError(f"{origin}: {name}: {e}") from None
    return Layer(origin, MappingProxyType(checked))


def parse_assignment(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` as given to an option like ``--set``; raises ConfigError."""
    name, equals, value = text.partition("=")
    name = name.strip().replace("-", "_")
    setting = BY_NAME.get(name)
    if setting is None:
        raise ConfigError(_unknown(ORIGIN_CLI, name, name).removesuffix(" ignored"))
    try:
        return name, setting.type.from_text(value if equals else None)
    except _Invalid as e:
        raise ConfigError(f"{ORIGIN_CLI}: {name}: {e}") from None


def merge(layers: Sequence[Layer]) -> Config:
    """Apply ``layers`` over the defaults, later layers winning; records each value's origin."""
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources = dict.fromkeys(values, ORIGIN_DEFAULT)
    for layer in layers:
        for name, value in layer.values.items():
            if name in values:
                values[name] = value
                sources[name] = layer.origin
    return Config(**values, sources=MappingProxyType(sources))


def defaults() -> Config:
    """The built-in defaults."""
    return merge(())


def disk_origin(device: str, path: str = DISK_FILE) -> str:
    """How a file on a discovered filesystem is named in messages: ``PARTUUID=…:/bootmenu.toml``."""
    return f"{device}:{path}"


def _file_layer(
    text: str | bytes, origin: str, warnings: list[str], *, on_disk: bool
) -> Layer | None:
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_SIZE:
            warnings.append(f"{origin}: larger than {MAX_FILE_SIZE} bytes; ignored")
            return None
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            warnings.append(f"{origin}: not UTF-8 text (byte {e.start}); ignored")
            return None
    try:
        layer, found = parse_toml(text, origin, on_disk=on_disk)
    except ConfigError as e:
        warnings.append(f"{e}; file ignored")
        return None
    warnings.extend(found)
    return layer


def _read(path: str, warnings: list[str]) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        warnings.append(f"{path}: cannot be read ({e.strerror}); ignored")
        return None


def load(
    *,
    system_file: str | None = SYSTEM_FILE,
    system_text: str | bytes | None = None,
    disk_text: str | bytes | None = None,
    disk_origin: str = DISK_FILE,
    cmdline: str = "",
    efi: Mapping[str, str] | None = None,
    cli: Mapping[str, object] | None = None,
) -> tuple[Config, tuple[str, ...]]:
    """The settings in effect, and warnings about everything that was ignored.

    ``system_text`` is the initramfs file's contents (named ``system_file`` in messages); when it
    is None, ``system_file`` is read if it exists (None: no file). ``disk_text`` is a
    ``/bootmenu.toml`` read from a discovered filesystem, named ``disk_origin`` (see
    :func:`disk_origin`); it is skipped, with a warning, when ``allow_disk_config`` is false
    after the other layers. ``cmdline`` is ``/proc/cmdline``; ``efi`` is
    ``bootmenu.system.efivars.systemd_boot_settings()``, used when ``use_efi_vars`` is true; ``cli``
    are program options (see :func:`parse_options`).

    Call it once before disks are scanned (to learn ``wait_for``, ``console``…), and again with
    ``disk_text`` once a disk file has been found.

    Bad files and kernel command-line words only produce warnings; a bad ``cli`` value raises
    ConfigError (a usage error).
    """
    warnings: list[str] = []
    options = parse_options(cli or {})
    system_origin = system_file or SYSTEM_FILE
    if system_text is None and system_file is not None:
        system_text = _read(system_file, warnings)
    system = (
        _file_layer(system_text, system_origin, warnings, on_disk=False)
        if system_text is not None
        else None
    )
    kernel, found = parse_cmdline(cmdline)
    warnings.extend(found)
    if system is not None and system.values.get("password") and "password" in kernel.values:
        # The owner built a password into the initramfs: whoever can edit the kernel command
        # line (a firmware boot entry, an unsigned UKI's .cmdline) must not replace it.
        kernel = Layer(
            kernel.origin,
            MappingProxyType({k: v for k, v in kernel.values.items() if k != "password"}),
        )
        warnings.append(
            f"{ORIGIN_CMDLINE}: bootmenu.password= ignored: the initramfs has a password built "
            f"in ({system_origin}), which the kernel command line cannot change"
        )
    layers = [system] if system else []
    if disk_text is not None:
        early = merge([*layers, kernel, options])
        if early.allow_disk_config:
            disk = _file_layer(disk_text, disk_origin, warnings, on_disk=True)
            layers.extend([disk] if disk else [])
        else:
            source = early.sources["allow_disk_config"]
            warnings.append(f"{disk_origin}: not read (allow_disk_config is false in {source})")
    if efi and merge([*layers, kernel, options]).use_efi_vars:
        efi_layers, found = parse_efi(efi)
        layers.extend(efi_layers)
        warnings.extend(found)
    return merge([*layers, kernel, options]), tuple(warnings)


# --- helpers for the code that applies settings ------------------------------------------------


def first_match(patterns: Sequence[str], candidates: Iterable[str | None]) -> int | None:
    """The index of the first pattern that matches any candidate (case-sensitive globs, as
    systemd-boot's ``default``), or None. Sort key for the ``order_*`` settings; a non-None
    result means "matches" for ``hide``, ``default`` and ``once``."""
    names = [c for c in candidates if c]
    for i, pattern in enumerate(patterns):
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return i
    return None


def dump(config: Config) -> str:
    """The settings in effect as TOML, each with a comment saying where it came from."""
    lines = []
    for s in SETTINGS:
        value = getattr(config, s.name)
        rendered = s.type.render(value)
        source = config.sources[s.name]
        if rendered is None:
            lines.append(f"# {s.name} is not set ({source})")
        else:
            lines.append(f"{s.name} = {rendered}  # {source}")
    return "\n".join(lines) + "\n"


# --- documentation -----------------------------------------------------------------------------


def _default_text(setting: Setting) -> str:
    rendered = setting.type.render(setting.default)
    return "not set" if rendered is None else rendered


def _default_markdown(setting: Setting) -> str:
    rendered = setting.type.render(setting.default)
    return "not set" if rendered is None else f"`{rendered}`"


def settings_help(width: int = 79) -> str:
    """Every setting with its syntax, default and help, for ``--help``."""
    out = [
        f"settings (in {SYSTEM_FILE} as NAME = VALUE,\n"
        f"on the kernel command line as {CMDLINE_PREFIX}NAME=VALUE; see docs/config.md):"
    ]
    for s in SETTINGS:
        out.append(f"  {s.name}={s.type.metavar}  (default: {_default_text(s)})")
        out.extend(textwrap.wrap(s.help, width, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(out)


def add_help_epilog(parser: argparse.ArgumentParser) -> None:
    """Append :func:`settings_help` to ``parser``'s help, keeping its line breaks."""
    parser.epilog = (parser.epilog + "\n\n" if parser.epilog else "") + settings_help()
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


def render_markdown() -> str:
    """The settings reference of ``docs/config.md`` (between the generated-section markers)."""
    out = [
        "<!-- Generated from SETTINGS in bootmenu/config.py by"
        " `python -m bootmenu.config --update-docs`; do not edit by hand. -->",
        "",
        "| Setting | Default | Kernel command line | In the disk file |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = _default_markdown(s)
        disk = "yes" if s.disk else "no"
        out.append(f"| [`{s.name}`](#{s.name}) | {default} | `{s.cmdline}=` | {disk} |")
    for s in SETTINGS:
        default = _default_markdown(s)
        out += ["", f"### `{s.name}`", "", s.help, ""]
        out.append(f"- Type: {s.type.doc}")
        out.append(f"- Default: {default}")
        out.append(f"- Kernel command line: `{s.cmdline}={s.type.metavar}`")
        if s.efi:
            out.append("- Set by EFI variables: " + ", ".join(f"`{v}`" for v in s.efi))
        if not s.disk:
            out.append(f"- Not read from `{DISK_FILE}` on a disk.")
    return "\n".join(out) + "\n"


def update_markdown(document: str) -> str:
    """``document`` with the text between the generated-section markers replaced."""
    begin, end = document.find(DOCS_BEGIN), document.find(DOCS_END)
    if begin < 0 or end < begin:
        raise ConfigError(f"the document has no {DOCS_BEGIN} … {DOCS_END} section")
    head = document[: begin + len(DOCS_BEGIN)]
    return f"{head}\n{render_markdown()}{document[end:]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bootmenu.config", description="bootmenu settings tools"
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print the settings reference")
    group.add_argument(
        "--update-docs",
        metavar="FILE",
        nargs="?",
        const="docs/config.md",
        help="rewrite the generated section of FILE (default: docs/config.md)",
    )
    group.add_argument(
        "--check", metavar="FILE", help="check a settings file; exit 1 if anything is ignored"
    )
    add_help_epilog(parser)
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(render_markdown())
        return 0
    if args.update_docs:
        path = Path(args.update_docs)
        try:
            path.write_text(update_markdown(path.read_text()))
        except (OSError, ConfigError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 1
        return 0
    if not Path(args.check).is_file():
        print(f"{args.check}: no such file", file=sys.stderr)
        return 1
    config, warnings = load(system_file=args.check)
    for warning in warnings:
        print(warning, file=sys.stderr)
    sys.stdout.write(dump(config))
    return 1 if warnings else 0


if __name__ == "__main__":
    sys.exit(main())
