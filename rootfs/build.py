"""The build: packages → a staged tree → vmlinuz, initramfs.cpio.zst, bootmenu.efi, manifest.json.

Steps (each prints a line through ``progress``): resolve the package versions with apt,
download and unpack them (cached), stage the image tree in ``<out>/.stage`` (programs, the
libraries they need, trimmed Python, wheels, bootmenu, kernel modules, udev rules, /init),
compile the bytecode, run ``depmod`` and ``ldconfig -r`` on the stage, smoke-test the staged
Python on the host, write the cpio archive and compress it, build the UKI, write the manifest
and print the size table.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rootfs import apt, contents, cpio, elfdeps, kmods, python, uki
from rootfs.host import BuildError, require, run

Progress = Callable[[str], None]
CHECKOUT = Path(__file__).resolve().parent.parent
MERGED = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
PYTHON_LIB = "usr/lib/python3.11"
SITE = "usr/lib/python3/dist-packages"  # on Debian's sys.path
# bootmenu.precompiled's file (its DEFAULT_PATH) and what it is recorded from: the modules the
# menu, headless boots, the consoles' followers and the hand-offs import.
PRECOMPILED_FILE = "dataclass-code.marshal"
PRECOMPILED_MODULES = (
    "bootmenu.cli", "bootmenu.core", "bootmenu.discover.monitor", "bootmenu.remote",
    "bootmenu.tui.app", "bootmenu.boot.payload", "elftools.elf.elffile",
)  # fmt: skip
ZSTD_LEVEL = 19
PARTS = ("modules", "python", "python-packages", "bootmenu", "udev", "kmod", "kexec-tools",
         "busybox", "libraries", "payload", "other")  # fmt: skip
# Where the initramfs carries edk2's Universal Payload (bootmenu.boot.payload.PAYLOAD_PATHS).
PAYLOAD_DIR = "usr/lib/bootmenu"
BUILD_PAYLOAD = CHECKOUT / "scripts" / "build-payload"
PROGRAM_PARTS = {
    "busybox": "busybox",
    "python3.11": "python",
    "kexec": "kexec-tools",
    "kmod": "kmod",
    "ldconfig": "libraries",
}
DIRS = {"dev": 0o755, "proc": 0o555, "sys": 0o555, "run": 0o755, "tmp": 0o1777,
        "root": 0o700, "mnt": 0o755, "var": 0o755, "etc": 0o755}  # fmt: skip
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
# The groups systemd's udev rules name (so that udevd does not warn about each).
GROUPS = (("root", 0), ("tty", 5), ("disk", 6), ("lp", 7), ("kmem", 15), ("dialout", 20),
          ("cdrom", 24), ("floppy", 25), ("tape", 26), ("audio", 29), ("video", 44),
          ("input", 101), ("kvm", 102), ("render", 103), ("sgx", 104),
          ("nogroup", 65534))  # fmt: skip


def merged(path: str) -> str:
    """A package path in the merged-/usr image: ``lib/udev/x`` → ``usr/lib/udev/x``."""
    path = path.strip("/")
    first, sep, rest = path.partition("/")
    if first in MERGED:
        return MERGED[first] + sep + rest
    return path


@dataclass(frozen=True)
class BuildResult:
    out: Path
    vmlinuz: Path
    initramfs: Path
    uki: Path
    manifest: Path
    kernel_version: str
    sizes: dict[str, int]  # part → uncompressed bytes in the initramfs
    compressed_size: int
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)  # file name → sha256


def kernel_package() -> str:
    """The linux-image package Debian's current kernel meta package names."""
    meta = apt.show([contents.KERNEL_META_PACKAGE])
    if contents.KERNEL_META_PACKAGE not in meta:
        raise BuildError(
            f"apt knows no {contents.KERNEL_META_PACKAGE}: is this Debian 12 (amd64) with "
            "package lists? run: apt-get update"
        )
    kernel_pkg = next(
        (g[0] for g in meta[contents.KERNEL_META_PACKAGE].depends
         if g[0].startswith("linux-image-")), None
    )  # fmt: skip
    if kernel_pkg is None:
        raise BuildError(f"{contents.KERNEL_META_PACKAGE} depends on no linux-image package")
    return kernel_pkg


class Pool:
    """Every file of the unpacked packages, by its path in the merged-/usr image."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, Path]] = {}  # image path → (package, source)
        self.newest = 0

    def add_tree(self, package: str, root: Path) -> None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            for name in sorted(filenames):
                source = Path(dirpath, name)
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if rel == ".complete" or rel.startswith("usr/share/doc/"):
                    continue
                self.files.setdefault(merged(rel), (package, source))
                try:
                    st = source.lstat()
                except OSError:
                    continue
                self.newest = max(self.newest, int(st.st_mtime))
            for name in dirnames:  # symlinks to directories (lib64 → …) count as files
                if Path(dirpath, name).is_symlink():
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    self.files.setdefault(merged(rel), (package, Path(dirpath, name)))

    def link_target(self, path: str) -> str | None:
        """For a symlink in the pool, the image path it points at (None: not a symlink)."""
        _, source = self.files[path]
        if not source.is_symlink():
            return None
        target = os.readlink(source)
        if target.startswith("/"):
            return merged(posixpath.normpath(target))
        return merged(posixpath.normpath(posixpath.join(posixpath.dirname(path), target)))

    def under(self, prefix: str) -> Iterator[str]:
        prefix = prefix.rstrip("/") + "/"
        for path in sorted(self.files):
            if path.startswith(prefix):
                yield path


class Stage:
    """The image tree being assembled on disk, and which part each file belongs to."""

    def __init__(self, root: Path, pool: Pool) -> None:
        self.root = root
        self.pool = pool
        self.parts: dict[str, str] = {}

    def path(self, rel: str) -> Path:
        return self.root / rel

    def has(self, rel: str) -> bool:
        return os.path.lexists(self.root / rel)

    def _parent(self, rel: str) -> Path:
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write(self, rel: str, data: bytes, part: str, *, executable: bool = False) -> None:
        target = self._parent(rel)
        target.write_bytes(data)
        target.chmod(0o755 if executable else 0o644)
        self.parts[rel] = part

    def symlink(self, rel: str, target: str, part: str) -> None:
        path = self._parent(rel)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
        self.parts[rel] = part

    def take(self, rel: str, part: str) -> None:
        """Copy one pool file (following a symlink chain, each link kept as an absolute link)."""
        seen = 0
        while not self.has(rel):
            if rel not in self.pool.files:
                raise BuildError(f"/{rel} is in none of the packages")
            target = self.pool.link_target(rel)
            if target is None:
                _, source = self.pool.files[rel]
                dest = self._parent(rel)
                shutil.copyfile(source, dest)
                dest.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)
                self.parts[rel] = part
                return
            self.symlink(rel, "/" + target, part)
            rel = target
            seen += 1
            if seen > 20:
                raise BuildError(f"/{rel}: too many levels of symbolic links")

    def take_tree(self, prefix: str, part: str, keep: Callable[[str], bool] | None = None) -> None:
        for path in self.pool.under(prefix):
            if keep is None or keep(path[len(prefix) + 1 :]):
                self.take(path, part)

    def files(self) -> Iterator[tuple[str, os.stat_result]]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = Path(dirpath, name)
                yield path.relative_to(self.root).as_posix(), path.lstat()


def _sha256(path: Path) -> str:
    return apt.sha256_file(path)


class Builder:
    def __init__(self, out: Path, progress: Progress, cache: apt.Cache, verbose: bool) -> None:
        self.out = out
        self.progress = progress
        self.cache = cache
        self.verbose = verbose
        self.started = time.monotonic()
        self.step_started = self.started

    def step(self, message: str) -> None:
        now = time.monotonic()
        self.progress(f"[{now - self.started:6.1f}s] {message}")
        self.step_started = now

    # -- packages ------------------------------------------------------------------------------

    def packages(self) -> tuple[dict[str, apt.Record], str]:
        self.step("resolving package versions with apt-cache")
        kernel_pkg = kernel_package()
        roots = [*contents.PACKAGES, kernel_pkg, contents.UKI_STUB_PACKAGE]

        def follow(name: str) -> bool:
            if name in contents.SKIP_PACKAGES:
                return False
            return (
                name.startswith(contents.LIBRARY_PACKAGE_PREFIX)
                or name in contents.LIBRARY_PACKAGES_OTHER
            )

        records = apt.closure(roots, apt.show, follow)
        # The kernel package and the stub are not followed: nothing of their dependencies is used.
        return records, kernel_pkg

    def fetch(self, records: dict[str, apt.Record]) -> dict[str, Path]:
        with apt.locked(self.cache.root):
            debs = self.cache.fetch(records.values(), self.progress)
            trees = {}
            for name, deb in sorted(debs.items()):
                fresh = not (self.cache.unpacked / deb.name.removesuffix(".deb")).exists()
                if fresh:
                    self.step(f"unpacking {deb.name}")
                trees[name] = self.cache.unpack(deb)
        return trees

    # -- staging -------------------------------------------------------------------------------

    def stage_base(self, stage: Stage) -> None:
        for top, target in MERGED.items():
            stage.symlink(top, target, "other")
        for rel in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64"):
            stage.path(rel).mkdir(parents=True, exist_ok=True)
        for rel in DIRS:
            stage.path(rel).mkdir(exist_ok=True)
        stage.write("etc/passwd", PASSWD.encode(), "other")
        stage.write("etc/group", "".join(f"{n}:x:{gid}:\n" for n, gid in GROUPS).encode(), "other")
        stage.write("etc/ld.so.conf", b"/usr/lib/x86_64-linux-gnu\n", "other")
        stage.write("etc/profile", b"export PS1='bootmenu-rescue# '\n", "other")
        stage.write(
            "etc/os-release",
            uki.os_release(_bootmenu_version(), "").replace(" (Linux )", "").encode(),
            "other",
        )
        stage.symlink("var/run", "/run", "other")
        stage.write(
            "init", (Path(__file__).parent / contents.INIT_SCRIPT).read_bytes(), "other",
            executable=True,
        )  # fmt: skip

    def stage_programs(self, stage: Stage) -> None:
        for program in contents.PROGRAMS:
            name = program.rsplit("/", 1)[-1]
            part = PROGRAM_PARTS.get(name, "udev")
            stage.take(merged(program), part)
        for library in contents.DLOPEN_LIBRARIES:
            stage.take(library, "libraries")
        for link, target in contents.SYMLINKS.items():
            stage.symlink(link, target, "kmod" if "kmod" in target else "other")
        for tree in contents.TREES:
            stage.take_tree(merged(tree), "udev")
        for rules in contents.UDEV_RULES:
            stage.take(merged(f"{contents.UDEV_RULES_DIR}/{rules}"), "udev")
        for entry in contents.TERMINFO:
            rel = f"usr/share/terminfo/{entry}"
            if rel not in stage.pool.files:
                rel = f"usr/lib/terminfo/{entry}"
            if rel in stage.pool.files:
                stage.take(rel, "other")

    def stage_busybox_applets(self, stage: Stage) -> int:
        listing = run([stage.path("usr/bin/busybox"), "--list-full"])
        count = 0
        for line in sorted(listing.split()):
            rel = merged(line)
            if not rel.startswith(("usr/bin/", "usr/sbin/")) or stage.has(rel):
                continue
            stage.symlink(rel, "/usr/bin/busybox", "busybox")
            count += 1
        return count

    def stage_python(self, stage: Stage, wheels_dir: Path) -> list[str]:
        stage.take("usr/bin/python3.11", "python")
        stage.take_tree(PYTHON_LIB, "python", python.stdlib_keep)
        pins = list(python.pinned_requirements(contents.PYPI_REQUIREMENTS))
        wheels = python.fetch_wheels(pins, wheels_dir, self.progress)
        site = stage.path(SITE)
        for wheel in wheels:
            for rel in python.unpack_wheel(wheel, site):
                stage.parts[f"{SITE}/{rel}"] = "python-packages"
        for package in contents.BOOTMENU_PACKAGES:
            for source in sorted((CHECKOUT / package).rglob("*")):
                rel = source.relative_to(CHECKOUT).as_posix()
                if "__pycache__" in rel or not source.is_file():
                    continue
                if source.suffix not in (".py", ".tcss", ".css", ".json", ".txt"):
                    continue
                stage.write(f"{SITE}/{rel}", source.read_bytes(), "bootmenu")
        return pins

    def stage_modules(self, stage: Stage, kernel_tree: Path, version: str) -> dict[str, Any]:
        moddir = kernel_tree / "lib/modules" / version
        if not moddir.is_dir():
            raise BuildError(f"the kernel package has no lib/modules/{version}")
        # The package has no modules.dep: depmod writes it (and the rest) into the cached tree.
        if not (moddir / "modules.dep").exists():
            with apt.locked(self.cache.root):
                run(["depmod", "-b", kernel_tree, version], verbose=self.verbose)

        def text(name: str) -> str:
            return (moddir / name).read_text() if (moddir / name).exists() else ""

        dep = kmods.parse_modules_dep(text("modules.dep"))
        builtin = kmods.parse_builtin(text("modules.builtin"))
        softdep = kmods.parse_softdep(text("modules.softdep"))
        aliases = kmods.parse_aliases(text("modules.alias"))
        eager = kmods.closure(
            contents.EAGER_MODULES, dep, builtin=builtin, softdep=softdep, aliases=aliases
        )
        lazy = kmods.closure(
            contents.ON_DEMAND_MODULES, dep, builtin=builtin, softdep=softdep, aliases=aliases
        )
        missing = sorted(set(eager.missing) | set(lazy.missing))
        if missing:
            self.progress(f"warning: kernel {version} has no module {', '.join(missing)}")
        target = f"usr/lib/modules/{version}"
        for path in dict.fromkeys(eager.paths + lazy.paths):
            rel = f"{target}/{path}"
            stage._parent(rel)
            shutil.copyfile(moddir / path, stage.path(rel))
            stage.path(rel).chmod(0o644)
            stage.parts[rel] = "modules"
        for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
            if (moddir / name).exists():
                stage.write(f"{target}/{name}", (moddir / name).read_bytes(), "modules")
        run(["depmod", "-b", stage.root, version], verbose=self.verbose)
        for generated_file in stage.path(target).iterdir():
            stage.parts.setdefault(f"{target}/{generated_file.name}", "modules")
        loaded = [n for n in contents.EAGER_MODULES if n not in eager.missing]
        stage.write("etc/bootmenu/modules", ("\n".join(loaded) + "\n").encode(), "other")
        return {
            "eager": loaded,
            "on_demand": [n for n in contents.ON_DEMAND_MODULES if n not in lazy.missing],
            "builtin": sorted(set(eager.builtin) | set(lazy.builtin)),
            "missing": missing,
            "files": len(set(eager.paths + lazy.paths)),
        }

    def stage_libraries(self, stage: Stage) -> int:
        """Every library an ELF file of the stage needs, from the pool, until closed."""
        cache: dict[str, elfdeps.ElfInfo | None] = {}

        def info_of(path: str) -> elfdeps.ElfInfo | None:
            rel = path.lstrip("/")
            if rel not in cache:
                source = stage.path(rel) if stage.has(rel) else self._pool_source(stage, rel)
                data = source.read_bytes() if source is not None else b""
                try:
                    cache[rel] = elfdeps.read_elf(data)
                except ValueError as e:
                    raise BuildError(f"/{rel}: {e}") from e
            return cache[rel]

        def exists(path: str) -> bool:
            rel = path.lstrip("/")
            return stage.has(rel) or self._pool_source(stage, rel) is not None

        roots = []
        for rel, st in stage.files():
            if stat.S_ISREG(st.st_mode) and not rel.startswith("usr/lib/modules/"):
                with open(stage.path(rel), "rb") as f:
                    if f.read(4) == elfdeps.ELF_MAGIC:
                        roots.append("/" + rel)
        result = elfdeps.resolve(roots, info_of, exists)
        if result.missing:
            lines = ", ".join(f"{who} needs {what}" for who, what in result.missing)
            raise BuildError(f"libraries not found in the packages: {lines}")
        added = 0
        for path in result.files:
            rel = path.lstrip("/")
            if not stage.has(rel):
                stage.take(self._pool_name(stage, rel), "libraries")
                added += 1
        return added

    def _pool_name(self, stage: Stage, rel: str) -> str:
        """``rel`` as the pool knows it: a path through the merged symlinks (lib64/…) maps."""
        return merged(rel)

    def _pool_source(self, stage: Stage, rel: str) -> Path | None:
        """The file behind ``rel`` in the pool, links followed (None: not in the pool)."""
        rel = merged(rel)
        for _ in range(20):
            if rel not in stage.pool.files:
                return None
            target = stage.pool.link_target(rel)
            if target is None:
                return stage.pool.files[rel][1]
            rel = target
        return None

    # -- checks, archive, outputs --------------------------------------------------------------

    @staticmethod
    def _staged_python(stage: Stage, code: str, *args: str | Path) -> str:
        """Run ``code`` with the staged Python (through the staged ``ld.so``, its libraries,
        its standard library and site-packages, bytecode only); its standard output."""
        loader = stage.path("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
        return run(
            [loader, "--library-path", stage.path("usr/lib/x86_64-linux-gnu"),
             stage.path("usr/bin/python3.11"), "-s", "-B", "-c", code, *args],
            env={"PYTHONHOME": str(stage.path("usr")), "PYTHONPATH": str(stage.path(SITE)),
                 "PYTHONDONTWRITEBYTECODE": "1"},
            cwd=stage.root,
        )  # fmt: skip

    def smoke_test(self, stage: Stage) -> None:
        """Import what bootmenu needs with the staged Python, its libraries and bytecode."""
        self._staged_python(
            stage,
            "import bootmenu.cli, bootmenu.core, bootmenu.discover.monitor, textual.app, pyudev, "
            "pefile, elftools.elf.elffile, pdb, ctypes, lzma, bz2, zlib, hashlib, json; "
            "import sys; assert not any(m.__file__.endswith('.py') for m in "
            "[bootmenu.cli, textual.app]), 'bytecode not used'",
        )

    def precompile_dataclasses(self, stage: Stage) -> int:
        """Compile the code ``dataclasses`` generates for what bootmenu's modes import, with
        the staged Python, into the package (``bootmenu.precompiled``); the number of texts."""
        rel = f"{SITE}/bootmenu/{PRECOMPILED_FILE}"
        result = self._staged_python(
            stage,
            "import sys; from pathlib import Path; from bootmenu import precompiled; "
            "print(precompiled.record(Path(sys.argv[1]), sys.argv[2:]))",
            stage.path(rel),
            *PRECOMPILED_MODULES,
        )
        stage.parts[rel] = "bootmenu"
        # And that python -m bootmenu takes it: every method of bootmenu's classes from it.
        self._staged_python(
            stage,
            "from bootmenu import precompiled; assert precompiled.install(); import bootmenu.cli, "
            "bootmenu.core; s = precompiled.stats(); "
            "assert s['cached'] and not s['compiled'], f'dataclass code not used: {s}'",
        )
        return int(result.strip().splitlines()[-1])

    def archive(self, stage: Stage, path: Path, mtime: int) -> int:
        entries = [
            cpio.Entry.chardev("dev/console", 5, 1, 0o600),
            cpio.Entry.chardev("dev/null", 1, 3, 0o666),
        ]
        for rel, st in stage.files():
            full = stage.path(rel)
            if stat.S_ISLNK(st.st_mode):
                entries.append(cpio.Entry.symlink(rel, os.readlink(full)))
            elif stat.S_ISDIR(st.st_mode):
                entries.append(cpio.Entry.directory(rel, DIRS.get(rel, 0o755)))
            elif stat.S_ISREG(st.st_mode):
                perm = 0o755 if st.st_mode & 0o111 else 0o644
                entries.append(cpio.Entry.file(rel, full.read_bytes(), perm))
        with open(path, "wb") as f:
            return cpio.write_archive(entries, f.write, mtime=mtime)

    def compress(self, source: Path, target: Path) -> bool:
        """zstd ``source`` into ``target``; the result is kept in the cache by the archive's
        sha256, so that a rebuild of the same archive takes no time. True: from the cache.

        zstd's output does not depend on the number of threads (-T0), only on the input."""
        cached = self.cache.root / "zstd" / f"{_sha256(source)}-{ZSTD_LEVEL}.zst"
        if cached.exists():
            shutil.copyfile(cached, target)
            return True
        run(["zstd", f"-{ZSTD_LEVEL}", "-T0", "-q", "-f", "--no-progress", source, "-o", target])
        cached.parent.mkdir(parents=True, exist_ok=True)
        with apt.locked(self.cache.root):
            old = sorted(cached.parent.glob("*.zst"), key=lambda p: p.stat().st_mtime)
            for path in old[: max(0, len(old) - 2)]:  # keep the last three
                path.unlink()
            scratch = cached.with_suffix(".tmp")
            shutil.copyfile(target, scratch)
            scratch.rename(cached)
        return False


def _bootmenu_version() -> str:
    for line in (CHECKOUT / "bootmenu/__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "0"


def check_settings(path: Path) -> bytes:
    """The owner's settings file to build in as /etc/bootmenu.toml, checked by this checkout's
    bootmenu (``python -m bootmenu.config --check``): a file with any warning (an unknown
    setting, a bad value) stops the build, as a setting silently ignored at boot would be
    worse (a password that is not there)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BuildError(f"{path}: cannot be read: {e.strerror}") from e
    checked = subprocess.run(
        [sys.executable, "-m", "bootmenu.config", "--check", str(path.resolve())],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if checked.returncode != 0:
        problems = checked.stderr.strip() or checked.stdout.strip()
        raise BuildError(f"{path}: not built in: {problems}")
    return data


def _default_mode() -> str:
    """``menu`` once this checkout's bootmenu has the menu command, else ``autoboot``."""
    try:
        subprocess.run(
            [sys.executable, "-m", "bootmenu", "menu", "--help"],
            cwd=CHECKOUT,
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError):
        return "autoboot"
    return "menu"


def format_table(
    sizes: dict[str, int], kernel: int, cpio_size: int, compressed: int, uki_size: int
) -> str:
    rows = [("part", "size")]
    rows.append(("kernel (vmlinuz, outside the initramfs)", _mb(kernel)))
    for part in PARTS:
        if sizes.get(part):
            rows.append((part, _mb(sizes[part])))
    rows.append(("initramfs, uncompressed (cpio)", _mb(cpio_size)))
    rows.append((f"initramfs, zstd -{ZSTD_LEVEL}", _mb(compressed)))
    rows.append(("UKI (stub + kernel + initramfs)", _mb(uki_size)))
    width = max(len(r[0]) for r in rows)
    lines = [f"{name.ljust(width)}  {size:>10}" for name, size in rows]
    lines.insert(1, "-" * (width + 12))
    return "\n".join(lines)


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def source_date_epoch(default: int) -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if value:
        try:
            return int(value)
        except ValueError as e:
            raise BuildError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds") from e
    return default


def build_payload(progress: Progress) -> Path:
    """Run scripts/build-payload (cached: a second run only prints the path) and return the
    path of UniversalPayload.elf."""
    progress("building (or taking from the cache) the UEFI payload: scripts/build-payload")
    # Its steps go to stderr (shown here); the path is the last line of its stdout.
    try:
        result = subprocess.run(
            ["bash", str(BUILD_PAYLOAD)], stdout=subprocess.PIPE, text=True, check=False
        )
    except OSError as e:
        raise BuildError(f"cannot run scripts/build-payload: {e.strerror}") from e
    if result.returncode != 0:
        raise BuildError(
            f"scripts/build-payload failed (exit {result.returncode}); its messages are above. "
            "Build with --no-payload to leave the payload out."
        )
    output = result.stdout
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or not Path(lines[-1]).is_file():
        raise BuildError(f"scripts/build-payload did not name the payload it built: {output!r}")
    return Path(lines[-1])


def stage_payload(stage: Stage, elf: Path) -> dict[str, Any]:
    """Copy UniversalPayload.elf and the .json its build left beside it into the stage."""
    try:
        data = elf.read_bytes()
        info = elf.with_suffix(".json").read_bytes()
    except OSError as e:
        raise BuildError(f"cannot read the UEFI payload {e.filename}: {e.strerror}") from None
    if data[:4] != b"\x7fELF":
        raise BuildError(f"{elf} is not an ELF file (not a Universal Payload)")
    stage.write(f"{PAYLOAD_DIR}/UniversalPayload.elf", data, "payload")
    stage.write(f"{PAYLOAD_DIR}/UniversalPayload.json", info, "payload")
    try:
        described: Any = json.loads(info)
    except ValueError:
        described = {}
    return {
        "source": str(elf),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "edk2": described.get("edk2") if isinstance(described, dict) else None,
        "controllers": described.get("controllers") if isinstance(described, dict) else None,
    }


def build(
    out: Path,
    *,
    progress: Progress = print,
    cache: Path | None = None,
    keep_stage: bool = False,
    verbose: bool = False,
    payload: Path | bool = True,
    settings: Path | None = None,
) -> BuildResult:
    """Build vmlinuz, initramfs.cpio.zst, bootmenu.efi and manifest.json into ``out``.

    ``settings``: the owner's bootmenu settings, built in as /etc/bootmenu.toml (checked first,
    see :func:`check_settings`): the place for a password the kernel command line cannot change.

    ``payload``: True builds (or takes from the cache) edk2's Universal Payload with
    scripts/build-payload and includes it; a path includes that file; False leaves it out
    (EFI applications then start through BootNext only).
    """
    require("apt-get", "apt-cache", "dpkg-deb", "depmod", "objcopy", "zstd", "ldconfig")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    b = Builder(out, progress, apt.Cache(cache), verbose)
    records, kernel_pkg = b.packages()
    b.step(f"{len(records)} packages; kernel package {kernel_pkg} {records[kernel_pkg].version}")
    trees = b.fetch(records)
    kernel_version = kernel_pkg.removeprefix("linux-image-")

    b.step("indexing the unpacked packages")
    pool = Pool()
    for name in sorted(trees):
        if name not in (kernel_pkg, contents.UKI_STUB_PACKAGE):
            pool.add_tree(name, trees[name])
    kernel_tree = trees[kernel_pkg]
    vmlinuz_src = kernel_tree / "boot" / f"vmlinuz-{kernel_version}"
    epoch = source_date_epoch(max(pool.newest, int(vmlinuz_src.stat().st_mtime)))

    stage_dir = out / ".stage"
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir()
    stage = Stage(stage_dir, pool)
    try:
        b.step("staging programs, udev rules, terminfo, /init")
        b.stage_base(stage)
        b.stage_programs(stage)
        default_mode = _default_mode()
        stage.write("etc/bootmenu/init.conf", f"DEFAULT_MODE={default_mode}\n".encode(), "other")
        if settings is not None:
            stage.write("etc/bootmenu.toml", check_settings(settings), "other")
        b.step("staging Python 3.11 (trimmed), the wheels and bootmenu")
        pins = b.stage_python(stage, b.cache.root / "wheels")
        b.step("compiling bytecode")
        python.compile_trees(
            [(stage.path(PYTHON_LIB), "/" + PYTHON_LIB), (stage.path(SITE), "/" + SITE)]
        )
        for rel, part in list(stage.parts.items()):
            if rel.endswith(".py") and not stage.has(rel) and stage.has(rel + "c"):
                stage.parts[rel + "c"] = part
        b.step(f"staging kernel modules of {kernel_version} (depmod)")
        module_info = b.stage_modules(stage, kernel_tree, kernel_version)
        b.step("resolving shared libraries (ELF NEEDED)")
        libs = b.stage_libraries(stage)
        applets = b.stage_busybox_applets(stage)
        b.step(f"{libs} libraries added, {applets} busybox applets; ldconfig -r")
        run(["ldconfig", "-r", stage.root, "-X"], verbose=verbose)
        stage.parts["etc/ld.so.cache"] = "libraries"
        payload_info: dict[str, Any] | None = None
        if payload is not False:
            elf = build_payload(b.step) if payload is True else Path(payload)
            payload_info = stage_payload(stage, elf)
            b.step(f"UEFI payload {elf} ({payload_info['size'] / 1e6:.1f} MB) included")
        b.step("smoke test: importing bootmenu with the staged Python")
        b.smoke_test(stage)
        texts = b.precompile_dataclasses(stage)
        b.step(f"compiled the code of {texts} dataclass methods (bootmenu.precompiled)")

        sizes: dict[str, int] = defaultdict(int)
        for rel, st in stage.files():
            if stat.S_ISREG(st.st_mode):
                sizes[stage.parts.get(rel, "other")] += st.st_size

        b.step("writing the cpio archive")
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            cpio_path = Path(tmp) / "initramfs.cpio"
            cpio_size = b.archive(stage, cpio_path, epoch)
            b.step(f"compressing {cpio_size / 1e6:.1f} MB with zstd -{ZSTD_LEVEL}")
            initramfs = out / "initramfs.cpio.zst"
            if b.compress(cpio_path, initramfs):
                b.step("the same archive was compressed before: taken from the cache")
    finally:
        if not keep_stage:
            shutil.rmtree(stage_dir, ignore_errors=True)

    vmlinuz = out / "vmlinuz"
    shutil.copyfile(vmlinuz_src, vmlinuz)
    b.step("building the UKI (systemd-stub + objcopy)")
    uki_path = out / "bootmenu.efi"
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        osrel = Path(tmp) / "os-release"
        osrel.write_text(uki.os_release(_bootmenu_version(), kernel_version))
        cmdline = Path(tmp) / "cmdline"
        cmdline.write_text(contents.UKI_CMDLINE)
        placements = uki.build_uki(
            trees[contents.UKI_STUB_PACKAGE] / contents.UKI_STUB_PATH,
            uki_path,
            {".osrel": osrel, ".cmdline": cmdline, ".linux": vmlinuz, ".initrd": initramfs},
            source_date_epoch=epoch,
            verbose=verbose,
        )

    outputs = {p.name: _sha256(p) for p in (vmlinuz, initramfs, uki_path)}
    manifest = {
        "bootmenu_version": _bootmenu_version(),
        "kernel_version": kernel_version,
        "source_date_epoch": epoch,
        "default_mode": default_mode,
        "uki_cmdline": contents.UKI_CMDLINE,
        "uki_sections": {p.name: {"vma": f"{p.vma:#x}", "size": p.size} for p in placements},
        "packages": {
            name: {"version": r.version, "sha256": r.sha256} for name, r in sorted(records.items())
        },
        "wheels": pins,
        "modules": module_info,
        "payload": payload_info,
        "sizes": {
            "parts": {part: sizes.get(part, 0) for part in PARTS},
            "kernel": vmlinuz.stat().st_size,
            "cpio": cpio_size,
            "initramfs_zst": initramfs.stat().st_size,
            "uki": uki_path.stat().st_size,
        },
        "outputs": {
            name: {"sha256": digest, "size": (out / name).stat().st_size}
            for name, digest in outputs.items()
        },
    }
    manifest_path = out / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    progress(
        format_table(
            dict(sizes), vmlinuz.stat().st_size, cpio_size, initramfs.stat().st_size,
            uki_path.stat().st_size,
        )
    )  # fmt: skip
    seconds = time.monotonic() - b.started
    b.step(f"done: {out}/vmlinuz, initramfs.cpio.zst, bootmenu.efi, manifest.json")
    return BuildResult(
        out=out,
        vmlinuz=vmlinuz,
        initramfs=initramfs,
        uki=uki_path,
        manifest=manifest_path,
        kernel_version=kernel_version,
        sizes=dict(sizes),
        compressed_size=initramfs.stat().st_size,
        seconds=seconds,
        outputs=outputs,
    )
