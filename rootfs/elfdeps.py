"""Shared libraries: what an ELF file needs (DT_NEEDED, RUNPATH, PT_INTERP) and the closure.

:func:`read_elf` reads bytes; :func:`resolve` works on injected callables, so both are pure.
Library lookup follows ld.so's order: DT_RPATH (when there is no DT_RUNPATH), DT_RUNPATH with
``$ORIGIN`` replaced, then the default directories.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"
# Debian amd64's library directories (ld.so.conf.d/x86_64-linux-gnu.conf + the trusted ones),
# in the merged-/usr image.
DEFAULT_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/lib64")


@dataclass(frozen=True)
class ElfInfo:
    needed: tuple[str, ...]
    runpath: tuple[str, ...]  # DT_RUNPATH, or DT_RPATH when there is no DT_RUNPATH
    interpreter: str | None  # PT_INTERP: the dynamic loader of a program


def read_elf(data: bytes) -> ElfInfo | None:
    """The dynamic-linking needs of an ELF file; None when ``data`` is not ELF or is static.

    Raises ValueError (with a sentence) when it is ELF but cannot be parsed."""
    if not data.startswith(ELF_MAGIC):
        return None
    try:
        elf = ELFFile(io.BytesIO(data))
        interpreter = None
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_INTERP":
                interp: Any = segment
                interpreter = str(interp.get_interp_name())
        needed: list[str] = []
        runpath: list[str] = []
        rpath: list[str] = []
        for section in elf.iter_sections():
            if not isinstance(section, DynamicSection):
                continue
            for dyn in section.iter_tags():
                tag: Any = dyn  # pyelftools sets needed/runpath/rpath per tag type
                if tag.entry.d_tag == "DT_NEEDED":
                    needed.append(tag.needed)
                elif tag.entry.d_tag == "DT_RUNPATH":
                    runpath.extend(p for p in tag.runpath.split(":") if p)
                elif tag.entry.d_tag == "DT_RPATH":
                    rpath.extend(p for p in tag.rpath.split(":") if p)
    # OverflowError: an offset past what a file can have (pyelftools seeks to it as given).
    except (ELFError, ValueError, KeyError, IndexError, OverflowError, UnicodeDecodeError) as e:
        raise ValueError(f"not a readable ELF file: {e}") from e
    if not needed and interpreter is None:
        return None
    return ElfInfo(tuple(needed), tuple(runpath or rpath), interpreter)


@dataclass(frozen=True)
class Resolution:
    files: tuple[str, ...]  # library paths in the image, in the order they were found
    missing: tuple[tuple[str, str], ...]  # (who needs it, soname) not found anywhere


def resolve(
    roots: Sequence[str],
    info_of: Callable[[str], ElfInfo | None],
    exists: Callable[[str], bool],
    *,
    default_dirs: Sequence[str] = DEFAULT_DIRS,
) -> Resolution:
    """Every library (and loader) the ELF files ``roots`` need, recursively.

    Paths are absolute paths in the image. ``info_of(path)`` reads one file (None: not
    dynamic); ``exists(path)`` says whether a library file is available there."""
    found: list[str] = []
    seen: set[str] = set(roots)
    missing: list[tuple[str, str]] = []
    queue = list(roots)
    while queue:
        path = queue.pop(0)
        info = info_of(path)
        if info is None:
            continue
        origin = posixpath.dirname(path)
        dirs = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in info.runpath]
        dirs += default_dirs
        wanted = list(info.needed)
        candidates: list[str | None] = []
        if info.interpreter:
            candidates.append(info.interpreter if exists(info.interpreter) else None)
            if candidates[-1] is None:
                missing.append((path, info.interpreter))
        for soname in wanted:
            if "/" in soname:
                hit: str | None = soname if exists(soname) else None
            else:
                hit = next(
                    (f"{d}/{soname}" for d in dirs if exists(posixpath.normpath(f"{d}/{soname}"))),
                    None,
                )
                hit = posixpath.normpath(hit) if hit else None
            if hit is None:
                missing.append((path, soname))
            candidates.append(hit)
        for hit in candidates:
            if hit is not None and hit not in seen:
                seen.add(hit)
                found.append(hit)
                queue.append(hit)
    return Resolution(tuple(found), tuple(missing))
