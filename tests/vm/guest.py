"""An installed system for the VM tier: Debian 12 with systemd as PID 1 on ext4, bootmenu in it.

Built without root, chroot or loop devices from Debian's packages (the same apt cache as the
initramfs, :mod:`rootfs.apt`): the packages of :data:`PACKAGES` and everything they depend on
are unpacked into one merged-/usr tree, as dpkg would place them (maintainer scripts are not
run: what they would do that matters here is written below). Into it go

- bootmenu as ``pip install`` would put it (``/usr/local/lib/python3.11/dist-packages``: the
  checkout's packages and the pinned wheels; ``/usr/local/bin/bootmenu``), with bootmenu's UKI
  (``/usr/lib/bootmenu/bootmenu.efi``, what ``bootmenu install`` is given) and edk2's Universal
  Payload (``/usr/lib/bootmenu/UniversalPayload.elf``, where bootmenu looks for it);
- the kernel modules bootmenu's initramfs carries, with ``depmod``'s files;
- ``/etc``: fstab (the root filesystem, the ESP on ``/boot/efi``), passwd and group from
  base-passwd, hostname, an empty machine-id (systemd's first boot fills it in),
  ``multi-user.target`` as the default, and :data:`SHELL_UNIT`: a root shell on ttyS0 that the
  tests type on (no getty, no login).

The disk (GPT): an ESP whose removable-path loader ``\\EFI\\BOOT\\BOOTX64.EFI`` is the system's
own UKI (Debian's systemd-stub, its kernel, a small initramfs that loads the AHCI and ext4
modules, mounts the root filesystem and hands over to systemd), and the ext4 root filesystem.
OVMF with a fresh variable store starts it from the removable path.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rootfs import apt, build, contents, host, kmods, python, uki
from rootfs.cpio import Entry
from tests.images import cpio_archive
from tests.vm import disks
from tests.vm.targets import busybox

Progress = Callable[[str], None]
REPO: Final = Path(__file__).resolve().parents[2]

# What an installed server would have; their dependencies are followed (all of them, but for
# the packages of SKIP that only maintainer scripts use).
PACKAGES: Final = (
    "base-files", "base-passwd", "bash", "dash", "coreutils", "util-linux", "mount", "e2fsprogs",
    "systemd", "systemd-sysv", "udev", "kmod", "kexec-tools", "python3.11", "libc-bin",
)  # fmt: skip
SKIP: Final = frozenset(
    {"debconf", "debconf-2.0", "perl-base", "dpkg", "adduser", "init-system-helpers", "tzdata",
     "media-types", "passwd", "login", "libpam-modules", "libpam-runtime", "dmsetup"}
)  # fmt: skip
# The modules the system's initramfs loads (in their dependency order) to mount its root
# (on an AHCI or a virtio disk).
ROOT_MODULES: Final = ("ahci", "sd_mod", "virtio_pci", "virtio_blk", "ext4", "crc32c_generic")

DISK_GUID: Final = "9e57d15c-0000-4000-8000-000000000001"
ESP_PARTUUID: Final = "9e57d15c-0000-4000-8000-0000000000e1"
ROOT_PARTUUID: Final = "9e57d15c-0000-4000-8000-0000000000a2"
ROOT_FS_UUID: Final = "9e57d15c-a007-4a00-8a00-00000000a007"
ESP_VOLID: Final = "9E57E5B1"
ESP_SIZE_MIB: Final = 96  # the system's UKI, bootmenu's UKI once installed, room to spare

# Where bootmenu's files are in the installed system.
UKI_IN_GUEST: Final = "/usr/lib/bootmenu/bootmenu.efi"
SITE: Final = "usr/local/lib/python3.11/dist-packages"

# The shell's prompt: the tests wait for it before they type.
PROMPT: Final = "GUEST-ROOT-SHELL-7c1d# "
SHELL_UNIT: Final = f"""[Unit]
Description=A root shell on the serial console (bootmenu's VM tests type on it)
After=systemd-user-sessions.service local-fs.target

[Service]
Environment=HOME=/root TERM=vt100 "PS1={PROMPT}"
WorkingDirectory=/root
ExecStart=/bin/bash --noprofile --norc -i
StandardInput=tty-force
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TTYReset=yes
TTYVHangup=yes

[Install]
WantedBy=multi-user.target
"""
CMDLINE: Final = "console=ttyS0 rw"
INIT: Final = f"""#!/bin/busybox sh
# The installed system's initramfs: load the disk and ext4 modules, mount the root, start systemd.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
for module in $(/bin/busybox cat /modules/order); do
    /bin/busybox insmod "/modules/$module"
done
tries=0
until root=$(/bin/busybox findfs UUID={ROOT_FS_UUID}); do
    tries=$((tries + 1))
    [ $tries -gt 300 ] && {{ echo "guest-initramfs: no root filesystem"; exec /bin/busybox sh; }}
    /bin/busybox sleep 0.1
done
/bin/busybox mount -t ext4 -o rw "$root" /root
/bin/busybox mount --move /dev /root/dev
/bin/busybox umount /sys /proc
exec /bin/busybox switch_root /root /sbin/init
"""
FSTAB: Final = (
    f"UUID={ROOT_FS_UUID} / ext4 rw,errors=remount-ro 0 0\n"
    f"PARTUUID={ESP_PARTUUID} /boot/efi vfat umask=0077,nofail 0 0\n"
)
DIRS: Final = ("dev", "proc", "sys", "run", "tmp", "root", "mnt", "media", "home", "srv", "opt",
               "boot/efi", "var/tmp", "var/log", "var/lib", "usr/local/bin")  # fmt: skip


@dataclass(frozen=True)
class Guest:
    disk: Path  # the GPT disk image (copy it before booting: the system writes to it)
    kernel_version: str
    esp_partuuid: str = ESP_PARTUUID
    root_partuuid: str = ROOT_PARTUUID


def _install_packages(root: Path, pool: build.Pool) -> int:
    """Every file of the pool at its merged-/usr place; symbolic links made absolute."""
    for top, usr in build.MERGED.items():
        (root / usr).mkdir(parents=True, exist_ok=True)
        (root / top).symlink_to(usr)
    for rel in sorted(pool.files):
        _, source = pool.files[rel]
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(dest):
            continue
        target = pool.link_target(rel)
        if target is not None:
            dest.symlink_to("/" + target)
        else:
            shutil.copy2(source, dest, follow_symlinks=False)
    return len(pool.files)


def _install_bootmenu(root: Path, cache: apt.Cache, uki_path: Path, payload: Path,
                      progress: Progress) -> None:  # fmt: skip
    """bootmenu and its wheels as pip would install them, its UKI and the payload."""
    site = root / SITE
    pins = python.pinned_requirements(contents.PYPI_REQUIREMENTS)
    for wheel in python.fetch_wheels(pins, cache.root / "wheels", progress):
        python.unpack_wheel(wheel, site)
    for package in contents.BOOTMENU_PACKAGES:
        shutil.copytree(REPO / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    launcher = root / "usr/local/bin/bootmenu"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text('#!/bin/sh\nexec /usr/bin/python3.11 -m bootmenu "$@"\n')
    launcher.chmod(0o755)
    lib = root / "usr/lib/bootmenu"
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(uki_path, lib / "bootmenu.efi")
    shutil.copyfile(payload, lib / "UniversalPayload.elf")
    shutil.copyfile(payload.with_suffix(".json"), lib / "UniversalPayload.json")
    python.compile_trees([(root / build.PYTHON_LIB, "/" + build.PYTHON_LIB), (site, "/" + SITE)])


def _configure(root: Path) -> None:
    """What the maintainer scripts and the installer would have written into /etc."""
    for rel in DIRS:
        (root / rel).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "var/tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    etc = root / "etc"
    master = root / "usr/share/base-passwd"
    (etc / "passwd").write_text((master / "passwd.master").read_text())
    (etc / "group").write_text((master / "group.master").read_text())
    (etc / "fstab").write_text(FSTAB)
    (etc / "hostname").write_text("guest\n")
    (etc / "machine-id").write_text("")
    units = etc / "systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    (units / "default.target").symlink_to("/lib/systemd/system/multi-user.target")
    (units / "guest-shell.service").write_text(SHELL_UNIT)
    wants = units / "multi-user.target.wants"
    wants.mkdir(exist_ok=True)
    (wants / "guest-shell.service").symlink_to("/etc/systemd/system/guest-shell.service")
    # The console's getty (systemd's generator adds one for console=ttyS0) would share the
    # shell's terminal.
    (units / "serial-getty@ttyS0.service").symlink_to("/dev/null")
    (units / "getty-static.service").symlink_to("/dev/null")  # gettys on tty2-6: nobody there


def _initramfs(moddir: Path, dep: dict[str, tuple[str, ...]]) -> bytes:
    """The system's own small initramfs (:data:`INIT`), with the modules of ROOT_MODULES."""
    order = kmods.closure(ROOT_MODULES, dep).paths
    entries = [
        Entry.directory("bin"),
        Entry.file("bin/busybox", busybox().read_bytes(), 0o755),
        Entry.directory("dev"),
        Entry.chardev("dev/console", 5, 1),
        Entry.file("init", INIT.encode(), 0o755),
        Entry.directory("modules"),
        Entry.file("modules/order", "".join(f"{Path(p).name}\n" for p in order).encode()),
        *(Entry.file(f"modules/{Path(p).name}", (moddir / p).read_bytes()) for p in order),
        Entry.directory("proc"),
        Entry.directory("root"),
        Entry.directory("sys"),
    ]
    return gzip.compress(cpio_archive(entries), compresslevel=6, mtime=0)


def build_guest(out: Path, artifacts: Path, *, progress: Progress = print) -> Guest:
    """Build the installed system's disk into ``out`` (see the module); ``artifacts`` is the
    rootfs build whose UKI (bootmenu.efi) is installed in it."""
    out.mkdir(parents=True, exist_ok=True)
    cache = apt.Cache()
    kernel_pkg = build.kernel_package()
    kernel_version = kernel_pkg.removeprefix("linux-image-")
    records = apt.closure(PACKAGES, apt.show, lambda name: name not in SKIP)
    records.update(apt.show([kernel_pkg, contents.UKI_STUB_PACKAGE]))
    with apt.locked(cache.root):
        trees = {
            name: cache.unpack(deb) for name, deb in cache.fetch(records.values(), progress).items()
        }
    pool = build.Pool()
    for name in sorted(trees):
        if name not in (kernel_pkg, contents.UKI_STUB_PACKAGE):
            pool.add_tree(name, trees[name])
    payload = build.build_payload(progress)
    root = out / "root"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    with tempfile.TemporaryDirectory(dir=out) as scratch_dir:
        scratch = Path(scratch_dir)
        progress(f"guest: {_install_packages(root, pool)} files of {len(records)} packages")
        _install_bootmenu(root, cache, artifacts / "bootmenu.efi", payload, progress)
        builder = build.Builder(out, progress, cache, verbose=False)
        stage = build.Stage(root, pool)
        builder.stage_modules(stage, trees[kernel_pkg], kernel_version)
        (root / "etc/bootmenu/modules").unlink()  # the initramfs's list, not the system's
        _configure(root)
        # libc-bin's trigger: /etc/ld.so.cache (ctypes' find_library reads it: pyudev).
        host.run(["ldconfig", "-r", root, "-X"])
        moddir = trees[kernel_pkg] / "lib/modules" / kernel_version
        dep = kmods.parse_modules_dep((moddir / "modules.dep").read_text())
        initrd = scratch / "initrd.img"
        initrd.write_bytes(_initramfs(moddir, dep))
        vmlinuz = trees[kernel_pkg] / "boot" / f"vmlinuz-{kernel_version}"
        osrel = scratch / "os-release"
        osrel.write_text((root / "usr/lib/os-release").read_text())
        cmdline = scratch / "cmdline"
        cmdline.write_text(CMDLINE)
        system_uki = scratch / "debian.efi"
        uki.build_uki(
            trees[contents.UKI_STUB_PACKAGE] / contents.UKI_STUB_PATH, system_uki,
            {".osrel": osrel, ".cmdline": cmdline, ".linux": vmlinuz, ".initrd": initrd},
            source_date_epoch=0,
        )  # fmt: skip
        used = sum(p.lstat().st_size for p in root.rglob("*")) // disks.MIB
        esp = disks.make_vfat(scratch / "esp.img", {"/EFI/BOOT/BOOTX64.EFI": system_uki},
                              ESP_SIZE_MIB, label="ESP", volid=ESP_VOLID)  # fmt: skip
        rootfs_image = disks.make_ext4(scratch / "root.img", root, used * 3 // 2 + 256,
                                       label="debian", uuid=ROOT_FS_UUID)  # fmt: skip
        disk = disks.assemble_gpt(
            out / "guest.img",
            [disks.Partition(esp, disks.ESP_TYPE, ESP_PARTUUID, "EFI System Partition"),
             disks.Partition(rootfs_image, disks.LINUX_FS_TYPE, ROOT_PARTUUID, "debian")],
            disk_guid=DISK_GUID,
        )  # fmt: skip
    shutil.rmtree(root)
    return Guest(disk, kernel_version)
