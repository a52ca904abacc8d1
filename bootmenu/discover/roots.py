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
from bootmenu.system.mounts import MOUNTINFO, MountInfo, parse_mountinfo

BY_LINKS = {
    "uuid": Path("/dev/disk/by-uuid"),
    "label": Path("/dev/disk/by-label"),
    "partuuid": Path("/dev/disk/by-partuuid"),
    "partlabel": Path("/dev/disk/by-partlabel"),
}


def _mount_of(directory: Path) -> tuple[str, str, str] | None:
    """(mount point, fstype, "major:minor") of the mount holding ``directory``."""
    try:
        mounts = parse_mountinfo(MOUNTINFO.read_text())
    except OSError:
        return None
    best: MountInfo | None = None
    target = str(directory)
    for mount in mounts:
        point = mount.mountpoint
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best.mountpoint)):
            best = mount
    if best is None:
        return None
    return best.mountpoint, best.fstype, f"{best.devnum[0]}:{best.devnum[1]}"


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
