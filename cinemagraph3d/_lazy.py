"""Lazy package attributes (PEP 562), shared by the packages that import their stages on first
use (``cinemagraph3d`` and ``cinemagraph3d.eval``)."""

from __future__ import annotations

import importlib
import importlib.util


def lazy_getattr(package: str, names: dict[str, str], namespace: dict, submodules: bool = False):
    """A module ``__getattr__`` for ``package``: ``names`` maps a public name to the relative
    module defining it; the first access imports it and caches it in ``namespace`` (the
    package's ``globals()``). With ``submodules``, other names that are submodules import too."""

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            if submodules and not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
                return importlib.import_module(f".{name}", package)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__
