"""Kernel modules: which files a set of module names needs, in load order.

The parsers and :func:`closure` are pure: they read the text of ``modules.dep``,
``modules.softdep``, ``modules.alias`` and ``modules.builtin`` as ``depmod`` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_SUFFIX = re.compile(r"\.ko(\.(xz|zst|gz))?$")


def module_name(path: str) -> str:
    """``kernel/fs/nls/nls_iso8859-1.ko.xz`` → ``nls_iso8859_1`` (modprobe treats - and _ alike)."""
    base = path.rsplit("/", 1)[-1]
    return _SUFFIX.sub("", base).replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, tuple[str, ...]]:
    """``modules.dep``: module path → the paths it depends on (each line ``path: dep dep``)."""
    deps: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        path, _, rest = line.partition(":")
        deps[path.strip()] = tuple(rest.split())
    return deps


def parse_softdep(text: str) -> dict[str, tuple[str, ...]]:
    """``modules.softdep``: module name → names in its ``pre:`` and ``post:`` lists (depmod
    writes one line per soft dependency: ``softdep btrfs pre: sha256``)."""
    soft: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] != "softdep":
            continue
        name = words[1].replace("-", "_")
        more = tuple(w.replace("-", "_") for w in words[2:] if w not in ("pre:", "post:"))
        soft[name] = tuple(dict.fromkeys(soft.get(name, ()) + more))
    return soft


def parse_aliases(text: str) -> dict[str, str]:
    """``modules.alias``: exact alias (no wildcards) → the first module that provides it."""
    aliases: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "alias" and not any(c in words[1] for c in "*?["):
            aliases.setdefault(words[1].replace("-", "_"), words[2].replace("-", "_"))
    return aliases


def parse_builtin(text: str) -> frozenset[str]:
    """``modules.builtin``: names of the modules compiled into the kernel."""
    return frozenset(module_name(line.strip()) for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class Closure:
    paths: tuple[str, ...]  # module files, each after the files it depends on
    builtin: tuple[str, ...]  # names asked for that are part of the kernel itself
    missing: tuple[str, ...]  # names asked for that this kernel has nowhere


def closure(
    names: Sequence[str],
    dep: Mapping[str, tuple[str, ...]],
    *,
    builtin: frozenset[str] = frozenset(),
    softdep: Mapping[str, tuple[str, ...]] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Closure:
    """The module files ``names`` need: their hard dependencies and soft dependencies
    (``softdep``, names resolved through ``aliases`` — ext4's ``crc32c`` is ``crc32c_generic``),
    ordered so that every file comes after its dependencies."""
    by_name = {module_name(path): path for path in dep}
    softdep = softdep or {}
    aliases = aliases or {}
    order: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()
    builtin_hits: list[str] = []
    missing: list[str] = []

    def visit_path(path: str) -> None:
        if path in placed or path in visiting:
            return  # a cycle cannot be loaded anyway; depmod reports them
        visiting.add(path)
        for d in dep.get(path, ()):
            visit_path(d)
        for soft in softdep.get(module_name(path), ()):
            visit_name(soft, required=False)
        visiting.discard(path)
        placed.add(path)
        order.append(path)

    def visit_name(name: str, *, required: bool) -> None:
        key = name.replace("-", "_")
        target = by_name.get(key) or by_name.get(aliases.get(key, ""))
        if target is not None:
            visit_path(target)
        elif key in builtin or aliases.get(key) in builtin:
            if required:
                builtin_hits.append(key)
        elif required:
            missing.append(key)

    for name in names:
        visit_name(name, required=True)
    return Closure(tuple(order), tuple(builtin_hits), tuple(missing))
