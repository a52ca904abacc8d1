"""rootfs.python: the trim rules, wheel layout and pinned requirements."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from rootfs import python


@pytest.mark.parametrize(
    "rel, kept",
    [
        ("os.py", True),
        ("pdb.py", True),  # pyelftools imports pdb
        ("_pydecimal.py", True),  # fractions → decimal, without _decimal
        ("encodings/utf_8.py", True),
        ("asyncio/base_events.py", True),
        ("lib-dynload/_ctypes.cpython-311-x86_64-linux-gnu.so", True),
        ("lib-dynload/_lzma.cpython-311-x86_64-linux-gnu.so", True),
        ("test/test_os.py", False),
        ("ctypes/test/test_cast.py", False),
        ("idlelib/idle.py", False),
        ("tkinter/__init__.py", False),
        ("ensurepip/__init__.py", False),
        ("lib2to3/pytree.py", False),
        ("pydoc_data/topics.py", False),
        ("distutils/core.py", False),
        ("config-3.11-x86_64-linux-gnu/libpython3.11.a", False),
        ("lib-dynload/_tkinter.cpython-311-x86_64-linux-gnu.so", False),
        ("lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so", False),
        ("lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", False),
        ("__pycache__/os.cpython-311.pyc", False),
        ("sitecustomize.py", False),
        ("multiprocessing/pool.py", False),
        ("xml/dom/minidom.py", False),
        ("http/client.py", False),
        ("encodings/shift_jis.py", False),
        ("encodings/cp437.py", True),
        ("lib-dynload/_codecs_jp.cpython-311-x86_64-linux-gnu.so", False),
        ("email/parser.py", True),  # importlib.metadata
        ("urllib/parse.py", True),  # pathlib
    ],
)
def test_stdlib_keep(rel: str, kept: bool) -> None:
    assert python.stdlib_keep(rel) is kept


@pytest.mark.parametrize(
    "rel, kept",
    [
        ("textual/app.py", True),
        ("textual/demo/home.py", False),
        ("textual/tree-sitter/highlights/python.scm", False),
        ("pygments/lexers/__init__.py", True),
        ("pygments/lexers/_mapping.py", True),
        ("pygments/lexers/python.py", True),
        ("pygments/lexers/special.py", True),
        ("pygments/lexers/rust.py", False),
        ("pygments/styles/monokai.py", True),
        ("rich/py.typed", False),
        ("textual-8.2.8.dist-info/METADATA", True),
        ("textual-8.2.8.dist-info/RECORD", False),
        ("pyudev/__init__.py", True),
        ("rich/__pycache__/x.cpython-311.pyc", False),
    ],
)
def test_site_keep(rel: str, kept: bool) -> None:
    assert python.site_keep(rel) is kept


def test_wheel_members_move_purelib_up() -> None:
    members = python.wheel_members(
        [
            "pkg/__init__.py",
            "pkg/",
            "pkg-1.0.data/purelib/extra/mod.py",
            "pkg-1.0.data/scripts/tool",
            "pkg-1.0.dist-info/METADATA",
        ]
    )
    assert members == {
        "pkg/__init__.py": "pkg/__init__.py",
        "pkg-1.0.data/purelib/extra/mod.py": "extra/mod.py",
        "pkg-1.0.dist-info/METADATA": "pkg-1.0.dist-info/METADATA",
    }


def test_unpack_wheel_applies_the_trim_rules(tmp_path: Path) -> None:
    wheel = tmp_path / "pygments-2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pygments/__init__.py", "x = 1\n")
        zf.writestr("pygments/lexers/rust.py", "")
        zf.writestr("pygments/lexers/python.py", "y = 2\n")
        zf.writestr("../evil.py", "")
    target = tmp_path / "site"
    written = python.unpack_wheel(wheel, target)
    assert written == ["pygments/__init__.py", "pygments/lexers/python.py"]
    assert (target / "pygments/lexers/python.py").read_text() == "y = 2\n"
    assert not (tmp_path / "evil.py").exists()


def test_pins_follow_extras_and_markers() -> None:
    # textual asks for markdown-it-py[linkify]: the extra's dependency must be pinned too.
    pins = dict(p.split("==") for p in python.pinned_requirements(["textual"]))
    assert {"textual", "rich", "markdown-it-py", "linkify-it-py", "pygments"} <= set(pins)
    assert "tree-sitter" not in pins  # only with textual[syntax]
    assert "pytest" not in pins  # markdown-it-py[testing]


def test_compile_trees_leaves_sourceless_bytecode(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("VALUE = {'a', 'b', 'c'}\n")
    (tmp_path / "pkg/broken.py").write_text("def (:\n")
    python.compile_trees([(tmp_path, "/usr/lib/python3/dist-packages")])
    assert not (tmp_path / "pkg/__init__.py").exists()
    first = (tmp_path / "pkg/__init__.pyc").read_bytes()
    assert b"/usr/lib/python3/dist-packages/pkg/__init__.py" in first
    assert (tmp_path / "pkg/broken.py").exists()  # kept: it does not compile
    # the same source compiles to the same bytes (hash seed fixed, unchecked-hash pyc)
    (tmp_path / "pkg/__init__.pyc").unlink()
    (tmp_path / "pkg/__init__.py").write_text("VALUE = {'a', 'b', 'c'}\n")
    python.compile_trees([(tmp_path, "/usr/lib/python3/dist-packages")])
    assert (tmp_path / "pkg/__init__.pyc").read_bytes() == first
    assert first[4:8] == b"\x01\x00\x00\x00"  # flags: hash-based, check_source=0
