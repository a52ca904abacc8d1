"""Headless decisions: precedence of one-shot/default/disk default, validation, fallback order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bootmenu.autoboot import DEFAULT_TIMEOUT, decide, owner_ids
from bootmenu.config import Config, load
from bootmenu.model import BootEntry, DiskBootConfig, Kind, Source, Volume
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
    d = decide(
        MENU, config, volumes={"/dev/sdb1": Volume("/dev/sdb1", Path("/mnt"), label="rescue")}
    )
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


# --- disks the owner did not choose (docs/security.md) -----------------------------------------

INTERNAL = Volume("/dev/nvme0n1p2", Path("/m/1"), label="fedora", disk="/dev/nvme0n1", trusted=True)
STICK = Volume("/dev/sda1", Path("/m/2"), label="STICK", disk="/dev/sda", media="USB")
OTHER_DISK = Volume("/dev/sdb1", Path("/m/3"), label="old", disk="/dev/sdb")
VOLUMES = {v.name: v for v in (INTERNAL, STICK, OTHER_DISK)}


def on(volume: Volume, ident: str, *, default: bool = False, title: str | None = None) -> BootEntry:
    """An entry defined and kept on ``volume``."""
    return entry(
        ident,
        default=default,
        root=volume.name,
        config_root=volume.name,
        title=title or ident.title(),
    )


def test_an_entry_on_removable_media_is_never_chosen_automatically() -> None:
    stick = on(STICK, "installer.conf", default=True)
    internal = on(INTERNAL, "fedora.conf")
    d = decide([stick, internal], cfg(), volumes=VOLUMES)
    assert d.entry == internal
    assert "USB media (STICK)" in d.reason and "autoboot_removable" in d.reason
    assert stick in d.menu  # still listed for a person to choose
    assert d.fallbacks == ()

    allowed = decide([stick, internal], cfg("autoboot_removable = true"), volumes=VOLUMES)
    assert allowed.entry == stick


def test_a_default_naming_only_a_stick_entry_boots_the_next_allowed_one() -> None:
    stick = on(STICK, "live.conf")
    internal = on(INTERNAL, "fedora.conf")
    d = decide([stick, internal], cfg('default = "live*"'), volumes=VOLUMES)
    assert d.entry == internal
    assert "default 'live*'" in d.reason and "automatic boot does not choose" in d.reason


def test_a_colliding_id_on_another_disk_never_wins_the_default() -> None:
    # The stick, and a second internal disk, copy the id of the owner's entry and sort first.
    from_stick = on(STICK, "fedora.conf", title="Fedora")
    from_other = on(OTHER_DISK, "fedora.conf@/dev/sdb1", title="Fedora")
    owners = on(INTERNAL, "fedora.conf@/dev/nvme0n1p2", title="Fedora")
    for source in (
        cfg('default = "Fedora"'),
        cfg(efi={"LoaderEntryDefault": "fedora.conf"}),
        cfg(cmdline="bootmenu.once=fedora.conf"),
    ):
        d = decide([from_stick, from_other, owners], source, volumes=VOLUMES)
        assert d.entry == owners, d.reason


def test_a_disk_default_on_the_trusted_disk_comes_first() -> None:
    other = on(OTHER_DISK, "old.conf", default=True)
    owners = on(INTERNAL, "fedora.conf", default=True)
    d = decide([other, owners], cfg(), volumes=VOLUMES)
    assert d.entry == owners


def test_an_entry_booting_another_disks_files_is_not_automatic_unless_trusted() -> None:
    # A stick's grub.cfg that searches the internal disk and boots its kernel with init=/bin/sh.
    steered = entry(
        "grub:shell", root=INTERNAL.name, config_root=OTHER_DISK.name, cmdline="init=/bin/sh"
    )
    owners = on(INTERNAL, "fedora.conf")
    d = decide([steered, owners], cfg('default = "grub:shell"'), volumes=VOLUMES)
    assert d.entry == owners
    assert "boots files of fedora, another disk" in d.reason

    # The owner's ESP grub.cfg booting /boot on another disk of theirs is fine.
    trusted = {**VOLUMES, OTHER_DISK.name: replace(OTHER_DISK, trusted=True)}
    assert decide([steered, owners], cfg('default = "grub:shell"'), volumes=trusted).entry == (
        steered
    )


def test_a_disk_files_default_applies_among_its_own_disks_entries() -> None:
    owners = on(INTERNAL, "fedora.conf")
    rescue = on(OTHER_DISK, "rescue.conf")
    config, _ = load(
        system_file=None,
        disk_text='default = "rescue*"\n',
        disk_origin="PARTUUID=1:/bootmenu.toml",
    )
    d = decide(
        [owners, rescue],
        config,
        volumes=VOLUMES,
        settings_disk=("PARTUUID=1:/bootmenu.toml", "/dev/nvme0n1"),
    )
    assert d.entry == owners and "matches no entry" in d.reason


def test_a_sticks_own_timeout_does_not_set_the_menus() -> None:
    disks = [
        DiskBootConfig(STICK.name, Source.GRUB, "/dev/sda1/boot/grub/grub.cfg", 0.0, None),
        DiskBootConfig(INTERNAL.name, Source.BLS, "/dev/nvme0n1p2/loader/loader.conf", 8.0, None),
    ]
    menu = [on(STICK, "live.conf"), on(INTERNAL, "fedora.conf")]
    assert decide(menu, cfg(), disks, volumes=VOLUMES).timeout == 8.0


def test_the_plain_id_goes_to_the_owners_entry_whichever_disk_was_found_first() -> None:
    # The scanner gave the plain id to the stick (found first) and renamed the owner's.
    from_stick = on(STICK, "fedora.conf", default=True)
    owners = on(INTERNAL, "fedora.conf@/dev/nvme0n1p2", default=True)
    alone = on(OTHER_DISK, "old.conf")
    entries, renames = owner_ids([from_stick, owners, alone], VOLUMES)
    assert [e.id for e in entries] == ["fedora.conf@/dev/sda1", "fedora.conf", "old.conf"]
    assert renames == {"fedora.conf": "fedora.conf@/dev/sda1",
                       "fedora.conf@/dev/nvme0n1p2": "fedora.conf"}  # fmt: skip
    # Already right: nothing changes.
    assert owner_ids(entries, VOLUMES) == (entries, {})
