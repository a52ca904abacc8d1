"""bootmenu.formats.gpt over partition tables written by sfdisk (util-linux), the tool the
distributions' installers use: what sfdisk was told is what the parser must read back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from bootmenu.errors import FormatError
from bootmenu.formats import gpt

SECTOR = 512
ESP_UUID = "3c5d1e2f-0a1b-4c2d-8e3f-4a5b6c7d8e9f"
ROOT_UUID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
LINUX_FS = "0fc63daf-8483-4772-8e79-3d69d8477de4"


@pytest.fixture
def image(tmp_path: Path) -> bytes:
    if shutil.which("sfdisk") is None:
        pytest.skip("sfdisk (util-linux) is not installed")
    path = tmp_path / "disk.img"
    with open(path, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    script = (
        "label: gpt\n"
        f"start=2048, size=40960, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid={ESP_UUID}, "
        'name="EFI System"\n'
        f'start=43008, size=20480, type={LINUX_FS}, uuid={ROOT_UUID}, name="root"\n'
    )
    subprocess.run(["sfdisk", "--quiet", str(path)], input=script.encode(), check=True)
    return path.read_bytes()


def test_partitions_read_back_as_sfdisk_wrote_them(image: bytes) -> None:
    header = gpt.parse_header(image[SECTOR : 2 * SECTOR])
    start = header.entries_lba * SECTOR
    parts = gpt.parse_entries(image[start : start + header.entries_bytes], header)
    assert [(p.number, p.type, p.uuid, p.first_lba, p.last_lba, p.name) for p in parts] == [
        (1, gpt.ESP_TYPE, UUID(ESP_UUID), 2048, 2048 + 40960 - 1, "EFI System"),
        (2, UUID(LINUX_FS), UUID(ROOT_UUID), 43008, 43008 + 20480 - 1, "root"),
    ]


def test_not_a_gpt_and_hostile_headers_are_format_errors(image: bytes) -> None:
    with pytest.raises(FormatError, match="no GUID partition table"):
        gpt.parse_header(bytes(SECTOR))
    header = bytearray(image[SECTOR : 2 * SECTOR])
    header[80:84] = (10**6).to_bytes(4, "little")  # a million entries
    with pytest.raises(FormatError, match="1000000 partition entries"):
        gpt.parse_header(bytes(header))
    good = gpt.parse_header(image[SECTOR : 2 * SECTOR])
    with pytest.raises(FormatError, match="cut off"):
        gpt.parse_entries(b"\0" * 100, good)
