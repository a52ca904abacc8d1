"""``bootmenu install`` / ``remove`` against a real GPT disk (sfdisk, a loop device, sysfs) and a
directory of EFI variables in efivarfs' format (docs/install.md).

The ESP's files go to a directory standing for its mount point (this host's kernel may have no
vfat); the partition the Boot#### entry names is the loop device's, read through sysfs as on a
real machine.  The entry's bytes are compared with an encoding spelt out from the UEFI
specification (tests/vm/test_bootnext.py's golden_load_option, which efibootmgr matches).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Final
from uuid import UUID

import pytest

from bootmenu import install
from bootmenu.install import Esp, InstallError, Placement
from bootmenu.system import efivars, syscalls
from efi.loadoption import LOAD_OPTION_ACTIVE, LoadOption, encode_u16_list
from efi.variables import DEFAULT_ATTRIBUTES, EFI_GLOBAL_VARIABLE, EfiVariable
from tests.debian import append_section
from tests.images import bzimage
from tests.integration.udev import Disk, Disks, disks, udevd  # noqa: F401
from tests.vm.test_bootnext import GptPartition, golden_load_option

pytestmark = pytest.mark.root

REPO: Final = Path(__file__).resolve().parents[2]
ESP_UUID: Final = "3c5d1e2f-0a1b-4c2d-8e3f-4a5b6c7d8e9f"
FIRST_LBA, SECTORS = 2048, 40960
FILE: Final = "\\EFI\\bootmenu\\bootmenu.efi"
# efivarfs files start with the attributes: non-volatile, boot service and runtime access.
NV_BS_RT: Final = (0x7).to_bytes(4, "little")


def uki() -> bytes:
    data = (REPO / "tests/fixtures/pe/hello-x64.efi").read_bytes()
    for name, content in ((".osrel", b"ID=bootmenu\n"), (".cmdline", b"quiet\n"),
                          (".linux", bzimage())):  # fmt: skip
        data = append_section(data, name, content)
    return data


def esp_disk(disks: Disks, tmp: Path) -> Disk:  # noqa: F811
    image = tmp / "esp-disk.img"
    with open(image, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    script = (
        f"label: gpt\nstart={FIRST_LBA}, size={SECTORS}, type=U, uuid={ESP_UUID}, "
        'name="EFI System"\n'
    )
    subprocess.run(["sfdisk", "--quiet", str(image)], input=script.encode(), check=True)
    return disks.attach(image, 1)


def variable(directory: Path, name: str) -> bytes | None:
    path = directory / f"{name}-{EFI_GLOBAL_VARIABLE}"
    return path.read_bytes() if path.exists() else None


@pytest.fixture
def setup(disks: Disks, tmp_path: Path) -> tuple[Esp, Path, Path, Disk]:  # noqa: F811
    disk = esp_disk(disks, tmp_path)
    mountpoint = tmp_path / "esp"
    mountpoint.mkdir()
    efi = tmp_path / "efivars"
    efi.mkdir()
    # The firmware's own entry, first: install must not touch it.
    other = LoadOption(LOAD_OPTION_ACTIVE, "Windows Boot Manager", (), b"WINDOWS")
    efivars.write(EfiVariable("Boot0000", EFI_GLOBAL_VARIABLE, DEFAULT_ATTRIBUTES,
                              bytes(other)), directory=efi)  # fmt: skip
    efivars.write(EfiVariable("BootOrder", EFI_GLOBAL_VARIABLE, DEFAULT_ATTRIBUTES,
                              encode_u16_list([0])), directory=efi)  # fmt: skip
    path = tmp_path / "bootmenu.efi"
    path.write_bytes(uki())
    return Esp(mountpoint, disk.part(1), ESP_UUID), efi, path, disk


def test_install_copies_the_uki_and_adds_an_entry_last_then_remove_undoes_it(
    setup: tuple[Esp, Path, Path, Disk],
) -> None:
    esp, efi, path, disk = setup
    windows = variable(efi, "Boot0000")

    done = install.install(path, esp, efivars_dir=str(efi), host_arch="x86_64")

    assert (esp.mountpoint / "EFI/bootmenu/bootmenu.efi").read_bytes() == path.read_bytes()
    part = GptPartition(1, FIRST_LBA, FIRST_LBA + SECTORS - 1, UUID(ESP_UUID).bytes_le)
    assert variable(efi, "Boot0001") == golden_load_option(part, "bootmenu", FILE, b"")
    assert variable(efi, "BootOrder") == NV_BS_RT + encode_u16_list([0, 1])
    assert variable(efi, "Boot0000") == windows
    assert any("bootmenu install --first" in line for line in done), done

    # Again: nothing new; then --first moves it first.
    install.install(path, esp, efivars_dir=str(efi), host_arch="x86_64")
    assert variable(efi, "Boot0002") is None
    install.install(path, esp, placement=Placement.FIRST, efivars_dir=str(efi),
                    host_arch="x86_64")  # fmt: skip
    assert variable(efi, "BootOrder") == NV_BS_RT + encode_u16_list([1, 0])

    install.remove(esp, efivars_dir=str(efi))

    assert variable(efi, "Boot0001") is None
    assert variable(efi, "BootOrder") == NV_BS_RT + encode_u16_list([0])
    assert variable(efi, "Boot0000") == windows
    assert not (esp.mountpoint / "EFI/bootmenu").exists()
    assert "nothing to remove" in install.remove(esp, efivars_dir=str(efi))[-1]
    del disk


def test_once_sets_boot_next_and_leaves_boot_order(setup: tuple[Esp, Path, Path, Disk]) -> None:
    esp, efi, path, _ = setup
    install.install(path, esp, placement=Placement.ONCE, systemd_boot=True,
                    efivars_dir=str(efi), host_arch="x86_64")  # fmt: skip
    assert variable(efi, "BootNext") == NV_BS_RT + (1).to_bytes(2, "little")
    assert variable(efi, "BootOrder") == NV_BS_RT + encode_u16_list([0])
    assert (esp.mountpoint / "EFI/Linux/bootmenu.efi").is_file()
    install.remove(esp, efivars_dir=str(efi))
    assert variable(efi, "BootNext") is None
    assert not (esp.mountpoint / "EFI/Linux/bootmenu.efi").exists()


def test_dry_run_changes_nothing(setup: tuple[Esp, Path, Path, Disk]) -> None:
    esp, efi, path, _ = setup
    before = sorted(p.name for p in efi.iterdir())
    done = install.install(path, esp, efivars_dir=str(efi), host_arch="x86_64", dry_run=True)
    assert any(line.startswith("would create Boot0001") for line in done), done
    assert sorted(p.name for p in efi.iterdir()) == before
    assert not any(esp.mountpoint.iterdir())


def test_clear_errors(setup: tuple[Esp, Path, Path, Disk], tmp_path: Path) -> None:
    esp, efi, path, _ = setup
    not_uki = tmp_path / "hello.efi"
    not_uki.write_bytes((REPO / "tests/fixtures/pe/hello-x64.efi").read_bytes())
    with pytest.raises(InstallError, match="not a UKI"):
        install.install(not_uki, esp, efivars_dir=str(efi), host_arch="x86_64")
    with pytest.raises(InstallError, match="built for x86_64, this machine is aarch64"):
        install.install(path, esp, efivars_dir=str(efi), host_arch="aarch64")

    efivars.write(EfiVariable("SecureBoot", EFI_GLOBAL_VARIABLE, DEFAULT_ATTRIBUTES, b"\x01"),
                  directory=efi)  # fmt: skip
    with pytest.raises(InstallError, match="Secure Boot is on and the UKI is not signed"):
        install.install(path, esp, efivars_dir=str(efi), host_arch="x86_64")
    (efi / f"SecureBoot-{EFI_GLOBAL_VARIABLE}").unlink()

    with pytest.raises(InstallError, match="efivarfs is not mounted"):
        install.install(path, esp, efivars_dir=str(tmp_path / "none"), host_arch="x86_64")

    small = tmp_path / "small-esp"
    small.mkdir()
    syscalls.mount("tmpfs", small, "tmpfs", 0, "size=256k")
    try:
        with pytest.raises(InstallError, match="free; bootmenu needs"):
            install.install(path, Esp(small, esp.devnode, ESP_UUID), efivars_dir=str(efi),
                            host_arch="x86_64")  # fmt: skip
    finally:
        syscalls.umount(small)


def test_the_esp_partition_is_recognised_by_its_gpt_type(
    setup: tuple[Esp, Path, Path, Disk],
) -> None:
    _, _, _, disk = setup
    entry = install.partition_entry(disk.part(1))
    assert entry is not None and str(entry.uuid) == ESP_UUID and entry.first_lba == FIRST_LBA
    assert install.partition_entry(str(disk.device)) is None  # the whole disk is no partition
