"""The messages the menu's parts exchange (data arrives as dataclass messages)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from bootmenu.core import Plan, Progress, View
from bootmenu.model import BootEntry


@dataclass
class ViewChanged(Message):
    """The core has a new view (posted from a discovery thread, or after start/rescan)."""

    view: View


@dataclass
class Started(Message):
    """``Core.start`` returned (``error`` when it failed)."""

    view: View | None
    error: str | None = None


@dataclass
class BootProgressed(Message):
    """A step of a boot (posted from the booting thread)."""

    progress: Progress


@dataclass
class BootFinished(Message):
    """A boot ended without jumping: ``plan`` on a dry run, else ``error`` says why."""

    entry: BootEntry
    plan: Plan | None
    error: str | None = None


@dataclass
class BootAttemptFailed(Message):
    """One entry failed to load; the next one (``fallback``) is tried."""

    entry: BootEntry
    error: str
