"""The menu under QEMU, driven like a person at a serial console.

bootmenu's kernel and initramfs boot with ``bootmenu.mode=menu``; the test reads the screen the
way a VT100 would show it (Textual draws with cursor movements, so the serial stream goes through
a pyte terminal of 80x25, the size /init gives the console) and types keys into the console:

- stop the countdown, go one entry down from the default, ``e``, append a word to the command
  line, Enter: the target kernel prints the command line it got, with the word;
- plug a disk in and out through QMP while the menu is up: its entries appear and go away without
  a key being pressed, and the cursor stays on the entry it was on; then ``p`` ``o`` powers off.

What the screen shows is specified in docs/menu.md ("For the VM tests").  Every disk image must be
bit-identical afterwards.  Both boot with ``quiet``: the kernel's messages would otherwise be
printed over the menu (every mount, every hot-plug), and printing the kernel's boot messages on
the emulated UART costs about 20 s under TCG.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from tests.vm import disks
from tests.vm.conftest import BOOTMENU_FAILED
from tests.vm.qemu import Disk, Machine
from tests.vm.screen import (
    COUNTDOWN,
    DOWN,
    EDITED,
    ENTER,
    ROWS,
    STOPPED,
    Screen,
    titles,
    wait_for_cursor,
    wait_for_menu,
)
from tests.vm.targets import TARGET_EXIT_STATUS, TARGET_LINE

pytestmark = pytest.mark.vm

MakeDisk = Callable[..., Path]

HOTPLUG_PORT: Final = "hotplug0"
HOTPLUG_PORT_ARGS: Final = ("-device", f"pcie-root-port,id={HOTPLUG_PORT},bus=pcie.0,chassis=1")


def test_stop_countdown_edit_second_entry_and_boot_it(
    menu_machine: Callable[..., tuple[Machine, Screen]], make_disk: MakeDisk
) -> None:
    image = make_disk("boot")
    before = disks.sha256(image)
    machine, screen = menu_machine(
        "quiet bootmenu.mode=menu bootmenu.timeout=30", [Disk(image, serial="disk0")]
    )

    # The menu, its countdown running for the disk's default entry, the cursor on it.
    screen.wait("the countdown", lambda: COUNTDOWN.search(screen.text()) is not None, 180)
    wait_for_menu(screen, 7)
    countdown = COUNTDOWN.search(screen.text())
    assert countdown is not None, screen.dump()
    assert countdown.group(1) == disks.DEBIAN.title
    assert int(countdown.group(2)) <= 30
    default = screen.cursor()
    assert default is not None and default.default and default.title == disks.DEBIAN.title, (
        screen.dump()
    )

    # Any key stops the countdown (space: bound to nothing, it only stops it).
    screen.type(" ")
    screen.wait("the countdown stopped", lambda: STOPPED in screen.text(), 30)
    assert COUNTDOWN.search(screen.text()) is None, screen.dump()
    assert screen.cursor() == default, screen.dump()

    # One down from the default: the next entry of the same /boot, the rescue entry.
    rows = screen.rows()
    second = rows[rows.index(default) + 1]
    assert second.title == disks.RESCUE.title and not second.problem, screen.dump()
    screen.type(DOWN)
    wait_for_cursor(screen, second.title)

    # e: the editor, the entry's command line in it, the cursor at its end.
    screen.type("e")
    screen.wait("the editor", lambda: screen.lines[0].strip() == f"Edit: {second.title}", 30)
    screen.wait("the command line in the editor", lambda: "bm.entry=rescue single" in
                screen.text(), 30)  # fmt: skip
    screen.type(EDITED)
    screen.wait(
        "the edited command line",
        lambda: "bm.entry=rescue single" + EDITED in " ".join(screen.text().split()),
        30,
    )
    # The editor fills the 80x25 console: its key bar is on the last row.
    assert "Ctrl+R:reset" in screen.lines[ROWS - 1], screen.dump()

    screen.type(ENTER)
    cmdline = machine.expect(TARGET_LINE, 180, fail=BOOTMENU_FAILED).group(1)
    screen.mark("the target printed its command line")
    status = machine.wait_exit(60)
    screen.mark(f"QEMU exited ({status})")
    machine.close()
    print("\n" + "\n".join(screen.steps))

    assert cmdline == disks.RESCUE.options + EDITED
    assert status == TARGET_EXIT_STATUS
    assert disks.sha256(image) == before, "the boot disk was changed"


def test_disk_plugged_in_and_out_updates_the_menu_and_keeps_the_cursor(
    menu_machine: Callable[..., tuple[Machine, Screen]], make_disk: MakeDisk
) -> None:
    boot, extlinux = make_disk("boot"), make_disk("extlinux")
    before = {path: disks.sha256(path) for path in (boot, extlinux)}
    # No countdown (menu-force): nothing boots while the test plugs disks in and out.  The disk
    # labelled "extlinux" is preferred (order_devices): its entries come first, above the cursor.
    machine, screen = menu_machine(
        "quiet bootmenu.mode=menu bootmenu.timeout=menu-force "
        "bootmenu.order_devices=LABEL=extlinux",
        [Disk(boot, serial="disk0")],
        HOTPLUG_PORT_ARGS,
    )
    wait_for_menu(screen, 7)
    assert screen.headings() == ["/dev/vda1", "/dev/vda2"], screen.dump()

    # The user goes one entry down from the default, to the rescue entry.
    screen.type(DOWN)
    wait_for_cursor(screen, disks.RESCUE.title)
    alone = screen.rows()

    # Plug the extlinux disk in: its two entries appear at the top without a key being pressed;
    # the cursor stays on the rescue entry, three rows lower now.
    machine.qmp("blockdev-add", **{"node-name": "hotplug-drive", "driver": "raw",
                "file": {"driver": "file", "filename": str(extlinux)}})  # fmt: skip
    screen.mark("device_add")
    machine.qmp("device_add", driver="virtio-blk-pci", id="hotplug-disk", bus=HOTPLUG_PORT,
                drive="hotplug-drive", serial="disk1")  # fmt: skip
    wait_for_menu(screen, 9)
    plugged = screen.rows()
    assert screen.headings() == ["/dev/vdb1", "/dev/vda1", "/dev/vda2"], screen.dump()
    assert titles(plugged) == ["Debian (extlinux)", "Multiboot 1 test kernel", *titles(alone)]
    # (The * may move to the preferred disk's default: only the cursor is checked.)
    assert [row.title for row in plugged if row.cursor] == [disks.RESCUE.title], screen.dump()

    # Unplug it: its entries go away, the cursor stays where the user put it.
    screen.mark("device_del")
    machine.qmp("device_del", id="hotplug-disk")
    wait_for_menu(screen, 7)
    assert screen.headings() == ["/dev/vda1", "/dev/vda2"], screen.dump()
    assert screen.rows() == alone, screen.dump()

    # p, o: the power menu powers the machine off.
    screen.type("p")
    screen.wait("the power menu", lambda: "o  Power off" in screen.text(), 30)
    screen.type("o")
    status = machine.wait_exit(60)
    screen.mark(f"QEMU exited ({status})")
    machine.close()
    print("\n" + "\n".join(screen.steps))

    assert status == 0
    for path, digest in before.items():
        assert disks.sha256(path) == digest, f"{path.name} was changed"
