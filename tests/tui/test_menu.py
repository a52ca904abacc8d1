"""Every key and flow of the menu, driven by Textual's pilot over a fake core."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from bootmenu.core import Core, Power
from bootmenu.errors import EXIT_OK, EXIT_SHELL
from bootmenu.model import Source
from bootmenu.password import pbkdf2_hash
from bootmenu.tui.app import BootmenuApp, MenuResult
from bootmenu.tui.coreapi import OnChange
from bootmenu.tui.custom import CustomScreen
from bootmenu.tui.edit import EditScreen
from bootmenu.tui.entrylist import EntryList
from bootmenu.tui.filepicker import FilePicker
from bootmenu.tui.help import HelpScreen
from bootmenu.tui.info import InfoScreen
from bootmenu.tui.main import MainScreen
from bootmenu.tui.password import PasswordScreen
from bootmenu.tui.progress import BootScreen
from tests.images import bzimage
from tests.tui.fakecore import (
    ARCH_UKI,
    DEBIAN_ARM,
    ENTRIES,
    FEDORA_CMDLINE,
    FEDORA_NEW,
    FEDORA_OLD,
    NVME_ROOT,
    USB,
    WINDOWS,
    XEN,
    FakeCore,
    factory,
    fedora,
    make_config,
)
from tests.tui.pilot import run, text, wait_for

P = Pilot[MenuResult]


def cursor(app: BootmenuApp) -> str | None:
    entry = app.screen.query_one(EntryList).highlighted_entry
    return entry.id if entry is not None else None


def result(app: BootmenuApp) -> MenuResult:
    assert isinstance(app.return_value, MenuResult), app.return_value
    return app.return_value


# --- the main screen --------------------------------------------------------------------------


def test_entries_grouped_by_device_with_marks() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        lines = text(app).splitlines()
        heading = lines.index('/dev/nvme0n1p2 "fedora" ext4 200.0 GiB'.ljust(80))
        # Cursor and default on the disk's default; the kind column; the version at the right.
        assert lines[heading + 1].startswith(">*  Linux     Fedora Linux 40 (Workstation Edition)")
        assert lines[heading + 1].rstrip().endswith("6.8.9-300.fc40.x86_64")
        assert lines[heading + 3].startswith("    Multiboot Xen hypervisor 4.17 with Fedora")
        esp = lines.index('/dev/nvme0n1p1 "ESP" vfat 600.0 MiB'.ljust(80))
        assert lines[esp + 1].startswith("    UKI       Arch Linux")
        assert lines[esp + 2].startswith("  ! Windows   Windows Boot Manager")
        assert any(line.startswith("  ! Linux     Debian GNU/Linux 12") for line in lines)
        # Devices bootmenu cannot use are listed with the reason.
        assert any("/dev/nvme0n1p3 locked: encrypted with LUKS" in line for line in lines)
        assert any("/dev/sdb1 unsupported: an LVM physical volume" in line for line in lines)
        assert "6 entries" in lines[0]
        assert cursor(app) == FEDORA_NEW.id

    run(script)


def test_an_entry_booting_another_disks_files_is_shown_under_its_configurations_disk() -> None:
    # A stick's grub.cfg that searches the internal disk and boots its kernel with init=/bin/sh.
    steered = replace(
        FEDORA_OLD, id="grub:steered", title="Steered", root=NVME_ROOT, config_root=USB
    )

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        lines = text(app).splitlines()
        stick = next(i for i, line in enumerate(lines) if line.startswith("/dev/sda1 "))
        assert lines[stick + 1].startswith("  ! Linux     Debian GNU/Linux 12")
        assert lines[stick + 2].startswith("    Linux     Steered (boots files of fedora)")
        # Still said with the cursor on it, and after it moves on (rows are redrawn).
        app.screen.query_one(EntryList).select_entry("grub:steered")
        await pilot.pause()
        assert ">   Linux     Steered (boots files of fedora)" in text(app)
        await pilot.press("up")
        assert "    Linux     Steered (boots files of fedora)" in text(app)

    run(script, entries=(*ENTRIES, steered))


def test_problem_entry_shows_its_reason_under_the_list() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("end")
        assert cursor(app) == DEBIAN_ARM.id
        screen = text(app)
        assert "! cannot boot: /boot/vmlinuz-6.1.0-21-arm64: built for aarch64" in screen
        assert "(+1 more)" in screen
        # Enter does not boot it: the details say why.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoScreen))
        assert core.called("boot") == []

    run(script)


def test_arrows_skip_headings_and_devices() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        seen = [cursor(app)]
        for _ in range(len(ENTRIES) - 1):
            await pilot.press("down")
            seen.append(cursor(app))
        shown = [FEDORA_NEW, FEDORA_OLD, XEN, ARCH_UKI, WINDOWS, DEBIAN_ARM]
        assert seen == [e.id for e in shown]
        await pilot.press("k")
        assert cursor(app) == WINDOWS.id
        await pilot.press("j")
        assert cursor(app) == DEBIAN_ARM.id
        await pilot.press("home")
        assert cursor(app) == FEDORA_NEW.id

    run(script)


# --- countdown ------------------------------------------------------------------------------


def test_countdown_is_shown_and_boots_the_decided_entry() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        assert 'Booting "Fedora Linux 40 (Workstation Edition)" in 3 s' in text(app)
        app.tick_countdown()
        await pilot.pause()
        assert 'Booting "Fedora Linux 40 (Workstation Edition)" in 2 s' in text(app)
        app.tick_countdown()
        assert core.called("boot") == []
        app.tick_countdown()
        await wait_for(pilot, lambda: app.return_value is not None)

    app, core = run(script, config=make_config(timeout=3))
    (entries,) = core.called("boot")
    # The decision's entry first, then the bootable fallbacks in menu order.
    assert entries == (FEDORA_NEW, FEDORA_OLD, XEN, ARCH_UKI)
    assert result(app).status == EXIT_OK
    assert result(app).plan is not None and result(app).plan.entry == FEDORA_NEW  # type: ignore[union-attr]
    assert "the disk's default" in result(app).reason
    assert core.called("consume_oneshot") == [None]


# --- the menu on another console (bootmenu.remote) --------------------------------------------


def test_the_leading_menu_shares_its_countdown_and_its_keys() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        app.tick_countdown()
        await pilot.pause()
        assert core.countdowns[-1] == 2
        await pilot.press("down")
        assert core.touched  # every console's countdown stops

    run(script, config=make_config(timeout=3))


def test_a_following_menu_shows_the_leaders_countdown_and_never_boots_by_itself() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        assert 'Booting "Fedora Linux 40 (Workstation Edition)" in 7 s' in text(app)
        for _ in range(5):  # its own clock does not count down
            app.tick_countdown()
        core.publish(countdown=0)
        await pilot.pause()
        assert core.called("boot") == []
        core.publish(touched=True)  # a key on another console
        await wait_for(pilot, lambda: "Automatic boot stopped" in text(app))
        core.publish(booting="'Fedora Linux 40 (Workstation Edition)': Reading and checking")
        await wait_for(pilot, lambda: "Another console boots 'Fedora Linux 40" in text(app))

    run(script, config=make_config(timeout=3), leads=False, countdown=7)


def test_the_countdown_runs_on_its_own() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await wait_for(pilot, lambda: app.return_value is not None)

    _app, core = run(script, tick=0.02, config=make_config(timeout=2))
    assert core.called("boot")[0][0] == FEDORA_NEW


def test_any_key_stops_the_countdown() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        app.tick_countdown()
        await pilot.press("down")
        for _ in range(5):
            app.tick_countdown()
        await pilot.pause()
        assert core.called("boot") == []
        assert "Automatic boot stopped" in text(app)
        assert cursor(app) == FEDORA_OLD.id

    run(script, config=make_config(timeout=2))


def test_countdown_waits_for_scans_before_booting() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        for _ in range(3):
            app.tick_countdown()
        await pilot.pause()
        assert core.called("boot") == []
        screen = text(app)
        assert "when every disk is found" in screen
        assert "[scanning: /dev/sda1]" in screen
        core.publish(busy_reason=None)
        await wait_for(pilot, lambda: bool(core.called("boot")))

    run(script, config=make_config(timeout=1), busy_reason="scanning /dev/sda1")


def test_timeout_0_with_nothing_found_yet_waits_for_settled_then_boots_the_default() -> None:
    """Nothing found yet is not "nothing to boot": the menu waits, then decides on the
    settled view (before, it turned autoboot off for the session, or booted whatever had
    been found, such as a firmware entry)."""

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        for _ in range(3):
            app.tick_countdown()
        await pilot.pause()
        assert core.called("boot") == []
        assert not app.touched
        assert "Looking for boot entries (udev to finish its events)…" in text(app)
        core.publish(entries=ENTRIES, busy_reason=None)
        await wait_for(pilot, lambda: bool(core.called("boot")))
        [booted] = core.called("boot")
        assert booted[0] == FEDORA_NEW  # the default, decided on the settled view
        [settled] = [v for v in core.called("decide") if v is not None]
        assert settled.settled and settled.entries == ENTRIES

    run(script, config=make_config(timeout=0), entries=(), busy_reason="udev to finish its events")


def test_a_probe_that_fails_counts_as_busy_not_as_settled() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        for _ in range(3):
            app.tick_countdown()
        await pilot.pause()
        assert core.called("boot") == []
        assert "[waiting: the core did not answer]" in text(app)
        core.view_error = None
        app.tick_countdown()
        await wait_for(pilot, lambda: bool(core.called("boot")))

    run(script, config=make_config(timeout=0), view_error=OSError("udev went away"))


def test_no_countdown_when_the_menu_waits_for_the_user() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        # Wait for the line (a fixed pause failed on a busy host), then a few more ticks.
        await wait_for(pilot, lambda: "No automatic boot: the menu waits" in text(app))
        await pilot.pause(0.3)
        assert core.called("boot") == []
        assert "No automatic boot: the menu waits for the user" in text(app)

    run(script, tick=0.02, config=make_config(timeout=-1))


def test_one_enter_boots_when_the_menu_waits_for_the_user() -> None:
    """With no countdown (menu-force), the first Enter boots: it does not only 'stop' a
    countdown that is not running."""

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.return_value is not None)

    _app, core = run(script, tick=0.02, config=make_config(timeout=-1))
    assert core.called("boot") == [(FEDORA_NEW,)]


def test_timeout_zero_boots_at_once() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await wait_for(pilot, lambda: app.return_value is not None)

    _app, core = run(script, config=make_config(timeout=0))
    assert core.called("boot")[0][0] == FEDORA_NEW


def test_nothing_bootable_stops_the_countdown_with_the_reason() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        app.tick_countdown()
        await wait_for(pilot, lambda: "Nothing to boot" in text(app))
        assert core.called("boot") == []

    run(script, config=make_config(timeout=1), entries=(WINDOWS, DEBIAN_ARM))


# --- live updates ---------------------------------------------------------------------------


def test_decision_follows_new_entries_until_a_key_is_pressed() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        assert cursor(app) == ARCH_UKI.id
        core.publish(entries=ENTRIES)
        await wait_for(pilot, lambda: cursor(app) == FEDORA_NEW.id)
        assert 'Booting "Fedora Linux 40 (Workstation Edition)"' in text(app)

    run(script, entries=(ARCH_UKI, DEBIAN_ARM))


def test_live_updates_keep_the_cursor_on_the_same_entry() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("down", "down", "down")
        assert cursor(app) == ARCH_UKI.id
        newer = fedora("6.9.0-100.fc40.x86_64")
        core.publish(entries=(newer, *ENTRIES))
        await wait_for(pilot, lambda: newer.id in app.screen.query_one(EntryList).entry_ids())
        assert cursor(app) == ARCH_UKI.id
        # The entry under the cursor goes away (its disk was unplugged): the cursor stays near.
        core.publish(entries=(newer, FEDORA_NEW, FEDORA_OLD, XEN, DEBIAN_ARM), devices=())
        await wait_for(
            pilot, lambda: ARCH_UKI.id not in app.screen.query_one(EntryList).entry_ids()
        )
        assert cursor(app) in (XEN.id, DEBIAN_ARM.id)
        assert "/dev/nvme0n1p3" not in text(app)

    run(script)


def test_scanning_indicator() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        assert "[scanning: /dev/sda1]" in text(app).splitlines()[0]
        core.publish(busy_reason=None)
        await wait_for(pilot, lambda: "scanning" not in text(app).splitlines()[0])

    run(script, busy_reason="scanning /dev/sda1")


def test_start_failure_is_shown() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        assert "bootmenu could not start: cannot listen for udev events" in text(app)

    run(script, start_error="cannot listen for udev events: Permission denied")


# --- booting --------------------------------------------------------------------------------


def test_enter_boots_the_entry_under_the_cursor() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.return_value is not None)

    app, core = run(script)
    assert core.called("boot") == [(FEDORA_OLD,)]
    plan = result(app).plan
    assert plan is not None and plan.entry == FEDORA_OLD
    assert result(app).reason.endswith("chosen in the menu")


def test_a_failed_boot_says_why_and_the_menu_stays_usable() -> None:
    error = "kexec_file_load: the kernel is not signed with a key this kernel trusts"

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("enter")
        await wait_for(pilot, lambda: error in text(app))
        screen = text(app)
        assert "The boot failed" in screen and "14.2 MiB" in screen
        assert core.called("resume") == [None]
        await pilot.press("q")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: len(core.called("boot")) == 2)

    _app, core = run(script, boot_error=error, dry_run=False)
    assert core.called("boot")[1] == (FEDORA_OLD,)


def test_boot_progress_shows_sizes_and_the_plan() -> None:
    gate = threading.Event()

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("enter")
        await wait_for(pilot, lambda: "What is loaded" in text(app))
        screen = text(app)
        assert "Reading again and loading /dev/nvme0n1p2:/vmlinuz-6.8.9" in screen
        assert "14.2 MiB of 80.1 MiB" in screen and "[#" in screen and "18%" in screen
        assert "initrd  /dev/nvme0n1p2:/initramfs-6.8.9-300.fc40.x86_64.img (65.9 MiB)" in screen
        await pilot.press("q")  # no way back while the kernel loads
        assert isinstance(app.screen, BootScreen)
        gate.set()
        await wait_for(pilot, lambda: app.return_value is not None)

    run(script, boot_gate=gate)


# --- e: edit --------------------------------------------------------------------------------


def test_edit_changes_the_command_line_of_this_boot_only() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        assert FEDORA_CMDLINE in text(app)
        await pilot.press("end", "space", "s", "i", "n", "g", "l", "e", "enter")
        await wait_for(pilot, lambda: app.return_value is not None)

    app, core = run(script)
    ((entry,),) = core.called("boot")
    assert entry.cmdline == FEDORA_CMDLINE + " single"
    assert entry.id == FEDORA_NEW.id
    assert core.entries[0].cmdline == FEDORA_CMDLINE  # nothing else changed
    assert "edited command line" in result(app).reason


def test_edit_reset_and_back() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("e", "end", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        assert FEDORA_CMDLINE + "x" in text(app)
        await pilot.press("ctrl+r")
        assert "quietx" not in text(app)
        await pilot.press("ctrl+g")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("e")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

    _app, core = run(script)
    assert core.called("boot") == []


# --- the password ----------------------------------------------------------------------------

HASH = pbkdf2_hash("secret", b"0123456789abcdef", 1000)


def test_password_guards_edit_custom_and_shell_once_given() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        for key in ("e", "n", "x"):
            await pilot.press(key)
            assert isinstance(app.screen, PasswordScreen), key
            await pilot.press("ctrl+g")
            assert isinstance(app.screen, MainScreen)
        assert core.called("rescue_shell") == []
        await pilot.press("e", *"guess", "enter")
        await wait_for(pilot, lambda: "Wrong password (attempt 1)" in text(app))
        await pilot.press(*"secret", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        assert "secret" not in text(app)
        await pilot.press("escape")
        await pilot.press("n")  # unlocked for the rest of the session
        await wait_for(pilot, lambda: isinstance(app.screen, CustomScreen))

    run(script, config=make_config(timeout=5, password=HASH))


ENDING = ("ctrl+q", "ctrl+c", "ctrl+backslash", "ctrl+z", "ctrl+d")


@pytest.mark.parametrize("where", ["initramfs", "workstation-with-password"])
def test_no_key_ends_the_menu_in_the_initramfs_or_without_the_password(where: str) -> None:
    """Ctrl+Q (Textual's quit), Ctrl+C, Ctrl+\\, Ctrl+Z, Ctrl+D: not on the main screen, not on
    the password prompt; with a password, q asks for it."""

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        for key in ENDING:
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.return_value is None, key
        assert "This key does not leave the boot manager" in text(app)
        await pilot.press("x")  # the password prompt: the keys do not get past it either
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen))
        for key in ENDING:
            await pilot.press(key)
            await pilot.pause(0.05)
            assert app.return_value is None and isinstance(app.screen, PasswordScreen), key
        await pilot.press("escape")
        await pilot.press("q")
        if where == "initramfs":
            assert "This is the boot manager" in text(app)
        else:
            await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen))
            await pilot.press(*"secret", "enter")
            await wait_for(pilot, lambda: app.return_value is not None)

    app, core = run(
        script, initramfs=where == "initramfs", config=make_config(timeout=-1, password=HASH)
    )
    assert core.called("rescue_shell") == []
    if where == "initramfs":
        assert app.return_value is None
    else:
        assert app.return_value is not None and app.return_value.status == EXIT_OK


def test_ctrl_q_leaves_a_menu_without_a_password_on_a_workstation() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_value is not None)

    app, _core = run(script, config=make_config(timeout=-1))
    assert app.return_value is not None and app.return_value.status == EXIT_OK


def shows(app: BootmenuApp, words: str) -> bool:
    return words in text(app)


def test_wrong_passwords_wait_longer_and_are_checked_off_the_ui_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bootmenu import password

    threads: list[bool] = []
    real_verify = password.verify

    def verify(hashed: str, typed: str) -> bool:
        threads.append(threading.current_thread() is threading.main_thread())
        return real_verify(hashed, typed)

    monkeypatch.setattr(password, "verify", verify)

    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        app.attempts.delay = lambda failures: 1.0 * failures  # the real ones: 1, 2, 4… s
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen))
        field = app.screen.query_one(Input)
        for attempt in (1, 2):
            await pilot.press(*"guess", "enter")
            await wait_for(pilot, functools.partial(shows, app, f"attempt {attempt})"))
            assert 0 < app.attempts.wait_left() <= 1.0 * attempt
        # Closing the prompt does not shorten the wait: the next check still waits it out.
        await pilot.press("escape", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, PasswordScreen))
        field = app.screen.query_one(Input)
        waiting = app.attempts.wait_left()
        await pilot.press(*"secret", "enter")
        assert field.disabled  # no typing while it waits and checks
        await wait_for(pilot, lambda: not isinstance(app.screen, PasswordScreen))
        assert waiting > 0 and app.attempts.wait_left() == 0 and app.attempts.failures == 0

    _app, core = run(script, config=make_config(timeout=-1, password=HASH))
    assert threads == [False, False, False]
    assert core.called("rescue_shell") == [None]


def test_booting_listed_entries_needs_no_password() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.return_value is not None)

    _app, core = run(script, config=make_config(timeout=5, password=HASH))
    assert core.called("boot") == [(FEDORA_NEW,)]


# --- n: custom entry ------------------------------------------------------------------------


def test_custom_entry_from_files_on_a_filesystem() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("n")
        await wait_for(pilot, lambda: "1/4" in text(app))
        await pilot.press("down", "enter")  # /dev/nvme0n1p2
        await wait_for(pilot, lambda: isinstance(app.focused, FilePicker))
        await pilot.press("enter")  # grub2/
        await wait_for(pilot, lambda: "grub.cfg" in text(app))
        await pilot.press("backspace")  # back up to /, the cursor on grub2/
        await wait_for(pilot, lambda: "loader/" in text(app))
        await pilot.press("down", "down", "down", "enter")  # the kernel
        await wait_for(pilot, lambda: "3/4" in text(app) and isinstance(app.focused, FilePicker))
        await pilot.press("down", "down", "enter")  # the initramfs
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"root=/dev/nvme0n1p2", "enter")
        await wait_for(pilot, lambda: app.return_value is not None)

    app, core = run(script)
    assert core.called("custom_entry") == [
        (
            NVME_ROOT,
            "/vmlinuz-6.8.9-300.fc40.x86_64",
            ("/initramfs-6.8.9-300.fc40.x86_64.img",),
            "root=/dev/nvme0n1p2",
        )
    ]
    ((entry,),) = core.called("boot")
    assert entry.source is Source.CUSTOM and entry.cmdline == "root=/dev/nvme0n1p2"
    assert "typed in the menu" in result(app).reason


def test_custom_entry_with_problems_is_not_booted() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("n")
        await wait_for(pilot, lambda: "1/4" in text(app))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.focused, FilePicker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "grub.cfg" in text(app))
        await pilot.press("enter")  # /grub2/grub.cfg as the kernel
        await wait_for(pilot, lambda: "3/4" in text(app) and isinstance(app.focused, FilePicker))
        await pilot.press("enter")  # (no initrd)
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "! cannot boot: /grub2/grub.cfg: not a kernel" in text(app))
        await pilot.press("ctrl+b")  # a step back: the initrd again
        await wait_for(pilot, lambda: "3/4" in text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

    _app, core = run(script)
    assert core.called("boot") == []


# --- i, s, l --------------------------------------------------------------------------------


def test_info_shows_the_entry_and_its_files_checked() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("i")
        await wait_for(pilot, lambda: "bootable on this machine" in text(app))
        screen = text(app)
        assert "bzimage, linux, x86_64 — bootable on this machine" in screen
        assert "signed: yes" in screen
        assert "initramfs-6.8.9-300.fc40.x86_64.img (65.9 MiB)" in screen
        assert "id:           2a7f1c5e8d6a4f0b9c3e1d2f4a5b6c7d-6.8.9" in screen
        await pilot.press("q")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("end", "i")
        await wait_for(pilot, lambda: "NOT bootable" in text(app))
        screen = text(app)
        assert "! cannot boot:" in screen
        assert "built for aarch64, but this machine is" in screen
        await pilot.press("backspace")
        assert isinstance(app.screen, MainScreen)

    run(script)


def test_system_information() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("s")
        await wait_for(pilot, lambda: "UEFI (64-bit)" in text(app))
        screen = text(app)
        assert "Secure Boot:    enabled" in screen
        assert "lockdown:       integrity" in screen
        assert "16.0 GiB (15.0 GiB available)" in screen
        assert "/dev/nvme0n1p3" in screen and "locked" in screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

    run(script)


def test_log_shows_bootmenus_records_and_the_scan_warnings() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        logging.getLogger("bootmenu.discover.monitor").warning("/dev/sdc: mounting failed: EIO")
        await pilot.press("l")
        screen = text(app)
        assert "! /dev/sda1: /boot/grub/grub.cfg line 3: unknown command" in screen
        assert "WARNING /dev/sdc: mounting failed: EIO" in screen
        await pilot.press("q")
        assert isinstance(app.screen, MainScreen)
        assert "1 warning (l)" in text(app).splitlines()[0]

    run(script, warnings=("/dev/sda1: /boot/grub/grub.cfg line 3: unknown command",))


# --- r, x, p, ?, q -------------------------------------------------------------------------


def test_rescan() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("r")
        await wait_for(pilot, lambda: core.called("rescan") == [None] and not app.rescanning)
        assert "Rescanning every device" in text(app)

    run(script)


def test_shell_inside_the_initramfs_exits_with_status_3() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("x")
        await wait_for(pilot, lambda: app.return_value is not None)

    app, core = run(script, initramfs=True)
    assert result(app).status == EXIT_SHELL == 3
    assert core.called("rescue_shell") == []


def test_shell_outside_the_initramfs_runs_a_shell_and_comes_back() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("x")
        await wait_for(pilot, lambda: core.called("rescue_shell") == [None])
        assert isinstance(app.screen, MainScreen)
        assert "The rescue shell ended (status 0)" in text(app)

    run(script)


def test_power_menu() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("p")
        screen = text(app)
        assert "Reboot into firmware setup" in screen and "not available" not in screen
        await pilot.press("r")
        await wait_for(pilot, lambda: "dry run: would reboot" in text(app))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "dry run: would poweroff" in text(app))
        await pilot.press("f")
        await wait_for(pilot, lambda: "dry run: would firmware-setup" in text(app))
        await pilot.press("q")
        assert isinstance(app.screen, MainScreen)

    _app, core = run(script)
    assert core.called("power") == [Power.REBOOT, Power.POWER_OFF, Power.FIRMWARE_SETUP]


def test_power_menu_firmware_setup_unavailable_and_errors() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("p")
        screen = text(app)
        assert "Reboot into firmware setup (not available)" in screen
        assert "Firmware setup: the machine did not boot through UEFI." in screen
        await pilot.press("f")
        assert "Not available: the machine did not boot through UEFI." in text(app)
        await pilot.press("o")
        await wait_for(pilot, lambda: "cannot power off: Operation not permitted" in text(app))
        await pilot.press("backspace")
        assert isinstance(app.screen, MainScreen)

    _app, core = run(
        script,
        firmware_reason="the machine did not boot through UEFI",
        power_error="cannot power off: Operation not permitted",
    )
    assert core.called("power") == [Power.POWER_OFF]


def test_help_and_every_way_back() -> None:
    async def script(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        for opener, closer in (("question_mark", "q"), ("f1", "backspace"), ("h", "escape")):
            await pilot.press(opener)
            assert isinstance(app.screen, HelpScreen)
            assert "edit the command line, for this boot only" in text(app)
            await pilot.press(closer)
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

    run(script)


def test_q_quits_only_outside_the_initramfs() -> None:
    async def inside(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("q")
        assert "This is the boot manager" in text(app)
        assert app.return_value is None
        await pilot.press("x")
        await wait_for(pilot, lambda: app.return_value is not None)

    run(inside, initramfs=True)

    async def outside(pilot: P, app: BootmenuApp, core: FakeCore) -> None:
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_value is not None)

    app, _core = run(outside)
    assert result(app) == MenuResult(EXIT_OK)


# --- the real core, and the serial-console look --------------------------------------------


def test_the_real_core_through_the_same_factory(tmp_path: Path) -> None:
    """`bootmenu menu --root DIR --dry-run`: the real Core, scanning a directory."""
    root = tmp_path / "boot"
    (root / "loader" / "entries").mkdir(parents=True)
    (root / "vmlinuz-6.1").write_bytes(bzimage("6.1.0-menu-amd64"))
    (root / "loader" / "entries" / "debian.conf").write_text(
        "title Debian GNU/Linux\nversion 6.1.0-menu-amd64\nlinux /vmlinuz-6.1\noptions quiet\n"
    )
    (root / "loader" / "entries" / "broken.conf").write_text("title Broken\nlinux /missing\n")
    cores: list[Core] = []

    def make(on_change: OnChange) -> Core:
        core = Core(roots=[str(root)], config_file=None, cmdline="", dry_run=True,
                    efivars_dir=str(tmp_path / "none"), on_change=on_change)  # fmt: skip
        cores.append(core)
        return core

    app = BootmenuApp(make, tick=3600, initramfs=False, theme="textual-dark")

    async def main() -> None:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: app.started)
            await pilot.pause()
            screen = text(app)
            assert f"{root}" in screen
            assert "! Linux     Broken" in screen
            assert "6.1.0-menu-amd64" in screen
            await pilot.press("r")
            await wait_for(pilot, lambda: not app.rescanning)
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: "! cannot boot" in text(app))  # Broken: its details
            await pilot.press("q", "up", "enter")
            await wait_for(pilot, lambda: app.return_value is not None)

    asyncio.run(main())
    plan = result(app).plan
    assert plan is not None and plan.entry.id == "debian.conf" and plan.cmdline == "quiet"
    assert [s.what for s in plan.segments] == ["kernel", "cmdline"]
    for core in cores:
        core.close()


def test_vt100_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "vt100")
    monkeypatch.setenv("NO_COLOR", "1")
    app = BootmenuApp(factory(), tick=3600, initramfs=True)

    async def main() -> None:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: app.started)
            await pilot.pause()
            assert app.theme == "ansi-dark" and app.has_class("-mono")
            assert app.native_ansi_color  # so NO_COLOR strips colours instead of greying them
            entries = app.screen.query_one(EntryList)
            style = entries.get_component_rich_style("option-list--option-highlighted")
            assert style.reverse
            assert ">*  Linux" in text(app) and "  ! Windows" in text(app)

    asyncio.run(main())
