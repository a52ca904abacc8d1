"""The errors the efi codecs raise.

The package stands on its own (the standard library, pefile and pyelftools): an application
that uses it catches :class:`EfiError`.  bootmenu uses :class:`FormatError` for every input
that does not follow its format, its own parsers included (``bootmenu.errors`` re-exports it).
"""

from __future__ import annotations


class EfiError(Exception):
    """Base class of every error the efi package raises on purpose."""


class FormatError(EfiError):
    """Input bytes or text do not follow the format they claim to be in.

    ``what`` names the thing being parsed (a path or a format name); ``offset`` is the byte
    offset or line number where the problem was found, when known.  The message is a sentence a
    person understands, e.g. ``"/EFI/Linux/a.efi: not an EFI application (PE subsystem 3,
    expected 10)"``.
    """

    def __init__(self, message: str, *, what: str | None = None, offset: int | None = None):
        super().__init__(message)
        self.what = what
        self.offset = offset
