"""Headless decisions: precedence of one-shot/default/disk default, validation, fallback order."""

from __future__ import annotations

from bootmenu.autoboot import DEFAULT_TIMEOUT, decide
from bootmenu.config import Config, load
from bootmenu.model import DiskBootConfig, Kind, Source
from tests.factories import entry

MENU = [
    entry("fedora-6.6.conf", version="6.6.1"),
    entry("fedora-6.5.conf", version="6.5.9", default=True),
    entry("grub:windows", title="Windows Boot Manager", kind=Kind.EFI, source=Source.GRUB),
    entry("syslinux:rescue", title="Rescue", source=Source.SYSLINUX, root="/dev/sdb1"),
]


def cfg(toml: str = "", cmdline: str = "", efi: dict[str, str] | None = None) -> Config:
    config, _ = load(system_file=None, system_text=toml, cmdline=cmdline, efi=efi or {})
    return config


def test_disk_default_when_bootmenu_sets_none() -> None:
    d = decide(MENU, cfg())
    assert d.entry is not None and d.entry.id == "fedora-6.5.conf"
    assert "disk's default" in d.reason


def test_config_default_beats_disk_default() -> None:
    d = decide(MENU, cfg('default = "Rescue"'))
    assert d.entry is not None and d.entry.id == "syslinux:rescue"
    assert "/etc/bootmenu.toml" in d.reason


def test_default_glob_on_version_and_bare_id() -> None:
    assert decide(MENU, cfg('default = "6.6.*"')).entry == MENU[0]
    assert decide(MENU, cfg('default = "fedora-6.6"')).entry == MENU[0]


def test_once_on_cmdline_beats_everything() -> None:
    d = decide(MENU, cfg('default = "Rescue"', cmdline="quiet bootmenu.once=grub:windows"))
    assert d.entry is not None and d.entry.id == "grub:windows"
    assert "one-shot" in d.reason and "kernel command line" in d.reason


def test_systemd_oneshot_variable() -> None:
    d = decide(MENU, cfg(efi={"LoaderEntryOneShot": "fedora-6.6.conf"}))
    assert d.entry == MENU[0]
    assert "LoaderEntryOneShot" in d.reason


def test_unmatched_default_says_so_and_falls_back_to_disk_default() -> None:
    d = decide(MENU, cfg('default = "ubuntu*"'))
    assert d.entry == MENU[1]
    assert "matches no entry" in d.reason


def test_unbootable_default_is_never_chosen() -> None:
    broken = entry("fedora-6.5.conf", default=True, problems=("/vmlinuz: the file is truncated",))
    menu = [MENU[0], broken, *MENU[2:]]
    d = decide(menu, cfg())
    assert d.entry is not None and d.entry.id == "grub:windows"  # the next one in order
    assert "cannot boot" in d.reason and "truncated" in d.reason and "next bootable" in d.reason


def test_fallback_order_wraps_and_skips_unbootable() -> None:
    broken = entry("grub:windows", problems=("bad",))
    menu = [MENU[0], MENU[1], broken, MENU[3]]
    d = decide(menu, cfg())
    assert [e.id for e in d.fallbacks] == ["syslinux:rescue", "fedora-6.6.conf"]
    assert decide(menu, cfg("fallback = false")).fallbacks == ()


def test_nothing_bootable() -> None:
    menu = [entry("a", problems=("x",)), entry("b", problems=("y",))]
    d = decide(menu, cfg())
    assert d.entry is None and "no other entry can boot" in d.reason


def test_hide_and_order_preferences() -> None:
    config = cfg(
        'hide = ["Windows*"]\norder_sources = ["syslinux"]\norder_devices = ["LABEL=rescue"]'
    )
    d = decide(MENU, config, aliases={"/dev/sdb1": ["LABEL=rescue"]})
    assert [e.id for e in d.menu] == ["syslinux:rescue", "fedora-6.6.conf", "fedora-6.5.conf"]


def test_timeout_precedence() -> None:
    disks = [DiskBootConfig("/dev/vda2", Source.GRUB, "/dev/vda2/grub/grub.cfg", 7.0, None)]
    assert decide(MENU, cfg(), disks).timeout == 7.0
    assert decide(MENU, cfg("timeout = 2"), disks).timeout == 2.0
    assert decide(MENU, cfg(cmdline="bootmenu.timeout=0"), disks).timeout == 0.0
    assert decide(MENU, cfg()).timeout == DEFAULT_TIMEOUT


def test_disk_default_reason_names_the_configuration_that_chose_it() -> None:
    disks = [
        DiskBootConfig(
            "/dev/vda2", Source.BLS, "/dev/vda2/loader/loader.conf", 3.0, "fedora-6.5.conf"
        )
    ]
    d = decide(MENU, cfg(), disks)
    assert d.entry == MENU[1]
    assert "from /dev/vda2/loader/loader.conf" in d.reason
