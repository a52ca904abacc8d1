"""Boot Loader Specification type #1 entries, ``loader.conf``, boot counting and menu order.

References: the UAPI Boot Loader Specification and Version Format Specification
(https://uapi-group.org/specifications/), and what systemd-boot does with them
(``src/boot/boot.c``: ``boot_entry_add_type1``, ``boot_entry_parse_tries``,
``boot_entry_compare``, ``config_defaults_load_from_file``; ``strverscmp_improved`` and
``efi_fnmatch``).  Where systemd-boot and the text of the specification differ, this module
follows systemd-boot, because that is what users see on their machines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from bootmenu import arch
from bootmenu.errors import FormatError
from bootmenu.formats.grubenv import expand, expand_report

T = TypeVar("T")

# Suffixes of the two entry types; boot counting works the same way for both.
TYPE1_SUFFIX = ".conf"
TYPE2_SUFFIX = ".efi"

# systemd-boot keeps the counters in an int (tries_left > INT_MAX is not a counter).
INT_MAX = 2**31 - 1
# loader.conf "timeout" is a 32-bit value in systemd-boot (TIMEOUT_TYPE_MAX = UINT32_MAX).
TIMEOUT_TYPE_MAX = 2**32 - 1

# Keys whose values name files or are a command line: these are the ones GRUB's blscfg puts
# into the generated menu entry script, so only these see $variable expansion.
_EXPANDED_KEYS = frozenset(
    {"linux", "initrd", "efi", "uki", "options", "devicetree", "devicetree-overlay"}
)

# The EFI architecture names systemd-boot compares the "architecture" key against.
_UEFI_ARCH_NAMES = frozenset(
    {"ia32", "x64", "ia64", "arm", "aa64", "riscv32", "riscv64", "loongarch32", "loongarch64"}
)


# --------------------------------------------------------------------------------------------
# Boot counting


def parse_counting(filename: str) -> tuple[str, int | None, int | None]:
    """Split the boot-counting suffix off an entry file name.

    ``"foo+3-1.conf"`` gives ``("foo.conf", 3, 1)``; ``"foo+3.conf"`` gives
    ``("foo.conf", 3, 0)`` (a missing "tries done" counter is zero); a name without a valid
    counter right before its ``.conf``/``.efi`` suffix comes back unchanged with
    ``(None, None)``.  Like systemd-boot the last ``+`` is used, each counter must be decimal
    digits no larger than INT_MAX, and the suffix is matched case-insensitively but written
    lower-case in the result.
    """
    lowered = filename.lower()
    if lowered.endswith(TYPE1_SUFFIX):
        suffix = TYPE1_SUFFIX
    elif lowered.endswith(TYPE2_SUFFIX):
        suffix = TYPE2_SUFFIX
    else:
        return filename, None, None
    plus = filename.rfind("+")
    if plus < 0:
        return filename, None, None
    rest = filename[plus + 1 :]
    left_digits = _leading_digits(rest)
    if not left_digits:
        return filename, None, None
    rest = rest[len(left_digits) :]
    done_digits = "0"
    if rest.startswith("-"):
        done_digits = _leading_digits(rest[1:])
        if not done_digits:
            return filename, None, None
        rest = rest[1 + len(done_digits) :]
    if rest.lower() != suffix:
        return filename, None, None  # counter in the middle of the name
    tries_left, tries_done = int(left_digits), int(done_digits)
    if tries_left > INT_MAX or tries_done > INT_MAX:
        return filename, None, None
    return filename[:plus] + suffix, tries_left, tries_done


def _leading_digits(text: str) -> str:
    n = 0
    while n < len(text) and "0" <= text[n] <= "9":
        n += 1
    return text[:n]


def entry_id(filename: str) -> str:
    """The id systemd-boot gives an entry file: counter removed, lower-cased.

    systemd-boot lower-cases ids (ESP file systems are case-insensitive) and lower-cases the
    ``default`` pattern and the ``LoaderEntry*`` variables the same way before comparing.
    """
    return parse_counting(filename)[0].lower()


# --------------------------------------------------------------------------------------------
# Lines


def _key_value_lines(text: str, separators: str) -> Iterable[tuple[int, str, str]]:
    """(line number, key, value) as systemd-boot's ``line_get_key_value`` splits them.

    Lines end at LF or CR; leading and trailing blanks are removed; ``#`` starts a comment
    line; the key ends at the first separator and the value starts after the run of
    separators; a line without a value is ignored; a value that both starts and ends with the
    same quote character (``"`` or ``'``) loses those two quotes.
    """
    number = 0
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        number += 1
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            continue
        cut = 0
        while cut < len(line) and line[cut] not in separators:
            cut += 1
        if cut == len(line):
            continue
        key = line[:cut]
        start = cut
        while start < len(line) and line[start] in separators:
            start += 1
        value = line[start:]
        if value and value[0] in "\"'" and line[-1] == value[0]:
            value = value[1:-1] if len(value) >= 2 else ""
        yield number, key, value


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise FormatError(f"{what}: contains NUL bytes, this is not a text file", what=what)


# --------------------------------------------------------------------------------------------
# Type #1 entries


@dataclass(frozen=True)
class BlsEntry:
    """One ``/loader/entries/*.conf`` file.

    ``id`` is the file name with the boot counter removed and lower-cased, keeping ``.conf``,
    exactly as systemd-boot names the entry (and as it matches ``default`` patterns and the
    ``LoaderEntryDefault`` variable).  ``filename`` is the name as given.

    ``architecture`` is the Linux machine name of the ``architecture`` key (``x64`` →
    ``x86_64``), None when absent or unknown; ``architecture_raw`` is the value as written.
    Whether it matches this machine is for the caller to decide.

    ``problems`` are reasons the entry cannot be booted as written; ``notes`` are things worth
    knowing that do not stop it from booting (a key systemd-boot would treat differently, say).
    ``other`` keeps the keys this module does not interpret (``grub_users``, ``grub_arg``,
    ``grub_class``, ``id``…) with their values, in file order.
    """

    id: str
    filename: str
    title: str | None = None
    version: str | None = None
    machine_id: str | None = None
    sort_key: str | None = None
    linux: str | None = None
    initrd: tuple[str, ...] = ()
    options: str = ""
    devicetree: str | None = None
    devicetree_overlay: tuple[str, ...] = ()
    architecture: str | None = None
    architecture_raw: str | None = None
    efi: str | None = None
    uki: str | None = None
    tries_left: int | None = None
    tries_done: int | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    other: tuple[tuple[str, str], ...] = ()

    @property
    def sort_fields(self) -> SortFields:
        """The fields :func:`sort_entries` orders by."""
        return SortFields(
            id=self.id,
            sort_key=self.sort_key,
            machine_id=self.machine_id,
            version=self.version,
            tries_left=self.tries_left,
            tries_done=self.tries_done,
        )


def parse_entry(filename: str, text: str, variables: Mapping[str, str] | None = None) -> BlsEntry:
    """Parse the text of a type #1 entry file named ``filename`` (a base name).

    Keys are separated from values by spaces or tabs.  ``title``, ``version``, ``machine-id``,
    ``sort-key``, ``linux``, ``efi``, ``uki``, ``devicetree`` and ``architecture`` may appear
    once (a later line wins, as in systemd-boot); every ``initrd`` line adds initrds in order,
    every ``options`` line adds to the command line (joined with one space), every
    ``devicetree-overlay`` line adds its space-separated overlays.

    ``variables`` switches on GRUB-style expansion, for entries that GRUB's blscfg reads:
    ``$name``/``${name}`` in ``linux``, ``initrd``, ``efi``, ``options`` and the device tree keys
    are replaced from it (pass the parsed ``grubenv``).  An ``initrd`` line is then split at
    blanks, so ``$tuned_initrd`` may give several initrds or none.  A name missing from
    ``variables`` expands to nothing, as in GRUB (with a note).  With ``variables=None``
    (systemd-boot) nothing is expanded.

    Raises :class:`FormatError` only for text that is not text (NUL bytes); everything else
    that is wrong is reported in ``problems``.
    """
    _check_text(text, filename)
    base, tries_left, tries_done = parse_counting(filename)
    problems: list[str] = []
    notes: list[str] = []
    other: list[tuple[str, str]] = []
    single: dict[str, str] = {}
    initrd: list[str] = []
    options: list[str] = []
    overlays: list[str] = []
    loader_keys: list[str] = []
    unknown_vars: list[tuple[str, str]] = []

    def expanded(key: str, value: str) -> str:
        if variables is None or key not in _EXPANDED_KEYS:
            return value
        result, unknown = expand_report(value, variables)
        for name in unknown:
            if (key, name) not in unknown_vars:
                unknown_vars.append((key, name))
        if unknown:  # GRUB expands a variable that is not set to nothing
            result = expand(value, {**variables, **dict.fromkeys(unknown, "")})
        return result

    for _number, key, raw_value in _key_value_lines(text, " \t"):
        value = expanded(key, raw_value)
        if key in ("linux", "efi", "uki"):
            if key not in loader_keys:
                loader_keys.append(key)
            single[key] = value
        elif key in ("title", "version", "machine-id", "sort-key", "devicetree", "architecture"):
            single[key] = value
        elif key == "initrd":
            if variables is None:
                initrd.append(value)
            else:
                initrd.extend(value.split())
        elif key == "options":
            value = value.strip(" \t")  # an expansion may have left blanks at either end
            if value:
                options.append(value)
        elif key == "devicetree-overlay":
            overlays.extend(value.split())
        else:
            other.append((key, raw_value))

    for key, name in unknown_vars:
        notes.append(
            f"'{key}' refers to ${name}, which is not set in the GRUB environment; it expands "
            f"to nothing, as in GRUB"
        )

    if not loader_keys:
        problems.append("the entry has neither a 'linux' nor an 'efi' line, so nothing to boot")
    elif len(loader_keys) > 1:
        listed = " and ".join(f"'{k}'" for k in loader_keys)
        problems.append(
            f"the entry has both {listed} lines; it must name exactly one thing to boot "
            f"(systemd-boot rejects it)"
        )

    arch_raw = single.get("architecture")
    architecture: str | None = None
    if arch_raw is not None:
        architecture = arch.normalize(arch_raw)
        if architecture is None:
            problems.append(f"architecture '{arch_raw}' is not an architecture name we know")
        elif arch_raw.lower() not in _UEFI_ARCH_NAMES:
            efi_name = arch.efi_name(architecture) or architecture
            notes.append(
                f"architecture '{arch_raw}' is not a UEFI architecture name; the "
                f"specification asks for '{efi_name}', and systemd-boot hides this entry"
            )

    if overlays and "devicetree" not in single:
        notes.append("'devicetree-overlay' is given without 'devicetree'")

    return BlsEntry(
        id=base.lower(),
        filename=filename,
        title=single.get("title"),
        version=single.get("version"),
        machine_id=single.get("machine-id"),
        sort_key=single.get("sort-key"),
        linux=single.get("linux"),
        initrd=tuple(initrd),
        options=" ".join(options),
        devicetree=single.get("devicetree"),
        devicetree_overlay=tuple(overlays),
        architecture=architecture,
        architecture_raw=arch_raw,
        efi=single.get("efi"),
        uki=single.get("uki"),
        tries_left=tries_left,
        tries_done=tries_done,
        problems=tuple(problems),
        notes=tuple(notes),
        other=tuple(other),
    )


# --------------------------------------------------------------------------------------------
# loader.conf


class MenuMode(StrEnum):
    """How systemd-boot shows its menu, from loader.conf's ``timeout``."""

    TIMEOUT = "timeout"  # shown, the default boots after ``timeout`` seconds
    HIDDEN = "hidden"  # not shown unless a key is held; the default boots at once
    DISABLED = "disabled"  # never shown; the default boots at once
    FORCE = "force"  # shown until the user picks an entry


@dataclass(frozen=True)
class LoaderConf:
    """``/loader/loader.conf`` as systemd-boot reads it.

    ``timeout`` is the number of seconds before the default entry boots: 0 for "boot at once"
    (``0``, ``menu-hidden``, ``menu-disabled``, or no ``timeout`` line — systemd-boot's
    default), None for ``menu-force`` (wait for the user).  ``menu`` tells hidden from
    disabled; ``timeout_raw`` is the value as written, None without a (valid) ``timeout`` line.
    ``default`` is the glob pattern as written (see :func:`match_default`), or ``@saved``.
    ``editor`` and ``auto_entries`` have systemd-boot's defaults (on).  ``raw`` holds every
    key/value line in file order, ``problems`` the lines that were ignored and why.
    """

    default: str | None = None
    timeout: int | None = 0
    timeout_raw: str | None = None
    menu: MenuMode = MenuMode.HIDDEN
    editor: bool = True
    auto_entries: bool = True
    console_mode: str | None = None
    raw: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()


_TRUE = frozenset({"1", "yes", "y", "true", "t", "on"})
_FALSE = frozenset({"0", "no", "n", "false", "f", "off"})
_CONSOLE_MODE_RANGE_MAX = 2**63 - 1


def _parse_boolean(value: str) -> bool | None:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_loader_conf(text: str) -> LoaderConf:
    """Parse ``loader.conf``; invalid values are ignored (as systemd-boot does) and reported.

    Raises :class:`FormatError` only for text that is not text (NUL bytes).
    """
    _check_text(text, "loader.conf")
    raw: list[tuple[str, str]] = []
    problems: list[str] = []
    default: str | None = None
    timeout: int | None = 0
    timeout_raw: str | None = None
    menu = MenuMode.HIDDEN
    editor = True
    auto_entries = True
    console_mode: str | None = None

    for number, key, value in _key_value_lines(text, " \t"):
        raw.append((key, value))
        where = f"loader.conf line {number}"
        if key == "timeout":
            parsed = _parse_timeout(value)
            if parsed is None:
                problems.append(
                    f"{where}: timeout '{value}' is neither a number of seconds nor "
                    f"menu-force, menu-hidden or menu-disabled; ignored"
                )
                continue
            timeout, menu = parsed
            timeout_raw = value
        elif key == "default":
            if value.startswith("@") and value.lower() != "@saved":
                problems.append(f"{where}: default '{value}' is not a known special entry; ignored")
                continue
            default = value
        elif key in ("editor", "auto-entries"):
            flag = _parse_boolean(value)
            if flag is None:
                problems.append(f"{where}: {key} '{value}' is not a boolean; ignored")
                continue
            if key == "editor":
                editor = flag
            else:
                auto_entries = flag
        elif key == "console-mode":
            if value not in ("auto", "max", "keep") and not (
                value.isascii() and value.isdigit() and int(value) <= _CONSOLE_MODE_RANGE_MAX
            ):
                problems.append(f"{where}: console-mode '{value}' is not valid; ignored")
                continue
            console_mode = value

    return LoaderConf(
        default=default,
        timeout=timeout,
        timeout_raw=timeout_raw,
        menu=menu,
        editor=editor,
        auto_entries=auto_entries,
        console_mode=console_mode,
        raw=tuple(raw),
        problems=tuple(problems),
    )


def _parse_timeout(value: str) -> tuple[int | None, MenuMode] | None:
    if value == "menu-force":
        return None, MenuMode.FORCE
    if value == "menu-hidden":
        return 0, MenuMode.HIDDEN
    if value == "menu-disabled":
        return 0, MenuMode.DISABLED
    if not (value.isascii() and value.isdigit()) or int(value) > TIMEOUT_TYPE_MAX:
        return None
    seconds = int(value)
    return seconds, MenuMode.TIMEOUT if seconds > 0 else MenuMode.HIDDEN


# --------------------------------------------------------------------------------------------
# Version comparison (UAPI Version Format Specification / systemd strverscmp_improved)


def _cmp(a: int, b: int) -> int:
    return (a > b) - (a < b)


def _cmp_str(a: str, b: str) -> int:
    return (a > b) - (a < b)


def _is_version_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c in "~-^.")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9" and c != ""


def _is_alpha(c: str) -> bool:
    return c != "" and c.isascii() and c.isalpha()


def version_compare(a: str | None, b: str | None) -> int:
    """Compare two version strings: -1, 0 or 1 (``a`` older, equal, newer).

    systemd's ``strverscmp_improved``: characters other than ASCII letters, digits and
    ``~-^.`` are skipped; ``~`` sorts before anything (even the end: ``1~rc1 < 1``); a string
    that ends first is older; then ``-`` sorts lowest, ``^`` above everything, ``.`` below a
    plain continuation; digit runs compare as numbers (leading zeros ignored) and beat letter
    runs; letter runs compare by ASCII (``A < a``) and a longer run wins.  None is the empty
    string.
    """
    sa = a or ""
    sb = b or ""
    i = j = 0
    la, lb = len(sa), len(sb)

    while True:
        while i < la and not _is_version_char(sa[i]):
            i += 1
        while j < lb and not _is_version_char(sb[j]):
            j += 1
        ca = sa[i] if i < la else ""
        cb = sb[j] if j < lb else ""

        # '~' is a pre-release: older than anything, including the end of the string.
        if ca == "~" or cb == "~":
            r = _cmp(ca != "~", cb != "~")
            if r:
                return r
            i += 1
            j += 1
            ca = sa[i] if i < la else ""
            cb = sb[j] if j < lb else ""

        if ca == "" or cb == "":
            return _cmp(ca != "", cb != "")

        # Then '-' (version/release separator), '^' (patched release), '.' (point release), in
        # this order: a string with the separator where the other has none is the older one.
        for special in "-^.":
            if ca == special or cb == special:
                r = _cmp(ca != special, cb != special)
                if r:
                    return r
                i += 1
                j += 1
                ca = sa[i] if i < la else ""
                cb = sb[j] if j < lb else ""

        if _is_digit(ca) or _is_digit(cb):
            ea, eb = i, j
            while ea < la and _is_digit(sa[ea]):
                ea += 1
            while eb < lb and _is_digit(sb[eb]):
                eb += 1
            r = _cmp(ea != i, eb != j)
            if r:
                return r
            while i < ea and sa[i] == "0":
                i += 1
            while j < eb and sb[j] == "0":
                j += 1
            r = _cmp(ea - i, eb - j)
            if r:
                return r
            r = _cmp_str(sa[i:ea], sb[j:eb])
            if r:
                return r
        else:
            ea, eb = i, j
            while ea < la and _is_alpha(sa[ea]):
                ea += 1
            while eb < lb and _is_alpha(sb[eb]):
                eb += 1
            n = min(ea - i, eb - j)
            r = _cmp_str(sa[i : i + n], sb[j : j + n])
            if r:
                return r
            r = _cmp(ea - i, eb - j)
            if r:
                return r
        i, j = ea, eb


# --------------------------------------------------------------------------------------------
# Menu order


@dataclass(frozen=True)
class SortFields:
    """What systemd-boot orders its menu by (``tries_left`` None: no boot counting)."""

    id: str
    sort_key: str | None
    machine_id: str | None
    version: str | None
    tries_left: int | None
    tries_done: int | None


def _optional_strcmp(a: str | None, b: str | None) -> int:
    # Unset and empty compare equal, and lower than anything else (the spec's rule; it is
    # also what systemd-boot's NULL-tolerant strcmp16 does).
    return _cmp_str(a or "", b or "")


def compare_sort_fields(a: SortFields, b: SortFields) -> int:
    """systemd-boot's ``boot_entry_compare``: negative when ``a`` comes first in the menu."""
    # Entries with no tries left ("bad") go to the end.
    r = _cmp(a.tries_left == 0, b.tries_left == 0)
    if r:
        return r
    # Entries with a sort key come before entries without one.
    r = _cmp(not a.sort_key, not b.sort_key)
    if r:
        return r
    if a.sort_key and b.sort_key:
        r = _optional_strcmp(a.sort_key, b.sort_key)
        if r:
            return r
        r = _optional_strcmp(a.machine_id, b.machine_id)
        if r:
            return r
        r = -version_compare(a.version, b.version)  # newest first
        if r:
            return r
    r = -version_compare(a.id, b.id)  # ids in decreasing version order
    if r:
        return r
    if a.tries_left is None or b.tries_left is None:
        return 0
    r = -_cmp(a.tries_left, b.tries_left)  # more tries left first
    if r:
        return r
    return _cmp(a.tries_done or 0, b.tries_done or 0)  # fewer failed tries first


def sort_entries(items: Iterable[T], key: Callable[[T], SortFields]) -> list[T]:
    """``items`` in systemd-boot's menu order (stable: equal items keep their order)."""
    decorated = [(key(item), item) for item in items]
    order = functools.cmp_to_key(compare_sort_fields)
    decorated.sort(key=lambda pair: order(pair[0]))
    return [item for _fields, item in decorated]


# --------------------------------------------------------------------------------------------
# The default entry


def fnmatch(pattern: str, name: str) -> bool:
    """systemd-boot's ``efi_fnmatch``: ``*``, ``?``, ``[...]`` sets with ranges, ``\\`` escapes.

    Case-sensitive and with no special meaning for ``/`` or a leading dot; ``[!...]`` is not
    a negation (systemd-boot has none).  Works without backtracking, like systemd-boot.
    """
    first = True
    while True:
        matched, rest_pattern, rest_name = _fnmatch_prefix(pattern, name)
        if first:
            if not matched:
                return False
            if rest_pattern is None:
                return True
            first = False
        if rest_pattern is not None and rest_name is not None:
            pattern, name = rest_pattern, rest_name
        else:
            if matched or not name:
                return matched
            name = name[1:]


def _fnmatch_prefix(pattern: str, name: str) -> tuple[bool, str | None, str | None]:
    """Match the part of ``pattern`` before its first ``*`` against the start of ``name``.

    Returns (matched, pattern after the ``*``s, name at that point); the last two are None when
    the pattern had no ``*`` (then "matched" means the whole name matched).
    """
    p = h = 0

    def at(s: str, k: int) -> str:
        return s[k] if k < len(s) else ""

    while True:
        c = at(pattern, p)
        hc = at(name, h)
        if c == "":
            return hc == "", None, None
        if c == "\\":
            p += 1
            c = at(pattern, p)
            if c == "" or c != hc:
                return False, None, None
        elif c == "?":
            if hc == "":
                return False, None, None
        elif c == "*":
            while at(pattern, p) == "*":
                p += 1
            return True, pattern[p:], name[h:]
        elif c == "[":
            if hc == "":
                return False, None, None
            first = True
            can_range = True
            match = False
            while True:
                p += 1
                c = at(pattern, p)
                if c == "":
                    return False, None, None
                if c == "\\":
                    p += 1
                    c = at(pattern, p)
                    if c == "":
                        return False, None, None
                    if c == hc:
                        match = True
                    can_range = True
                    first = False
                    continue
                if c == "]" and not first:
                    break
                if c == "-" and can_range and not first and at(pattern, p + 1) != "]":
                    low = pattern[p - 1]
                    p += 1
                    if at(pattern, p) == "\\":
                        p += 1
                    high = at(pattern, p)
                    if high == "":
                        return False, None, None
                    if low <= hc <= high:
                        match = True
                    can_range = False
                    first = False
                    continue
                if c == hc:
                    match = True
                can_range = True
                first = False
            if not match:
                return False, None, None
        elif c != hc:
            return False, None, None
        p += 1
        h += 1


def match_default(pattern: str, ids: Sequence[str]) -> str | None:
    """The first of ``ids`` (in menu order) that the loader.conf ``default`` glob selects.

    Both sides are lower-cased first, as systemd-boot does, so matching ignores case.  An id
    also matches when the pattern names it without its ``.conf``/``.efi`` suffix (``default
    arch`` selects ``arch.conf``).  Returns the id as given, or None; ``@saved`` and other
    ``@`` names never match here (they refer to EFI variables, which the caller reads).
    """
    if not pattern or pattern.startswith("@"):
        return None
    folded = pattern.lower()
    for candidate in ids:
        name = candidate.lower()
        if fnmatch(folded, name):
            return candidate
        for suffix in (TYPE1_SUFFIX, TYPE2_SUFFIX):
            if name.endswith(suffix) and fnmatch(folded, name[: -len(suffix)]):
                return candidate
    return None
