"""A logging handler that keeps bootmenu's last log lines for the menu's log screen (``l``)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Final

DEFAULT_LINES: Final = 500


class LogBuffer(logging.Handler):
    """Keeps the last ``capacity`` formatted records; thread-safe (discovery logs from its
    threads).  ``serial`` grows with every record, so a screen can tell when to redraw."""

    def __init__(self, capacity: int = DEFAULT_LINES, *, clock: bool = True):
        super().__init__(logging.DEBUG)
        self.records: deque[tuple[str, str]] = deque(maxlen=capacity)
        self.serial = 0
        self._guard = threading.Lock()
        fmt = "%(asctime)s %(levelname)s %(message)s" if clock else "%(levelname)s %(message)s"
        self.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
        self.formatter.converter = time.localtime  # type: ignore[union-attr]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a broken record must not break the menu
            line = f"{record.levelname} {record.msg!r}"
        with self._guard:
            for part in line.splitlines() or [""]:
                self.records.append((record.levelname, part))
            self.serial += 1

    def lines(self) -> tuple[tuple[str, str], ...]:
        """(level name, text) of every kept line, oldest first."""
        with self._guard:
            return tuple(self.records)
