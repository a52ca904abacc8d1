"""os-release(5): ``/etc/os-release``, ``/usr/lib/os-release`` and a UKI's ``.osrel`` section.

The file is a list of ``KEY=value`` assignments in a small subset of shell syntax: values may
be in single quotes (taken literally) or double quotes (where a backslash escapes ``"``,
``\\``, ``$`` and backquote), outside quotes a backslash escapes any character, ``#`` starts a
comment line.  This follows systemd's ``parse_env_file()``, which is what bootctl uses.

:func:`uki_fields` derives a UKI's menu title, version and sort key the way systemd-boot does
(``bootspec_pick_name_version_sort_key`` in ``src/fundamental/bootspec-fundamental.c``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bootmenu.errors import FormatError
from bootmenu.formats.bls import parse_counting

_NEED_ESCAPE_IN_DOUBLE_QUOTES = '"\\`$'


@dataclass(frozen=True)
class OsRelease:
    """The assignments of an os-release file.

    Fields are None when the key is absent; os-release(5)'s defaults (``NAME=Linux``,
    ``ID=linux``) are not filled in, because systemd-boot does not fill them in either.
    ``raw`` holds every valid assignment in file order (a later one for the same key wins in
    the named fields and in :meth:`get`).  ``problems`` lists lines that were ignored.
    """

    name: str | None = None
    id: str | None = None
    id_like: tuple[str, ...] = ()
    pretty_name: str | None = None
    version: str | None = None
    version_id: str | None = None
    version_codename: str | None = None
    variant: str | None = None
    variant_id: str | None = None
    image_id: str | None = None
    image_version: str | None = None
    build_id: str | None = None
    architecture: str | None = None
    raw: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()

    def get(self, key: str) -> str | None:
        """The value of the last assignment to ``key``, or None."""
        found: str | None = None
        for name, value in self.raw:
            if name == key:
                found = value
        return found


def _valid_key(key: str) -> bool:
    return (
        bool(key)
        and key.isascii()
        and not key[0].isdigit()
        and all(c.isalnum() or c == "_" for c in key)
    )


def _assignments(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Run systemd's env-file state machine over ``text``: (assignments, problems).

    After ``=``, blanks are skipped and quoted parts are joined (``A="a" 'b'`` is ``ab``); the
    first unquoted character starts the plain part, which runs to the end of the line (quotes
    in it are literal) and loses its trailing blanks.
    """
    out: list[tuple[str, str]] = []
    problems: list[str] = []
    i, n = 0, len(text)
    line = 1

    def finish(key: str, value: str, where: int) -> None:
        if _valid_key(key):
            out.append((key, value))
        else:
            problems.append(f"line {where}: '{key}' is not a valid variable name, ignored")

    while i < n:
        # Start of a line: skip blanks, empty lines and comments.
        c = text[i]
        if c in " \t\r":
            i += 1
            continue
        if c == "\n":
            i += 1
            line += 1
            continue
        if c in "#;":
            while i < n and text[i] != "\n":
                i += 1
            continue
        # The key, up to '='.
        where = line
        key_start = i
        while i < n and text[i] not in "=\n":
            i += 1
        key = text[key_start:i].strip(" \t\r")
        if i >= n or text[i] == "\n":
            problems.append(f"line {where}: '{key}' has no '=', ignored")
            continue
        i += 1  # the '='
        value: list[str] = []
        # Before the plain part: blanks are skipped, quotes open quoted parts.
        while i < n and text[i] != "\n":
            c = text[i]
            if c in " \t\r":
                i += 1
            elif c == "'":
                end = text.find("'", i + 1)
                end = n if end < 0 else end
                chunk = text[i + 1 : end]
                value.append(chunk)
                line += chunk.count("\n")
                i = end + 1
            elif c == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n:
                        nxt = text[i + 1]
                        if nxt in _NEED_ESCAPE_IN_DOUBLE_QUOTES:
                            value.append(nxt)
                        elif nxt == "\n":
                            line += 1  # a line continuation inside quotes
                        else:
                            value.append("\\" + nxt)
                        i += 2
                        continue
                    if text[i] == "\n":
                        line += 1
                    value.append(text[i])
                    i += 1
                i += 1  # the closing quote
            else:
                break
        # The plain part: to the end of the line, backslash escapes, trailing blanks dropped.
        plain: list[str] = []
        while i < n and text[i] != "\n":
            c = text[i]
            if c == "\\":
                if i + 1 < n:
                    if text[i + 1] == "\n":
                        line += 1  # line continuation
                    else:
                        plain.append(text[i + 1])
                        plain.append("")  # an escaped blank is not trailing
                i += 2
                continue
            plain.append(c)
            i += 1
        while plain and plain[-1] in (" ", "\t", "\r"):
            plain.pop()
        finish(key, "".join(value) + "".join(plain), where)
    return out, problems


def parse_os_release(text: str) -> OsRelease:
    """Parse the text of an os-release file.

    Never fails on odd content (bad lines are listed in ``problems``); raises
    :class:`FormatError` only for text containing NUL bytes, which is not an os-release file.
    """
    if "\x00" in text:
        raise FormatError("os-release: contains NUL bytes, this is not a text file")
    pairs, problems = _assignments(text)
    values = dict(pairs)
    id_like = values.get("ID_LIKE")
    return OsRelease(
        name=values.get("NAME"),
        id=values.get("ID"),
        id_like=tuple(id_like.split()) if id_like else (),
        pretty_name=values.get("PRETTY_NAME"),
        version=values.get("VERSION"),
        version_id=values.get("VERSION_ID"),
        version_codename=values.get("VERSION_CODENAME"),
        variant=values.get("VARIANT"),
        variant_id=values.get("VARIANT_ID"),
        image_id=values.get("IMAGE_ID"),
        image_version=values.get("IMAGE_VERSION"),
        build_id=values.get("BUILD_ID"),
        architecture=values.get("ARCHITECTURE"),
        raw=tuple(pairs),
        problems=tuple(problems),
    )


def uki_fields(osrel: OsRelease, filename: str) -> tuple[str, str | None, str | None]:
    """(title, version, sort key) of a type #2 entry (UKI) as systemd-boot derives them.

    Title: ``PRETTY_NAME``, else ``IMAGE_ID``, else ``NAME``, else ``ID``.  Version:
    ``IMAGE_VERSION``, else ``VERSION``, else ``VERSION_ID``, else ``BUILD_ID``.  Sort key:
    ``IMAGE_ID``, else ``ID``.  Empty values count as absent here (systemd-boot would take an
    empty ``PRETTY_NAME`` as the title).  systemd-boot skips a UKI whose ``.osrel`` has none of
    the title fields; this function then returns the file name, boot counter removed, as the
    title, so the caller can still show the image — check ``osrel`` yourself to hide it.
    """

    def first(*values: str | None) -> str | None:
        for value in values:
            if value:
                return value
        return None

    title = first(osrel.pretty_name, osrel.image_id, osrel.name, osrel.id)
    version = first(osrel.image_version, osrel.version, osrel.version_id, osrel.build_id)
    sort_key = first(osrel.image_id, osrel.id)
    if title is None:
        title = parse_counting(filename)[0]
    return title, version, sort_key
