"""Deciding what to boot without asking anybody.

Pure logic over the scanned entries and the settings in effect: which entries the menu shows and
in which order (``hide``, ``order_*``), which one boots (one-shot, bootmenu's default, the disk's
default, the first entry — never one that failed validation), what is tried after it when it
fails (``fallback``), and how long the menu waits.  Every decision carries a sentence saying why.

Disks are not trusted (docs/security.md): automatic boot never chooses an entry on removable
media unless ``autoboot_removable`` says so, nor one whose configuration boots another disk's
files unless the configuration's disk is trusted, and a name that matches entries on several
disks goes to the owner's disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bootmenu.config import Config, first_match
from bootmenu.model import BootEntry, DiskBootConfig, Volume

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
    if bare != entry.id:
        # An id another disk had first (the scanner renamed this one ``ID@DEVICE``): it still
        # answers to its own name, and decide() prefers the owner's disk among the matches.
        names.append(bare)
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


def _describe(entry: BootEntry) -> str:
    return f"'{entry.title}' ({entry.id})"


def _rotate(menu: Sequence[BootEntry], start: BootEntry) -> list[BootEntry]:
    """The menu starting after ``start``, wrapping around, without ``start``."""
    i = list(menu).index(start)
    return [*menu[i + 1 :], *menu[:i]]


def config_volume(entry: BootEntry, volumes: Mapping[str, Volume]) -> Volume | None:
    """The filesystem whose configuration defined ``entry`` (None: not a scanned one)."""
    return volumes.get(entry.config_root or entry.root)


def foreign_files(entry: BootEntry, volumes: Mapping[str, Volume]) -> Volume | None:
    """The filesystem of ``entry``'s files when it is another one than its configuration's
    (a grub.cfg that ``search``es another partition), else None: the menu marks such an entry
    ("boots files of …")."""
    config, files = config_volume(entry, volumes), volumes.get(entry.root)
    if config is None or files is None or config.name == files.name:
        return None
    return files


def _disk(volume: Volume) -> str:
    return volume.disk or volume.name


def not_automatic(entry: BootEntry, config: Config, volumes: Mapping[str, Volume]) -> str | None:
    """Why automatic boot may not choose ``entry`` (a person still can), or None.

    Entries on removable media (or booting files there) unless ``autoboot_removable``; and an
    entry whose configuration boots the files of another disk, unless the owner trusts the
    disk the configuration is on: a stick's grub.cfg can ``search`` the internal disk and boot
    its kernel with ``init=/bin/sh``."""
    conf, files = config_volume(entry, volumes), volumes.get(entry.root)
    if not config.autoboot_removable:
        for vol in (conf, files):
            if vol is not None and vol.media:
                return (
                    f"it is on {vol.media} media ({vol.shown_name}) and autoboot_removable is false"
                )
    if conf is not None and files is not None and _disk(conf) != _disk(files) and not conf.trusted:
        return (
            f"its configuration on {conf.shown_name} boots files of {files.shown_name}, another "
            f"disk, and {conf.shown_name} is not trusted (disk_config_from)"
        )
    return None


def _family(entry: BootEntry) -> str:
    """The id an entry was found with, before the scanner made it unique (``ID@ROOT``,
    ``ID@ROOT#N``)."""
    base, at, rest = entry.id.partition("@")
    return base if at and rest.split("#", 1)[0] == entry.root else entry.id


def owner_ids(
    entries: Sequence[BootEntry], volumes: Mapping[str, Volume]
) -> tuple[list[BootEntry], dict[str, str]]:
    """``entries`` with colliding ids given out again so that the plain id goes to the entry on
    the owner's disk (a trusted one, else one on fixed media), not to whichever disk was found
    first: ``bootmenu boot fedora.conf`` must not start a stick's copy.  Returns the entries and
    the renames (old id → new id)."""
    families: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        families.setdefault(_family(e), []).append(i)
    out = list(entries)
    renames: dict[str, str] = {}
    for base, members in families.items():
        if len(members) < 2:
            continue

        def rank(i: int) -> tuple[bool, bool, int]:
            vol = config_volume(entries[i], volumes)
            return (vol is not None and vol.media is not None,
                    vol is not None and not vol.trusted, i)  # fmt: skip

        ordered = sorted(members, key=rank)
        if ordered[0] == members[0]:
            continue  # the plain id is already where it belongs
        taken: set[str] = set()
        for n, i in enumerate(ordered):
            e = entries[i]
            new = base if n == 0 else f"{base}@{e.root}"
            if new in taken:  # two of them on one filesystem
                new = f"{base}@{e.root}#{n}"
            taken.add(new)
            if new != e.id:
                renames[e.id] = new
                out[i] = replace(e, id=new)
    return out, renames


def decide(
    entries: Sequence[BootEntry],
    config: Config,
    disk_configs: Sequence[DiskBootConfig] = (),
    *,
    volumes: Mapping[str, Volume] | None = None,
    settings_disk: tuple[str, str] | None = None,
) -> Decision:
    """What automatic boot chooses among ``entries``, and why.

    ``volumes`` are the scanned filesystems by name (what decides where an entry is, whether it
    is on removable media and whether its disk is trusted; entries of unknown roots, like the
    firmware's, count as the owner's). ``settings_disk`` is (origin, disk) of the
    ``/bootmenu.toml`` in effect: a ``default``/``timeout`` it sets applies among its own disk's
    entries only. Where one name matches several entries, an entry automatic boot may choose
    comes first, then one on a trusted disk, then menu order: a disk that sorts first cannot
    take over a default by copying an id.
    """
    volumes = volumes or {}
    aliases = {
        vol.name: [
            f"{key}={value}"
            for key, value in (
                ("UUID", vol.uuid),
                ("LABEL", vol.label),
                ("PARTUUID", vol.partuuid),
                ("PARTLABEL", vol.partlabel),
            )
            if value
        ]
        for vol in volumes.values()
    }
    menu = arrange(entries, config, aliases)
    timeout, timeout_reason = _timeout(config, disk_configs, volumes)
    if not menu:
        return Decision(None, "no boot entries were found", (), timeout, timeout_reason, ())

    refused = {e.id: why for e in menu if (why := not_automatic(e, config, volumes)) is not None}

    def preference(entry: BootEntry) -> tuple[bool, bool, bool]:
        vol = config_volume(entry, volumes)
        return (
            not entry.bootable,
            entry.id in refused,
            vol is not None and not vol.trusted,
        )

    def best(candidates: Sequence[BootEntry]) -> BootEntry | None:
        return min(candidates, key=preference, default=None)

    wanted: BootEntry | None = None
    why = ""
    misses: list[str] = []
    for setting in ("once", "default"):
        pattern = getattr(config, setting)
        if pattern is None:
            continue
        origin = config.sources[setting]
        found = [e for e in menu if first_match([pattern], names_of(e)) is not None]
        if settings_disk is not None and origin == settings_disk[0]:
            found = [
                e
                for e in found
                if (v := config_volume(e, volumes)) and _disk(v) == settings_disk[1]
            ]
        chosen_one = best(found)
        if chosen_one is not None:
            label = "one-shot entry" if setting == "once" else "default"
            wanted, why = chosen_one, f"{label} '{pattern}' from {origin}"
            break
        misses.append(f"{setting} '{pattern}' from {origin} matches no entry")
    if wanted is None:
        # A disk's own default counts only where automatic boot may choose it: a stick's
        # loader.conf does not name what the machine boots.
        disk_default = best([e for e in menu if e.default and e.id not in refused])
        misses.extend(
            f"the disk default {_describe(e)} is not for automatic boot ({refused[e.id]})"
            for e in menu
            if e.default and e.id in refused
        )
        if disk_default is not None:
            # Name the configuration that chose it (loader.conf, grub.cfg…), not the entry file.
            where = next(
                (c.origin for c in disk_configs if c.default_id == disk_default.id),
                f"{disk_default.config_root or disk_default.root}{disk_default.origin or ''}",
            )
            wanted, why = disk_default, f"the disk's default (from {where})"
        else:
            wanted = best(menu)
            assert wanted is not None
            why = "the first entry in the menu"
            if wanted is not menu[0]:
                why += " that automatic boot may choose"
    if misses:
        why = "; ".join(misses) + "; using " + why

    def allowed(entry: BootEntry) -> bool:
        return entry.bootable and entry.id not in refused

    chosen: BootEntry | None = wanted
    if not allowed(wanted):
        chosen = next((e for e in _rotate(menu, wanted) if allowed(e)), None)
        if wanted.problems:
            verb, problem = "cannot boot", wanted.problems[0]
            nobody, next_one = "no other entry can boot either", "the next bootable entry"
        else:
            verb, problem = "automatic boot does not choose", refused[wanted.id]
            nobody = "no other entry can boot automatically"
            next_one = "the next entry automatic boot may choose"
        if chosen is None:
            reason = f"{why} is {_describe(wanted)}, which {verb} ({problem}); {nobody}"
            return Decision(None, reason, (), timeout, timeout_reason, tuple(menu))
        reason = (
            f"{why} is {_describe(wanted)}, which {verb} ({problem}); "
            f"chose {_describe(chosen)}, {next_one}"
        )
    else:
        reason = f"{_describe(wanted)}: {why}"
    assert chosen is not None
    fallbacks: tuple[BootEntry, ...] = ()
    if config.fallback:
        fallbacks = tuple(e for e in _rotate(menu, chosen) if allowed(e))
    return Decision(chosen, reason, fallbacks, timeout, timeout_reason, tuple(menu))


def _timeout(
    config: Config, disk_configs: Sequence[DiskBootConfig], volumes: Mapping[str, Volume]
) -> tuple[float | None, str]:
    if config.is_set("timeout"):
        source = config.sources["timeout"]
        # A /bootmenu.toml's timeout counts: only a trusted disk's file is read at all.
        if config.timeout is not None and config.timeout < 0:
            return None, f"the menu waits for the user (timeout from {source})"
        if config.timeout is not None:
            return float(config.timeout), f"timeout {config.timeout} s from {source}"
    # A disk's own boot configuration (loader.conf, grub.cfg…): the trusted disks' first, never
    # removable media's (a stick's timeout 0 would take the menu away from the person there).
    ranked = sorted(
        (c for c in disk_configs if not ((v := volumes.get(c.volume)) and v.media)),
        key=lambda c: not ((v := volumes.get(c.volume)) and v.trusted),
    )
    for disk in ranked:
        if disk.timeout is not None:
            return disk.timeout, f"timeout {disk.timeout:g} s from {disk.origin}"
    return DEFAULT_TIMEOUT, f"built-in timeout of {DEFAULT_TIMEOUT:g} s"
