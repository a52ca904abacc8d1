"""The core decides only on a ready view, and from that view's own entries.

Discovery is replaced by snapshots given to the core by hand (what discovery's thread does
through ``on_change``), so each rule is checked without udev: an unsettled view is not ready;
``settle_timeout`` turns waiting into a decision that says it gave up; a ``wait_for`` device
keeps the view unsettled until it is there or ``wait_timeout`` is over; a decision is taken on
the view it is given even when a newer snapshot has arrived.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from bootmenu.core import Core
from bootmenu.discover.monitor import Snapshot
from bootmenu.model import BootEntry
from tests.factories import entry

DEBIAN = entry("debian.conf", title="Debian", root="/dev/sda1")
USB = entry("usb.conf", title="On the USB disk", root="/dev/sdc1")


class FakeDiscovery:
    """What the core asks discovery for when it computes a view: ``wait_for``."""

    def __init__(self, missing: Sequence[str] = ()) -> None:
        self.missing = list(missing)

    def wait_for(self, specs: Sequence[str], timeout: float) -> list[str]:
        return [s for s in specs if s in self.missing]

    def stop(self, *, unmount: bool = True) -> None:
        pass


def make_core(tmp_path: Path, cmdline: str = "") -> Core:
    efivars = tmp_path / "efivars"
    efivars.mkdir(exist_ok=True)
    core = Core(config_file=None, cmdline=cmdline, dry_run=True, efivars_dir=str(efivars))
    core._discovery = FakeDiscovery()  # type: ignore[assignment]
    core._started_at = time.monotonic()
    return core


def snapshot(
    generation: int, *entries: BootEntry, settled: bool = True, waiting: Sequence[str] = ()
) -> Snapshot:
    return Snapshot(entries=entries, generation=generation, settled=settled, waiting=tuple(waiting))


def test_a_view_is_not_ready_until_discovery_has_settled(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    assert not core.view().ready  # no snapshot yet
    assert core.view().waiting == ("discovery to start",)
    core._take(snapshot(1, DEBIAN, settled=False, waiting=["scanning /dev/sdc1"]))
    view = core.view()
    assert (view.settled, view.ready, view.waiting) == (False, False, ("scanning /dev/sdc1",))
    core._take(snapshot(2, DEBIAN, USB))
    assert core.view().ready


def test_settle_timeout_ends_the_wait_and_the_decision_says_so(tmp_path: Path) -> None:
    core = make_core(tmp_path, "bootmenu.settle_timeout=30")
    core._take(snapshot(1, DEBIAN, settled=False, waiting=["udev to finish its events"]))
    assert not core.view().ready
    core._started_at -= 31
    view = core.view()
    assert view.ready and not view.settled
    assert view.gave_up == (
        "the machine had not settled after 30 s (settle_timeout); still waiting for "
        "udev to finish its events"
    )
    decision = core.decide(view)
    assert decision.entry == DEBIAN
    assert decision.reason.endswith(f"({view.gave_up})")


def test_a_wait_for_device_keeps_the_view_unsettled_until_wait_timeout(tmp_path: Path) -> None:
    core = make_core(tmp_path, "bootmenu.wait_for=LABEL=data bootmenu.wait_timeout=10")
    core._discovery = FakeDiscovery(missing=["LABEL=data"])  # type: ignore[assignment]
    core._take(snapshot(1, DEBIAN))
    view = core.view()
    assert not view.ready and view.waiting == ("LABEL=data (wait_for)",)
    core._started_at -= 11  # wait_timeout is over: wait_for no longer holds it up
    assert core.view().settled


def test_the_decision_is_taken_on_the_view_it_is_given(tmp_path: Path) -> None:
    """The menu checks a view is settled, then decides: a snapshot that arrives in between
    (a disk plugged in) must not change what that decision boots."""
    core = make_core(tmp_path, "bootmenu.default=usb.conf")
    core._take(snapshot(1, DEBIAN))
    checked = core.view()
    core._take(snapshot(2, DEBIAN, USB))  # a disk appeared after the check
    assert core.decide(checked).entry == DEBIAN
    assert core.decide().entry == USB


def test_an_older_snapshot_does_not_replace_a_newer_one(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    core._take(snapshot(2, DEBIAN, USB))
    state = core._take(snapshot(1, DEBIAN))  # the headless wait's snapshot, taken late
    assert core.view().generation == 2
    assert core._make_view(state).entries == (DEBIAN,)


@pytest.mark.parametrize("settled", [True, False])
def test_find_looks_in_the_view_it_is_given(tmp_path: Path, settled: bool) -> None:
    core = make_core(tmp_path)
    core._take(snapshot(1, DEBIAN, settled=settled))
    view = core.view()
    core._take(snapshot(2, USB))
    assert core.find("debian.conf", view) == DEBIAN
    assert core.find("usb.conf") == USB
