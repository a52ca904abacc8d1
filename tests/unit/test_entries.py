"""From filesystem trees to menu entries: the scanner over realistic layouts.

The trees are built in a temporary directory the way distributions lay out /boot and the ESP;
kernels and initrds are small but structurally valid images (tests/images.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bootmenu.discover.scanner import Scanner, scan
from bootmenu.model import BootEntry, Kind, Source, Volume
from tests.images import bzimage, initrd

MID = "6a9857a393724b7a981ebb5b8495b9ea"
BOOT_UUID = "0f7b3c5e-2a0e-4f35-9d1b-1c3b0e8a9d11"


def write(root: Path, path: str, data: bytes | str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)


def by_id(entries: tuple[BootEntry, ...]) -> dict[str, BootEntry]:
    return {e.id: e for e in entries}


@pytest.fixture
def fedora_boot(tmp_path: Path) -> Volume:
    """Fedora 39's /boot: BLS entries using $kernelopts from grub2/grubenv, grub.cfg with blscfg."""
    root = tmp_path / "boot"
    for ver in ("6.5.6-300.fc39.x86_64", "6.5.12-300.fc39.x86_64"):
        write(root, f"/vmlinuz-{ver}", bzimage(ver))
        write(root, f"/initramfs-{ver}.img", initrd())
        write(
            root,
            f"/loader/entries/{MID}-{ver}.conf",
            f"title Fedora Linux ({ver}) 39 (Workstation Edition)\n"
            f"version {ver}\nlinux /vmlinuz-{ver}\ninitrd /initramfs-{ver}.img\n"
            "options $kernelopts\ngrub_users $grub_users\ngrub_arg --unrestricted\n"
            "grub_class fedora\n",
        )
    env = (
        "# GRUB Environment Block\n"
        "kernelopts=root=UUID=9e1c8f4a-1111-2222-3333-444455556666 ro rhgb quiet\n"
        f"saved_entry={MID}-6.5.6-300.fc39.x86_64\nboot_success=0\n"
    )
    write(root, "/grub2/grubenv", env.ljust(1024, "#"))
    write(
        root,
        "/grub2/grub.cfg",
        "set pager=1\n"
        "if [ -f ${config_directory}/grubenv ]; then\n  load_env -f ${config_directory}/grubenv\n"
        "elif [ -s $prefix/grubenv ]; then\n  load_env\nfi\n"
        'if [ "${next_entry}" ] ; then\n   set default="${next_entry}"\n   set next_entry=\n'
        '   save_env next_entry\n   set boot_once=true\nelse\n   set default="${saved_entry}"\nfi\n'
        "set timeout=5\n"
        "insmod blscfg\nblscfg\n",
    )
    return Volume(name="/dev/vda2", path=root, fstype="ext4", uuid=BOOT_UUID)


def test_fedora_bls_entries_are_sorted_newest_first_with_kernelopts(fedora_boot: Volume) -> None:
    result = scan([fedora_boot], host_arch="x86_64")
    linux = [e for e in result.entries if e.source is Source.BLS]
    assert [e.version for e in linux] == ["6.5.12-300.fc39.x86_64", "6.5.6-300.fc39.x86_64"]
    newest = linux[0]
    assert newest.cmdline == "root=UUID=9e1c8f4a-1111-2222-3333-444455556666 ro rhgb quiet"
    assert newest.kernel == "/vmlinuz-6.5.12-300.fc39.x86_64"
    assert newest.initrd == ("/initramfs-6.5.12-300.fc39.x86_64.img",)
    assert newest.bootable, newest.problems
    assert newest.architecture == "x86_64"


def test_fedora_grub_blscfg_does_not_duplicate_entries(fedora_boot: Volume) -> None:
    result = scan([fedora_boot], host_arch="x86_64")
    kernels = [e.kernel for e in result.entries]
    assert len(kernels) == len(set(kernels)) == 2


def test_fedora_default_is_grubs_saved_entry(fedora_boot: Volume) -> None:
    """No loader.conf: grub is the loader, and its saved_entry names the older kernel."""
    result = scan([fedora_boot], host_arch="x86_64")
    defaults = [e for e in result.entries if e.default]
    assert [e.version for e in defaults] == ["6.5.6-300.fc39.x86_64"]
    grub = [c for c in result.disk_configs if c.source is Source.GRUB]
    assert grub and grub[0].timeout == 5


@pytest.fixture
def debian(tmp_path: Path) -> tuple[Volume, Volume]:
    """Debian 12 with a separate /boot (ext4) and an ESP whose grub.cfg only points at /boot."""
    boot = tmp_path / "boot"
    esp = tmp_path / "esp"
    ver = "6.1.0-13-amd64"
    write(boot, f"/vmlinuz-{ver}", bzimage(ver))
    write(boot, f"/initrd.img-{ver}", initrd())
    write(
        boot,
        "/grub/grub.cfg",
        'set default="0"\nset timeout=5\n'
        "function load_video {\n  insmod all_video\n}\n"
        "menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class os "
        f"$menuentry_id_option 'gnulinux-simple-{BOOT_UUID}' {{\n"
        "\tload_video\n\tinsmod ext2\n\tset root='hd0,gpt2'\n"
        "\tif [ x$feature_platform_search_hint = xy ]; then\n"
        f"\t  search --no-floppy --fs-uuid --set=root --hint-efi=hd0,gpt2 {BOOT_UUID}\n"
        f"\telse\n\t  search --no-floppy --fs-uuid --set=root {BOOT_UUID}\n\tfi\n"
        f"\techo\t'Loading Linux {ver} ...'\n"
        f"\tlinux\t/vmlinuz-{ver} root=UUID=aaaa-bbbb ro  quiet\n"
        f"\tinitrd\t/initrd.img-{ver}\n}}\n"
        f"submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option "
        f"'gnulinux-advanced-{BOOT_UUID}' {{\n"
        f"\tmenuentry 'Debian GNU/Linux, with Linux {ver} (recovery mode)' "
        f"$menuentry_id_option 'gnulinux-{ver}-recovery-{BOOT_UUID}' {{\n"
        f"\t\tsearch --no-floppy --fs-uuid --set=root {BOOT_UUID}\n"
        f"\t\tlinux /vmlinuz-{ver} root=UUID=aaaa-bbbb ro single\n"
        f"\t\tinitrd /initrd.img-{ver}\n\t}}\n}}\n",
    )
    write(
        esp,
        "/EFI/debian/grub.cfg",
        f"search.fs_uuid {BOOT_UUID} root hd0,gpt2\nset prefix=($root)'/grub'\n"
        "configfile $prefix/grub.cfg\n",
    )
    write(esp, "/EFI/BOOT/BOOTX64.EFI", b"this is not a PE file")
    return (
        Volume(name="/dev/vda1", path=esp, fstype="vfat", uuid="7A1B-2C3D"),
        Volume(name="/dev/vda2", path=boot, fstype="ext4", uuid=BOOT_UUID),
    )


def test_debian_grub_entries_and_submenu(debian: tuple[Volume, Volume]) -> None:
    result = scan(debian, host_arch="x86_64")
    grub = [e for e in result.entries if e.source is Source.GRUB]
    titles = [e.title for e in grub]
    assert titles[0] == "Debian GNU/Linux"
    assert any("recovery mode" in t and "Advanced options" in t for t in titles)
    first = grub[0]
    assert first.root == "/dev/vda2"
    assert first.cmdline == "root=UUID=aaaa-bbbb ro  quiet" or first.cmdline == (
        "root=UUID=aaaa-bbbb ro quiet"
    )
    assert first.initrd == ("/initrd.img-6.1.0-13-amd64",)
    assert first.version == "6.1.0-13-amd64"
    assert first.bootable, first.problems
    assert first.default


def test_broken_removable_loader_is_shown_with_a_problem(debian: tuple[Volume, Volume]) -> None:
    result = scan(debian, host_arch="x86_64")
    removable = [e for e in result.entries if e.source is Source.EFI_REMOVABLE]
    assert len(removable) == 1
    assert removable[0].kind is Kind.EFI
    assert not removable[0].bootable
    assert removable[0].kernel == "/EFI/BOOT/BOOTX64.EFI"


def test_problems_per_entry_do_not_stop_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "boot"
    write(root, "/vmlinuz-good", bzimage("6.6.0-good"))
    write(root, "/vmlinuz-truncated", bzimage("6.6.0-trunc")[:1500])
    write(root, "/initrd-garbage", b"\x01\x02 not an initrd at all " * 10)
    write(root, "/initrd-good", initrd())
    entries = {
        "good.conf": "title Good\nlinux /vmlinuz-good\ninitrd /initrd-good\n",
        "missing.conf": "title Missing kernel\nlinux /vmlinuz-gone\n",
        "escape.conf": "title Escape\nlinux /../../../etc/passwd\n",
        "truncated.conf": "title Truncated\nlinux /vmlinuz-truncated\n",
        "garbage-initrd.conf": "title Bad initrd\nlinux /vmlinuz-good\ninitrd /initrd-garbage\n",
        "arm.conf": "title Arm\narchitecture aa64\nlinux /vmlinuz-good\n",
        "binary.conf": "\x00\x01\x02\xff garbage",
    }
    for name, text in entries.items():
        write(root, f"/loader/entries/{name}", text)
    result = scan([Volume(name="boot", path=root, fstype="ext4")], host_arch="x86_64")
    found = by_id(result.entries)
    assert found["good.conf"].bootable, found["good.conf"].problems
    assert "no such file" in " ".join(found["missing.conf"].problems)
    assert "outside its filesystem" in " ".join(found["escape.conf"].problems)
    assert "truncated" in " ".join(found["truncated.conf"].problems)
    assert any(p.startswith("/initrd-garbage") for p in found["garbage-initrd.conf"].problems)
    assert "aarch64" in " ".join(found["arm.conf"].problems)
    assert found["arm.conf"].architecture == "aarch64"
    assert not found["binary.conf"].bootable
    # every problem is a sentence about the entry, not an exception text of a parser
    for entry in result.entries:
        for problem in entry.problems:
            assert "Traceback" not in problem and "struct.error" not in problem


def test_boot_counting_exhausted_entries_sort_last(tmp_path: Path) -> None:
    root = tmp_path / "esp"
    write(root, "/vmlinuz", bzimage())
    write(root, "/loader/entries/a-6.8+0-3.conf", "title A\nversion 6.8\nlinux /vmlinuz\n")
    write(root, "/loader/entries/a-6.7+2-1.conf", "title A\nversion 6.7\nlinux /vmlinuz\n")
    write(root, "/loader/entries/a-6.6.conf", "title A\nversion 6.6\nlinux /vmlinuz\n")
    result = scan([Volume(name="esp", path=root, fstype="vfat")], host_arch="x86_64")
    ids = [e.id for e in result.entries]
    assert ids == ["a-6.7.conf", "a-6.6.conf", "a-6.8.conf"]
    first = result.entries[0]
    assert (first.tries_left, first.tries_done) == (2, 1)
    assert first.default  # the first entry with tries left


def test_loader_conf_default_glob(tmp_path: Path) -> None:
    root = tmp_path / "esp"
    write(root, "/vmlinuz", bzimage())
    write(root, "/loader/loader.conf", "timeout 3\ndefault arch-lts*\n")
    write(root, "/loader/entries/arch.conf", "title Arch Linux\nlinux /vmlinuz\n")
    write(root, "/loader/entries/arch-lts.conf", "title Arch Linux LTS\nlinux /vmlinuz\n")
    write(root, "/loader/entries/arch-fallback.conf", "title Fallback\nlinux /vmlinuz\n")
    result = scan([Volume(name="esp", path=root, fstype="vfat")], host_arch="x86_64")
    assert [e.id for e in result.entries if e.default] == ["arch-lts.conf"]
    bls_conf = next(c for c in result.disk_configs if c.source is Source.BLS)
    assert bls_conf.timeout == 3


def test_syslinux_multiboot_entry(tmp_path: Path) -> None:
    root = tmp_path / "stick"
    write(root, "/boot/vmlinuz", bzimage())
    write(root, "/boot/initrd.gz", initrd())
    write(root, "/boot/xen.gz", b"not checked here")
    write(
        root,
        "/boot/extlinux/extlinux.conf",
        "DEFAULT xen\nTIMEOUT 50\n"
        "LABEL linux\n  MENU LABEL Plain Linux\n  KERNEL ../vmlinuz\n  INITRD ../initrd.gz\n"
        "  APPEND root=/dev/sda2 quiet\n"
        "LABEL xen\n  KERNEL mboot.c32\n"
        "  APPEND ../xen.gz dom0_mem=1024M --- ../vmlinuz root=/dev/sda2 --- ../initrd.gz\n",
    )
    result = scan([Volume(name="stick", path=root, fstype="ext4")], host_arch="x86_64")
    found = by_id(result.entries)
    linux = found["syslinux:linux"]
    assert (linux.title, linux.kernel, linux.initrd) == (
        "Plain Linux",
        "/boot/vmlinuz",
        ("/boot/initrd.gz",),
    )
    assert linux.bootable, linux.problems
    xen = found["syslinux:xen"]
    assert xen.kind is Kind.MULTIBOOT
    assert xen.kernel == "/boot/xen.gz"
    assert xen.cmdline == "dom0_mem=1024M"
    assert [(m.path, m.cmdline) for m in xen.modules] == [
        ("/boot/vmlinuz", "root=/dev/sda2"),
        ("/boot/initrd.gz", ""),
    ]
    assert xen.default
    # xen.gz here is not a Multiboot kernel: validation must say so
    assert not xen.bootable
    syslinux_conf = next(c for c in result.disk_configs if c.source is Source.SYSLINUX)
    assert syslinux_conf.timeout == 5.0


def test_ids_are_unique_across_volumes(tmp_path: Path) -> None:
    vols = []
    for name in ("a", "b"):
        root = tmp_path / name
        write(root, "/vmlinuz", bzimage())
        write(root, "/loader/entries/linux.conf", f"title Linux on {name}\nlinux /vmlinuz\n")
        vols.append(Volume(name=name, path=root, fstype="ext4"))
    result = scan(vols, host_arch="x86_64")
    assert [e.id for e in result.entries] == ["linux.conf", "linux.conf@b"]
    assert [e.default for e in result.entries] == [True, False]


# -- hostile configurations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ("/grub/grub.cfg", "menuentry 'Bad' {\n  linux /vmlinuz-\x00evil root=/dev/vda2\n}\n"),
        ("/syslinux/syslinux.cfg", "LABEL bad\n  KERNEL /vmlinuz-\x00evil\n"),
    ],
    ids=["grub-nul", "syslinux-nul"],
)
def test_a_bad_byte_in_a_path_is_a_problem_of_that_entry_not_a_lost_volume(
    tmp_path: Path, config: str, text: str
) -> None:
    root = tmp_path / "boot"
    write(root, "/vmlinuz-6.1", bzimage())
    write(root, "/loader/entries/good.conf", "title Good\nlinux /vmlinuz-6.1\noptions quiet\n")
    target = root / config.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode("utf-8", "surrogateescape"))

    result = scan([Volume(name="/dev/vda2", path=root, fstype="ext4")], host_arch="x86_64")

    titles = {e.title: e for e in result.entries}
    assert titles["Good"].bootable, titles["Good"].problems  # the volume's other entries stay
    bad = next(e for e in result.entries if e.title and e.title.lower().startswith("bad"))
    assert not bad.bootable
    assert any("the path contains a NUL byte" in p for p in bad.problems), bad.problems


def test_a_scan_that_runs_out_of_time_stops_and_lists_what_it_found(tmp_path: Path) -> None:
    root = tmp_path / "boot"
    write(root, "/vmlinuz-6.1", bzimage())
    for n in range(5):
        write(root, f"/loader/entries/e{n}.conf", f"title E{n}\nlinux /vmlinuz-6.1\n")
    write(root, "/grub/grub.cfg", "while true; do x=1; done\nmenuentry never { linux /k }\n")
    now = [0.0]

    def clock() -> float:  # every look at the clock is one second later
        now[0] += 1
        return now[0]

    scanner = Scanner(
        [Volume(name="/dev/vda2", path=root, fstype="ext4")],
        host_arch="x86_64",
        time_limit=4,
        clock=clock,
    )
    out = scanner.scan_volume(scanner.volumes[0])

    assert any("scanning stopped after 4 s" in w for w in out.warnings), out.warnings
    assert 0 < len(out.entries) < 5  # the BLS loop stopped; grub.cfg was not run
    assert all(
        e.problems == ("not checked: the time for scanning its filesystem ran out",)
        for e in out.entries
    )
