"""Debian packages: the index (``apt-cache show``), a download cache and unpacked trees.

Packages are fetched with ``apt-get download`` (works as any user, needs the apt lists of the
machine: ``apt-get update``) into ``<cache>/debs`` and unpacked with ``dpkg-deb -x`` into
``<cache>/unpacked/<file name>/``, both reused while the package version stays the same. The
cache is ``$BOOTMENU_CACHE`` or ``~/.cache/bootmenu``.

The parsers (:func:`parse_records`, :func:`parse_depends`) and :func:`closure` are pure.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rootfs.host import BuildError, run

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Record:
    """One package version as ``apt-cache show`` describes it."""

    package: str
    version: str
    architecture: str
    filename: str  # pool/main/…/name_version_arch.deb (the version without its epoch)
    size: int
    sha256: str
    depends: tuple[tuple[str, ...], ...]  # Pre-Depends + Depends: groups of alternatives

    @property
    def deb_name(self) -> str:
        """The file name ``apt-get download`` gives it (an epoch's ':' becomes '%3a')."""
        return f"{self.package}_{self.version.replace(':', '%3a')}_{self.architecture}.deb"


_NAME = re.compile(r"\s*([a-z0-9][a-z0-9+.\-]*)(?::[a-z0-9]+)?")


def parse_depends(field: str) -> tuple[tuple[str, ...], ...]:
    """``"libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0"`` → ``(("libc6",), ("debconf",
    "debconf-2.0"))``: package names only, versions and architecture qualifiers dropped."""
    groups: list[tuple[str, ...]] = []
    for group in field.split(","):
        names = []
        for alternative in group.split("|"):
            m = _NAME.match(alternative)
            if m:
                names.append(m.group(1))
        if names:
            groups.append(tuple(names))
    return tuple(groups)


def _paragraphs(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = ""
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif line[0] in " \t":
            if key:
                fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return


def parse_records(text: str) -> tuple[Record, ...]:
    """The records of ``apt-cache show`` output (RFC 822-style paragraphs)."""
    records = []
    for fields in _paragraphs(text):
        if "Package" not in fields or "Version" not in fields:
            continue
        depends = parse_depends(fields.get("Pre-Depends", "")) + parse_depends(
            fields.get("Depends", "")
        )
        records.append(
            Record(
                package=fields["Package"],
                version=fields["Version"],
                architecture=fields.get("Architecture", "amd64"),
                filename=fields.get("Filename", ""),
                size=int(size)
                if (size := fields.get("Size", "")).isascii() and size.isdigit()
                else 0,
                sha256=fields.get("SHA256", ""),
                depends=depends,
            )
        )
    return tuple(records)


def closure(
    roots: Sequence[str],
    lookup: Callable[[Sequence[str]], Mapping[str, Record]],
    follow: Callable[[str], bool],
) -> dict[str, Record]:
    """The packages ``roots`` need: their dependencies, recursively, where ``follow(name)``.

    Of a group of alternatives the first one is taken. ``lookup`` returns the records of the
    names it knows (virtual packages are simply absent); it is called once per level.
    """
    found: dict[str, Record] = {}
    wanted = list(dict.fromkeys(roots))
    unknown: set[str] = set()
    while wanted:
        records = lookup(wanted)
        missing_roots = [n for n in wanted if n not in records and n in roots]
        if missing_roots:
            raise BuildError(
                f"apt knows no package {', '.join(missing_roots)} "
                "(is this Debian 12 with up-to-date lists? run: apt-get update)"
            )
        unknown.update(n for n in wanted if n not in records)
        found.update(records)
        nxt: list[str] = []
        for record in records.values():
            for group in record.depends:
                name = group[0]
                if name not in found and name not in unknown and follow(name):
                    nxt.append(name)
        wanted = list(dict.fromkeys(nxt))
    return found


def cache_root() -> Path:
    return Path(os.environ.get("BOOTMENU_CACHE") or Path.home() / ".cache" / "bootmenu")


def show(names: Sequence[str]) -> dict[str, Record]:
    """The candidate version of each name apt knows (``apt-cache show --no-all-versions``)."""
    if not names:
        return {}
    # Unknown and purely virtual names are reported on stderr and simply left out.
    text = run(["apt-cache", "show", "--no-all-versions", *names])
    return {r.package: r for r in parse_records(text) if r.package in names}


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """One builder at a time per cache (downloads and unpacking)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Cache:
    """Downloaded .deb files and their unpacked trees under one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root()
        self.debs = self.root / "debs"
        self.unpacked = self.root / "unpacked"

    def fetch(self, records: Iterable[Record], progress: Progress) -> dict[str, Path]:
        """Download what is not in the cache yet; package name → .deb path."""
        records = sorted(records, key=lambda r: r.package)
        self.debs.mkdir(parents=True, exist_ok=True)
        missing = [r for r in records if not (self.debs / r.deb_name).exists()]
        if missing:
            total = sum(r.size for r in missing) / 1e6
            progress(f"downloading {len(missing)} packages ({total:.1f} MB) into {self.debs}")
            # As root, apt would drop to _apt, which cannot write a user's cache: say so.
            sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
            run(
                ["apt-get", *sandbox, "download", *(f"{r.package}={r.version}" for r in missing)],
                cwd=self.debs,
                capture=False,
            )
        else:
            progress(f"all {len(records)} packages are in the cache ({self.debs})")
        paths: dict[str, Path] = {}
        for r in records:
            path = self.debs / r.deb_name
            if not path.exists():
                raise BuildError(f"apt-get download did not write {path}")
            if r in missing and r.sha256 and sha256_file(path) != r.sha256:
                path.unlink()
                raise BuildError(f"{path.name}: checksum does not match the apt index; try again")
            paths[r.package] = path
        return paths

    def unpack(self, deb: Path) -> Path:
        """The tree of ``deb`` (``dpkg-deb -x``), unpacked once and reused."""
        target = self.unpacked / deb.name.removesuffix(".deb")
        if (target / ".complete").exists():
            return target
        self.unpacked.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=self.unpacked))
        try:
            run(["dpkg-deb", "-x", deb, scratch])
            (scratch / ".complete").write_text("")
            scratch.rename(target)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)
        return target
