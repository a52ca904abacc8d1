"""The one exception hierarchy of bootmenu.

Library code raises these; only ``main()`` turns them into exit codes. Every message reads as a
sentence a person understands, e.g. ``"/EFI/Linux/a.efi: not an EFI application (PE subsystem 3,
expected 10)"``.

:class:`FormatError` (bad input bytes or text) is the efi package's own, which stands alone and
is the lowest layer: bootmenu's parsers raise it too.  Code that catches "anything that went
wrong on purpose" catches :data:`ERRORS`, bootmenu's errors and the efi package's.
"""

from __future__ import annotations

from typing import Final

from efi.errors import EfiError, FormatError

# The exit statuses of ``bootmenu`` (docs/menu.md): 0 done, 1 failed, 2 a wrong command line,
# 3 (the menu inside the initramfs) the user asked for the rescue shell.
EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_SHELL: Final = 3


class BootmenuError(Exception):
    """Base class of every error bootmenu raises on purpose."""


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


# Every error raised on purpose, by bootmenu or by the efi codecs: ``except ERRORS as e``.
ERRORS: Final = (BootmenuError, EfiError)

__all__ = [
    "ERRORS",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_SHELL",
    "EXIT_USAGE",
    "BootmenuError",
    "ConfigError",
    "DeviceError",
    "EfiError",
    "FormatError",
    "HandoffError",
    "PathError",
    "UsageError",
]
