"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

# Real Multiboot test kernels, built by tests/mbkernel.py.
from tests.mbkernel import build_mb_kernel, missing_tools


@pytest.fixture(scope="session")
def mb_kernels(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """The Multiboot 1 and 2 test kernels, assembled once per session: {1: bytes, 2: bytes}."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"binutils not installed (missing {', '.join(missing)})")
    out_dir = tmp_path_factory.mktemp("mbkernels")
    return {version: build_mb_kernel(version, out_dir).read_bytes() for version in (1, 2)}
