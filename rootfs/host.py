"""Running host programs: every command the builder runs goes through :func:`run`.

It prints ``+ cmd`` when asked to (``verbose``), and turns a failure into a :class:`BuildError`
whose message names the program and quotes the last line it wrote to standard error.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class BuildError(Exception):
    """The build cannot go on; the message is a sentence for the person running it."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def require(*programs: str) -> None:
    """Fail early, with the Debian package to install, when a host program is missing."""
    packages = {
        "apt-get": "apt",
        "apt-cache": "apt",
        "dpkg-deb": "dpkg",
        "depmod": "kmod",
        "modprobe": "kmod",
        "objcopy": "binutils",
        "zstd": "zstd",
        "ldconfig": "libc-bin",
    }
    missing = [p for p in programs if shutil.which(p) is None and not _in_sbin(p)]
    if missing:
        wanted = sorted({packages.get(p, p) for p in missing})
        raise BuildError(
            f"the build needs {', '.join(missing)}; install them with: "
            f"apt-get install {' '.join(wanted)} (or run: bash scripts/setup)"
        )


def _in_sbin(program: str) -> bool:
    return any(Path(d, program).exists() for d in ("/usr/sbin", "/sbin"))


def which(program: str) -> str:
    """The full path of a host program, also looking in /usr/sbin and /sbin."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found is None:
        raise BuildError(f"{program}: not found on this machine")
    return found


def run(
    cmd: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    verbose: bool = False,
    input: bytes | None = None,
) -> str:
    """Run ``cmd`` and return its standard output (text). Raises :class:`BuildError`."""
    argv = [str(a) for a in cmd]
    argv[0] = which(argv[0]) if "/" not in argv[0] else argv[0]
    if verbose:
        print("+ " + shlex.join(str(a) for a in cmd), flush=True)
    full_env = None if env is None else {**os.environ, **env}
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            input=input,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            check=False,
        )
    except OSError as e:
        raise BuildError(f"{cmd[0]}: cannot run: {e.strerror}") from e
    out = result.stdout.decode("utf-8", "replace") if result.stdout else ""
    if result.returncode != 0:
        err = result.stderr.decode("utf-8", "replace") if result.stderr else ""
        detail = _last_line(err) or _last_line(out)
        raise BuildError(
            f"{shlex.join(str(a) for a in cmd[:3])}{' …' if len(cmd) > 3 else ''} failed "
            f"(exit {result.returncode}){': ' + detail if detail else ''}"
        )
    return out
