"""Disk images for the VM tier, the demo and bench, built without root or loop devices.

Each filesystem is made in its own image file (``mkfs.ext4 -d DIR``; ``mkfs.vfat`` + mtools
with ``MTOOLS_SKIP_CHECK=1``), the partition table is written into the disk image file by
``sfdisk``, and the filesystem images are copied in at their partitions' offsets (sparse).
UUIDs are fixed, so command lines can name ``root=UUID=…`` and tests know every PARTUUID.

The boot disk (:func:`build_boot_disk`), GPT:

- partition 1, ESP (FAT32): ``\\EFI\\BOOT\\BOOTX64.EFI`` (Debian's systemd-boot, the removable
  path), ``\\EFI\\systemd\\systemd-bootx64.efi``, a UKI ``\\EFI\\Linux\\debian-uki.efi`` (Debian's
  systemd-stub + kernel + target initramfs + ``.cmdline``) and ``\\loader\\loader.conf``;
- partition 2, ``/boot`` (ext4): the kernel and target initramfs, BLS entries
  (:data:`BLS_ENTRIES`: the default, a rescue entry with another command line, one whose kernel
  is truncated and one whose kernel is missing), ``/loader/loader.conf`` naming the default,
  and Debian-style ``/grub/grub.cfg`` (the same Debian entry, and a ``multiboot2`` entry).

The extlinux disk (:func:`build_extlinux_disk`), GPT, one ext4 partition with
``/extlinux/extlinux.conf``: a Linux entry and an ``mboot.c32`` Multiboot entry.

A one-entry disk (:func:`build_entry_disk`), GPT, one ext4 partition: the target kernel and
initramfs and one BLS entry (several in one machine: tests/vm/test_settle.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests import debian
from tests.vm.targets import Targets, build_targets

MIB: Final = 1 << 20
SECTOR: Final = 512

ESP_TYPE: Final = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX_FS_TYPE: Final = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
ESP_SIZE_MIB: Final = 64  # FAT32 needs at least ~33 MiB with 512-byte clusters
BOOT_SIZE_MIB: Final = 48

# Fixed identities (file system UUIDs; GPT disk and partition GUIDs).
BOOT_DISK_GUID: Final = "b0075a1d-0000-4000-8000-000000000001"
ESP_PARTUUID: Final = "b0075a1d-0000-4000-8000-0000000000e1"
BOOT_PARTUUID: Final = "b0075a1d-0000-4000-8000-0000000000b2"
ESP_VOLID: Final = "B007E5B1"  # FAT volume id: UUID B007-E5B1
BOOT_FS_UUID: Final = "b0075a1d-b007-4b00-8b00-00000000b007"
EXT_DISK_GUID: Final = "b0075a1d-0000-4000-8000-000000000002"
EXT_PARTUUID: Final = "b0075a1d-0000-4000-8000-0000000000c1"
EXT_FS_UUID: Final = "b0075a1d-e771-4e71-8e71-00000000e771"

KERNEL_VERSION: Final = "6.1.0-56-amd64"  # the name on /boot; the file is the current kernel
ROOT_ARG: Final = f"root=UUID={BOOT_FS_UUID}"


@dataclass(frozen=True)
class BlsEntry:
    file: str  # entry file name in /loader/entries
    title: str
    version: str
    kernel: str  # path on /boot; see BootDisk for which files exist
    options: str


def _options(tag: str, *extra: str) -> str:
    return " ".join(["console=ttyS0", "quiet", ROOT_ARG, "ro", f"bm.entry={tag}", *extra])


# The command lines are what the target prints back; each names its entry (bm.entry=…).
DEBIAN = BlsEntry(
    "debian-6.1.conf", "Debian GNU/Linux 12 (bookworm)", KERNEL_VERSION,
    f"/vmlinuz-{KERNEL_VERSION}", _options("debian"),
)  # fmt: skip
RESCUE = BlsEntry(
    "debian-6.1-rescue.conf", "Debian GNU/Linux 12 (rescue)", KERNEL_VERSION,
    f"/vmlinuz-{KERNEL_VERSION}", _options("rescue", "single"),
)  # fmt: skip
CORRUPT = BlsEntry(
    "debian-6.2.conf", "Debian GNU/Linux 12 (6.2, truncated kernel)", "6.2.0-1-amd64",
    "/vmlinuz-6.2.0-1-amd64", _options("corrupt"),
)  # fmt: skip
MISSING = BlsEntry(
    "debian-6.3.conf", "Debian GNU/Linux 12 (6.3, kernel missing)", "6.3.0-1-amd64",
    "/vmlinuz-6.3.0-1-amd64", _options("missing"),
)  # fmt: skip
BLS_ENTRIES: Final = (DEBIAN, RESCUE, CORRUPT, MISSING)

UKI_FILE: Final = "debian-uki.efi"
UKI_ID: Final = UKI_FILE
UKI_CMDLINE: Final = "console=ttyS0 quiet bm.entry=uki"

GRUB_DEBIAN_TITLE: Final = "Debian GNU/Linux"  # same kernel and options as DEBIAN: deduplicated
GRUB_MB2_TITLE: Final = "Multiboot 2 test kernel"
GRUB_MB2_ARGS: Final = "mb2 from grub"
GRUB_MB2_ID: Final = f"grub:{GRUB_MB2_TITLE}"

EXTLINUX_LINUX_LABEL: Final = "linux"
EXTLINUX_LINUX_CMDLINE: Final = "console=ttyS0 quiet bm.entry=extlinux"
EXTLINUX_MB1_LABEL: Final = "mb1"
EXTLINUX_MB1_ARGS: Final = "mb1 from extlinux"
EXTLINUX_MB1_ID: Final = f"syslinux:{EXTLINUX_MB1_LABEL}"


def _env() -> dict[str, str]:
    return {**os.environ, "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C"}


def _run(cmd: Sequence[str | Path], *, stdin: str | None = None) -> None:
    result = subprocess.run(
        [str(c) for c in cmd], input=stdin, capture_output=True, text=True, env=_env(), check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, cmd))} failed ({result.returncode}): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -- file systems ------------------------------------------------------------------------------


def make_ext4(image: Path, tree: Path, size_mib: int, *, label: str, uuid: str) -> Path:
    """An ext4 image of ``tree`` (``mkfs.ext4 -d``; no root needed)."""
    image.unlink(missing_ok=True)
    _run([
        "mkfs.ext4", "-q", "-F", "-L", label, "-U", uuid, "-E", f"root_owner=0:0,hash_seed={uuid}",
        "-d", tree, image, f"{size_mib}M",
    ])  # fmt: skip
    return image


def make_vfat(image: Path, files: Mapping[str, Path], size_mib: int, *, label: str,
              volid: str, fat: int = 32) -> Path:  # fmt: skip
    """A FAT image holding ``files`` ({"/EFI/BOOT/BOOTX64.EFI": source}) via mtools."""
    image.unlink(missing_ok=True)
    _run(["mkfs.vfat", "-C", "-F", str(fat), "-n", label, "-i", volid, image, str(size_mib * 1024)])
    made: set[str] = set()
    for target in sorted(files):
        parts = target.strip("/").split("/")
        for i in range(1, len(parts)):
            directory = "/" + "/".join(parts[:i])
            if directory not in made:
                _run(["mmd", "-i", image, f"::{directory}"])
                made.add(directory)
        _run(["mcopy", "-i", image, files[target], f"::{target}"])
    return image


@dataclass(frozen=True)
class Partition:
    image: Path  # a filesystem image (or an empty file) copied into the partition
    type: str  # GPT partition type GUID
    uuid: str  # GPT partition unique GUID
    name: str
    size_mib: int | None = None  # default: the image's size rounded up to MiB


def assemble_gpt(disk: Path, partitions: Sequence[Partition], *, disk_guid: str) -> Path:
    """A GPT disk image with ``partitions`` 1 MiB-aligned, each image copied in (sparse)."""
    start = MIB
    lines = ["label: gpt", f"label-id: {disk_guid}", "unit: sectors", ""]
    placed: list[tuple[int, Path]] = []
    for p in partitions:
        size = (p.size_mib * MIB) if p.size_mib else -(-p.image.stat().st_size // MIB) * MIB
        lines.append(
            f"start={start // SECTOR}, size={size // SECTOR}, type={p.type}, uuid={p.uuid}, "
            f'name="{p.name}"'
        )
        placed.append((start, p.image))
        start += size
    total = start + MIB  # room for the backup GPT
    disk.unlink(missing_ok=True)
    with open(disk, "wb") as f:
        f.truncate(total)
    _run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", disk], stdin="\n".join(lines))
    with open(disk, "r+b") as out:
        for offset, image in placed:
            _copy_sparse(image, out, offset)
    return disk


def esp_disk(path: Path, files: Mapping[str, Path], *, partuuid: str, disk_guid: str,
             volid: str) -> Path:  # fmt: skip
    """A GPT disk with one EFI System Partition (FAT32, label ``ESP``) holding ``files``,
    sized for them with room to spare (at least 64 MiB)."""
    total = sum(p.stat().st_size for p in files.values())
    size_mib = max(64, total * 5 // 4 // MIB + 16)
    with tempfile.TemporaryDirectory(prefix="esp-", dir=path.parent) as scratch:
        esp = make_vfat(Path(scratch) / "esp.img", files, size_mib, label="ESP", volid=volid)
        assemble_gpt(path, [Partition(esp, ESP_TYPE, partuuid, "EFI System Partition")],
                     disk_guid=disk_guid)  # fmt: skip
    return path


def _copy_sparse(image: Path, out: object, offset: int) -> None:
    assert hasattr(out, "seek") and hasattr(out, "write")
    zero = bytes(MIB)
    with open(image, "rb") as src:
        position = offset
        while chunk := src.read(MIB):
            if chunk != zero[: len(chunk)]:
                out.seek(position)
                out.write(chunk)
            position += len(chunk)


# -- the disks ---------------------------------------------------------------------------------


def _bls_text(e: BlsEntry) -> str:
    return (
        f"title      {e.title}\nversion    {e.version}\nsort-key   debian\n"
        f"linux      {e.kernel}\ninitrd     /initrd.img-{KERNEL_VERSION}\noptions    {e.options}\n"
    )


GRUB_CFG: Final = f"""\
# Made like Debian's /boot/grub/grub.cfg (grub-mkconfig), trimmed.
set default="0"
set timeout=5
function load_video {{
	insmod all_video
}}
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root {BOOT_FS_UUID}
menuentry '{GRUB_DEBIAN_TITLE}' --class debian --class gnu-linux --class os {{
\tload_video
\tinsmod gzio
\techo 'Loading Linux {KERNEL_VERSION} ...'
\tlinux /vmlinuz-{KERNEL_VERSION} {DEBIAN.options}
\techo 'Loading initial ramdisk ...'
\tinitrd /initrd.img-{KERNEL_VERSION}
}}
menuentry '{GRUB_MB2_TITLE}' {{
\tmultiboot2 /multiboot/mb2.elf {GRUB_MB2_ARGS}
}}
"""


@dataclass(frozen=True)
class BootDisk:
    path: Path
    default: str  # the BLS entry file loader.conf names


def build_boot_disk(
    path: Path,
    targets: Targets,
    *,
    default: BlsEntry = DEBIAN,
    bootmenu_toml: str | None = None,
    stub: Path | None = None,
) -> BootDisk:
    """The GPT disk with an ESP and an ext4 /boot (see the module docstring).

    ``default`` is the entry /boot/loader/loader.conf names; ``bootmenu_toml`` is written to
    /bootmenu.toml on /boot (bootmenu reads the first such file it finds on a disk)."""
    with tempfile.TemporaryDirectory(prefix="bootmenu-disk-", dir=path.parent) as scratch:
        work = Path(scratch)
        # /boot
        boot = work / "boot"
        (boot / "loader/entries").mkdir(parents=True)
        (boot / "grub").mkdir()
        (boot / "multiboot").mkdir()
        kernel = targets.vmlinuz.read_bytes()
        (boot / f"vmlinuz-{KERNEL_VERSION}").write_bytes(kernel)
        (boot / f"initrd.img-{KERNEL_VERSION}").write_bytes(targets.initrd.read_bytes())
        # An update that ran out of space: the kernel file is cut off half-way.
        (boot / CORRUPT.kernel.lstrip("/")).write_bytes(kernel[: len(kernel) // 2])
        for entry in BLS_ENTRIES:
            (boot / "loader/entries" / entry.file).write_text(_bls_text(entry))
        (boot / "loader/loader.conf").write_text(f"default {default.file}\ntimeout 5\n")
        (boot / "grub/grub.cfg").write_text(GRUB_CFG)
        shutil.copyfile(targets.mb2, boot / "multiboot/mb2.elf")
        if bootmenu_toml is not None:
            (boot / "bootmenu.toml").write_text(bootmenu_toml)
        boot_img = make_ext4(work / "boot.img", boot, BOOT_SIZE_MIB, label="boot",
                             uuid=BOOT_FS_UUID)  # fmt: skip
        # ESP
        systemd_boot = debian.debian_file(*debian.FILES["systemd-boot"])
        uki = work / UKI_FILE
        uki.write_bytes(
            debian.build_uki(
                work,
                {
                    ".osrel": debian.OSREL.encode(),
                    ".cmdline": UKI_CMDLINE.encode(),
                    ".initrd": targets.initrd.read_bytes(),
                    ".linux": kernel,
                },
                stub=stub,
            )
        )
        loader_conf = work / "loader.conf"
        loader_conf.write_text("timeout 5\n")
        esp_img = make_vfat(
            work / "esp.img",
            {
                "/EFI/BOOT/BOOTX64.EFI": systemd_boot,
                "/EFI/systemd/systemd-bootx64.efi": systemd_boot,
                f"/EFI/Linux/{UKI_FILE}": uki,
                "/loader/loader.conf": loader_conf,
            },
            ESP_SIZE_MIB,
            label="ESP",
            volid=ESP_VOLID,
        )
        assemble_gpt(
            path,
            [
                Partition(esp_img, ESP_TYPE, ESP_PARTUUID, "EFI System Partition"),
                Partition(boot_img, LINUX_FS_TYPE, BOOT_PARTUUID, "boot"),
            ],
            disk_guid=BOOT_DISK_GUID,
        )
    return BootDisk(path, default.file)


EXTLINUX_CONF: Final = f"""\
# extlinux on a second disk: a Linux entry and a Multiboot kernel started by mboot.c32.
DEFAULT {EXTLINUX_LINUX_LABEL}
TIMEOUT 50
PROMPT 0
LABEL {EXTLINUX_LINUX_LABEL}
  MENU LABEL Debian (extlinux)
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND {EXTLINUX_LINUX_CMDLINE}
LABEL {EXTLINUX_MB1_LABEL}
  MENU LABEL Multiboot 1 test kernel
  KERNEL mboot.c32
  APPEND /multiboot/mb1.elf {EXTLINUX_MB1_ARGS}
"""


def build_extlinux_disk(path: Path, targets: Targets) -> Path:
    """The second disk: GPT, one ext4 partition with extlinux.conf and the Multiboot kernels."""
    with tempfile.TemporaryDirectory(prefix="bootmenu-disk-", dir=path.parent) as scratch:
        work = Path(scratch)
        tree = work / "root"
        (tree / "extlinux").mkdir(parents=True)
        (tree / "multiboot").mkdir()
        (tree / "extlinux/extlinux.conf").write_text(EXTLINUX_CONF)
        shutil.copyfile(targets.vmlinuz, tree / "vmlinuz")
        shutil.copyfile(targets.initrd, tree / "initrd.img")
        shutil.copyfile(targets.mb1, tree / "multiboot/mb1.elf")
        shutil.copyfile(targets.mb2, tree / "multiboot/mb2.elf")
        image = make_ext4(work / "ext.img", tree, 32, label="extlinux", uuid=EXT_FS_UUID)
        assemble_gpt(
            path,
            [Partition(image, LINUX_FS_TYPE, EXT_PARTUUID, "extlinux")],
            disk_guid=EXT_DISK_GUID,
        )
    return path


def build_entry_disk(path: Path, targets: Targets, entry: BlsEntry, n: int) -> Path:
    """A GPT disk with one ext4 partition holding the target kernel (at ``entry.kernel``), its
    initramfs and one BLS entry, ``entry``, and no ``loader.conf``.  ``n`` (0 to 255) sets the
    disk's GUIDs and file system UUID, so that several such disks can be in one machine."""
    if not 0 <= n <= 0xFF:
        raise ValueError("n must be 0 to 255")
    with tempfile.TemporaryDirectory(prefix="bootmenu-disk-", dir=path.parent) as scratch:
        work = Path(scratch)
        tree = work / "root"
        (tree / "loader/entries").mkdir(parents=True)
        (tree / "loader/entries" / entry.file).write_text(_bls_text(entry))
        shutil.copyfile(targets.vmlinuz, tree / entry.kernel.lstrip("/"))
        shutil.copyfile(targets.initrd, tree / f"initrd.img-{KERNEL_VERSION}")
        uuid = f"b0075a1d-e000-4000-8000-0000000e00{n:02x}"
        image = make_ext4(work / "entry.img", tree, 32, label=f"entry{n}", uuid=uuid)
        assemble_gpt(
            path,
            [Partition(image, LINUX_FS_TYPE, f"b0075a1d-0000-4000-8000-0000000e01{n:02x}",
                       f"entry{n}")],
            disk_guid=f"b0075a1d-0000-4000-8000-0000000e02{n:02x}",
        )  # fmt: skip
    return path


def build_many_partitions_disk(path: Path, count: int, targets: Targets) -> Path:
    """A GPT disk with ``count`` small partitions, alternately ext4 and FAT, each holding one BLS
    entry for the target kernel (the kernel is on the first partition only; the others point at
    a kernel that is not there, so each is read and validated but only one can boot)."""
    if not 1 <= count <= 128:
        raise ValueError("a GPT has room for 1 to 128 partitions")
    with tempfile.TemporaryDirectory(prefix="bootmenu-disk-", dir=path.parent) as scratch:
        work = Path(scratch)
        parts = []
        for n in range(1, count + 1):
            tree = work / f"p{n}"
            (tree / "loader/entries").mkdir(parents=True)
            entry = BlsEntry(f"part{n}.conf", f"Partition {n}", f"6.1.{n}", "/vmlinuz",
                             _options(f"part{n}"))  # fmt: skip
            (tree / "loader/entries" / entry.file).write_text(
                _bls_text(entry).replace(f"/initrd.img-{KERNEL_VERSION}", "/initrd.img")
            )
            if n == 1:
                shutil.copyfile(targets.vmlinuz, tree / "vmlinuz")
                shutil.copyfile(targets.initrd, tree / "initrd.img")
            uuid = f"b0075a1d-0000-4000-8000-{0x6400 + n:012x}"
            if n % 2 or n == 1:
                size = 16 if n == 1 else 2
                image = make_ext4(work / f"p{n}.img", tree, size, label=f"p{n}", uuid=uuid)
            else:
                files = {
                    f"/loader/entries/{entry.file}": tree / "loader/entries" / entry.file,
                }
                image = make_vfat(work / f"p{n}.img", files, 2, label=f"P{n}",
                                  volid=f"{0x6400 + n:08X}", fat=12)  # fmt: skip
            parts.append(Partition(image, LINUX_FS_TYPE, uuid, f"part{n}"))
        assemble_gpt(path, parts, disk_guid="b0075a1d-0000-4000-8000-000000006464")
    return path


def build_demo_disks(out: Path, artifacts: Path | None = None) -> list[Path]:
    """The boot disk and the extlinux disk in ``out`` (for ``make demo`` and bench)."""
    out.mkdir(parents=True, exist_ok=True)
    targets = build_targets(out / "targets", artifacts)
    boot = build_boot_disk(out / "boot-disk.img", targets).path
    ext = build_extlinux_disk(out / "extlinux-disk.img", targets)
    return [boot, ext]


def copy_image(source: Path, target: Path) -> Path:
    """A private copy of a disk image (sparse where the file system allows)."""
    _run(["cp", "--sparse=always", "--reflink=auto", source, target])
    return target


def _linked(tree: Path, names: Sequence[str], source: Path) -> None:
    """``source`` under each of ``names`` in ``tree``, as hard links of one copy (mkfs.ext4 -d
    keeps them: one inode, so the image stays small while every name is a file of its own)."""
    first: Path | None = None
    for name in names:
        target = tree / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if first is None:
            shutil.copyfile(source, target)
            first = target
        else:
            os.link(first, target)


def build_entries_disk(path: Path, count: int, targets: Targets) -> Path:
    """A GPT disk with one ext4 partition holding ``count`` BLS entries, each with its own
    kernel and initrd file (hard links of the target kernel and initrd: every entry's files are
    read and validated as on a disk with that many kernels); the newest version is the default."""
    if count < 1:
        raise ValueError("at least one entry")
    uuid = "b0075a1d-0000-4000-8000-00000000e100"
    with tempfile.TemporaryDirectory(prefix="bootmenu-disk-", dir=path.parent) as scratch:
        tree = Path(scratch) / "tree"
        (tree / "loader/entries").mkdir(parents=True)
        versions = [f"6.1.{n}-bench" for n in range(1, count + 1)]
        _linked(tree, [f"/vmlinuz-{v}" for v in versions], targets.vmlinuz)
        _linked(tree, [f"/initrd.img-{v}" for v in versions], targets.initrd)
        for n, version in enumerate(versions, 1):
            entry = BlsEntry(f"bench-{n}.conf", f"Bench entry {n}", version,
                             f"/vmlinuz-{version}", _options(f"entry{n}"))  # fmt: skip
            (tree / "loader/entries" / entry.file).write_text(
                _bls_text(entry).replace(f"/initrd.img-{KERNEL_VERSION}", f"/initrd.img-{version}")
            )
        image = make_ext4(Path(scratch) / "p1.img", tree, 32, label="entries", uuid=uuid)
        assemble_gpt(path, [Partition(image, LINUX_FS_TYPE, uuid, "entries")],
                     disk_guid="b0075a1d-0000-4000-8000-00000000e1e1")  # fmt: skip
    return path


# Ubuntu 22.04's grub.cfg as grub-mkconfig wrote it (tests/fixtures), its 10_linux part made for
# any number of kernels.
_UBUNTU_GRUB_CFG: Final = (
    Path(__file__).resolve().parents[1] / "fixtures/grub/ubuntu2204/ubuntu-root/boot/grub/grub.cfg"
)
_UBUNTU_UUID: Final = "c1f0e7a2-3b4c-4d5e-8f9a-0b1c2d3e4f50"
_UBUNTU_VERSION: Final = "5.15.0-91-generic"


def ubuntu_grub_cfg(versions: Sequence[str], fs_uuid: str) -> str:
    """Ubuntu 22.04's generated grub.cfg for ``versions`` (newest first): the 'Ubuntu' entry
    for the newest, and the 'Advanced options' submenu with a normal and a recovery entry for
    each; command lines that the target kernel prints on the serial console."""
    lines = _UBUNTU_GRUB_CFG.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("submenu 'Advanced"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}\n")
    first = next(i for i in range(start + 1, end) if "(recovery mode)" in lines[i])
    # One kernel's pair: its entry and its recovery entry, up to the recovery entry's brace.
    rec_end = next(i for i in range(first, end) if lines[i] == "\t}\n")
    block = "".join(lines[start + 1 : rec_end + 1])
    head = "".join(lines[: start + 1])
    tail = "".join(lines[end:])
    text = head.replace(_UBUNTU_VERSION, versions[0])
    text += "".join(block.replace(_UBUNTU_VERSION, v) for v in versions) + tail
    text = text.replace(_UBUNTU_UUID, fs_uuid)
    return text.replace("quiet splash $vt_handoff", "console=ttyS0 quiet bm.entry=grub").replace(
        "recovery nomodeset dis_ucode_ldr", "console=ttyS0 recovery bm.entry=grub-recovery"
    )


def build_ubuntu_grub_disk(path: Path, kernels: int, targets: Targets) -> Path:
    """A GPT disk with one ext4 partition laid out as Ubuntu's root (/boot/grub/grub.cfg and
    /boot/vmlinuz-*, /boot/initrd.img-*) with ``kernels`` kernels (hard links of the target's)."""
    uuid = "b0075a1d-0000-4000-8000-00000000c0c0"
    versions = [f"5.15.0-{100 + n}-generic" for n in range(kernels, 0, -1)]
    with tempfile.TemporaryDirectory(prefix="bootmenu-disk-", dir=path.parent) as scratch:
        tree = Path(scratch) / "tree"
        (tree / "boot/grub").mkdir(parents=True)
        (tree / "boot/grub/grub.cfg").write_text(ubuntu_grub_cfg(versions, uuid))
        _linked(tree, [f"/boot/vmlinuz-{v}" for v in versions], targets.vmlinuz)
        _linked(tree, [f"/boot/initrd.img-{v}" for v in versions], targets.initrd)
        image = make_ext4(Path(scratch) / "p1.img", tree, 32, label="ubuntu", uuid=uuid)
        assemble_gpt(path, [Partition(image, LINUX_FS_TYPE, uuid, "ubuntu")],
                     disk_guid="b0075a1d-0000-4000-8000-00000000c0c1")  # fmt: skip
    return path
