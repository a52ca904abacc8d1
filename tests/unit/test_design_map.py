"""docs/design.md maps every module of bootmenu/ and efi/ (issue: keep the map true)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_is_on_the_map() -> None:
    text = (ROOT / "docs" / "design.md").read_text()
    named = set(re.findall(r"`([\w/.]+\.(?:py|tcss))`", text))
    missing = []
    for package in ("bootmenu", "efi"):
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix not in (".py", ".tcss") or path.name == "__init__.py":
                continue
            relative = path.relative_to(ROOT).as_posix()
            if relative not in named and path.name not in named:
                missing.append(relative)
    assert not missing, f"docs/design.md does not name {missing}"


def test_every_package_is_on_the_map() -> None:
    text = (ROOT / "docs" / "design.md").read_text()
    for init in sorted([*(ROOT / "bootmenu").rglob("__init__.py"), ROOT / "efi" / "__init__.py"]):
        package = init.parent.relative_to(ROOT).as_posix()
        assert f"`{package}/`" in text or f"{package}/" in text, f"docs/design.md lacks {package}/"
