"""The local model cache: where ``cinemagraph3d models fetch`` puts models and where the default
depth selection looks for them.

Cache root: ``$CINEMAGRAPH3D_CACHE`` if set, else ``$XDG_CACHE_HOME/cinemagraph3d``, else
``~/.cache/cinemagraph3d``. A model lives in ``ROOT/models/NAME/`` in the ``save_pretrained``
layout (``config.json``, ``model.safetensors``, ``preprocessor_config.json``) plus
``fetched.json`` (repository, revision, licence, files), written last: a directory without it is
an interrupted fetch and is ignored. Only safetensors weights are fetched (never pickles).

Nothing here touches the network; :mod:`cinemagraph3d.cli.models` does, and only when the user
runs ``cinemagraph3d models fetch``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

__all__ = ["ModelSpec", "MODELS", "cache_root", "model_dir", "installed_model"]


@dataclass(frozen=True)
class ModelSpec:
    """A model that ``models fetch`` knows.

    Attributes:
        name: short name (``depth``).
        repo_id: Hugging Face Hub repository.
        revision: branch, tag or commit fetched.
        files: files fetched (weights as safetensors only).
        licence: SPDX licence of the weights.
        description: one line for ``models list``.
    """

    name: str
    repo_id: str
    revision: str
    files: tuple[str, ...]
    licence: str
    description: str


MODELS: dict[str, ModelSpec] = {
    "depth": ModelSpec(
        "depth",
        "depth-anything/Depth-Anything-V2-Small-hf",
        "main",
        ("config.json", "model.safetensors", "preprocessor_config.json"),
        "Apache-2.0",
        "Depth Anything V2 Small (24.8 M parameters, ~99 MB), relative depth through transformers",
    ),
}

MARKER = "fetched.json"


def cache_root() -> Path:
    """Root of the cinemagraph3d cache (see the module docstring)."""
    env = os.environ.get("CINEMAGRAPH3D_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cinemagraph3d"


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise InputError("model", f"one of {', '.join(MODELS)}", repr(name))
    return MODELS[name]


def model_dir(name: str) -> Path:
    """Directory of model ``name`` in the cache (it may not exist)."""
    _spec(name)
    return cache_root() / "models" / name


def installed_model(name: str) -> Path | None:
    """The directory of model ``name`` when a complete fetch is in the cache, else None.

    Complete = ``fetched.json`` names this model's repository and every listed file is present
    and non-empty.
    """
    spec = _spec(name)
    d = model_dir(name)
    try:
        meta = json.loads((d / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("repo_id") != spec.repo_id:
        return None
    for f in spec.files:
        p = d / f
        if not p.is_file() or p.stat().st_size == 0:
            return None
    return d
