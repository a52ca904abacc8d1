"""A USB stick that tries every way to steer automatic boot (docs/security.md).

The machine has the owner's disk (AHCI: one BLS entry, ``owner.conf``, and ``loader.conf``
with a timeout) and a stick (USB mass
storage on qemu-xhci, whose controller sorts before the AHCI one, so the stick's entries come
first in the menu) that tries each trick found in issue 13:

- a BLS entry with the owner's id (``owner.conf``) and title, booting its own copy of the
  kernel, and ``loader.conf`` naming it the default with ``timeout 0``;
- a ``grub.cfg`` that ``search``es the owner's filesystem by UUID and defines an entry that boots
  the owner's kernel with ``init=/bin/sh`` (here ``bm.entry=steered``), ``default=0``,
  ``timeout=0``;
- a ``/bootmenu.toml`` that sets ``default``, ``once``, ``hide``, ``timeout = 0``,
  ``autoboot_removable``, ``disk_config_from`` and ``efi_handoff``;
- a btrfs partition (not among ``removable_filesystems``).

bootmenu runs its menu with no timeout of its own on the command line.  What must hold: the
stick's entries are listed under the stick (its heading says USB), the steered entry is marked
"boots files of owner", the btrfs partition is listed as not mounted, the countdown is the
owner's ``loader.conf`` timeout (neither the stick's 0 nor its toml's), and what boots when
it runs out is the owner's entry.
Before the trust rules the stick's ``once`` booted ``steered``.  Both disk images are unchanged.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from tests.vm import disks
from tests.vm.qemu import Disk, Machine
from tests.vm.screen import Screen, wait_for_menu
from tests.vm.targets import TARGET_LINE, Targets

pytestmark = pytest.mark.vm

Start = Callable[..., tuple[Machine, Screen]]

OWNER_LABEL: Final = "owner"
OWNER_TIMEOUT: Final = 20
OWNER: Final = disks.BlsEntry(
    "owner.conf", "Owner's Debian", disks.KERNEL_VERSION, f"/vmlinuz-{disks.KERNEL_VERSION}",
    "console=ttyS0 quiet bm.entry=owner",
)  # fmt: skip
OWNER_UUID: Final = "0a4e0000-e000-4000-8000-0000000e0081"
STICK_UUID: Final = "5711c4e5-0000-4000-8000-00000000e5e5"
VERSION: Final = disks.KERNEL_VERSION
STICK_GRUB_CFG: Final = f"""\
set default=0
set timeout=0
search --no-floppy --fs-uuid --set=root {OWNER_UUID}
menuentry "Steered shell" {{
    linux /vmlinuz-{VERSION} console=ttyS0 quiet bm.entry=steered init=/bin/sh
    initrd /initrd.img-{VERSION}
}}
"""
STICK_TOML: Final = """\
default = "Steered*"
once = "Steered*"
hide = ["Owner*"]
timeout = 0
autoboot_removable = true
disk_config_from = ["LABEL=stick"]
efi_handoff = "payload"
"""
STICK_COPY: Final = (
    "title      Owner's Debian\n"
    f"linux      /vmlinuz-{VERSION}\n"
    f"initrd     /initrd.img-{VERSION}\n"
    "options    console=ttyS0 quiet bm.entry=stick-copy\n"
)
BTRFS_TYPE: Final = disks.LINUX_FS_TYPE


def build_owner_disk(path: Path, targets: Targets) -> Path:
    """The owner's disk: one ext4 partition with the kernel, its initrd, ``owner.conf`` and a
    ``loader.conf`` with a timeout long enough to read the menu (the stick's says 0)."""
    with tempfile.TemporaryDirectory(prefix="bootmenu-owner-", dir=path.parent) as scratch:
        work = Path(scratch)
        tree = work / "root"
        (tree / "loader/entries").mkdir(parents=True)
        (tree / "loader/entries/owner.conf").write_text(
            f"title      {OWNER.title}\nversion    {VERSION}\nlinux      {OWNER.kernel}\n"
            f"initrd     /initrd.img-{VERSION}\noptions    {OWNER.options}\n"
        )
        (tree / "loader/loader.conf").write_text(f"timeout {OWNER_TIMEOUT}\n")
        shutil.copyfile(targets.vmlinuz, tree / OWNER.kernel.lstrip("/"))
        shutil.copyfile(targets.initrd, tree / f"initrd.img-{VERSION}")
        image = disks.make_ext4(work / "owner.img", tree, 32, label=OWNER_LABEL, uuid=OWNER_UUID)
        disks.assemble_gpt(
            path,
            [disks.Partition(image, disks.LINUX_FS_TYPE, "0a4e0000-0000-4000-8000-000000000001",
                             "owner")],
            disk_guid="0a4e0000-0000-4000-8000-000000000000",
        )  # fmt: skip
    return path


def build_stick(path: Path, targets: Targets) -> Path:
    with tempfile.TemporaryDirectory(prefix="bootmenu-stick-", dir=path.parent) as scratch:
        work = Path(scratch)
        tree = work / "root"
        (tree / "loader/entries").mkdir(parents=True)
        (tree / "boot/grub").mkdir(parents=True)
        (tree / "loader/entries/owner.conf").write_text(STICK_COPY)
        (tree / "loader/loader.conf").write_text("default owner.conf\ntimeout 0\n")
        (tree / "boot/grub/grub.cfg").write_text(STICK_GRUB_CFG)
        (tree / "bootmenu.toml").write_text(STICK_TOML)
        shutil.copyfile(targets.vmlinuz, tree / f"vmlinuz-{VERSION}")
        shutil.copyfile(targets.initrd, tree / f"initrd.img-{VERSION}")
        image = disks.make_ext4(work / "stick.img", tree, 48, label="stick", uuid=STICK_UUID)
        btrfs = work / "btrfs.img"
        with open(btrfs, "wb") as f:
            f.truncate(128 * 1024 * 1024)
        subprocess.run(["mkfs.btrfs", "-q", "-f", "-L", "stickdata", str(btrfs)], check=True)
        disks.assemble_gpt(
            path,
            [
                disks.Partition(image, disks.LINUX_FS_TYPE, "5711c4e5-0000-4000-8000-000000000001",
                                "stick"),
                disks.Partition(btrfs, BTRFS_TYPE, "5711c4e5-0000-4000-8000-000000000002",
                                "stickdata"),
            ],
            disk_guid="5711c4e5-0000-4000-8000-000000000000",
        )  # fmt: skip
    return path


def test_a_stick_cannot_steer_automatic_boot(
    menu_machine: Start, targets: Targets, tmp_path: Path
) -> None:
    owner = build_owner_disk(tmp_path / "owner.img", targets)
    stick = build_stick(tmp_path / "stick.img", targets)
    before = {p: disks.sha256(p) for p in (owner, stick)}

    m, screen = menu_machine(
        "bootmenu.mode=menu", [Disk(owner, bus="ahci"), Disk(stick, bus="usb")]
    )
    wait_for_menu(screen, 3)  # the owner's entry, the stick's copy of it, the steered one
    text = screen.text()
    headings = [line for line in screen.lines if line.startswith("/dev/sd")]
    assert any('"stick" ext4' in h and "USB" in h for h in headings), text
    assert f"Steered shell (boots files of {OWNER_LABEL})" in text, text
    assert re.search(r"/dev/sd\w+ unsupported: btrfs on USB media is not mounted", text), text
    countdown = re.search(r'Booting "(.+)" in (\d+) s', text)
    assert countdown is not None and countdown[1] == "Owner's Debian", text
    assert int(countdown[2]) > 5, "the owner's timeout was not taken (the stick's is 0)"

    m.wait_exit(240)  # the countdown runs out, bootmenu boots, the target powers off
    booted = TARGET_LINE.search(m.output)
    assert booted is not None and "bm.entry=owner" in booted[1], booted
    m.close()
    assert {p: disks.sha256(p) for p in (owner, stick)} == before
