"""Start-up phase marks for bench/: the seconds since the kernel started at named points.

``phase("start")`` notes the first time a point is reached, with ``/proc/uptime`` (and, for
the bench, the process's peak RSS so far).  Where the
note goes is the ``BOOTMENU_PHASES`` environment variable (the bench puts it on the kernel
command line, which hands it to /init's environment):

- ``1``: on the console, as a ``bootmenu: phase NAME t=SECONDS`` log line (headless modes);
- a path (``/dev/ttyS1``): that line appended to the file, so a menu that owns the console
  can be timed through a second serial port without drawing over its screen;
- unset: a debug message only.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Final

PHASES_ENV: Final = "BOOTMENU_PHASES"
PROC_UPTIME: Final = Path("/proc/uptime")

log = logging.getLogger("bootmenu")
_logged: set[str] = set()


def uptime() -> str:
    """Seconds since the kernel started, as /proc/uptime writes them ("?" when unreadable)."""
    try:
        return PROC_UPTIME.read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def peak_rss_kib() -> str:
    """This process's peak resident set (VmHWM, kB) so far ("?" when unreadable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return line.split()[1]
    except (OSError, IndexError):
        pass
    return "?"


def phase(name: str) -> None:
    """Note that start-up reached ``name`` (once per name and process)."""
    if name in _logged:
        return
    _logged.add(name)
    target = os.environ.get(PHASES_ENV, "")
    text = f"phase {name} t={uptime()}"
    if target:
        text += f" hwm={peak_rss_kib()}"
    if target.startswith("/"):
        # O_NONBLOCK: a serial port's open would otherwise wait for its carrier; O_NOCTTY: never
        # bootmenu's controlling terminal.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(target, flags, 0o644)
            try:
                os.write(fd, f"bootmenu: {text}\n".encode("ascii"))
            finally:
                os.close(fd)
        except OSError:
            pass
        log.debug("%s", text)
    elif target == "1":
        if log.hasHandlers():
            log.info("%s", text)
        else:  # before the command line has set up logging (the first mark, "python")
            print(f"bootmenu: {text}", file=sys.stderr, flush=True)
    else:
        log.debug("%s", text)
