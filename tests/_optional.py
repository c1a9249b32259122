"""Optional test dependencies: skip without them locally, fail without them under CI.

``pip install -e '.[dev]'`` installs every optional back-end the tests exercise; under CI (``CI``
set) a missing one is a broken install, and a skip would hide it.
"""

from __future__ import annotations

import importlib
import os

import pytest


def require(module: str):
    """Import ``module``; skip the test when it is missing, except under CI, where it fails."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)
