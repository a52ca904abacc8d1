"""rootfs.uki: where the UKI's sections go, and the os-release text."""

from __future__ import annotations

import time
from pathlib import Path

import pefile
import pytest

from rootfs.uki import Placement, build_uki, layout, os_release, stub_timestamp
from tests.debian import debian_file


def test_sections_follow_the_stub_aligned_in_order() -> None:
    placed = layout(
        0x1_0000_0000,
        0x1000,
        0x1_2345,
        {".linux": 0x7F_0001, ".osrel": 10, ".cmdline": 20, ".initrd": 0x100},
    )
    assert placed == (
        Placement(".osrel", 0x1_0001_3000, 10),
        Placement(".cmdline", 0x1_0001_4000, 20),
        Placement(".initrd", 0x1_0001_5000, 0x100),
        Placement(".linux", 0x1_0001_6000, 0x7F_0001),
    )


def test_bad_alignment() -> None:
    with pytest.raises(ValueError, match="section alignment 0"):
        layout(0, 0, 0, {".linux": 1})


def test_os_release_names_the_kernel() -> None:
    text = os_release("0.1.0", "6.1.0-56-amd64")
    assert 'ID="bootmenu"\n' in text
    assert 'PRETTY_NAME="bootmenu 0.1.0 (Linux 6.1.0-56-amd64)"\n' in text


@pytest.mark.debian
def test_uki_is_reproducible_and_bootable_shape(tmp_path: Path) -> None:
    stub = debian_file("systemd-boot-efi", "usr/lib/systemd/boot/efi/linuxx64.efi.stub")
    files = {}
    for name, data in ((".osrel", b'ID="bootmenu"\n'), (".cmdline", b"console=ttyS0"),
                       (".linux", b"K" * 5000), (".initrd", b"I" * 3000)):  # fmt: skip
        files[name] = tmp_path / name.strip(".")
        files[name].write_bytes(data)
    outputs = []
    for i in range(2):
        out = tmp_path / f"uki{i}.efi"
        build_uki(stub, out, files, source_date_epoch=1_700_000_000)
        outputs.append(out.read_bytes())
        time.sleep(1.1)  # objcopy stamps the time in seconds
    assert outputs[0] == outputs[1]
    pe = pefile.PE(data=outputs[0])
    assert pe.verify_checksum()
    assert pe.FILE_HEADER.TimeDateStamp == stub_timestamp(stub.read_bytes())
    sections = {s.Name.rstrip(b"\0").decode(): s for s in pe.sections}
    assert sections[".cmdline"].get_data()[:13] == b"console=ttyS0"
    assert sections[".linux"].get_data()[:5000] == b"K" * 5000
    assert sections[".initrd"].VirtualAddress < sections[".linux"].VirtualAddress
