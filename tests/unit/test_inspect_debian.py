"""`bootmenu inspect` over the real EFI binaries and kernel Debian ships, and corrupted copies."""

from __future__ import annotations

import json
from pathlib import Path

import pefile
import pytest

from bootmenu.cli import main
from tests.debian import FILES, debian_file, kernel_package

pytestmark = pytest.mark.debian

# key: (exit code, format, kind, architecture, signed, loader)
VERDICTS = {
    "shim-signed": (0, "pe", "efi", "x86_64", True, "shim"),
    "grub-signed": (0, "pe", "efi", "x86_64", True, "grub"),
    "grub-unsigned": (0, "pe", "efi", "x86_64", False, "grub"),
    "grub-ia32": (1, "pe", "efi", "i386", False, "grub"),  # wrong architecture
    "systemd-boot": (0, "pe", "efi", "x86_64", False, "systemd-boot"),
    "systemd-stub": (1, "pe", "efi", "x86_64", False, "systemd-stub"),  # a stub boots nothing
    "memtest-x64": (0, "bzimage", "linux", "x86_64", False, "memtest86+"),
    "memtest-x64-bin": (0, "bzimage", "linux", "x86_64", None, None),
    "ipxe": (0, "pe", "efi", "x86_64", False, "ipxe"),
    "vmlinuz": (0, "bzimage", "linux", "x86_64", True, "linux"),
}


def path_of(key: str) -> Path:
    package, pattern = FILES[key]
    return debian_file(kernel_package() if package == "{kernel}" else package, pattern)


def inspect(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, object]]:
    code = main(["inspect", str(path), "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out)


def loader_of(report: dict[str, object]) -> object:
    details = report["details"]
    assert isinstance(details, dict)
    return details.get("loader") or details.get("pe", {}).get("loader")


@pytest.mark.parametrize("key", sorted(VERDICTS))
def test_real_binaries(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = inspect(capsys, path_of(key))
    verdict = (
        code,
        report["format"],
        report["kind"],
        report["architecture"],
        report["signed"],
        loader_of(report),
    )
    assert verdict == VERDICTS[key], report["problems"]
    assert report["bootable"] is (code == 0)


@pytest.mark.parametrize("key", ["shim-signed", "systemd-boot", "vmlinuz", "ipxe"])
@pytest.mark.parametrize("damage", ["half", "header", "zeroed-pe-header", "last-section-cut"])
def test_corrupted_copies_are_refused(
    key: str, damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(path_of(key).read_bytes())
    if damage == "half":
        data = data[: len(data) // 2]
    elif damage == "header":
        data = data[:300]
    elif damage == "zeroed-pe-header":
        pe = int.from_bytes(data[0x3C:0x40], "little")
        data[pe : pe + 24] = bytes(24)
    elif damage == "last-section-cut":
        # cut into the last section's data (computed with pefile, independently of bootmenu)
        pe_file = pefile.PE(data=bytes(data), fast_load=True)
        end = max(sec.PointerToRawData + sec.SizeOfRawData for sec in pe_file.sections)
        data = data[: end - 256]
    target = tmp_path / "damaged.efi"
    target.write_bytes(bytes(data))
    code, report = inspect(capsys, target)
    assert code == 1
    assert report["bootable"] is False and report["problems"]
