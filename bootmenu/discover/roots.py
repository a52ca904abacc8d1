"""Volumes for ``--root DIR`` directories on the running system.

Finds what the kernel knows about the filesystem a directory is on (type, and UUID/label through
udev's /dev/disk/by-* links), so that e.g. grub's ``search --fs-uuid`` resolves and FAT is read
case-insensitively, without any subprocess.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bootmenu.model import Volume

MOUNTINFO = Path("/proc/self/mountinfo")
BY_LINKS = {
    "uuid": Path("/dev/disk/by-uuid"),
    "label": Path("/dev/disk/by-label"),
    "partuuid": Path("/dev/disk/by-partuuid"),
    "partlabel": Path("/dev/disk/by-partlabel"),
}


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mount_of(directory: Path) -> tuple[str, str, str] | None:
    """(mount point, fstype, "major:minor") of the mount holding ``directory``."""
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return None
    best: tuple[str, str, str] | None = None
    target = str(directory)
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or not rfields:
            continue
        mountpoint = _unescape(fields[4])
        inside = target == mountpoint or target.startswith(mountpoint.rstrip("/") + "/")
        if inside and (best is None or len(mountpoint) >= len(best[0])):
            best = (mountpoint, rfields[0], fields[2])
    return best


def _links_for(devno: str) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        major, minor = (int(x) for x in devno.split(":"))
    except ValueError:
        return found
    want = os.makedev(major, minor)
    for key, directory in BY_LINKS.items():
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            try:
                if os.stat(directory / name).st_rdev == want:
                    found[key] = re.sub(  # udev escapes unsafe characters as \x20
                        r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), name
                    )
                    break
            except OSError:
                continue
    return found


def volume_for_directory(directory: str) -> Volume:
    """A Volume for a ``--root`` directory, named as the user wrote it."""
    path = Path(directory).resolve()
    fstype = uuid = label = partuuid = partlabel = None
    mount = _mount_of(path)
    if mount is not None:
        mountpoint, fstype, devno = mount
        if Path(mountpoint) == path:
            links = _links_for(devno)
            uuid, label = links.get("uuid"), links.get("label")
            partuuid, partlabel = links.get("partuuid"), links.get("partlabel")
    return Volume(
        name=directory,
        path=path,
        fstype=fstype,
        uuid=uuid,
        label=label,
        partuuid=partuuid,
        partlabel=partlabel,
    )
