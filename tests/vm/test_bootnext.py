"""EFI applications started through the firmware: ``Boot####`` + ``BootNext`` + reboot, under OVMF.

Under QEMU, OVMF starts a ``-kernel`` image before its boot manager looks at ``BootNext`` (and
leaves ``BootNext`` set), so these tests boot bootmenu the way a real machine would: from the
ESP of a GPT disk, as a UKI at the removable path ``\\EFI\\BOOT\\BOOTX64.EFI``, with a private,
writable copy of OVMF's variable store that is read on the host afterwards.

The ESP (:func:`build_esp_disk`) holds bootmenu's UKI, the marker EFI application
(:mod:`tests.efi_marker`: GRUB with an embedded config that prints :data:`MARKER` on the serial
port and powers off) at :data:`MARKER_PATH`, a BLS entry ``/loader/entries/marker.conf`` with
``efi`` pointing at it, ``/bootmenu.toml`` choosing that entry with ``timeout = 0``, and a
Windows Boot Manager at ``\\EFI\\Microsoft\\Boot\\bootmgfw.efi`` (the small x64 fixture).
``bootmenu.efi_handoff=bootnext`` is on the UKI's command line (the UEFI payload would start
the application with no reset; a disk may not choose the hand-off, docs/security.md).

What proves success: OVMF's own ``BdsDxe: loading Boot#### "<title>"`` line after the reset, the
marker printed by the marker application, QEMU's exit status 0 (the application powered off),
and the variable store afterwards: our ``Boot####`` (tagged, ``HD()``/``File()`` byte-equal to a
golden encoding computed from the disk's GPT) and no ``BootNext``.  A second start of bootmenu
after the reset fails the test at once (that is what an ignored ``BootNext`` looks like).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import pytest

from efi.uki import parse_uki
from rootfs import cpio
from tests import debian
from tests.efi_marker import DEFAULT_MARKER, build_marker_app
from tests.images import cpio_archive
from tests.vm import disks
from tests.vm.conftest import Artifacts
from tests.vm.qemu import Disk, Machine

pytestmark = pytest.mark.vm

REPO: Final = Path(__file__).resolve().parents[2]
MARKER: Final = DEFAULT_MARKER
MARKER_PATH: Final = "\\EFI\\test\\marker.efi"
MARKER_TITLE: Final = "Marker EFI application"
MARKER_ENTRY: Final = "marker.conf"
# The disk's own default (loader.conf), which /bootmenu.toml overrides: a second marker app.
OTHER_MARKER: Final = "BOOTMENU-EFI-OTHER-3b9a"
OTHER_PATH: Final = "/EFI/test/other.efi"
OTHER_ENTRY: Final = "other.conf"
WINDOWS_LOADER: Final = REPO / "tests/fixtures/pe/bootmgr-x64.efi"
WINDOWS_PATH: Final = "/EFI/Microsoft/Boot/bootmgfw.efi"

# The hand-off these tests are about (the ESP is on virtio, which the UEFI payload drives too;
# tests/vm/test_payload.py: the payload), chosen where the owner chooses it.
BOOTNEXT: Final = "bootmenu.efi_handoff=bootnext"
ESP_DISK_GUID: Final = "b0075a1d-0000-4000-8000-00000000b0e5"
ESP_PARTUUID: Final = "b0075a1d-0000-4000-8000-0000000e5b01"
ESP_VOLID: Final = "B0E5B001"

# The tag bootmenu puts into its entries' optional data (docs/efi.md): this GUID in EFI's
# byte order, then the ASCII word "bootmenu".  Written out here, not imported from bootmenu.
TAG: Final = UUID("db1afb36-009f-43bb-8896-d52064df6175").bytes_le + b"bootmenu"
EFI_GLOBAL: Final = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
NV_BS_RT: Final = 0x7

# Lines that mean the firmware did not start the marker after the reset: bootmenu again, or
# the disk's own default (bootmenu ignored /bootmenu.toml).
BOOTMENU_AGAIN: Final = (r"bootmenu-init: phase init", r"Kernel panic", OTHER_MARKER)
# bootmenu cannot continue (before the reset).
BOOTMENU_FAILED: Final = (
    r"bootmenu-init: bootmenu \w+ exited with status \d+",
    r"bootmenu-init: rescue shell \((?!bootmenu\.mode=shell)",
    r"Kernel panic",
)

# -- the disk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GptPartition:
    """One GPT partition entry, read from the disk image's bytes (UEFI spec 5.3)."""

    number: int
    first_lba: int
    last_lba: int
    unique_guid_raw: bytes  # the 16 bytes as stored (EFI_GUID byte order)

    @property
    def size(self) -> int:
        return self.last_lba - self.first_lba + 1

    @property
    def unique_guid(self) -> UUID:
        return UUID(bytes_le=self.unique_guid_raw)


def read_gpt_partition(disk: Path, number: int) -> GptPartition:
    """Partition ``number`` of the primary GPT of a disk image (512-byte sectors)."""
    with open(disk, "rb") as f:
        header = f.read(1024)[512:]
        assert header[:8] == b"EFI PART", f"{disk}: no GPT header at LBA 1"
        entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
        assert 1 <= number <= count
        f.seek(entries_lba * 512 + (number - 1) * entry_size)
        entry = f.read(entry_size)
    first, last = struct.unpack_from("<QQ", entry, 32)
    return GptPartition(number, first, last, entry[16:32])


def build_esp_disk(path: Path, bootx64: Path) -> Path:
    """A GPT disk with one ESP holding bootmenu as the removable-path loader, two marker apps
    with a BLS entry each (``loader.conf`` names the other one), ``/bootmenu.toml`` choosing
    the marker entry with ``timeout = 0``, and a Windows loader."""
    with tempfile.TemporaryDirectory(prefix="bootnext-esp-", dir=path.parent) as scratch:
        work = Path(scratch)
        entry = work / MARKER_ENTRY
        entry.write_text(f"title {MARKER_TITLE}\nefi {MARKER_PATH.replace(chr(92), '/')}\n")
        other = work / OTHER_ENTRY
        other.write_text(f"title Other EFI application\nefi {OTHER_PATH}\n")
        loader_conf = work / "loader.conf"
        loader_conf.write_text(f"default {OTHER_ENTRY}\ntimeout 5\n")
        toml = work / "bootmenu.toml"
        toml.write_text(f'# tests/vm/test_bootnext.py\ndefault = "{MARKER_ENTRY}"\ntimeout = 0\n')
        files = {
            "/EFI/BOOT/BOOTX64.EFI": bootx64,
            MARKER_PATH.replace("\\", "/"): build_marker_app(MARKER),
            OTHER_PATH: build_marker_app(OTHER_MARKER),
            WINDOWS_PATH: WINDOWS_LOADER,
            f"/loader/entries/{MARKER_ENTRY}": entry,
            f"/loader/entries/{OTHER_ENTRY}": other,
            "/loader/loader.conf": loader_conf,
            "/bootmenu.toml": toml,
        }
        return disks.esp_disk(
            path, files, partuuid=ESP_PARTUUID, disk_guid=ESP_DISK_GUID, volid=ESP_VOLID
        )


# -- what the entry must look like -------------------------------------------------------------


def golden_load_option(part: GptPartition, title: str, file: str, optional: bytes) -> bytes:
    """The efivarfs bytes (attributes + EFI_LOAD_OPTION) that efibootmgr 17 writes for
    ``-C -d DISK -p N -l FILE -L TITLE`` (+ ``-@`` optional data), spelt out field by field from
    the UEFI specification (3.1.3 Load Options; 10.3.5.1 Hard Drive; 10.3.5.4 File Path)."""
    hd = struct.pack(
        "<BBHIQQ16sBB",
        0x04,  # MEDIA_DEVICE_PATH
        0x01,  # MEDIA_HARDDRIVE_DP
        42,
        part.number,
        part.first_lba,
        part.size,
        part.unique_guid_raw,
        0x02,  # MBRType: GPT
        0x02,  # SignatureType: GUID
    )
    name = (file + "\0").encode("utf-16-le")
    file_node = struct.pack("<BBH", 0x04, 0x04, 4 + len(name)) + name  # MEDIA_FILEPATH_DP
    end = bytes([0x7F, 0xFF, 0x04, 0x00])
    path = hd + file_node + end
    description = (title + "\0").encode("utf-16-le")
    load_option = struct.pack("<IH", 0x1, len(path)) + description + path + optional
    return struct.pack("<I", NV_BS_RT) + load_option


def read_varstore(path: Path) -> dict[str, bytes]:
    """The EFI_GLOBAL_VARIABLE variables of an OVMF VARS file, as efivarfs shows them
    (attributes, then data), read with virt-firmware (an independent implementation)."""
    from virt.firmware.varstore.edk2 import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        Edk2VarStore,
    )

    out: dict[str, bytes] = {}
    store: Any = Edk2VarStore(str(path))
    for var in store.get_varlist().values():
        if str(var.guid).lower() == EFI_GLOBAL:
            out[str(var.name)] = struct.pack("<I", var.attr) + bytes(var.data)
    return out


def boot_entries(variables: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in variables.items() if re.fullmatch(r"Boot[0-9A-F]{4}", k)}


# -- the machine -------------------------------------------------------------------------------


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A short directory for the VARS copy and QMP socket (sockets allow 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="bootnext-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Run:
    output: str
    status: int
    loaded: str  # the Boot#### OVMF loaded after the reset
    loaded_title: str
    seconds: dict[str, float]
    variables: dict[str, bytes]


def boot_from_esp(disk: Path, log: Path, state: Path, *, shell: str | None = None) -> Run:
    """Start OVMF with ``disk`` and a fresh variable store; OVMF boots bootmenu from the ESP.
    With ``shell``, type that command line into the rescue shell first.  Then bootmenu boots
    the marker entry through BootNext; wait for OVMF to load it, the marker, and QEMU's exit."""
    machine = Machine(
        log, firmware="ovmf", disks=[Disk(disk, serial="esp0")], no_reboot=False, state_dir=state
    )
    seconds: dict[str, float] = {}
    try:
        with machine:
            machine.expect(r"bootmenu-init: phase init", 120, fail=BOOTMENU_FAILED)
            seconds["bootmenu's /init"] = machine.elapsed()
            if shell is not None:
                machine.expect(r"bootmenu-init: rescue shell", 60, fail=BOOTMENU_FAILED)
                # Type only once the shell reads: its prompt (rootfs/build.py's /etc/profile).
                # A fixed pause lost the line when the host was busy (CI on 2 cores).
                machine.expect(r"bootmenu-rescue# ", 60, fail=BOOTMENU_FAILED)
                machine.send(shell + "\r")
                machine.expect(r"CHECK-DONE\r*\n", 150, fail=BOOTMENU_FAILED)
                seconds["checks in the rescue shell done"] = machine.elapsed()
            machine.expect(r"reboot: Restarting system", 150, fail=BOOTMENU_FAILED)
            seconds["bootmenu rebooted"] = machine.elapsed()
            loaded = machine.expect(
                r'BdsDxe: loading (Boot[0-9A-F]{4}) "([^"\r\n]*)"', 90, fail=BOOTMENU_AGAIN
            )
            machine.expect(re.escape(MARKER), 60, fail=BOOTMENU_AGAIN)
            seconds["marker printed"] = machine.elapsed()
            status = machine.wait_exit(60)
            output = machine.output
    finally:  # keep the variable store next to the serial log, for post-mortems
        shutil.copyfile(machine.vars_path, log.with_name("OVMF_VARS-after.fd"))
    return Run(
        output,
        status,
        loaded.group(1),
        loaded.group(2),
        seconds,
        read_varstore(machine.vars_path),
    )


def check_entry(run: Run, disk: Path) -> bytes:
    """The assertions every run shares; returns the bytes of bootmenu's Boot####."""
    assert run.status == 0, f"QEMU exit status {run.status}: the marker app did not power off"
    assert run.loaded_title == MARKER_TITLE
    entries = boot_entries(run.variables)
    ours = {k: v for k, v in entries.items() if v.endswith(TAG)}
    assert list(ours) == [run.loaded], f"tagged entries: {sorted(ours)}, OVMF loaded {run.loaded}"
    assert "BootNext" not in run.variables, "the firmware left BootNext set"
    golden = golden_load_option(read_gpt_partition(disk, 1), MARKER_TITLE, MARKER_PATH, TAG)
    written = ours[run.loaded]
    assert written.hex() == golden.hex()
    # BootOrder is never touched: OVMF's own order does not name our entry.
    order = run.variables.get("BootOrder", b"")[4:]
    numbers = [f"Boot{n:04X}" for (n,) in struct.iter_unpack("<H", order)]
    assert run.loaded not in numbers, f"BootOrder names {run.loaded}: {numbers}"
    return written


def test_shipped_uki_starts_an_efi_app_through_bootnext(
    artifacts: Artifacts, tmp_path: Path, state_dir: Path
) -> None:
    """The acceptance test of the BootNext hand-off: the UKI's kernel, initramfs and command line
    as built, with ``bootmenu.efi_handoff=bootnext`` added to that command line."""
    shipped = parse_uki((artifacts.directory / "bootmenu.efi").read_bytes())
    assert shipped.cmdline is not None and shipped.osrel is not None
    uki = build_test_uki(
        artifacts, tmp_path, f"{shipped.cmdline.strip()} {BOOTNEXT}", osrel=shipped.osrel
    )
    disk = build_esp_disk(tmp_path / "esp-disk.img", uki)

    run = boot_from_esp(disk, tmp_path / "serial.log", state_dir)

    check_entry(run, disk)
    print("timings (s since QEMU started):", run.seconds)


# -- efibootmgr and `bootmenu list` inside the guest -------------------------------------------

TEST_DIR: Final = "opt/bootmenu-test"
EFIBOOTMGR_FILES: Final = (
    ("efibootmgr", "bin/efibootmgr", "efibootmgr"),
    ("libefivar1", "usr/lib/x86_64-linux-gnu/libefivar.so.1", "lib/libefivar.so.1"),
    ("libefiboot1", "usr/lib/x86_64-linux-gnu/libefiboot.so.1", "lib/libefiboot.so.1"),
    ("libc6", "*lib/x86_64-linux-gnu/libdl.so.2", "lib/libdl.so.2"),
)
GUEST_DISK: Final = "/dev/vda"


def check_script() -> str:
    """What runs in the rescue shell: efibootmgr creates the entry bootmenu will create (same
    disk, partition, file, title and optional data), its bytes are printed and it is deleted
    again; then ``bootmenu list --json`` (udev discovery of the guest's disks)."""
    d = "/" + TEST_DIR
    return f"""#!/bin/sh
dmesg -n 1
export LD_LIBRARY_PATH={d}/lib
V=/sys/firmware/efi/efivars
n=0
while [ ! -b {GUEST_DISK}1 ] && [ $n -lt 60 ]; do sleep 1; n=$((n + 1)); done
ls $V >/tmp/vars-before
{d}/efibootmgr -C -d {GUEST_DISK} -p 1 -l '{MARKER_PATH}' -L '{MARKER_TITLE}' -@ {d}/tag.bin \\
    >/tmp/efibootmgr.out 2>&1
echo "CHECK-EFIBOOTMGR-STATUS $?"
cat /tmp/efibootmgr.out
for f in $(ls $V); do
    grep -qxF "$f" /tmp/vars-before && continue
    echo "CHECK-NEW-VARIABLE $f $(od -An -v -tx1 "$V/$f" | tr -d ' \\n')"
    case "$f" in
    Boot[0-9A-F][0-9A-F][0-9A-F][0-9A-F]-*)
        num=${{f#Boot}}
        {d}/efibootmgr -q -b "${{num%%-*}}" -B || echo "CHECK-DELETE-FAILED $f" ;;
    esac
done
python3 -m bootmenu list --json >/tmp/list.json 2>/tmp/list.err
echo "CHECK-LIST-STATUS $?"
cat /tmp/list.err
echo "CHECK-LIST-JSON $(tr -d '\\n' </tmp/list.json)"
echo CHECK-DONE
"""


def efibootmgr_initrd(base: Path) -> bytes:
    """bootmenu's initramfs followed by a cpio with efibootmgr, its libraries and the check
    script under /opt/bootmenu-test (the kernel unpacks concatenated archives in order)."""
    entries = [cpio.Entry.directory("opt"), cpio.Entry.directory(TEST_DIR),
               cpio.Entry.directory(f"{TEST_DIR}/lib")]  # fmt: skip
    for package, pattern, name in EFIBOOTMGR_FILES:
        source = debian.debian_file(package, pattern)
        entries.append(cpio.Entry.file(f"{TEST_DIR}/{name}", source.read_bytes(), 0o755))
    entries.append(cpio.Entry.file(f"{TEST_DIR}/tag.bin", TAG))
    entries.append(cpio.Entry.file(f"{TEST_DIR}/check", check_script().encode(), 0o755))
    data = base.read_bytes()
    return data + bytes(-len(data) % 512) + cpio_archive(entries)


def build_test_uki(
    artifacts: Artifacts, work: Path, cmdline: str, *, osrel: str = 'NAME="bootmenu"\nID=bootmenu\n'
) -> Path:
    initrd = efibootmgr_initrd(artifacts.initramfs)
    uki = debian.build_uki(
        work,
        {
            ".osrel": osrel.encode(),
            ".cmdline": cmdline.encode(),
            ".initrd": initrd,
            ".linux": artifacts.vmlinuz.read_bytes(),
        },
    )
    path = work / "bootmenu-test.efi"
    path.write_bytes(uki)
    return path


def parse_new_variables(output: str) -> dict[str, bytes]:
    found = re.findall(r"CHECK-NEW-VARIABLE (\S+) ([0-9a-f]*)\r?\n", output)
    return {name.split("-", 1)[0]: bytes.fromhex(hex_) for name, hex_ in found}


def test_efibootmgr_agrees_and_list_shows_windows(
    artifacts: Artifacts, tmp_path: Path, state_dir: Path
) -> None:
    """In the same guest, efibootmgr writes the entry first (then it is deleted): bootmenu's
    Boot#### must be byte-identical to efibootmgr's.  ``bootmenu list --json`` shows the
    Windows Boot Manager of the ESP, the marker entry and OVMF's own entries."""
    uki = build_test_uki(
        artifacts, tmp_path, f"console=tty0 console=ttyS0 bootmenu.mode=shell {BOOTNEXT}"
    )
    disk = build_esp_disk(tmp_path / "esp-disk.img", uki)

    run = boot_from_esp(disk, tmp_path / "serial.log", state_dir, shell=f"/{TEST_DIR}/check; exit")

    assert re.search(r"CHECK-EFIBOOTMGR-STATUS 0\r?\n", run.output), "efibootmgr failed"
    created = parse_new_variables(run.output)
    assert len(created) == 1 and re.fullmatch(r"Boot[0-9A-F]{4}", next(iter(created))), created
    by_efibootmgr = next(iter(created.values()))
    written = check_entry(run, disk)
    assert written.hex() == by_efibootmgr.hex(), "bootmenu's Boot#### differs from efibootmgr's"
    assert "CHECK-DELETE-FAILED" not in run.output

    match = re.search(r"CHECK-LIST-JSON (.*?)\r?\n", run.output)
    assert match and re.search(r"CHECK-LIST-STATUS 0\r?\n", run.output), "bootmenu list failed"
    entries = json.loads(match.group(1))["entries"]
    by_title = {e["title"]: e for e in entries}
    windows = by_title.get("Windows Boot Manager")
    assert windows is not None, sorted(by_title)
    assert windows["kind"] == "efi" and windows["source"] == "windows"
    assert windows["kernel"].lower() == WINDOWS_PATH.lower() and windows["bootable"], windows
    marker = by_title[MARKER_TITLE]
    assert (marker["id"], marker["kind"], marker["bootable"]) == (MARKER_ENTRY, "efi", True)
    assert marker["kernel"].lower() == MARKER_PATH.replace("\\", "/").lower()
    firmware = [e for e in entries if e["source"] == "firmware"]
    assert firmware, "OVMF's own Boot#### entries are missing from the list"
    print("timings (s since QEMU started):", run.seconds)
