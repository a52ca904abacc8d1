"""Test factories shared by every tier: boot entries with the fields a test cares about."""

from __future__ import annotations

from bootmenu.model import BootEntry, Kind, Source


def entry(
    ident: str, *, default: bool = False, problems: tuple[str, ...] = (), **kw: object
) -> BootEntry:
    """A Linux BLS entry ``ident`` on /dev/vda2 unless ``kw`` says otherwise."""
    fields: dict[str, object] = {
        "id": ident,
        "title": kw.pop("title", ident.title()),
        "kind": kw.pop("kind", Kind.LINUX),
        "source": kw.pop("source", Source.BLS),
        "root": kw.pop("root", "/dev/vda2"),
        "kernel": f"/vmlinuz-{ident}",
        "default": default,
        "problems": problems,
        "origin": "/loader/entries/x.conf",
    }
    fields.update(kw)
    return BootEntry(**fields)  # type: ignore[arg-type]
