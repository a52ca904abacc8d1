"""bootmenu.formats.syslinux over real-world configuration files."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError, PathError
from bootmenu.formats.syslinux import SyslinuxConfig, SyslinuxLabel, parse, resolve
from bootmenu.model import Module

FIXTURES = Path(__file__).parent.parent / "fixtures" / "syslinux"


def load(scenario: str, config_path: str) -> SyslinuxConfig:
    """Parse ``config_path`` inside the fixture tree ``scenario`` (its filesystem root)."""
    root = FIXTURES / scenario

    def read(path: str) -> str | None:
        file = root / path.lstrip("/")
        return file.read_text() if file.is_file() else None

    text = read(config_path)
    assert text is not None
    return parse(text, config_path, read)


def label(config: SyslinuxConfig, name: str) -> SyslinuxLabel:
    (found,) = [lab for lab in config.labels if lab.name == name]
    return found


def test_ubuntu_iso_includes_menu_and_txt() -> None:
    config = load("ubuntu-iso", "/isolinux/isolinux.cfg")
    assert [lab.name for lab in config.labels] == ["live", "live-install", "check", "memtest", "hd"]
    live = label(config, "live")
    assert live.menu_label == "Try Ubuntu without installing"
    assert live.kernel == "/casper/vmlinuz"
    assert live.kernel_type == "linux"
    assert live.initrd == ("/casper/initrd",)
    assert live.append == "file=/cdrom/preseed/ubuntu.seed boot=casper quiet splash ---"
    assert live.problems == ()
    hd = label(config, "hd")
    assert (hd.kernel_type, hd.kernel) == ("localboot", None)
    # "default vesamenu.c32" in isolinux.cfg replaces txt.cfg's "default live"; the menu then
    # starts on its first entry, which is still "live".
    assert config.default == "live"
    assert config.ui == "gfxboot bootlogo"
    assert config.title == "Installer boot menu"
    assert config.timeout == 5.0
    assert config.prompt is False
    assert config.warnings == (
        "/isolinux/menu.cfg line 9: INCLUDE /isolinux/gfxboot.cfg does not exist",
    )


def test_debian_installer_submenu_and_help_text() -> None:
    config = load("debian-installer", "/isolinux/isolinux.cfg")
    names = [lab.name for lab in config.labels]
    # "mainmenu" (MENU EXIT) is navigation, not a boot entry; rqtxt.cfg is included mid-file.
    assert names == ["install", "expert", "rescue", "auto", "help"]
    install = label(config, "install")
    assert install.menu_default is True
    assert install.initrd == ("/install.amd/initrd.gz",)
    assert install.append == "vga=788 --- quiet"
    assert install.submenu == ()
    assert label(config, "rescue").submenu == ("Advanced options",)
    assert label(config, "expert").menu_label == "Expert install"
    assert config.default == "install"
    assert config.timeout is None  # TIMEOUT 0 waits forever
    # The TEXT HELP block did not leak keywords; CONFIG is a non-kernel type.
    help_label = label(config, "help")
    assert (help_label.kernel_type, help_label.kernel) == ("other", "/isolinux/prompt.cfg")
    assert config.warnings == ()


def test_alpine_update_extlinux() -> None:
    config = load("alpine", "/boot/extlinux.conf")
    (lts,) = config.labels
    assert lts.name == "lts"
    assert lts.menu_label == "Linux lts"
    assert lts.kernel == "/boot/vmlinuz-lts"
    assert lts.initrd == ("/boot/intel-ucode.img", "/boot/amd-ucode.img", "/boot/initramfs-lts")
    assert lts.append.startswith("root=UUID=6d1d4a4e-7c2b-4a3a-9d2b-1f6b7a0c9e21 modules=")
    assert lts.menu_default
    assert config.default == "lts"  # DEFAULT menu.c32 starts the menu; MENU DEFAULT picks lts
    assert config.timeout == 1.0
    assert config.title == "Alpine/Linux Boot Menu"


def test_arch_parent_directory_paths() -> None:
    config = load("arch", "/boot/syslinux/syslinux.cfg")
    arch = label(config, "arch")
    assert arch.kernel == "/boot/vmlinuz-linux"
    assert arch.initrd == ("/boot/initramfs-linux.img",)
    assert arch.append == "root=/dev/sda3 rw"
    assert label(config, "archfallback").initrd == ("/boot/initramfs-linux-fallback.img",)
    hdt = label(config, "hdt")
    assert (hdt.kernel_type, hdt.kernel) == ("com32", "/boot/syslinux/hdt.c32")
    # The commented-out windows label is not there.
    assert [lab.name for lab in config.labels] == [
        "arch",
        "archfallback",
        "hdt",
        "reboot",
        "poweroff",
    ]
    assert config.default == "arch"
    assert config.ui == "menu.c32"
    assert config.timeout == 5.0
    assert config.prompt is False  # "PROMPT 0        # Set to 1 if …"


def test_xen_mboot_and_chain() -> None:
    config = load("xen", "/boot/extlinux/extlinux.conf")
    xen = label(config, "xen")
    assert xen.kernel_type == "multiboot"
    assert xen.kernel == "/boot/xen-4.17-amd64.gz"
    assert xen.append == "dom0_mem=2048M,max:2048M loglvl=all"
    assert xen.modules == (
        Module(
            "/boot/vmlinuz-6.1.0-18-amd64",
            "root=UUID=0b2e3c4d-1111-2222-3333-444455556666 ro console=hvc0",
        ),
        Module("/boot/initrd.img-6.1.0-18-amd64", ""),
    )
    assert xen.initrd == ()
    windows = label(config, "windows")
    assert (windows.kernel_type, windows.kernel) == ("chain", "/boot/extlinux/chain.c32")
    assert windows.append == "hd0 1"
    assert config.default == "xen"
    assert config.prompt is True
    assert config.timeout == 3.0


def test_uboot_fedora_label_names_with_spaces() -> None:
    config = load("uboot-fedora", "/extlinux/extlinux.conf")
    first, second = config.labels
    assert first.name == "Fedora Linux (6.5.6-300.fc39.aarch64) 39 (Server Edition)"
    assert first.kernel == "/vmlinuz-6.5.6-300.fc39.aarch64"
    assert first.fdtdir == "/dtb-6.5.6-300.fc39.aarch64"
    assert first.initrd == ("/initramfs-6.5.6-300.fc39.aarch64.img",)
    assert second.fdtdir == "/dtb-6.5.5-200.fc39.aarch64"
    assert config.default == first.name  # "ui menu.c32" without default: first entry
    assert config.timeout == 2.0
    assert config.total_timeout == 60.0


def test_uboot_debian_fdt_and_overlays() -> None:
    config = load("uboot-debian", "/boot/extlinux/extlinux.conf")
    l0 = label(config, "l0")
    assert l0.devicetree == "/usr/lib/linux-image-6.6.9-arm64/rockchip/rk3399-rockpro64.dtb"
    assert l0.fdt_overlays == ("/boot/overlays/uart2.dtbo", "/boot/overlays/spi-flash.dtbo")
    assert l0.fdtdir is None
    assert label(config, "l0r").fdtdir == "/usr/lib/linux-image-6.6.9-arm64"
    assert label(config, "l0r").append.endswith("single")
    assert config.default == "l0"
    assert config.title == "U-Boot menu"


def test_broken_config() -> None:
    config = load("broken", "/boot/syslinux/syslinux.cfg")
    escape = label(config, "escape")
    assert escape.kernel is None
    assert escape.problems == (
        "kernel: path '../../../vmlinuz' goes above the root of its filesystem",
        "initrd: path '../../../../../initrd2.img' goes above the root of its filesystem",
    )
    assert escape.initrd == ("/initrd.img",)
    # A label without APPEND takes the global one; APPEND - takes none.
    assert label(config, "usesglobal").append == "root=/dev/sda1 ro"
    assert label(config, "noappend").append == ""
    xen = label(config, "xen-empty")
    assert xen.kernel is None
    assert xen.problems == (
        "/boot/syslinux/syslinux.cfg line 26: mboot.c32 needs the Multiboot kernel in APPEND",
    )
    # A label without KERNEL boots a file named like the label.
    assert label(config, "bare-label-is-kernel").kernel == "/boot/syslinux/bare-label-is-kernel"
    # DEFAULT naming no label is a command line; it is offered as an entry of its own.
    assert config.default == "nosuchlabel"
    assert label(config, "nosuchlabel").kernel == "/boot/syslinux/nosuchlabel"
    assert config.timeout is None
    assert config.warnings == (
        "/boot/syslinux/syslinux.cfg line 3: 'soon' is not a timeout in tenths of a second",
        "/boot/syslinux/syslinux.cfg line 5: KERNEL outside a LABEL is ignored",
        "/boot/syslinux/syslinux.cfg line 6: INCLUDE /boot/syslinux/missing.cfg does not exist",
        "/boot/syslinux/syslinux.cfg line 7: INCLUDE ../../../../outside.cfg: path "
        "'../../../../outside.cfg' goes above the root of its filesystem",
        "/boot/syslinux/syslinux.cfg line 8: unknown keyword 'FROBNICATE' is ignored",
        "/boot/syslinux/syslinux.cfg line 9: MENU END without MENU BEGIN is ignored",
        "/boot/syslinux/syslinux.cfg line 11: LABEL without a name is ignored",
        "/boot/syslinux/syslinux.cfg line 12: LINUX outside a LABEL is ignored",
    )


def test_include_loop() -> None:
    config = load("include-loop", "/syslinux/syslinux.cfg")
    assert [(lab.name, lab.kernel) for lab in config.labels] == [
        ("b", "/vmlinuz-b"),
        ("a", "/vmlinuz"),
    ]
    assert config.warnings == (
        "/syslinux/loop.cfg line 1: INCLUDE /syslinux/loop.cfg includes itself (a loop); "
        "not read again",
    )


def test_include_depth_limit() -> None:
    def read(path: str) -> str | None:
        n = int(path.rsplit("/", 1)[-1].removesuffix(".cfg"))
        return f"INCLUDE {n + 1}.cfg\nLABEL l{n}\n  LINUX /k{n}\n"

    config = parse(read("/0.cfg") or "", "/0.cfg", read)
    assert len(config.labels) == 17
    assert config.warnings == (
        "/16.cfg line 1: INCLUDE /17.cfg is nested more than 16 deep; not read",
    )


def test_includes_are_read_a_bounded_number_of_times() -> None:
    """Found by the fuzzer (tests/fuzz): files that include each other are read once for each
    order of them (loops are only cut on one chain of includes), so ten such files made
    millions of reads; now at most 64 files are read in all."""
    reads: list[str] = []
    text = "".join(f"INCLUDE /{n}.cfg\n" for n in range(6)) + "LABEL a\n  LINUX /a\n"

    def read(path: str) -> str | None:
        reads.append(path)
        return text

    config = parse(text, "/syslinux.cfg", read)
    assert len(reads) == 64
    assert config.labels[0].kernel == "/a"
    assert "/4.cfg line 4: INCLUDE /3.cfg: more than 64 files are included in all; not read" in (
        config.warnings
    )


def test_include_read_error_is_a_warning() -> None:
    def read(path: str) -> str | None:
        raise PathError(f"{path}: file is too large", path=path)

    config = parse("INCLUDE big.cfg\nLABEL a\nLINUX /a\n", "/boot/extlinux.conf", read)
    assert config.labels[0].kernel == "/a"
    assert config.warnings == (
        "/boot/extlinux.conf line 1: INCLUDE /boot/big.cfg could not be read: "
        "/boot/big.cfg: file is too large",
    )


def test_keywords_are_case_insensitive_and_kernel_options_come_first() -> None:
    text = (
        "dEfAuLt Linux\n"
        "LaBeL Linux\n"
        "  MeNu LaBeL ^My ^Linux\n"
        "  KeRnEl vmlinuz quiet initrd=a.img,b.img\n"
        "  InItRd first.img\n"
        "  ApPeNd root=/dev/vda1\n"
        "  MENU HIDE\n"
    )
    config = parse(text, "/extlinux.conf", lambda _p: None)
    (lab,) = config.labels
    assert lab.menu_label == "My Linux"
    assert lab.kernel == "/vmlinuz"
    assert lab.append == "quiet root=/dev/vda1"
    assert lab.initrd == ("/first.img", "/a.img", "/b.img")
    assert lab.hidden
    assert config.default == "Linux"


def test_default_label_wins_over_menu_default() -> None:
    text = "UI menu.c32\nDEFAULT b\nLABEL a\nMENU DEFAULT\nLINUX /a\nLABEL b\nLINUX /b\n"
    config = parse(text, "/syslinux.cfg", lambda _p: None)
    assert config.default == "b"
    assert config.labels[0].menu_default


def test_file_extensions_choose_the_type() -> None:
    text = "".join(
        f"LABEL {name}\nKERNEL {name}\n"
        for name in ("memdisk", "pxe.0", "dos.bs", "fd.img", "menu.c32", "MBOOT.C32", "x.com")
    )
    config = parse(text, "/boot/syslinux/syslinux.cfg", lambda _p: None)
    assert [lab.kernel_type for lab in config.labels] == [
        "linux",
        "other",
        "other",
        "other",
        "com32",
        "multiboot",
        "other",
    ]


def test_resolve() -> None:
    assert resolve("/boot/syslinux", "../vmlinuz") == ("/boot/vmlinuz", None)
    assert resolve("/boot/syslinux", "/./a//b/../c") == ("/a/c", None)
    assert resolve("/", "..") == (None, "path '..' goes above the root of its filesystem")


_TOKENS = st.sampled_from(
    [
        "LABEL",
        "KERNEL",
        "LINUX",
        "COM32",
        "mboot.c32",
        "---",
        "APPEND",
        "-",
        "INITRD",
        "a,b",
        "initrd=",
        "INCLUDE",
        "MENU",
        "BEGIN",
        "END",
        "LABEL",
        "DEFAULT",
        "TEXT",
        "ENDTEXT",
        "TIMEOUT",
        "PROMPT",
        "LOCALBOOT",
        "UI",
        "..",
        "../..",
        "/",
        "x",
        " ",
        "\n",
        "\t",
        "#",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS | st.text(max_size=5), max_size=60).map("".join))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        config = parse(text, "/boot/syslinux/syslinux.cfg", lambda _p: text)
    except FormatError:
        return
    for lab in config.labels:
        assert lab.kernel is None or lab.kernel.startswith("/")
