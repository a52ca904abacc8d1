"""The system information screen's readers, over files shaped like the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.model import Device, DeviceKind, DeviceState, Volume
from bootmenu.system.sysinfo import (
    StorageRow,
    collect,
    describe_secure_boot,
    firmware_type,
    parse_meminfo,
    storage_rows,
)
from efi.variables import EFI_GLOBAL_VARIABLE, EfiVariable

MEMINFO = """MemTotal:        8039044 kB
MemFree:          419332 kB
MemAvailable:    5120876 kB
Buffers:          351040 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""


def test_meminfo() -> None:
    assert parse_meminfo(MEMINFO) == (8039044 * 1024, 5120876 * 1024)
    # Kernels before 3.14 have no MemAvailable: MemFree is the best there is.
    assert parse_meminfo("MemTotal: 1024 kB\nMemFree: 512 kB\n") == (1024 * 1024, 512 * 1024)
    assert parse_meminfo("") == (None, None)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_meminfo_never_raises(text: str) -> None:
    assert all(value is None or value >= 0 for value in parse_meminfo(text))


def test_secure_boot_states() -> None:
    assert describe_secure_boot(b"\x01", b"\x00") == "enabled"
    assert describe_secure_boot(b"\x00", b"\x00") == "disabled"
    assert describe_secure_boot(b"\x00", b"\x01").startswith("setup mode")
    assert describe_secure_boot(None, None).startswith("unknown")
    assert describe_secure_boot(b"\x07", None) == "unknown (SecureBoot is 07)"


def write_var(directory: Path, name: str, data: bytes) -> None:
    var = EfiVariable(name, EFI_GLOBAL_VARIABLE, 0x6, data)
    (directory / var.filename).write_bytes(bytes(var))


def test_collect_on_uefi_with_secure_boot(tmp_path: Path) -> None:
    efi = tmp_path / "efi"
    efivars = efi / "efivars"
    efivars.mkdir(parents=True)
    (efi / "fw_platform_size").write_text("64\n")
    write_var(efivars, "SecureBoot", b"\x01")
    write_var(efivars, "SetupMode", b"\x00")
    write_var(efivars, "OsIndicationsSupported", (1).to_bytes(8, "little"))
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    lockdown = tmp_path / "lockdown"
    lockdown.write_text("none [integrity] confidentiality\n")
    info = collect(efi_dir=efi, efivars_dir=str(efivars), meminfo=meminfo, lockdown_file=lockdown)
    assert info.firmware == "UEFI (64-bit)"
    assert info.secure_boot == "enabled"
    assert info.lockdown == "integrity"
    assert info.memory_total == 8039044 * 1024
    assert info.firmware_setup is None


def test_collect_on_bios(tmp_path: Path) -> None:
    info = collect(
        efi_dir=tmp_path / "none",
        efivars_dir=str(tmp_path / "none"),
        meminfo=tmp_path / "none",
        lockdown_file=tmp_path / "none",
    )
    assert firmware_type(tmp_path / "none").startswith("BIOS")
    assert info.secure_boot == "not applicable (no UEFI)"
    assert info.lockdown.startswith("not available")
    assert info.memory_total is None
    assert info.firmware_setup == "the machine did not boot through UEFI"


def test_storage_rows_from_devices_or_roots() -> None:
    locked = Device(
        "/dev/sda3",
        "/sys/class/block/sda3",
        "/dev/sda",
        DeviceKind.PARTITION,
        DeviceState.LOCKED,
        reason="encrypted with LUKS",
        fstype="crypto_LUKS",
        size=1 << 30,
        partlabel="home",
    )
    assert storage_rows([locked], []) == (
        StorageRow("/dev/sda3", 1 << 30, "crypto_LUKS", "home", "locked", "encrypted with LUKS"),
    )
    volume = Volume("/boot", Path("/boot"), "ext4", label="boot")
    assert storage_rows([], [volume]) == (
        StorageRow("/boot", None, "ext4", "boot", "directory", "/boot"),
    )


# --- who runs the machine (the jump on a running system) ------------------------------------


def test_init_system(tmp_path: Path) -> None:
    from bootmenu.system.sysinfo import init_system

    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "1" / "comm").write_text("systemd\n")
    assert init_system(environ={}, proc=proc) == "systemd"
    assert init_system(environ={"BOOTMENU_INITRAMFS": "1"}, proc=proc) == "initramfs"
    assert init_system(environ={"BOOTMENU_INITRAMFS": "0"}, proc=proc) == "systemd"
    (proc / "1" / "comm").write_text("init\n")  # sysvinit, OpenRC, runit, busybox…
    assert init_system(environ={}, proc=proc) == "other"
    assert init_system(environ={}, proc=tmp_path / "none") == "other"


def test_console_loglevel(tmp_path: Path) -> None:
    from bootmenu.system.sysinfo import console_loglevel

    printk = tmp_path / "printk"
    printk.write_text("7\t4\t1\t7\n")  # the kernel's default: KERN_INFO and up are printed
    assert console_loglevel(1, path=printk) == 7
    assert printk.read_text().split()[0] == "1"
    assert console_loglevel(path=printk) == 1
    assert console_loglevel(1, path=tmp_path / "none") is None


def test_the_menu_quiets_the_consoles_until_the_hand_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootmenu.core import Core
    from bootmenu.system import sysinfo

    printk = tmp_path / "printk"
    printk.write_text("7\t4\t1\t7\n")
    monkeypatch.setattr(sysinfo, "PRINTK", printk)
    core = Core(roots=[str(tmp_path)], config_file=None, cmdline="", dry_run=True,
                efivars_dir=str(tmp_path / "none"))  # fmt: skip
    core.quiet_consoles()
    assert printk.read_text().split()[0] == "1"
    core._before_jump()  # what Handoff.execute calls right before the jump
    assert printk.read_text().split()[0] == "7"
