"""bootmenu.formats.grubcfg over grub.cfg files as grub-mkconfig and distributions write them.

Each scenario under tests/fixtures/grub/ is a set of filesystems: every directory beside
``devices.json`` is one filesystem, named by its device token, and ``devices.json`` gives the
UUIDs and labels ``search`` finds them by.  Kernels and initrds are empty files: only their
presence matters here.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.formats.grubcfg import GrubConfig, GrubEntry, GrubFiles, interpret
from bootmenu.model import Module

FIXTURES = Path(__file__).parent.parent / "fixtures" / "grub"

DEBIAN_UUID = "0b9c4e3a-5f1d-4c2e-9a7b-3d2f1e0c8b6a"
ARCH_ON_DEBIAN_UUID = "5e2d1c0b-8a7f-4e6d-b5c4-a3b2c1d0e9f8"
FEDORA_MID = "2d6f8a0e9b1c4d3e8f7a6b5c4d3e2f1a"
FEDORA_ROOT_UUID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


class TreeFiles:
    """GrubFiles over a fixture scenario; ``overrides`` replace (or, with None, remove) files."""

    def __init__(
        self, scenario: str, overrides: Mapping[tuple[str, str], bytes | None] | None = None
    ) -> None:
        self.base = FIXTURES / scenario
        self.devices: dict[str, dict[str, str]] = json.loads(
            (self.base / "devices.json").read_text()
        )
        self.overrides = dict(overrides or {})
        self.paths: list[str] = []  # every path the interpreter asked about

    def _file(self, device: str | None, path: str) -> Path | None:
        self.paths.append(path)
        if device is None or device not in self.devices:
            return None
        return self.base / device / path.lstrip("/")

    def read(self, device: str | None, path: str) -> bytes | None:
        file = self._file(device, path)
        if device is not None and (device, path) in self.overrides:
            return self.overrides[(device, path)]
        return file.read_bytes() if file is not None and file.is_file() else None

    def exists(self, device: str | None, path: str) -> bool:
        if self.read(device, path) is not None:
            return True
        file = self._file(device, path)  # a directory exists too, as on a real filesystem
        return file is not None and file.is_dir() and (device, path) not in self.overrides

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        file = self._file(device, path)
        if file is None or not file.is_dir():
            return None
        return sorted(p.name for p in file.iterdir())

    def search(self, how: str, value: str) -> str | None:
        for token, ids in self.devices.items():
            if how == "file":
                if self.exists(token, value):
                    return token
            elif ids.get(how, "").lower() == value.lower():
                return token
        return None


def grubenv(**variables: str) -> bytes:
    """A 1024-byte environment block as grub-editenv writes it."""
    body = "# GRUB Environment Block\n" + "".join(f"{k}={v}\n" for k, v in variables.items())
    return (body + "#" * (1024 - len(body))).encode()


def run(
    scenario: str,
    device: str,
    config_path: str,
    *,
    platform: str = "efi",
    overrides: Mapping[tuple[str, str], bytes | None] | None = None,
    files: TreeFiles | None = None,
) -> GrubConfig:
    files = files or TreeFiles(scenario, overrides)
    text = files.read(device, config_path)
    assert text is not None
    return interpret(text.decode(), files, config_path=config_path, root=device, platform=platform)


def by_title(config: GrubConfig, title: str) -> GrubEntry:
    (found,) = [e for e in config.entries if e.title == title]
    return found


def by_index(config: GrubConfig, *index: int) -> GrubEntry:
    (found,) = [e for e in config.entries if e.index == index and not e.problems]
    return found


class PermissiveFiles:
    """Every file exists, nothing can be read, every search finds a device named after it."""

    def read(self, device: str | None, path: str) -> bytes | None:
        return None

    def exists(self, device: str | None, path: str) -> bool:
        return True

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        return None

    def search(self, how: str, value: str) -> str | None:
        return f"{how}:{value}"


def inline(text: str, *, platform: str = "efi") -> GrubConfig:
    files: GrubFiles = PermissiveFiles()
    return interpret(text, files, root="disk", platform=platform)


# --------------------------------------------------------------------------------------------
# Debian 12


def debian(**env: str) -> GrubConfig:
    overrides = {("debian-root", "/boot/grub/grubenv"): grubenv(**env)} if env else None
    return run("debian12", "debian-root", "/boot/grub/grub.cfg", overrides=overrides)


def test_debian12_menu_in_order_with_submenus_flattened() -> None:
    config = debian()
    adv = "Advanced options for Debian GNU/Linux"
    xen_adv = "Advanced options for Debian GNU/Linux (with Xen hypervisor)"
    xen_sub = "Xen hypervisor, version 4.17-amd64"
    arch_adv = "Advanced options for Arch Linux (on /dev/nvme0n1p4)"
    linux13 = "Debian GNU/Linux, with Linux 6.1.0-13-amd64"
    linux12 = "Debian GNU/Linux, with Linux 6.1.0-12-amd64"
    xen13 = "Debian GNU/Linux, with Xen 4.17-amd64 and Linux 6.1.0-13-amd64"
    assert [(e.index, e.path) for e in config.entries] == [
        ((0,), ("Debian GNU/Linux",)),
        ((1, 0), (adv, linux13)),
        ((1, 1), (adv, f"{linux13} (recovery mode)")),
        ((1, 2), (adv, linux12)),
        ((1, 3), (adv, f"{linux12} (recovery mode)")),
        ((2,), ("Debian GNU/Linux, with Xen hypervisor",)),
        ((3, 0, 0), (xen_adv, xen_sub, xen13)),
        ((3, 0, 1), (xen_adv, xen_sub, f"{xen13} (recovery mode)")),
        ((4,), ("Windows Boot Manager (on /dev/nvme0n1p1)",)),
        ((5,), ("Arch Linux (on /dev/nvme0n1p4)",)),
        ((6, 0), (arch_adv, "Arch Linux (on /dev/nvme0n1p4)")),
        (
            (6, 1),
            (arch_adv, "Arch Linux, with Linux linux (fallback initramfs) (on /dev/nvme0n1p4)"),
        ),
        ((7,), ("UEFI Firmware Settings",)),
    ]
    assert config.warnings == ()
    assert config.timeout == 5
    assert config.timeout_style == "menu"
    assert all(not e.problems for e in config.entries)


def test_debian12_linux_entry() -> None:
    entry = debian().entries[0]
    assert entry.title == "Debian GNU/Linux"
    assert entry.id == f"gnulinux-simple-{DEBIAN_UUID}"
    assert entry.kind == "linux"
    assert entry.command == "linux"
    assert entry.root == "debian-root"  # found by search --fs-uuid, not the hint hd0,gpt2
    assert entry.kernel == "/boot/vmlinuz-6.1.0-13-amd64"
    assert entry.initrd == ("/boot/initrd.img-6.1.0-13-amd64",)
    # "ro  quiet" in the file: GRUB passes separate words, joined by one space.
    assert entry.cmdline == f"root=UUID={DEBIAN_UUID} ro quiet"
    assert entry.classes == ("debian", "gnu-linux", "gnu", "os")
    assert entry.origin == "/boot/grub/grub.cfg"
    recovery = by_index(debian(), 1, 1)
    assert recovery.cmdline == f"root=UUID={DEBIAN_UUID} ro single"


def test_debian12_saved_entry_is_a_title_path_into_the_submenu() -> None:
    # grubenv: saved_entry=Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux
    # 6.1.0-12-amd64, and GRUB_DEFAULT=saved made 00_header "set default=${saved_entry}".
    config = debian()
    assert config.default is not None
    assert config.default.index == (1, 2)
    assert config.default.kernel == "/boot/vmlinuz-6.1.0-12-amd64"
    assert config.env["default"].startswith("Advanced options for Debian GNU/Linux>")


def test_debian12_next_entry_wins_once_over_saved_entry() -> None:
    config = debian(
        saved_entry="0",
        next_entry=f"gnulinux-advanced-{DEBIAN_UUID}>gnulinux-6.1.0-13-amd64-recovery-{DEBIAN_UUID}",
    )
    assert config.default is not None
    assert config.default.title == "Debian GNU/Linux, with Linux 6.1.0-13-amd64 (recovery mode)"
    # 00_header clears next_entry (save_env is not carried out) and marks a one-time boot.
    assert config.env["next_entry"] == ""
    assert config.env["boot_once"] == "true"


def test_debian12_default_by_index_path() -> None:
    config = debian(saved_entry="1>3")
    assert config.default is not None
    assert config.default.index == (1, 3)
    assert config.default.title == "Debian GNU/Linux, with Linux 6.1.0-12-amd64 (recovery mode)"


def test_debian12_default_by_plain_index_and_title() -> None:
    windows = debian(saved_entry="4").default
    assert windows is not None and windows.kind == "chainloader"
    titled = debian(saved_entry="Arch Linux (on /dev/nvme0n1p4)").default
    assert titled is not None and titled.index == (5,)


def test_debian12_default_by_id_path_takes_the_first_submenu_with_that_id() -> None:
    # 10_linux and 20_linux_xen both name their submenu gnulinux-advanced-UUID (a known
    # Debian quirk); GRUB takes the first, so the Xen recovery id is not found in it and the
    # submenu's first entry is booted.
    spec = f"gnulinux-advanced-{DEBIAN_UUID}>xen-gnulinux-6.1.0-13-amd64-recovery-{DEBIAN_UUID}"
    config = debian(saved_entry=spec)
    assert config.default is not None
    assert config.default.index == (1, 0)
    by_title_path = debian(
        saved_entry="Advanced options for Debian GNU/Linux (with Xen hypervisor)"
        ">Xen hypervisor, version 4.17-amd64"
        f">xen-gnulinux-6.1.0-13-amd64-recovery-{DEBIAN_UUID}"
    ).default
    assert by_title_path is not None and by_title_path.index == (3, 0, 1)


def test_debian12_default_out_of_range_or_unknown_is_the_first_entry() -> None:
    for spec in ("42", "No such entry", "1>99"):
        config = debian(saved_entry=spec)
        assert config.default is not None
        expected = (1, 0) if spec == "1>99" else (0,)
        assert config.default.index == expected, spec


def test_debian12_xen_multiboot2_with_modules() -> None:
    xen = debian().entries[5]
    assert xen.kind == "multiboot2"
    assert xen.command == "multiboot2"
    assert xen.kernel == "/boot/xen-4.17-amd64.gz"
    # On EFI the generated script adds xen_rm_opts.
    assert xen.cmdline == "placeholder dom0_mem=4G,max:4G no-real-mode edd=off"
    assert xen.modules == (
        Module("/boot/vmlinuz-6.1.0-13-amd64", f"placeholder root=UUID={DEBIAN_UUID} ro quiet"),
        Module("/boot/initrd.img-6.1.0-13-amd64", ""),
    )
    assert xen.module_unzip == (True, False)  # module2 --nounzip for the initrd
    assert xen.initrd == ()
    bios = run("debian12", "debian-root", "/boot/grub/grub.cfg", platform="pc")
    assert bios.entries[5].cmdline == "placeholder dom0_mem=4G,max:4G"


def test_debian12_os_prober_entries() -> None:
    config = debian()
    windows = by_title(config, "Windows Boot Manager (on /dev/nvme0n1p1)")
    assert windows.kind == "chainloader"
    assert windows.root == "esp"
    assert windows.chainloader == "/EFI/Microsoft/Boot/bootmgfw.efi"
    assert windows.kernel is None
    arch = by_index(config, 5)
    assert arch.root == "arch-root"
    assert arch.initrd == ("/boot/intel-ucode.img", "/boot/initramfs-linux.img")
    assert arch.cmdline == f"root=UUID={ARCH_ON_DEBIAN_UUID} rw loglevel=3 quiet"


def test_debian12_firmware_setup_entry() -> None:
    fw = debian().entries[-1]
    assert (fw.title, fw.id, fw.kind, fw.action, fw.problems) == (
        "UEFI Firmware Settings",
        "uefi-firmware",
        "none",
        "fwsetup",
        (),
    )


def test_debian12_from_the_esp_stub_through_configfile() -> None:
    # /EFI/debian/grub.cfg: search.fs_uuid UUID root; set prefix=($root)'/boot/grub';
    # configfile $prefix/grub.cfg
    files = TreeFiles("debian12")
    config = run("debian12", "esp", "/EFI/debian/grub.cfg", files=files)
    direct = debian()
    assert [e.path for e in config.entries] == [e.path for e in direct.entries]
    assert config.entries == direct.entries
    assert config.default == direct.default
    assert config.env["prefix"] == "(debian-root)/boot/grub"
    assert config.env["config_directory"] == "(debian-root)/boot/grub"
    assert config.warnings == ()
    assert all(p.startswith("/") for p in files.paths)


def test_debian12_recordfail_gives_a_long_timeout() -> None:
    config = debian(recordfail="1")
    assert config.timeout == 30
    assert config.timeout_style is None


# --------------------------------------------------------------------------------------------
# Ubuntu 22.04


def test_ubuntu2204_efi_keeps_graphics_and_hides_the_menu() -> None:
    config = run("ubuntu2204", "ubuntu-root", "/boot/grub/grub.cfg")
    first = config.entries[0]
    uuid = "c1f0e7a2-3b4c-4d5e-8f9a-0b1c2d3e4f50"
    # gfxmode $linux_gfx_mode (keep on EFI) sets vt_handoff inside the entry.
    assert first.cmdline == f"root=UUID={uuid} ro quiet splash vt.handoff=7"
    recovery = by_title(config, "Ubuntu, with Linux 5.15.0-89-generic (recovery mode)")
    assert recovery.cmdline == f"root=UUID={uuid} ro recovery nomodeset dis_ucode_ldr"
    assert recovery.index == (1, 3)
    assert (config.timeout, config.timeout_style) == (0, "hidden")
    assert config.default == first
    assert config.entries[-1].action == "fwsetup"
    assert "recordfail" not in config.env  # only the entries call recordfail
    assert config.warnings == ()


def test_ubuntu2204_bios_text_mode_and_no_firmware_entry() -> None:
    config = run("ubuntu2204", "ubuntu-root", "/boot/grub/grub.cfg", platform="pc")
    # On BIOS hwmatch decides; it never matches here, so linux_gfx_mode=text.
    assert config.entries[0].cmdline.endswith("quiet splash")
    assert config.env["linux_gfx_mode"] == "text"
    assert [e.title for e in config.entries if e.action] == []
    assert len(config.entries) == 5


def test_ubuntu2204_after_a_failed_boot() -> None:
    overrides = {("ubuntu-root", "/boot/grub/grubenv"): grubenv(recordfail="1")}
    config = run("ubuntu2204", "ubuntu-root", "/boot/grub/grub.cfg", overrides=overrides)
    assert config.timeout == 30
    assert config.timeout_style is None
    assert "vt.handoff" not in config.entries[0].cmdline


# --------------------------------------------------------------------------------------------
# Fedora 39 (blscfg)


def test_fedora39_blscfg_entries_from_the_esp_stub() -> None:
    config = run("fedora39", "esp", "/EFI/fedora/grub.cfg")
    assert [e.title for e in config.entries] == [
        "Fedora Linux (6.6.2-201.fc39.x86_64) 39 (Workstation Edition)",
        "Fedora Linux (6.5.6-300.fc39.x86_64) 39 (Workstation Edition)",
        f"Fedora Linux (0-rescue-{FEDORA_MID}) 39 (Workstation Edition)",
        "UEFI Firmware Settings",
    ]
    newest = config.entries[0]
    assert newest.bls_id == newest.id == f"{FEDORA_MID}-6.6.2-201.fc39.x86_64"
    assert newest.root == "fedora-boot"
    assert newest.kernel == "/vmlinuz-6.6.2-201.fc39.x86_64"
    assert newest.initrd == ("/initramfs-6.6.2-201.fc39.x86_64.img",)
    assert newest.cmdline == f"root=UUID={FEDORA_ROOT_UUID} ro rootflags=subvol=root rhgb quiet"
    assert newest.classes == ("fedora",)
    assert newest.origin == f"/loader/entries/{FEDORA_MID}-6.6.2-201.fc39.x86_64.conf"
    # "options $kernelopts $tuned_params" takes both from grubenv.
    older = config.entries[1]
    assert older.cmdline == (
        f"root=UUID={FEDORA_ROOT_UUID} ro rootflags=subvol=root rhgb quiet mitigations=auto "
        "skew_tick=1"
    )
    assert all(not e.problems for e in config.entries)


def test_fedora39_saved_entry_and_auto_hidden_menu() -> None:
    config = run("fedora39", "esp", "/EFI/fedora/grub.cfg")
    # saved_entry is a BLS id that starts with a digit: still an id, not entry 2.
    assert config.default is not None
    assert config.default.bls_id == f"{FEDORA_MID}-6.5.6-300.fc39.x86_64"
    # menu_auto_hide=1 and boot_success=1 in grubenv: 12_menu_auto_hide hides the menu.
    assert (config.timeout, config.timeout_style) == (1, "hidden")
    assert config.env["boot_success"] == "0"  # reset by 10_reset_boot_success


def test_fedora39_direct_bios_uses_boot_variable() -> None:
    config = run("fedora39", "fedora-boot", "/grub2/grub.cfg", platform="pc")
    assert [e.bls_id for e in config.entries] == [
        f"{FEDORA_MID}-6.6.2-201.fc39.x86_64",
        f"{FEDORA_MID}-6.5.6-300.fc39.x86_64",
        f"{FEDORA_MID}-0-rescue",
    ]
    assert config.env["boot"] == "fedora-boot"
    assert config.warnings == ()


def test_fedora39_without_grubenv_uses_the_fallback_kernelopts() -> None:
    overrides: dict[tuple[str, str], bytes | None] = {("fedora-boot", "/grub2/grubenv"): None}
    config = run("fedora39", "fedora-boot", "/grub2/grub.cfg", overrides=overrides)
    older = config.entries[1]
    assert older.cmdline == f"root=UUID={FEDORA_ROOT_UUID} ro rootflags=subvol=root rhgb quiet"
    # No saved_entry: default="" matches nothing, the first entry is booted.
    assert config.default == config.entries[0]
    assert (config.timeout, config.timeout_style) == (5, "menu")


def test_fedora39_next_entry_by_bls_id() -> None:
    overrides = {
        ("fedora-boot", "/grub2/grubenv"): grubenv(
            saved_entry=f"{FEDORA_MID}-6.5.6-300.fc39.x86_64",
            next_entry=f"{FEDORA_MID}-0-rescue",
            kernelopts="root=/dev/vda3 ro",
        )
    }
    config = run("fedora39", "fedora-boot", "/grub2/grub.cfg", overrides=overrides)
    assert config.default is not None
    assert config.default.bls_id == f"{FEDORA_MID}-0-rescue"
    assert config.entries[1].cmdline == "root=/dev/vda3 ro"


# --------------------------------------------------------------------------------------------
# openSUSE Tumbleweed, Arch, Fiwix


def test_opensuse_btrfs_subvolume_paths_and_linuxefi() -> None:
    config = run("opensuse-tw", "opensuse-root", "/@/boot/grub2/grub.cfg")
    first = config.entries[0]
    uuid = "6b2a4c8e-0d1f-4e3a-9b5c-7d8e9f0a1b2c"
    assert (first.command, first.kind) == ("linuxefi", "linux")
    assert first.root == "opensuse-root"
    assert first.kernel == "/@/boot/vmlinuz-6.6.1-1-default"
    assert first.initrd == ("/@/boot/initrd-6.6.1-1-default",)
    # ${extra_cmdline} is unset: it vanishes, with its blanks.
    assert first.cmdline == (
        f"root=UUID={uuid} rootflags=subvol=@ splash=silent "
        "resume=/dev/disk/by-uuid/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0 quiet "
        "security=apparmor mitigations=auto"
    )
    older = by_index(config, 1, 2)
    assert older.kernel == "/@/boot/vmlinuz-6.5.9-1-default"
    assert config.env["prefix"] == "(opensuse-root)/@/boot/grub2"
    assert (config.timeout, config.timeout_style) == (8, "menu")
    assert config.default == first
    assert config.warnings == ()


def test_arch_two_initrds_and_a_missing_fallback_initramfs() -> None:
    config = run("arch", "arch-root", "/boot/grub/grub.cfg")
    main = config.entries[0]
    assert main.initrd == ("/boot/intel-ucode.img", "/boot/initramfs-linux.img")
    assert main.problems == ()
    fallback = by_title(config, "Arch Linux, with Linux linux (fallback initramfs)")
    assert fallback.id == "gnulinux-linux-fallback-8f3a9c2e-1b4d-4e5f-a6b7-c8d9e0f1a2b3"
    assert fallback.initrd == ("/boot/intel-ucode.img", "/boot/initramfs-linux-fallback.img")
    assert fallback.problems == ("initrd /boot/initramfs-linux-fallback.img does not exist",)
    # custom.cfg is sourced by 41_custom because it exists.
    memtest = config.entries[-1]
    assert (memtest.title, memtest.kind, memtest.root, memtest.chainloader) == (
        "Memtest86+",
        "chainloader",
        "esp",
        "/memtest86+/memtest.efi",
    )
    assert memtest.origin == "/boot/grub/custom.cfg"


def test_fiwix_multiboot_and_bios_chainloader() -> None:
    config = run("fiwix", "hd0,msdos1", "/boot/grub/grub.cfg", platform="pc")
    fiwix = config.entries[0]
    assert fiwix.kind == "multiboot"
    assert fiwix.root == "hd0,msdos1"  # set root='(hd0,msdos1)': GRUB drops the parentheses
    assert fiwix.kernel == "/boot/fiwix"
    assert fiwix.cmdline == "root=/dev/hda2 ramdisksize=4096 initrd=initrd.img bga=1024x768x32"
    assert fiwix.modules == (Module("/boot/initrd.img", "initrd.img"),)
    assert fiwix.module_unzip == (True,)
    assert config.entries[1].modules == ()
    freedos = config.entries[2]
    # "search --no-floppy --label --set FREEDOS": GRUB's option parser gives --set the word
    # after it (a variable named FREEDOS), so nothing is searched for and $root stays.
    assert (freedos.kind, freedos.root, freedos.chainloader) == ("chainloader", "hd0,msdos1", "+1")
    assert "line 23: search without anything to search for" in config.warnings
    assert config.timeout == 10
    assert config.default == fiwix
    assert all(not e.problems for e in config.entries)


# --------------------------------------------------------------------------------------------
# source, syntax errors, loops


def test_sourced_files_add_entries_in_place() -> None:
    config = run("sourcing", "root", "/boot/grub/grub.cfg")
    assert [(e.title, e.origin) for e in config.entries] == [
        ("Main system", "/boot/grub/grub.cfg"),
        ("Rescue system (from the DATA partition)", "/boot/grub/entries.d/rescue.cfg"),
        ("Rescue shell", "/boot/grub/entries.d/rescue.cfg"),
        ("Last entry", "/boot/grub/grub.cfg"),
    ]
    main, rescue = config.entries[0], config.entries[1]
    assert main.cmdline == "root=LABEL=main ro quiet loglevel=3"  # $common_args from common.cfg
    # The function on_data, defined in common.cfg, sets root by label.
    assert rescue.root == "data"
    assert rescue.kernel == "/images/rescue-vmlinuz"
    assert rescue.cmdline == "rescue quiet loglevel=3"
    assert config.default is not None and config.default.id == "rescue-shell"
    assert config.warnings == ("line 16: source: /boot/grub/entries.d/absent.cfg cannot be read",)


def test_syntax_error_costs_only_the_broken_entry() -> None:
    config = run("syntax-error", "root", "/boot/grub/grub.cfg")
    assert [(e.title, e.index) for e in config.entries] == [
        ("Good one", (0,)),
        ("Hand-edited, broken", (1,)),
        ("Good two", (1,)),
        ("Good three", (2,)),
    ]
    broken = config.entries[1]
    assert broken.kind == "none"
    assert broken.kernel is None
    assert broken.problems == (
        "syntax error at line 15: 'if' at line 10 has no matching 'fi' before '}'",
    )
    # GRUB drops the broken entry, so "set default=1" is "Good two".
    assert config.default is not None and config.default.title == "Good two"
    assert config.warnings == (
        "line 15: syntax error: 'if' at line 10 has no matching 'fi' before '}'",
        "line 22: syntax error: unexpected 'fi'",
    )


def test_source_loop_and_recursive_function_are_cut_off() -> None:
    config = run("loops", "root", "/boot/grub/grub.cfg")
    assert [e.title for e in config.entries] == [
        "Before the loop",
        "From a.cfg",
        "From b.cfg",
        "After the loop",
    ]
    assert config.timeout == 2
    assert config.warnings == (
        "line 4 of /boot/grub/b.cfg: (root)/boot/grub/grub.cfg is already being read "
        "(source loop); not reading it again",
        "line 8: function 'again' calls itself too deeply; stopped",
    )


# --------------------------------------------------------------------------------------------
# The language, on small scripts


def test_quoting_and_expansion() -> None:
    config = inline(
        """
        set a="one two"
        set b=x
        menuentry 'q' {
            linux /k 'single $a' "double $a" $a pre${b}post \\$b "es\\"c" a\\ b "" $unset
        }
        """
    )
    entry = config.entries[0]
    # Single quotes: no expansion; double: one word; unquoted: split; escapes; "" stays; the
    # command line escapes the quote again, as grub_create_loader_cmdline does.
    assert entry.cmdline == ('"single $a" "double one two" one two prexpost $b es\\"c "a b" ')


def test_comments_semicolons_and_line_continuation() -> None:
    config = inline(
        "set timeout=7 # a comment\n"
        "menuentry 'a#b' { linux /k x#y \\\n  z ; initrd /i; }\n"
        "#menuentry 'commented out' { linux /k }\n"
    )
    assert [e.title for e in config.entries] == ["a#b"]
    assert config.entries[0].cmdline == "x#y z"
    assert config.entries[0].initrd == ("/i",)
    assert config.timeout == 7


def test_if_elif_else_and_test_operators() -> None:
    config = inline(
        """
        set n=10
        if [ "$n" -lt 5 ]; then r1=lt; elif [ "$n" -ge 10 -a -n "$n" ]; then r1=ge; else r1=no; fi
        if [ ! -z "$n" -o x = y ]; then r2=yes; fi
        if test "$n" != 10; then r3=bad; else r3=good; fi
        if false; then r4=bad; elif true; then r4=good; fi
        if [ -f /boot/x ]; then r5=file; fi
        false
        r6=$?
        """
    )
    env = config.env
    assert (env["r1"], env["r2"], env["r3"], env["r4"], env["r5"], env["r6"]) == (
        "ge",
        "yes",
        "good",
        "good",
        "file",
        "1",
    )


def test_functions_loops_and_positional_parameters() -> None:
    config = inline(
        """
        function add_entry {
            menuentry "Kernel $1" --id "k-$1" "$2" {
                linux /vmlinuz-$1 root=$2 args=$#
            }
        }
        for v in 6.1 6.2 6.3; do
            if [ "$v" = 6.2 ]; then continue; fi
            add_entry $v /dev/sda$v
        done
        count=0
        while true; do count=x$count; if [ $count = xx0 ]; then break; fi; done
        """
    )
    assert [(e.title, e.id) for e in config.entries] == [
        ("Kernel 6.1", "k-6.1"),
        ("Kernel 6.3", "k-6.3"),
    ]
    # In the entry, $1 is the title and $2 the extra argument given to menuentry.
    assert config.entries[0].kernel == "/vmlinuz-Kernel"
    assert config.entries[0].cmdline == "6.1 root=/dev/sda6.1 args=2"
    assert config.env["count"] == "xx0"


def test_submenu_sees_only_exported_variables() -> None:
    config = inline(
        """
        set plain=p
        set shared=s
        export shared
        submenu 'sub' {
            menuentry 'inner' { linux /k "[$plain]" "[$shared]" }
        }
        menuentry 'outer' { linux /k "[$plain]" }
        """
    )
    assert config.entries[0].cmdline == "[] [s]"
    assert config.entries[1].cmdline == "[p]"


def test_literal_saved_default_and_missing_default() -> None:
    config = inline(
        "saved_entry=two\nset default=saved\n"
        "menuentry one { linux /1 }\nmenuentry two --id two { linux /2 }\n"
    )
    assert config.default is not None and config.default.title == "two"
    none = inline("menuentry one { linux /1 }\nmenuentry two { linux /2 }\n")
    assert none.default is not None and none.default.title == "one"
    assert none.timeout is None
    assert inline("set timeout=-1\n").timeout is None
    assert inline("").default is None


def test_file_tests_search_by_file_and_load_env_with_a_variable_list() -> None:
    text = """
    if [ -d /boot/grub ]; then d1=yes; fi
    if [ -d /boot/grub/grub.cfg ]; then d2=yes; else d2=no; fi
    if [ -e /boot ]; then e=yes; fi
    if [ -s /boot/vmlinuz-6.1.0-13-amd64 ]; then s=yes; else s=no; fi
    search --no-floppy --file --set=found /EFI/Microsoft/Boot/bootmgfw.efi
    if search --file --set=none /no/such/file; then miss=no; else miss=yes; fi
    load_env -f (debian-root)/boot/grub/grubenv next_entry
    a=${saved_entry}
    load_env --file=($root)/boot/grub/grubenv --skip-sig saved_entry
    search -s -f /boot/intel-ucode.img
    menuentry 'bios' {
        linux16 (debian-root)/boot/vmlinuz-6.1.0-13-amd64 ro
        initrd16 (debian-root)/boot/initrd.img-6.1.0-13-amd64
    }
    """
    config = interpret(text, TreeFiles("debian12"), root="debian-root", platform="pc")
    env = config.env
    assert (env["d1"], env["d2"], env["e"], env["s"]) == ("yes", "no", "yes", "no")
    assert env["found"] == "esp"
    assert env["miss"] == "yes" and "none" not in env
    assert env["a"] == ""  # the first load_env only took next_entry
    assert env["saved_entry"].endswith(">Debian GNU/Linux, with Linux 6.1.0-12-amd64")
    assert env["root"] == "arch-root"  # search --set without a name sets root
    bios = config.entries[0]
    assert (bios.command, bios.kind, bios.root) == ("linux16", "linux", "debian-root")
    assert bios.initrd == ("/boot/initrd.img-6.1.0-13-amd64",)
    assert bios.problems == ()


def test_loader_problems() -> None:
    config = inline(
        """
        menuentry 'no kernel' { initrd /i }
        menuentry 'module first' { module /m; multiboot /k }
        menuentry 'relative' { linux vmlinuz }
        menuentry 'nothing' { echo hello }
        menuentry 'bsd' { kfreebsd /boot/kernel/kernel }
        menuentry 'menu' { configfile /other.cfg }
        """
    )
    problems = {e.title: e.problems for e in config.entries}
    assert problems["no kernel"] == ("initrd without linux", "the entry loads nothing to boot")
    assert problems["module first"] == ("module without multiboot",)
    assert problems["relative"] == ("kernel 'vmlinuz' is not an absolute path",)
    assert problems["nothing"] == ("the entry loads nothing to boot",)
    assert problems["bsd"] == (
        "the entry uses 'kfreebsd', which bootmenu cannot boot",
        "the entry loads nothing to boot",
    )
    assert problems["menu"] == (
        "the entry opens another configuration file (/other.cfg) instead of booting",
    )


def test_unknown_commands_warn_and_fail() -> None:
    config = inline("frobnicate now\nif frobnicate; then a=1; else a=2; fi\n")
    assert config.env["a"] == "2"
    assert config.warnings == (
        "line 1: unknown command 'frobnicate' (ignored)",
        "line 2: unknown command 'frobnicate' (ignored)",
    )


def test_endless_loop_and_exponential_recursion_stop() -> None:
    start = time.monotonic()
    config = inline(
        "menuentry first { linux /k }\n"
        "function f { f; f; }\n"
        "f\n"
        "while true; do x=1; done\n"
        "menuentry never { linux /k }\n"
    )
    assert time.monotonic() - start < 10
    assert [e.title for e in config.entries] == ["first"]
    assert any("stopped after running" in w for w in config.warnings)


# --------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    config = interpret(text, PermissiveFiles(), root="disk")
    assert isinstance(config, GrubConfig)


_PIECES = [
    "if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "function",
    "menuentry", "submenu", "{", "}", ";", "\n", "'a b'", '"$x y"', "$x", "${y}", "set",
    "x=1", "[", "]", "-n", "-a", "!", "=", "linux", "/k", "initrd", "/i", "source",
    "/boot/grub/grub.cfg", "configfile", "search", "--set=root", "--fs-uuid", "u",
    "blscfg", "f", "return", "break", "\\", "#", "'", '"', "multiboot", "module",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60))
def test_grub_like_token_soup_never_raises(pieces: list[str]) -> None:
    text = " ".join(pieces)
    files = PermissiveFiles()

    class Reading(PermissiveFiles):
        def read(self, device: str | None, path: str) -> bytes | None:
            return text.encode() if path == "/boot/grub/grub.cfg" else None

    for f in (files, Reading()):
        config = interpret(text, f, root="disk")
        assert isinstance(config, GrubConfig)


def test_fwsetup_is_supported_only_on_efi() -> None:
    script = "fwsetup --is-supported\nr=$?\n"
    assert inline(script, platform="efi").env["r"] == "0"
    assert inline(script, platform="pc").env["r"] == "1"


class OneBigFile:
    """GrubFiles where every file is the same ``size`` bytes of comments."""

    def __init__(self, size: int) -> None:
        self.data = (b"# " + b"x" * 77 + b"\n") * (size // 80)
        self.reads = 0

    def read(self, device: str | None, path: str) -> bytes | None:
        self.reads += 1
        return self.data

    def exists(self, device: str | None, path: str) -> bool:
        return True

    def listdir(self, device: str | None, path: str) -> Sequence[str] | None:
        return None

    def search(self, how: str, value: str) -> str | None:
        return None


def bounded(run: Callable[[], GrubConfig]) -> tuple[GrubConfig, float, int]:
    """The run's result, its seconds and its peak of newly allocated memory (bytes)."""
    tracemalloc.start()
    start = time.monotonic()
    try:
        config = run()
        seconds = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return config, seconds, peak


def test_a_variable_that_doubles_for_ever_stops_at_a_bounded_size() -> None:
    config, seconds, peak = bounded(
        lambda: inline(
            "menuentry first { linux /k }\n"
            'set a=x\nwhile true; do set a="$a$a"; done\n'
            "menuentry never { linux /k }\n"
        )
    )
    assert [e.title for e in config.entries] == ["first"]
    assert any("$a grew past 64 KiB" in w for w in config.warnings), config.warnings
    assert seconds < 5 and peak < 32 * 1024 * 1024, (seconds, peak)


def test_new_variables_without_end_stop_at_a_bounded_total() -> None:
    config, seconds, peak = bounded(
        lambda: inline(
            "set big=" + "y" * 60_000 + "\n"
            "for i in 1 2 3 4 5 6 7 8 9; do for j in 1 2 3 4 5 6 7 8 9; do "
            'for k in 1 2 3 4 5 6 7 8 9; do set "v$i$j$k=$big"; done; done; done\n'
            "menuentry after { linux /k }\n"
        )
    )
    assert any("assigning more than 16 MiB" in w for w in config.warnings), config.warnings
    assert seconds < 10 and peak < 64 * 1024 * 1024, (seconds, peak)


def test_sourcing_a_large_file_for_ever_stops_after_a_bounded_read() -> None:
    files = OneBigFile(4 * 1024 * 1024)
    config, seconds, _peak = bounded(
        lambda: interpret("while true; do source /big; done\n", files, root="disk")
    )
    assert any("read more than 16 MiB of files" in w for w in config.warnings), config.warnings
    assert files.reads <= 5 and seconds < 60, (files.reads, seconds)


def test_once_the_deadline_has_passed_nothing_runs_on() -> None:
    """Found by the fuzzer (tests/fuzz): the deadline was looked at every 256 commands only,
    so each menu entry's body still ran up to 255 commands after it, and ``source`` is one
    command however long its file takes to parse (16 MiB of them took half a minute)."""
    files = OneBigFile(800)
    text = "".join(
        f"menuentry e{n} {{ source /a.cfg; source /b.cfg; linux /k }}\n" for n in range(50)
    )
    config = interpret(text, files, root="disk", expired=lambda: files.reads > 0)
    assert files.reads == 1
    late = "stopped when the time for scanning this filesystem ran out"
    assert all(late in e.problems for e in config.entries), [e.problems for e in config.entries]


def test_unclosed_blocks_are_parsed_in_linear_time() -> None:
    """Found by the fuzzer (tests/fuzz): the error recovery parsed the statements inside a
    broken block again for each block around it, so 20 lines of ``if true`` took 8 s, twice as
    long for each line more, and no deadline could stop it (the parser does not ask)."""
    start = time.monotonic()
    config = inline("if true\n" * 20)
    seconds = time.monotonic() - start
    assert config.warnings == tuple(
        f"line {n}: syntax error: 'if' without a matching 'fi'" for n in range(20, 0, -1)
    )
    assert seconds < 1, seconds


def test_error_recovery_gives_up_after_a_bounded_amount_of_work() -> None:
    """Each broken line is read again by the recovery of the lines before it: quadratic in
    the file's length, so the parser stops after a few times the work of a good file."""
    start = time.monotonic()
    config = inline("menuentry first { linux /k }\n" + "if true\n" * 20_000)
    seconds = time.monotonic() - start
    assert [e.title for e in config.entries] == ["first"]
    assert any("too broken to read on" in w for w in config.warnings), config.warnings[-3:]
    assert seconds < 5, seconds


def test_many_different_warnings_take_linear_time() -> None:
    """Each warning was looked for in the list of those before it (to warn once)."""
    text = "".join(f"unknown{n}\n" for n in range(20_000))
    start = time.monotonic()
    config = inline(text)
    seconds = time.monotonic() - start
    assert len(config.warnings) == 20_000
    assert seconds < 1.5, seconds


def test_the_callers_deadline_stops_the_run() -> None:
    asked: list[int] = []

    def expired() -> bool:
        asked.append(1)
        return len(asked) >= 3

    config = interpret(
        "while true; do x=1; done\n", PermissiveFiles(), root="disk", expired=expired
    )
    assert len(asked) == 3
    assert any("time for scanning this filesystem ran out" in w for w in config.warnings)
