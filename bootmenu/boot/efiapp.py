"""What the two ways of starting an EFI application (:mod:`bootmenu.boot.payload` and
:mod:`bootmenu.boot.bootnext`) share: reading and checking the application's file, the
:class:`~bootmenu.boot.handoff.Plan` both build, and the check, just before the start, that the
bytes are still the ones that were checked."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from bootmenu.boot.handoff import Environment, Method, Plan, ReaderFor, Segment
from bootmenu.errors import ERRORS, HandoffError
from bootmenu.model import BootEntry, Kind, Volume
from bootmenu.system.fs import MAX_IMAGE_SIZE
from bootmenu.validate import inspect_image


@dataclass(frozen=True)
class Application:
    """An entry's EFI application as read for a plan: its segment (None when it could not be
    read, or the entry names no file), what is wrong with it, and the volume it is on."""

    segment: Segment | None
    problems: tuple[str, ...] = ()
    volume: Volume | None = None


def read_application(entry: BootEntry, reader_for: ReaderFor, env: Environment) -> Application:
    """Read ``entry.kernel`` from its volume and validate it as an EFI application for this
    machine (``validate.inspect_image``); every problem is a sentence, nothing raises."""
    if not entry.kernel:
        return Application(None)
    try:
        reader = reader_for(entry.root)
    except ERRORS as e:
        return Application(None, (f"cannot read {entry.root}: {e}",))
    try:
        data = reader.read(entry.kernel, limit=MAX_IMAGE_SIZE)
    except ERRORS as e:
        return Application(None, (str(e),), reader.volume)
    info = inspect_image(data, expect=Kind.EFI.value, host_arch=env.host_arch)
    segment = Segment(
        "efi-application",
        f"{reader.volume.name}:{entry.kernel}",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    return Application(segment, tuple(f"{entry.kernel}: {p}" for p in info.problems), reader.volume)


def application_plan(
    entry: BootEntry,
    method: Method,
    *,
    kernel: str,
    cmdline: str,
    segments: Sequence[Segment],
    reason: str,
    problems: Sequence[str],
    notes: Sequence[str],
) -> Plan:
    """The plan of an EFI application: no initrds or modules, problems without repeats."""
    return Plan(
        entry=entry,
        method=method,
        kernel=kernel,
        initrd=(),
        cmdline=cmdline,
        modules=(),
        segments=tuple(segments),
        reason=reason,
        problems=tuple(dict.fromkeys(problems)),
        notes=tuple(notes),
    )


def require_unchanged(plan: Plan, segments: Sequence[Segment], what: str) -> None:
    """HandoffError unless ``segments`` (read again just now) are the plan's, byte for byte
    (by SHA-256): ``what`` names the files in the message."""
    if [(s.source, s.sha256) for s in segments] != [(s.source, s.sha256) for s in plan.segments]:
        raise HandoffError(f"{what} changed after it was checked; bootmenu does not start it")
