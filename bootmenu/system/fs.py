"""Reading files of one filesystem, safely.

Boot configurations name files by paths inside *their* filesystem.  A :class:`Volume` is one such
filesystem, visible under a directory of ours (a read-only mount, or a ``--root`` directory).
:class:`VolumeReader` resolves configuration paths inside it component by component, following
symlinks itself so that neither ``..`` nor a symlink can lead outside the volume, and resolving
names case-insensitively on FAT.  Everything that goes wrong is a :class:`PathError` whose message
is a sentence.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from bootmenu.errors import PathError
from bootmenu.model import Volume
from bootmenu.units import size_text

MAX_SYMLINKS = 40
# Larger kernels or EFI applications than this are refused rather than read into memory.
MAX_IMAGE_SIZE = 512 * 1024 * 1024
# Larger configuration files than this are not configuration files.
MAX_CONFIG_SIZE = 4 * 1024 * 1024


def normalize(path: str) -> str:
    """Lexically normalise a configuration path to the form ``/a/b`` (backslashes as EFI writes
    them become slashes).  ``..`` is kept: :meth:`VolumeReader.resolve` decides about it."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


class VolumeReader:
    """Resolve and read files inside one :class:`Volume` without ever leaving it."""

    def __init__(self, volume: Volume):
        self.volume = volume
        self.base = volume.path
        # On FAT: a directory's names by their case-folded form, listed once per reader (a
        # reader lives for one scan of a read-only filesystem; a scan looks for some 35 names
        # that mostly are not there, and listed the directory again for each).
        self._folded: dict[str, dict[str, str]] = {}

    def _lookup(self, directory: str, name: str) -> tuple[str, os.stat_result | None] | None:
        """The real name of ``name`` in ``directory`` (case-insensitive on FAT) with its lstat
        result when the exact name was found, or None when there is no such entry."""
        try:
            return name, os.lstat(os.path.join(directory, name))
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            return None
        except OSError as e:
            raise PathError(f"{name}: {e.strerror}", path=name) from e
        except ValueError as e:  # a name the system cannot encode
            raise PathError(f"{name!r}: not a valid file name ({e})", path=name) from e
        if not self.volume.case_insensitive:
            return None
        names = self._folded.get(directory)
        if names is None:
            try:
                candidates = sorted(os.listdir(directory))
            except OSError:
                return None
            names = {}
            for candidate in candidates:
                names.setdefault(candidate.casefold(), candidate)  # the first in sorted order
            self._folded[directory] = names
        real = names.get(name.casefold())
        return None if real is None else (real, None)

    def resolve(self, path: str) -> Path:
        """The host path of ``path`` inside the volume.

        Raises PathError when the file does not exist, when ``..`` or a symlink would leave the
        volume, or when there are too many symlinks.
        """
        shown = normalize(path)
        if "\0" in path:
            # No filesystem has such a name (and os.lstat would raise ValueError): a sentence
            # about this one path, never an exception that loses the volume's other entries.
            shown = shown.replace("\0", "\\0")
            raise PathError(f"{shown}: the path contains a NUL byte", path=shown)
        todo = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        todo.reverse()  # popped from the end
        done: list[str] = []
        # Plain strings, not pathlib: a scan resolves some 35 paths per filesystem, and
        # pathlib's joins were most of the scanner's time.
        base = os.fspath(self.base)
        hops = 0
        while todo:
            part = todo.pop()
            if part == "..":
                if not done:
                    raise PathError(
                        f"{shown}: the path leads outside its filesystem ({self.volume.name})",
                        path=shown,
                    )
                done.pop()
                continue
            directory = os.path.join(base, *done)
            found = self._lookup(directory, part)
            if found is None:
                raise PathError(f"{shown}: no such file on {self.volume.name}", path=shown)
            real, st = found
            full = os.path.join(directory, real)
            try:
                if st is None:
                    st = os.lstat(full)
                target = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            except OSError as e:
                raise PathError(f"{shown}: {e.strerror}", path=shown) from e
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise PathError(f"{shown}: too many levels of symbolic links", path=shown)
                target_parts = [p for p in target.split("/") if p not in ("", ".")]
                if target.startswith("/"):
                    # An absolute link means the volume's own root (as the OS installed on it
                    # would see it); it never means our host's root.
                    done = []
                todo.extend(reversed(target_parts))
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                raise PathError(
                    f"{shown}: {'/'.join([*done, real])} is not a directory", path=shown
                )
            done.append(real)
        return self.base.joinpath(*done)

    def exists(self, path: str) -> bool:
        try:
            self.resolve(path)
        except PathError:
            return False
        return True

    def is_file(self, path: str) -> bool:
        try:
            return self.resolve(path).is_file()
        except PathError:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            return self.resolve(path).is_dir()
        except PathError:
            return False

    def listdir(self, path: str) -> list[str]:
        """Names in a directory, sorted; an empty list when it does not exist."""
        try:
            return sorted(os.listdir(self.resolve(path)))
        except (PathError, OSError):
            return []

    def size(self, path: str) -> int:
        full = self.resolve(path)
        try:
            st = os.stat(full)
        except OSError as e:
            raise PathError(f"{normalize(path)}: {e.strerror}", path=path) from e
        if not stat.S_ISREG(st.st_mode):
            raise PathError(f"{normalize(path)}: not a regular file", path=path)
        return st.st_size

    def read(self, path: str, *, limit: int = MAX_IMAGE_SIZE) -> bytes:
        """The whole file; PathError when it is missing, unreadable or larger than ``limit``."""
        data, total = self.read_head(path, limit + 1)
        if total > limit:
            raise PathError(
                f"{normalize(path)}: the file is {size_text(total)}, larger than the "
                f"{size_text(limit)} bootmenu accepts",
                path=path,
            )
        return data

    def read_head(self, path: str, count: int) -> tuple[bytes, int]:
        """At most ``count`` bytes from the start of the file, and the file's full size."""
        full = self.resolve(path)
        shown = normalize(path)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            raise PathError(f"{shown}: cannot open: {e.strerror}", path=shown) from e
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise PathError(f"{shown}: not a regular file", path=shown)
            # One read into one buffer: a 512 MiB image is held once, not as chunks and then
            # joined (twice). A regular file gives it all at once; a short read (a file that
            # shrinks, a signal) is finished with more reads.
            wanted = min(count, st.st_size)
            data = os.read(fd, wanted) if wanted else b""
            if 0 < len(data) < wanted:
                rest = [data]
                remaining = wanted - len(data)
                while remaining > 0 and (chunk := os.read(fd, remaining)):
                    rest.append(chunk)
                    remaining -= len(chunk)
                data = b"".join(rest)
            return data, st.st_size
        except OSError as e:
            reason = "I/O error (is the disk failing?)" if e.errno == errno.EIO else e.strerror
            raise PathError(f"{shown}: cannot read: {reason}", path=shown) from e
        finally:
            os.close(fd)

    def read_text(self, path: str, *, limit: int = MAX_CONFIG_SIZE) -> str | None:
        """A configuration file as text (UTF-8, undecodable bytes replaced); None if missing."""
        try:
            return self.read(path, limit=limit).decode("utf-8", errors="replace")
        except PathError:
            return None

    def read_bytes(self, path: str, *, limit: int = MAX_CONFIG_SIZE) -> bytes | None:
        try:
            return self.read(path, limit=limit)
        except PathError:
            return None


def read_host_file(path: str | Path, *, limit: int = MAX_IMAGE_SIZE) -> bytes:
    """Read a file named on bootmenu's own command line (not inside a boot configuration)."""
    p = Path(path)
    return VolumeReader(Volume(name=str(p.parent), path=p.parent)).read(p.name, limit=limit)
