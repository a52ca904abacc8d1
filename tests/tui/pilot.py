"""Running the menu under Textual's pilot with a fake core."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from bootmenu.tui.app import BootmenuApp, MenuResult
from tests.tui.fakecore import FakeCore, factory
from tests.tui.screen import screen_text

SIZE = (80, 25)
FROZEN = 3600.0  # a countdown "second" that never ends during a test

Script = Callable[[Pilot[MenuResult], BootmenuApp, FakeCore], Awaitable[None]]


async def wait_for(
    pilot: Pilot[MenuResult], condition: Callable[[], bool], timeout: float = 5.0
) -> None:
    """Let the app run until ``condition()`` holds (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out; the screen shows:\n" + screen_text(pilot.app))
        await pilot.pause(0.02)


def run(script: Script, *, tick: float = FROZEN, initramfs: bool = False, **options: object
        ) -> tuple[BootmenuApp, FakeCore]:  # fmt: skip
    """Run ``script`` against a started menu; returns the app (its ``return_value`` is the
    menu's result) and the fake core."""
    made = factory(**options)
    app = BootmenuApp(made, tick=tick, initramfs=initramfs, theme="textual-dark")

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.started)
            await pilot.pause()
            assert made.core is not None
            await script(pilot, app, made.core)

    asyncio.run(main())
    assert made.core is not None
    return app, made.core


def text(app: App[Any]) -> str:
    return screen_text(app)
