"""Every docstring example in the package runs (``doctest``; the examples are the API docs).

Examples marked ``# doctest: +SKIP`` need files a test cannot have (a real model directory); a
module whose examples are all skipped is not collected."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cinemagraph3d"
MODULES = sorted(
    ".".join(p.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
    for p in PKG.rglob("*.py")
    if any(">>>" in line and "+SKIP" not in line for line in p.read_text(encoding="utf-8").splitlines())
)


def test_examples_exist():
    assert len(MODULES) >= 10, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, report=True, verbose=False)
    assert result.attempted > 0, f"{name}: no example collected"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
