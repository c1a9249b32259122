"""The ``cinemagraph3d models`` sub-command: fetch models into the local cache, list them.

``cinemagraph3d models fetch depth`` downloads Depth Anything V2 Small (Apache-2.0,
``depth-anything/Depth-Anything-V2-Small-hf``: ``config.json``, ``model.safetensors``,
``preprocessor_config.json``) from the Hugging Face Hub into the cache of
:mod:`cinemagraph3d.model_cache`; from then on ``animate`` estimates depth with it by default
(``--depth-backend auto``). This is the only place where cinemagraph3d downloads anything, and
only when the user runs it. ``--mirror DIR`` copies the same files from a local directory laid
out as ``DIR/<repo_id>/<file>`` instead (offline installs, tests).

The files are fetched into a temporary directory beside the destination, checked (the config
parses and names a model type), marked with ``fetched.json`` and moved into place in one
rename, so an interrupted fetch leaves no model that the default selection would take.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import BackendError, InputError
from ..model_cache import MARKER, MODELS, installed_model, model_dir

__all__ = ["register", "fetch_model"]


def _download(repo_id: str, filename: str, revision: str, dest: Path) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise BackendError(
            "models fetch needs the package 'huggingface_hub' (pip install 'cinemagraph3d[learned]')"
        ) from None
    try:
        path = hf_hub_download(repo_id, filename, revision=revision, local_dir=str(dest))
    except Exception as exc:  # noqa: BLE001 - network, offline mode, missing file: one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackendError(
            f"could not fetch {filename} of {repo_id}@{revision} from the Hugging Face Hub "
            f"({type(exc).__name__}: {first}); check the network or use --mirror DIR"
        ) from None
    return Path(path)


def fetch_model(
    name: str,
    mirror: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Fetch model ``name`` into the cache (see the module docstring).

    Args:
        name: a key of :data:`cinemagraph3d.model_cache.MODELS` (``"depth"``).
        mirror: local directory holding ``<repo_id>/<file>``; None: the Hugging Face Hub.
        force: fetch again even when a complete copy is in the cache.
        progress: called with one line per step.

    Returns:
        The model directory.

    Raises:
        InputError: unknown name, or a mirror without the files.
        BackendError: the download failed (nothing is left in the cache).
    """
    say = progress or (lambda line: None)
    if name not in MODELS:
        raise InputError("models fetch NAME", f"one of {', '.join(MODELS)}", repr(name))
    spec = MODELS[name]
    dest = model_dir(name)
    if installed_model(name) is not None and not force:
        say(f"{name}: already in the cache at {dest} (use --force to fetch again)")
        return dest
    if mirror is not None:
        src = Path(mirror) / spec.repo_id
        missing = [f for f in spec.files if not (src / f).is_file()]
        if missing:
            raise InputError("--mirror", f"a directory holding {spec.repo_id}/{{{','.join(spec.files)}}}",
                             f"{src} without {', '.join(missing)}")  # fmt: skip
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for f in spec.files:
            where = f"{mirror}" if mirror is not None else f"https://huggingface.co/{spec.repo_id}"
            say(f"{name}: {f} from {where}")
            if mirror is not None:
                shutil.copyfile(Path(mirror) / spec.repo_id / f, tmp / f)
            else:
                got = _download(spec.repo_id, f, spec.revision, tmp)
                if got.resolve() != (tmp / f).resolve():
                    shutil.copyfile(got, tmp / f)
        shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's download metadata
        try:
            config = json.loads((tmp / "config.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BackendError(f"{spec.repo_id}: config.json is not JSON ({exc})") from None
        if not isinstance(config, dict) or "model_type" not in config:
            raise BackendError(f"{spec.repo_id}: config.json names no model_type")
        meta = {"repo_id": spec.repo_id, "revision": spec.revision, "licence": spec.licence,
                "files": list(spec.files), "source": "mirror" if mirror is not None else "hub"}  # fmt: skip
        (tmp / MARKER).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        if dest.exists():  # an older or interrupted copy in our own cache
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"{name}: {spec.repo_id} ({spec.licence}) in {dest}")
    return dest


def _run_fetch(args) -> int:
    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    path = fetch_model(args.name, mirror=args.mirror, force=args.force, progress=progress)
    print(f"fetched {args.name} to {path}; animate now uses it by default")
    return 0


def _run_list(args) -> int:
    for name, spec in MODELS.items():
        path = installed_model(name)
        state = f"in {path}" if path else f"not fetched (cinemagraph3d models fetch {name})"
        print(f"{name}: {spec.repo_id}@{spec.revision}, {spec.licence}: {spec.description}; {state}")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``models`` sub-command (``fetch``, ``list``) to the main parser's ``subparsers``."""
    p = subparsers.add_parser(
        "models",
        help="fetch models into the local cache (the only command that downloads)",
        description="Fetch models into the local cache and list them. Nothing else in cinemagraph3d downloads.",
    )
    sub = p.add_subparsers(dest="models_command", metavar="{fetch,list}", required=True)
    f = sub.add_parser(
        "fetch",
        help="download a model into the cache",
        description="Download a model into the local cache; 'depth' is Depth Anything V2 Small "
        "(Apache-2.0), which animate then uses by default.",
    )
    f.add_argument("name", choices=sorted(MODELS), help="model to fetch")
    f.add_argument("--mirror", help="copy the files from DIR/<repo_id>/ instead of the Hugging Face Hub")
    f.add_argument("--force", action="store_true", help="fetch again even when the model is in the cache")
    f.set_defaults(func=_run_fetch)
    ls = sub.add_parser("list", help="show the known models and whether they are in the cache")
    ls.set_defaults(func=_run_list)
    return p
