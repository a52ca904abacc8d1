"""Deciding what to boot without asking anybody.

Pure logic over the scanned entries and the settings in effect: which entries the menu shows and
in which order (``hide``, ``order_*``), which one boots (one-shot, bootmenu's default, the disk's
default, the first entry — never one that failed validation), what is tried after it when it
fails (``fallback``), and how long the menu waits.  Every decision carries a sentence saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bootmenu.config import Config, first_match
from bootmenu.model import BootEntry, DiskBootConfig

# When neither bootmenu's configuration nor any disk's boot configuration sets a timeout.
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Decision:
    entry: BootEntry | None
    reason: str
    fallbacks: tuple[BootEntry, ...]
    timeout: float | None  # seconds; None = wait for the user
    timeout_reason: str
    menu: tuple[BootEntry, ...]  # what the menu shows, in order


def names_of(entry: BootEntry) -> list[str]:
    """What ``default``/``once``/``hide`` globs are matched against: id (also without its
    ``.conf``/``.efi`` suffix or ``source:`` prefix), title and version."""
    names = [entry.id, entry.title]
    bare = entry.id.split("@", 1)[0]
    for suffix in (".conf", ".efi"):
        if bare.endswith(suffix):
            names.append(bare.removesuffix(suffix))
    if ":" in bare:
        names.append(bare.split(":", 1)[1])
    if entry.version:
        names.append(entry.version)
    return names


def arrange(
    entries: Sequence[BootEntry],
    config: Config,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> list[BootEntry]:
    """The menu: hidden entries removed, then a stable sort by the ``order_devices``,
    ``order_sources`` and ``order_kinds`` preferences (entries no pattern matches keep their
    place after the matching ones).  ``aliases`` maps an entry's root to other names of its
    device (``UUID=…``, ``LABEL=…``, ``PARTUUID=…``) for ``order_devices``."""
    aliases = aliases or {}
    shown = [e for e in entries if first_match(config.hide, names_of(e)) is None]

    def rank(entry: BootEntry) -> tuple[int, int, int]:
        def place(patterns: Sequence[str], names: Sequence[str]) -> int:
            found = first_match(patterns, names)
            return len(patterns) if found is None else found

        return (
            place(config.order_devices, [entry.root, *aliases.get(entry.root, ())]),
            place(config.order_sources, [entry.source.value]),
            place(config.order_kinds, [entry.kind.value]),
        )

    return sorted(shown, key=rank)


def _find(pattern: str, menu: Sequence[BootEntry]) -> BootEntry | None:
    return next((e for e in menu if first_match([pattern], names_of(e)) is not None), None)


def _describe(entry: BootEntry) -> str:
    return f"'{entry.title}' ({entry.id})"


def _rotate(menu: Sequence[BootEntry], start: BootEntry) -> list[BootEntry]:
    """The menu starting after ``start``, wrapping around, without ``start``."""
    i = list(menu).index(start)
    return [*menu[i + 1 :], *menu[:i]]


def decide(
    entries: Sequence[BootEntry],
    config: Config,
    disk_configs: Sequence[DiskBootConfig] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> Decision:
    menu = arrange(entries, config, aliases)
    timeout, timeout_reason = _timeout(config, disk_configs)
    if not menu:
        return Decision(None, "no boot entries were found", (), timeout, timeout_reason, ())

    wanted: BootEntry | None = None
    why = ""
    misses: list[str] = []
    for setting in ("once", "default"):
        pattern = getattr(config, setting)
        if pattern is None:
            continue
        origin = config.sources[setting]
        found = _find(pattern, menu)
        if found is not None:
            label = "one-shot entry" if setting == "once" else "default"
            wanted, why = found, f"{label} '{pattern}' from {origin}"
            break
        misses.append(f"{setting} '{pattern}' from {origin} matches no entry")
    if wanted is None:
        disk_default = next((e for e in menu if e.default), None)
        if disk_default is not None:
            # Name the configuration that chose it (loader.conf, grub.cfg…), not the entry file.
            where = next(
                (c.origin for c in disk_configs if c.default_id == disk_default.id),
                f"{disk_default.config_root or disk_default.root}{disk_default.origin or ''}",
            )
            wanted, why = disk_default, f"the disk's default (from {where})"
        else:
            wanted, why = menu[0], "the first entry in the menu"
    if misses:
        why = "; ".join(misses) + "; using " + why

    chosen: BootEntry | None = wanted
    if not wanted.bootable:
        chosen = next((e for e in _rotate(menu, wanted) if e.bootable), None)
        problem = wanted.problems[0]
        if chosen is None:
            reason = f"{why} is {_describe(wanted)}, which cannot boot ({problem}); "
            reason += "no other entry can boot either"
            return Decision(None, reason, (), timeout, timeout_reason, tuple(menu))
        reason = (
            f"{why} is {_describe(wanted)}, which cannot boot ({problem}); "
            f"chose {_describe(chosen)}, the next bootable entry"
        )
    else:
        reason = f"{_describe(wanted)}: {why}"
    assert chosen is not None
    fallbacks: tuple[BootEntry, ...] = ()
    if config.fallback:
        fallbacks = tuple(e for e in _rotate(menu, chosen) if e.bootable)
    return Decision(chosen, reason, fallbacks, timeout, timeout_reason, tuple(menu))


def _timeout(config: Config, disk_configs: Sequence[DiskBootConfig]) -> tuple[float | None, str]:
    if config.is_set("timeout"):
        if config.timeout is not None and config.timeout < 0:
            return None, f"the menu waits for the user (timeout from {config.sources['timeout']})"
        if config.timeout is not None:
            return float(
                config.timeout
            ), f"timeout {config.timeout} s from {config.sources['timeout']}"
    for disk in disk_configs:
        if disk.timeout is not None:
            return disk.timeout, f"timeout {disk.timeout:g} s from {disk.origin}"
    return DEFAULT_TIMEOUT, f"built-in timeout of {DEFAULT_TIMEOUT:g} s"
