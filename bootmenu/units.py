"""Numbers as bootmenu writes them in sentences and on screen."""

from __future__ import annotations


def size_text(size: int | None) -> str:
    """``512 bytes``, ``14.2 MiB``, ``3.9 GiB``; ``?`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
