"""Python in the image: which stdlib files stay, bootmenu's dependencies as wheels, bytecode.

:func:`stdlib_keep` and :func:`site_keep` are the trim rules (pure, on relative paths).
Wheels are pinned to the versions installed in the environment the builder runs in (the
checkout's .venv, where the tests ran), downloaded once with ``pip download`` into
``<cache>/wheels`` and unpacked with :mod:`zipfile` (no pip install: nothing machine-specific
is written). Bytecode is compiled in a child process with ``PYTHONHASHSEED=0`` and
``--invalidation-mode unchecked-hash`` so it is the same on every build, and the sources of
compiled modules are removed (sourceless ``foo.pyc`` next to where ``foo.py`` was).
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.metadata
import re
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from rootfs import contents
from rootfs.apt import Progress
from rootfs.host import BuildError, run

PYTHON_VERSION = "3.11"


def stdlib_keep(rel: str) -> bool:
    """Whether ``rel`` (a path under /usr/lib/python3.11) is shipped."""
    parts = rel.split("/")
    if parts[0] in contents.STDLIB_DROP or parts[0] == "sitecustomize.py":
        return False
    if "__pycache__" in parts or any(p in ("test", "tests", "idle_test") for p in parts[:-1]):
        return False
    if parts[0] == "encodings" and len(parts) == 2:
        return parts[1].split(".", 1)[0] not in contents.ENCODINGS_DROP
    if parts[0] == "lib-dynload":
        return parts[-1].split(".", 1)[0] not in contents.DYNLOAD_DROP
    return not rel.endswith((".exe", ".pyi", ".txt", ".bat", ".ps1", ".csh", ".fish"))


def site_keep(rel: str) -> bool:
    """Whether ``rel`` (a path under site-packages, from a wheel) is shipped."""
    parts = rel.split("/")
    if "__pycache__" in parts:
        return False
    if any(fnmatch.fnmatchcase(rel, pattern) for pattern in contents.SITE_DROP):
        return False
    if parts[:2] == ["pygments", "lexers"] and len(parts) == 3:
        return parts[2].removesuffix(".py") in contents.PYGMENTS_LEXERS_KEPT
    return True


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(top: Sequence[str]) -> tuple[str, ...]:
    """``name==version`` for ``top`` and everything they need (extras included), as installed
    in the running environment. Markers are evaluated for CPython 3.11 on x86_64 Linux."""
    try:
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
    except ImportError as e:  # pragma: no cover - the .venv has it (pytest needs it)
        raise BuildError("the builder needs the 'packaging' module (pip install packaging)") from e
    env: dict[str, str] = {
        **{key: str(value) for key, value in default_environment().items()},
        "python_version": PYTHON_VERSION,
        "python_full_version": f"{PYTHON_VERSION}.2",
        "sys_platform": "linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    pins: dict[str, str] = {}
    queue: list[tuple[str, frozenset[str]]] = [(name, frozenset()) for name in top]
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop(0)
        key = _normalize(name)
        if (key, extras) in done:
            continue
        done.add((key, extras))
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as e:
            raise BuildError(
                f"{name} is not installed in {sys.prefix}; run: bash scripts/setup"
            ) from e
        pins[key] = dist.version
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is not None and not any(
                req.marker.evaluate({**env, "extra": extra}) for extra in (*extras, "")
            ):
                continue
            queue.append((req.name, frozenset(req.extras)))
    return tuple(f"{name}=={version}" for name, version in sorted(pins.items()))


def _wheel_for(directory: Path, pin: str) -> Path | None:
    name, _, version = pin.partition("==")
    prefix = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
    for path in sorted(directory.glob("*.whl")):
        if path.name.lower().startswith(prefix):
            return path
    return None


def fetch_wheels(pins: Sequence[str], directory: Path, progress: Progress) -> list[Path]:
    """The wheel of every pin, downloaded into ``directory`` unless already there."""
    directory.mkdir(parents=True, exist_ok=True)
    missing = [pin for pin in pins if _wheel_for(directory, pin) is None]
    if missing:
        progress(f"downloading {len(missing)} wheels: {' '.join(missing)}")
        run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary=:all:", "--python-version", PYTHON_VERSION,
                "--implementation", "cp", "--abi", "cp311",
                "--platform", "manylinux2014_x86_64", "--dest", directory, *missing,
            ]
        )  # fmt: skip
    wheels = []
    for pin in pins:
        wheel = _wheel_for(directory, pin)
        if wheel is None:
            raise BuildError(f"pip download did not write a wheel for {pin} into {directory}")
        wheels.append(wheel)
    return wheels


def wheel_members(names: Iterable[str]) -> dict[str, str]:
    """Member name → path under site-packages for the members of a wheel that are installed
    (the ``*.data/purelib`` and ``platlib`` parts are moved up; scripts, headers and data are
    left out)."""
    result = {}
    for name in names:
        if name.endswith("/"):
            continue
        first, _, rest = name.partition("/")
        if first.endswith(".data"):
            kind, _, inner = rest.partition("/")
            if kind in ("purelib", "platlib") and inner:
                result[name] = inner
            continue
        result[name] = name
    return result


def unpack_wheel(wheel: Path, target: Path) -> list[str]:
    """Unpack the kept members of ``wheel`` into ``target``; the relative paths written."""
    written = []
    with zipfile.ZipFile(wheel) as zf:
        for member, rel in sorted(wheel_members(zf.namelist()).items()):
            if not site_keep(rel) or rel.startswith("/") or ".." in rel.split("/"):
                continue
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(zf.read(member))
            written.append(rel)
    return written


_COMPILE = """
import compileall, py_compile, sys
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
ok = True
for directory, ddir in zip(sys.argv[1::2], sys.argv[2::2]):
    ok &= bool(compileall.compile_dir(directory, ddir=ddir, quiet=1, legacy=True,
                                      invalidation_mode=mode, workers=0))
sys.exit(0 if ok else 1)
"""


def compile_trees(trees: Sequence[tuple[Path, str]]) -> None:
    """Compile every .py under each (directory, its path in the image) to a sourceless .pyc
    beside it, then remove the sources that compiled."""
    if sys.version_info[:2] != (3, 11):
        raise BuildError(
            f"the builder must run on Python 3.11 (the image's Python); this is {sys.version}"
        )
    args: list[str | Path] = []
    for directory, ddir in trees:
        args += [directory, ddir]
    # Files that do not compile keep their source; the rest is compiled.
    with contextlib.suppress(BuildError):
        run([sys.executable, "-I", "-c", _COMPILE, *args], env={"PYTHONHASHSEED": "0"})
    for directory, _ in trees:
        for source in sorted(directory.rglob("*.py")):
            if source.with_suffix(".pyc").exists():
                source.unlink()
