"""Words and numbers as the menu shows them (pure helpers shared by the screens)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from bootmenu.model import BootEntry, Kind, Source, Volume
from bootmenu.units import size_text as size_text

if TYPE_CHECKING:
    from bootmenu.model import Device

_KIND_LABELS: Final = {
    Kind.LINUX: "Linux",
    Kind.UKI: "UKI",
    Kind.MULTIBOOT: "Multiboot",
    Kind.EFI: "EFI app",
}
_SOURCE_LABELS: Final = {
    Source.WINDOWS: "Windows",
    Source.HAIKU: "Haiku",
    Source.FIRMWARE: "Firmware",
}
# Device states shown in the menu (the others are usable or deliberately skipped).
SHOWN_STATES: Final = ("locked", "unsupported", "unknown", "failed")


def kind_label(entry: BootEntry) -> str:
    """``Linux``, ``UKI``, ``Multiboot``, ``EFI app``, ``Windows``, ``Haiku`` or ``Firmware``."""
    if entry.kind is Kind.EFI and entry.source in _SOURCE_LABELS:
        return _SOURCE_LABELS[entry.source]
    return _KIND_LABELS.get(entry.kind, entry.kind.value)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with ``…`` at the end when cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def device_heading(
    root: str, volumes: Sequence[Volume], devices: Sequence[Device]
) -> tuple[str, str]:
    """The name and a description of the filesystem ``root``, for a group heading:
    (``/dev/sda2``, ``"fedora" ext4 20.0 GiB``)."""
    parts: list[str] = []
    volume = next((v for v in volumes if v.name == root), None)
    device = next((d for d in devices if d.devnode == root), None)
    label = (volume.label if volume else None) or (device.label if device else None)
    label = label or (volume.partlabel if volume else None)
    fstype = (volume.fstype if volume else None) or (device.fstype if device else None)
    if label:
        parts.append(f'"{label}"')
    if fstype:
        parts.append(fstype)
    if device is not None and device.size:
        parts.append(size_text(device.size))
    media = (volume.media if volume else None) or (device.media if device else None)
    if media or (device is not None and device.removable):
        parts.append(media or "removable")
    return root, " ".join(parts)


def device_problem(device: Device) -> str:
    """One line for a device the menu cannot use: ``locked: encrypted with LUKS``."""
    reason = device.reason or device.fstype or ""
    return f"{device.state.value}: {reason}" if reason else device.state.value
