"""How the menu looks at 80x25 (pytest-textual-snapshot; SVGs under __snapshots__/).

Deterministic: fixed entries from the fake core, the countdown frozen (a countdown second
lasts an hour), a fixed theme.  Update with ``pytest tests/tui --snapshot-update`` and look
at the SVGs before committing them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from bootmenu.tui.app import BootmenuApp
from bootmenu.tui.edit import EditScreen
from bootmenu.tui.help import HelpScreen
from tests.tui.fakecore import factory, make_config
from tests.tui.pilot import FROZEN, SIZE, text, wait_for

SnapCompare = Callable[..., bool]


def menu(**options: object) -> BootmenuApp:
    options.setdefault("dry_run", False)
    return BootmenuApp(factory(**options), tick=FROZEN, initramfs=True, theme="textual-dark")


async def started(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, BootmenuApp)
    await wait_for(pilot, lambda: app.started)
    await pilot.pause()


def test_countdown(snap_compare: SnapCompare) -> None:
    """The menu as it comes up: the default under the cursor, the countdown running."""
    assert snap_compare(menu(), terminal_size=SIZE, run_before=started)


def test_main_screen(snap_compare: SnapCompare) -> None:
    """After a key: the countdown has stopped; the cursor on the UKI."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("down", "down", "down")

    assert snap_compare(menu(), terminal_size=SIZE, run_before=run_before)


def test_problem_entry(snap_compare: SnapCompare) -> None:
    """An entry that cannot boot: marked "!", dimmed, the reason under the list."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("end")

    assert snap_compare(menu(), terminal_size=SIZE, run_before=run_before)


def test_edit(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, EditScreen))
        await pilot.press("end", "space", "s", "i", "n", "g", "l", "e")

    assert snap_compare(menu(), terminal_size=SIZE, run_before=run_before)


def test_info(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("end", "i")
        await wait_for(pilot, lambda: "NOT bootable" in text(pilot.app))

    assert snap_compare(menu(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(menu(), terminal_size=SIZE, run_before=run_before)


def test_boot_progress(snap_compare: SnapCompare) -> None:
    """Loading: the bar with sizes, and what is loaded (the plan)."""
    gate = threading.Event()

    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "What is loaded" in text(pilot.app))
        # Let the fake finish only after the screenshot (the app waits for it at exit).
        threading.Timer(1.0, gate.set).start()

    assert snap_compare(menu(boot_gate=gate), terminal_size=SIZE, run_before=run_before)


def test_boot_failed(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "The boot failed" in text(pilot.app))

    app = menu(
        boot_error='cannot start "Fedora Linux 40 (Workstation Edition)": the kernel is not '
        "signed with a key this kernel trusts, and lockdown forbids other ways to load it",
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_system(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: "UEFI (64-bit)" in text(pilot.app))

    assert snap_compare(menu(), terminal_size=SIZE, run_before=run_before)


def test_power(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("p")

    app = menu(firmware_reason="the firmware does not offer booting into its setup")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_password(snap_compare: SnapCompare) -> None:
    from bootmenu.password import pbkdf2_hash

    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        await pilot.press("x", *"wrong", "enter")
        await wait_for(pilot, lambda: "Wrong password" in text(pilot.app))

    app = menu(config=make_config(timeout=5, password=pbkdf2_hash("pw", b"salt" * 4, 1000)))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
