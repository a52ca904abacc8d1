"""The one exception hierarchy of bootmenu.

Library code raises these; only ``main()`` turns them into exit codes. Every message reads as a
sentence a person understands, e.g. ``"/EFI/Linux/a.efi: not an EFI application (PE subsystem 3,
expected 10)"``.
"""

from __future__ import annotations


class BootmenuError(Exception):
    """Base class of every error bootmenu raises on purpose."""


class FormatError(BootmenuError):
    """Input bytes or text do not follow the format they claim to be in.

    ``what`` names the thing being parsed (a path or a format name); ``offset`` is the byte
    offset or line number where the problem was found, when known.
    """

    def __init__(self, message: str, *, what: str | None = None, offset: int | None = None):
        super().__init__(message)
        self.what = what
        self.offset = offset


class PathError(BootmenuError):
    """A path named by a boot configuration cannot be used: missing, escaping its filesystem,
    unreadable or too large."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


class ConfigError(BootmenuError):
    """bootmenu's own configuration (file, kernel command line, options) is invalid."""


class DeviceError(BootmenuError):
    """A block device or filesystem could not be used."""


class HandoffError(BootmenuError):
    """Loading or starting the chosen entry failed."""


class UsageError(BootmenuError):
    """The command line given to bootmenu is wrong (exit code 2)."""
