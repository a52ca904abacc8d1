"""The code that ``dataclasses`` generates, compiled when the initramfs is built.

Every ``@dataclass`` builds its ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and, when
frozen, ``__setattr__``/``__delattr__`` from source text and compiles it while its module is
imported: some 550 small functions for bootmenu's and Textual's classes, about half of
bootmenu's import time (under TCG most of the two seconds from Python's start to bootmenu's
discovery; docs/performance.md).  The initramfs build imports what bootmenu's modes import once
with :func:`record`, which keeps the compiled code of each text; at start-up :func:`install`
lets ``dataclasses`` take the compiled code of a text it has seen, as Python takes a module's
``.pyc``.  A text it has not seen (another version of a module, another class) is compiled as
usual, so the cache can make an import faster, never different.

The file is the build's own (inside the initramfs, never from a disk): a marshal of
``{"magic": importlib's MAGIC_NUMBER, "code": {source text: marshalled code object}}``, ignored
when its magic is not this Python's.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import importlib.util
import marshal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Where the initramfs build puts it (rootfs/build.py), next to bootmenu's bytecode.
DEFAULT_PATH = Path(__file__).with_name("dataclass-code.marshal")

_exec = builtins.exec
_stats = {"cached": 0, "compiled": 0}


def install(path: Path = DEFAULT_PATH) -> bool:
    """Have ``dataclasses`` use the compiled code in ``path``; False (nothing changed) when
    there is no such file or it was made by another Python."""
    try:
        doc = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return False
    if not isinstance(doc, dict) or doc.get("magic") != importlib.util.MAGIC_NUMBER:
        return False
    table = doc.get("code")
    if not isinstance(table, dict):
        return False

    def cached_exec(source: Any, globals: Any = None, locals: Any = None) -> None:
        if isinstance(source, str):
            compiled = table.get(source)
            if isinstance(compiled, bytes):
                _stats["cached"] += 1
                return _exec(marshal.loads(compiled), globals, locals)
            _stats["compiled"] += 1
        return _exec(source, globals, locals)

    # A module global shadows the builtin for that module only: nothing else is affected.
    dataclasses.exec = cached_exec  # type: ignore[attr-defined]
    return True


def stats() -> dict[str, int]:
    """How many generated functions came from the cache and how many were compiled."""
    return dict(_stats)


def record(path: Path, modules: Iterable[str]) -> int:
    """Import ``modules`` (in a fresh interpreter: only classes created from now on are
    seen) and write the compiled code of every text ``dataclasses`` ran to ``path``; the
    number of texts."""
    table: dict[str, bytes] = {}

    def recording_exec(source: Any, globals: Any = None, locals: Any = None) -> None:
        if isinstance(source, str):
            code = compile(source, "<string>", "exec")
            table[source] = marshal.dumps(code)
            return _exec(code, globals, locals)
        return _exec(source, globals, locals)

    dataclasses.exec = recording_exec  # type: ignore[attr-defined]
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
    path.write_bytes(marshal.dumps({"magic": importlib.util.MAGIC_NUMBER, "code": table}))
    return len(table)
