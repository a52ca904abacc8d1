"""GRUB's environment block (``grub2/grubenv``, ``grub/grubenv``).

The file ``grub-editenv`` writes is 1024 bytes: the signature line ``# GRUB Environment Block``,
one ``name=value`` line per variable, then ``#`` padding up to the end.  In a value GRUB escapes
``\\`` and newline with a backslash (``grub-core/lib/envblk.c``).  Fedora and RHEL keep
``kernelopts``, ``tuned_params``, ``tuned_initrd`` and ``saved_entry`` here, and their BLS
entries refer to them as ``$kernelopts`` and so on; :func:`expand` substitutes those references.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bootmenu.errors import FormatError

GRUB_ENVBLK_SIGNATURE = b"# GRUB Environment Block\n"
GRUB_ENVBLK_SIZE = 1024  # what grub-editenv creates; other sizes are read as well
GRUB_ENVBLK_MAX = 1024 * 1024  # refuse anything larger: this is not an environment block

# GRUB variable references: $name, ${name}.  GRUB names are letters, digits and underscores
# (a name of digits only is a positional parameter, still a reference).
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def parse_grubenv(data: bytes) -> dict[str, str]:
    """Return the variables of a GRUB environment block, in file order.

    Lines starting with ``#`` are padding or comments.  A backslash takes the next byte
    literally (``\\\\`` is a backslash, backslash-newline a newline inside the value).  Like
    GRUB, a last line without its newline is dropped, and a later assignment to the same name
    wins.  A line without ``=`` is skipped.  Raises :class:`FormatError` when the data does not
    start with the signature or is too large to be an environment block.
    """
    if len(data) > GRUB_ENVBLK_MAX:
        raise FormatError(
            f"grubenv: {len(data)} bytes is too large for a GRUB environment block",
            what="grubenv",
        )
    if not data.startswith(GRUB_ENVBLK_SIGNATURE):
        raise FormatError(
            "grubenv: not a GRUB environment block (it does not start with "
            "'# GRUB Environment Block')",
            what="grubenv",
            offset=0,
        )
    variables: dict[str, str] = {}
    pos = len(GRUB_ENVBLK_SIGNATURE)
    end = len(data)
    while pos < end:
        line, pos, complete = _next_line(data, pos)
        if not complete:
            break  # GRUB treats an unterminated last line as broken and stops
        if not line or line.startswith(b"#"):
            continue
        name, sep, raw_value = line.partition(b"=")
        if not sep or not name:
            continue
        variables[_decode(name)] = _decode(_unescape(raw_value))
    return variables


def _next_line(data: bytes, pos: int) -> tuple[bytes, int, bool]:
    """The escaped line starting at ``pos``, the position after its newline, and whether a
    newline ended it (a backslash makes the following byte part of the line)."""
    start = pos
    end = len(data)
    while pos < end:
        byte = data[pos]
        if byte == 0x5C:  # backslash: skip the escaped byte too
            pos += 2
        elif byte == 0x0A:
            return data[start:pos], pos + 1, True
        else:
            pos += 1
    return data[start:end], end, False


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(raw[i])
            i += 1
    # GRUB hands values to C code: a NUL ends the string.
    nul = out.find(0)
    if nul >= 0:
        del out[nul:]
    return bytes(out)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Replace ``$name`` and ``${name}`` by their values; unknown names are left as written."""
    return expand_report(text, variables)[0]


def expand_report(text: str, variables: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """Like :func:`expand`, and also return the names that had no value (in order, once)."""
    unknown: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        value = variables.get(name)
        if value is None:
            if name not in unknown:
                unknown.append(name)
            return match.group(0)
        return value

    return _REFERENCE.sub(substitute, text), tuple(unknown)
