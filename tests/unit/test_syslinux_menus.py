"""syslinux menus as menu.c32 and the boot: prompt read them: submenu defaults, IMPLICIT, and
submenu paths in titles.  Fixture trees under tests/fixtures/syslinux/ (see test_syslinux)."""

from __future__ import annotations

from bootmenu.discover.scanner import Scanner
from bootmenu.model import Volume
from tests.unit.test_syslinux import FIXTURES, label, load


def test_menu_default_in_a_submenu_is_only_that_submenus() -> None:
    # Debian 12's installer: gtk.cfg marks "Graphical install" MENU DEFAULT at the top level,
    # drk.cfg marks the dark-theme submenu's "Install"; isolinux.cfg's DEFAULT vesamenu.c32
    # replaces gtk.cfg's DEFAULT installgui and starts the menu.
    config = load("debian12-installer", "/isolinux/isolinux.cfg")
    assert config.default == "installgui"
    assert label(config, "installdark").menu_default
    assert label(config, "installdark").submenu == ("Accessible dark contrast installer menu",)


def test_implicit_0_does_not_boot_default_as_a_kernel_name() -> None:
    config = load("implicit-0", "/boot/syslinux/syslinux.cfg")
    assert [lab.name for lab in config.labels] == ["linux"]
    assert config.default is None
    assert config.warnings == (
        "DEFAULT vmlinuz-rescue names no label, and IMPLICIT 0 boots only labels; no default",
    )


def test_entries_in_submenus_carry_their_menu_path_in_the_title() -> None:
    root = FIXTURES / "debian12-installer"
    entries = Scanner([Volume("/dev/sr0", root, "iso9660")], validate=False).scan().entries
    assert [(e.title, e.default) for e in entries] == [
        ("Graphical install", True),
        ("Install", False),
        ("Advanced options > Graphical expert install", False),
        ("Advanced options > Expert install", False),
        ("Accessible dark contrast installer menu > Graphical install", False),
        ("Accessible dark contrast installer menu > Install", False),
        ("Help", False),
    ]
