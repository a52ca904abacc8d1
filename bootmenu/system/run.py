"""Running other programs: the one place bootmenu starts a process.

Every command goes through :func:`run`, which logs ``+ cmd`` at debug level and turns every way
a program can fail into a :class:`CommandError` whose message is a sentence:

- ``"kexec: not found"`` (no such program, or exit status 127),
- ``"kexec: killed by SIGKILL"``,
- ``"kexec -l … failed (exit 1): Cannot determine the file type of /boot/vmlinuz"``,
- ``"kexec -l … did not finish within 30 s"``.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from bootmenu.errors import BootmenuError

log = logging.getLogger("bootmenu.system.run")

EXIT_NOT_FOUND = 127  # what shells (and busybox) return for a command that does not exist


class CommandError(BootmenuError):
    """A program could not be started, failed, was killed or took too long.

    ``cmd`` is the full argument vector, ``returncode`` the exit status (negative: killed by that
    signal; ``None``: it did not finish or never started), ``stderr`` what it wrote to standard
    error (empty when not captured).
    """

    def __init__(
        self,
        message: str,
        *,
        cmd: Sequence[str],
        returncode: int | None,
        stderr: bytes = b"",
    ):
        super().__init__(message)
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.stderr = stderr


def _program(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0]) or argv[0]


def _short(argv: Sequence[str]) -> str:
    """``kexec -l …``: the program, its first argument, and an ellipsis for the rest."""
    words = [_program(argv), *argv[1:2]]
    if len(argv) > 2:
        words.append("…")
    return " ".join(words)


def _last_line(data: bytes | None) -> str:
    if not data:
        return ""
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_failure(argv: Sequence[str], returncode: int, stderr: bytes | None) -> str:
    """The sentence for a finished process with a nonzero exit status."""
    if returncode == EXIT_NOT_FOUND:
        return f"{_program(argv)}: not found"
    if returncode < 0:
        return f"{_program(argv)}: killed by {_signal_name(-returncode)}"
    message = f"{_short(argv)} failed (exit {returncode})"
    last = _last_line(stderr)
    return f"{message}: {last}" if last else message


def run(
    cmd: Sequence[str | Path],
    *,
    check: bool = True,
    capture: bool = True,
    input: bytes | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    terminal: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` and wait for it.

    With ``capture`` (the default) standard output and error are collected in the result;
    otherwise they are inherited. Standard input is ``input`` when given, else ``/dev/null``, so a
    child never reads the keys meant for the menu. ``terminal`` gives the child bootmenu's own
    standard input, output and error (the menu's rescue shell; implies no capture).

    A nonzero exit status raises :class:`CommandError` when ``check`` is true and is returned
    otherwise. A program that cannot be started or does not finish within ``timeout`` seconds
    (it is killed) always raises: there is no result to return.
    """
    if not cmd:
        raise ValueError("run() needs a command")
    argv = [os.fspath(arg) for arg in cmd]
    log.debug("+ %s", shlex.join(argv))
    if terminal:
        capture = False
    try:
        result = subprocess.run(
            argv,
            input=input,
            stdin=subprocess.DEVNULL if input is None and not terminal else None,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            timeout=timeout,
            env=env,
            check=False,
        )
    except FileNotFoundError as e:
        raise CommandError(
            f"{_program(argv)}: not found", cmd=argv, returncode=EXIT_NOT_FOUND
        ) from e
    except PermissionError as e:
        raise CommandError(
            f"{_program(argv)}: cannot be run: {e.strerror}", cmd=argv, returncode=None
        ) from e
    except subprocess.TimeoutExpired as e:
        raise CommandError(
            f"{_short(argv)} did not finish within {timeout:g} s",
            cmd=argv,
            returncode=None,
            stderr=e.stderr or b"",
        ) from e
    if check and result.returncode != 0:
        raise CommandError(
            describe_failure(argv, result.returncode, result.stderr),
            cmd=argv,
            returncode=result.returncode,
            stderr=result.stderr or b"",
        )
    return result


# Serial consoles often report 0x0: the menu is drawn for this size there.
CONSOLE_SIZE = (25, 80)


def _console_size(fd: int) -> None:
    import fcntl
    import struct
    import termios

    rows, cols = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)))[:2]
    if rows == 0 or cols == 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", *CONSOLE_SIZE, 0, 0))


def spawn_on_terminal(
    cmd: Sequence[str | Path], terminal: str, *, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` on the terminal ``terminal`` (``/dev/ttyS1``) as its controlling terminal,
    in a session of its own (as /init's ``setsid cttyhack``), with standard input, output and
    error on it; a 0x0 serial terminal is given 80x25 first.  CommandError when the terminal
    cannot be opened or the program cannot be started."""
    argv = [os.fspath(arg) for arg in cmd]
    log.debug("+ %s (on %s)", shlex.join(argv), terminal)
    try:
        fd = os.open(terminal, os.O_RDWR | os.O_NOCTTY)
    except OSError as e:
        raise CommandError(
            f"{terminal}: cannot open it: {e.strerror}", cmd=argv, returncode=None
        ) from e
    try:
        _console_size(fd)

        def become_its_session() -> None:
            import fcntl
            import termios

            fcntl.ioctl(0, termios.TIOCSCTTY, 1)

        return subprocess.Popen(
            argv,
            stdin=fd,
            stdout=fd,
            stderr=fd,
            env=env,
            start_new_session=True,
            preexec_fn=become_its_session,  # after setsid: this terminal becomes its own
            close_fds=True,
        )
    except OSError as e:
        raise CommandError(
            f"{_program(argv)}: cannot be started: {e.strerror}", cmd=argv, returncode=None
        ) from e
    finally:
        os.close(fd)
