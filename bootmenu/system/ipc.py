"""Messages between bootmenu's processes over a Unix socket (the menu on every console).

One process owns the core (discovery, decisions, the hand-off) and listens on a socket in
``/run/bootmenu``, mode 0600, so only root's processes connect; the menu on each other console
is a process of the same bootmenu that connects to it.  A message is a 4-byte big-endian length
and a pickle of bootmenu's own frozen dataclasses; :func:`loads` refuses every class that is not
bootmenu's, efi's or one of a few plain builtins, so a message cannot run code, and messages
larger than :data:`MAX_MESSAGE` are refused.
"""

from __future__ import annotations

import contextlib
import enum
import io
import os
import pickle
import socket
import struct
import threading
from pathlib import Path
from typing import Any, Final

from bootmenu.errors import BootmenuError

MAX_MESSAGE: Final = 64 << 20
_LENGTH: Final = struct.Struct(">I")
_BUILTINS: Final = frozenset(
    {"tuple", "list", "dict", "set", "frozenset", "str", "bytes", "int", "float", "bool",
     "complex", "bytearray", "object"}
)  # fmt: skip
_OTHERS: Final = frozenset(
    {("pathlib", "PosixPath"), ("pathlib", "Path"), ("uuid", "UUID"), ("copyreg", "_reconstructor")}
)


class ChannelClosed(BootmenuError):
    """The other process went away (or sent something that is not a message)."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (
            module.startswith(("bootmenu.", "efi."))
            or (module == "builtins" and name in _BUILTINS)
            or (module, name) in _OTHERS
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a message")


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        # An enum member as its class called with its value: some Python 3.11 releases (Debian
        # 12's 3.11.2, the initramfs') pickle members by name through builtins.getattr, which
        # loads() rightly refuses.
        if isinstance(obj, enum.Enum):
            return type(obj), (obj.value,)
        return NotImplemented


def dumps(message: object) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    return out.getvalue()


def loads(data: bytes) -> Any:
    """A message's object; ChannelClosed when it is not one of bootmenu's messages."""
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except Exception as e:  # a broken or foreign message, whatever pickle makes of it
        raise ChannelClosed(f"a message could not be read: {e}") from e


class Channel:
    """One connection: whole messages in, whole messages out (sends from any thread)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send = threading.Lock()

    def send(self, message: object) -> None:
        data = dumps(message)
        try:
            with self._send:
                self.sock.sendall(_LENGTH.pack(len(data)) + data)
        except OSError as e:
            raise ChannelClosed(f"the other side is gone ({e.strerror or e})") from e

    def _exactly(self, count: int) -> bytes:
        chunks = []
        while count:
            try:
                chunk = self.sock.recv(min(count, 1 << 20))
            except OSError as e:
                raise ChannelClosed(f"the other side is gone ({e.strerror or e})") from e
            if not chunk:
                raise ChannelClosed("the other side closed the connection")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def recv(self) -> Any:
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size))
        if length > MAX_MESSAGE:
            raise ChannelClosed(f"a message of {length} bytes is larger than any bootmenu sends")
        return loads(self._exactly(length))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def listen(path: Path) -> socket.socket:
    """A listening socket at ``path`` (replacing a stale one), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o077)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    sock.listen(8)
    return sock


def connect(path: Path, timeout: float = 10.0) -> Channel:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError as e:
        sock.close()
        raise ChannelClosed(f"cannot reach the boot manager at {path}: {e.strerror or e}") from e
    sock.settimeout(None)
    return Channel(sock)
