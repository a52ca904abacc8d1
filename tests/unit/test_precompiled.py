"""bootmenu.precompiled: dataclass code compiled at build time makes imports faster, never
different.  Each case runs in a fresh interpreter (the cache is installed process-wide)."""

from __future__ import annotations

import importlib.util
import json
import marshal
import subprocess
import sys
from pathlib import Path

from bootmenu import precompiled
from rootfs import build

REPO = Path(__file__).resolve().parents[2]

MODULE = """
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)
"""


def _python(tmp_path: Path, code: str) -> dict[str, object]:
    """Run ``code`` with the module on sys.path; it prints one JSON object."""
    done = subprocess.run(
        [sys.executable, "-B", "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


RECORD = """
import json; from pathlib import Path; from bootmenu import precompiled
print(json.dumps({"texts": precompiled.record(Path("cache.marshal"), ["points"])}))
"""

USE = """
import dataclasses, json; from pathlib import Path; from bootmenu import precompiled
installed = precompiled.install(Path("cache.marshal"))
import points
p = points.Point(1, 2, ("a",))
try:
    p.x = 5
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(json.dumps({"installed": installed, **precompiled.stats(), "repr": repr(p),
                  "eq": p == points.Point(1, 2, ("a",)), "hash": hash(p) == hash((1, 2, ("a",))),
                  "frozen": frozen, "fields": [f.name for f in dataclasses.fields(p)],
                  "patched": "exec" in vars(dataclasses)}))
"""


def test_recorded_code_is_used_and_the_class_behaves_the_same(tmp_path: Path) -> None:
    (tmp_path / "points.py").write_text(MODULE)
    plain = _python(tmp_path, USE)  # no cache file yet
    assert plain["installed"] is False and plain["patched"] is False
    texts = _python(tmp_path, RECORD)["texts"]
    assert isinstance(texts, int) and texts >= 5  # __init__, __repr__, __eq__, __hash__, …
    cached = _python(tmp_path, USE)
    assert cached["installed"] is True
    assert cached["cached"] == texts and cached["compiled"] == 0
    for key in ("repr", "eq", "hash", "frozen", "fields"):
        assert cached[key] == plain[key], key
    assert cached["repr"] == "Point(x=1, y=2, tags=('a',))"


def test_a_class_that_changed_since_the_build_is_compiled_as_usual(tmp_path: Path) -> None:
    (tmp_path / "points.py").write_text(MODULE)
    _python(tmp_path, RECORD)
    (tmp_path / "points.py").write_text(
        MODULE.replace("    y: int = 0\n", "    y: int = 0\n    z: int = 0\n")
    )
    changed = _python(tmp_path, USE)
    assert changed["installed"] is True
    assert isinstance(changed["compiled"], int) and changed["compiled"] > 0
    (tmp_path / "cache.marshal").unlink()
    plain = _python(tmp_path, USE)
    assert plain["installed"] is False
    for key in ("repr", "eq", "hash", "frozen", "fields"):
        assert changed[key] == plain[key], key
    assert changed["fields"] == ["x", "y", "z", "tags"]


def test_a_file_from_another_python_or_damaged_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "points.py").write_text(MODULE)
    other = {"magic": b"\x00\x00\r\n", "code": {}}
    (tmp_path / "cache.marshal").write_bytes(marshal.dumps(other))
    assert _python(tmp_path, USE)["installed"] is False
    (tmp_path / "cache.marshal").write_bytes(b"not marshal data")
    result = _python(tmp_path, USE)
    assert result["installed"] is False and result["patched"] is False
    assert other["magic"] != importlib.util.MAGIC_NUMBER


def test_the_build_writes_the_file_install_reads() -> None:
    assert precompiled.DEFAULT_PATH.name == build.PRECOMPILED_FILE
    assert "bootmenu.cli" in build.PRECOMPILED_MODULES
