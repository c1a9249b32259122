"""Convert the official 3D-Cinemagraphy checkpoints into our weights format.

Source files (the ``ckpts/`` folder of the official release; the folder itself or its parent can
be given)::

    model_150000.pth      dict; ['feature_net'] → feature_encoder, ['img_decoder'] → image_decoder
                          (optimizer/scheduler states and the training-only ['netD'] are ignored)
    sceneflow_model.pth   dict; ['netG'] → motion_estimator
    depth-model.pth       raw state_dict → depth_inpaint
    color-model.pth       raw state_dict → color_inpaint

Every file is read with ``torch.load(weights_only=True)``. Each network's tensors are renamed to
our layout (see ``docs/neural.md``), checked against our architecture — every source tensor must
land somewhere, every tensor of ours must be filled, shapes must agree — and written as
``<dst>/<name>.safetensors`` + ``<dst>/<name>.json``. Tensor values are copied unchanged.

Renaming rules:

* ``feature_net``: the ResNet part (``conv1``, ``bn1``, ``layer1-3``) moves under ``backbone.``.
* ``img_decoder``: ``alpha`` → ``fusion_a``; ``firstconv``/``firstprelu`` → ``stem_conv``/``stem_act``;
  ``down{i}.maxpool_conv.1.double_conv{1,2}.{0,1,2}`` → ``down{i}.{a,b}.{conv,norm,act}``;
  ``conv5.*`` → ``mid.*``; ``up{i}.conv.double_conv*`` → ``up{i}.{a,b}.*``; ``outc`` → ``head``.
* ``netG``: the ``motion_predictor.`` prefix is dropped; the old spectral-norm names
  ``weight_orig``/``weight_u``/``weight_v`` become the parametrisation names
  ``parametrizations.weight.original``/``parametrizations.weight.0._u``/``..._v`` (same values:
  in eval mode both compute ``W / (u · W v)`` from the stored vectors).
* ``color-model``: ``dec_{k}A`` → ``dec_{k}``.
* A leading ``module.`` (DataParallel) is dropped everywhere.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import InputError, WeightsError
from .weights import check_state_dict, read_torch_checkpoint, save_state_dict

__all__ = [
    "OFFICIAL_FILES",
    "NEURAL_MODELS",
    "convert_official",
    "convert_state_dict",
]

#: Official file name of each source checkpoint.
OFFICIAL_FILES: dict[str, str] = {
    "model": "model_150000.pth",
    "motion": "sceneflow_model.pth",
    "depth": "depth-model.pth",
    "color": "color-model.pth",
}


def _rename_feature(key: str) -> str:
    if key.startswith(("conv1.", "bn1.", "layer")):
        return "backbone." + key
    return key


_PART = {"0": "conv", "1": "norm", "2": "act"}
_AB = {"1": "a", "2": "b"}


def _rename_decoder(key: str) -> str:
    fixed = {
        "alpha": "fusion_a",
        "firstconv.weight": "stem_conv.weight",
        "firstprelu.weight": "stem_act.weight",
    }
    if key in fixed:
        return fixed[key]
    m = re.fullmatch(r"down(\d)\.maxpool_conv\.1\.double_conv([12])\.([012])\.(\w+)", key)
    if m:
        return f"down{m[1]}.{_AB[m[2]]}.{_PART[m[3]]}.{m[4]}"
    m = re.fullmatch(r"conv5\.double_conv([12])\.([012])\.(\w+)", key)
    if m:
        return f"mid.{_AB[m[1]]}.{_PART[m[2]]}.{m[3]}"
    m = re.fullmatch(r"up(\d)\.conv\.double_conv([12])\.([012])\.(\w+)", key)
    if m:
        return f"up{m[1]}.{_AB[m[2]]}.{_PART[m[3]]}.{m[4]}"
    if key.startswith("outc.conv."):
        return "head.conv." + key[len("outc.conv.") :]
    return key


_SPECTRAL = {
    "weight_orig": "parametrizations.weight.original",
    "weight_u": "parametrizations.weight.0._u",
    "weight_v": "parametrizations.weight.0._v",
}


def _rename_motion(key: str) -> str:
    if key.startswith("motion_predictor."):
        key = key[len("motion_predictor.") :]
    head, _, leaf = key.rpartition(".")
    if leaf in _SPECTRAL:
        return f"{head}.{_SPECTRAL[leaf]}"
    return key


def _rename_color(key: str) -> str:
    return re.sub(r"^dec_(\d)A\.", r"dec_\1.", key)


def _identity(key: str) -> str:
    return key


@dataclass(frozen=True)
class _Target:
    name: str  # our registry name and file stem
    source: str  # key of OFFICIAL_FILES
    entry: str | None  # top-level key inside the checkpoint (None: the file is the state_dict)
    rename: Callable[[str], str]


_TARGETS: tuple[_Target, ...] = (
    _Target("feature_encoder", "model", "feature_net", _rename_feature),
    _Target("image_decoder", "model", "img_decoder", _rename_decoder),
    _Target("motion_estimator", "motion", "netG", _rename_motion),
    _Target("depth_inpaint", "depth", None, _identity),
    _Target("color_inpaint", "color", None, _rename_color),
)

#: Names of the converted networks (= registry names = file stems in the destination).
NEURAL_MODELS: tuple[str, ...] = tuple(t.name for t in _TARGETS)


def _target(name: str) -> _Target:
    for t in _TARGETS:
        if t.name == name:
            return t
    raise InputError("network name", f"one of {list(NEURAL_MODELS)}", repr(name))


def _strip_module(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def convert_state_dict(
    name: str, official: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> dict[str, torch.Tensor]:
    """Rename an official state_dict to our layout and check it against our architecture.

    Args:
        name: one of :data:`NEURAL_MODELS`.
        official: the official network's state_dict (e.g. ``ckpt["feature_net"]``).
        source: description used in error messages.

    Returns:
        Our state_dict (same tensor objects, new names), for ``create_model(name)`` with its
        default configuration.

    Raises:
        WeightsError: a name collision, or missing/unexpected/mis-shaped tensors (all listed;
            unexpected ones are also given with their official names).
    """
    return _convert(_target(name), official, source)[0]


def _convert(
    target: _Target, official: Mapping[str, torch.Tensor], source: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from .models import create_model

    bad = [k for k, v in official.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{source}: entries that are not tensors: {', '.join(sorted(bad)[:30])}")
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in official.items():
        new = target.rename(_strip_module(key))
        if new in out:
            raise WeightsError(f"{source}: tensors {origin[new]!r} and {key!r} both map to {new!r}")
        out[new] = value
        origin[new] = key
    with torch.device("meta"):
        model = create_model(target.name)
    try:
        check_state_dict(model.state_dict(), out, source)
    except WeightsError as exc:
        # also report unexpected tensors under their official names, which is what the user has
        unexpected = sorted(origin[k] for k in set(out) - set(model.state_dict()))
        message = str(exc)
        if unexpected:
            message += f" [official names of the unexpected tensors: {', '.join(unexpected[:30])}]"
        raise WeightsError(message) from None
    return out, dict(model.config)


def _find(src_dirs: Sequence[Path], filename: str) -> Path | None:
    for d in src_dirs:
        if (d / filename).is_file():
            return d / filename
    if filename == OFFICIAL_FILES["model"]:
        # another training step of the same model file, e.g. model_200000.pth: take the latest
        for d in src_dirs:
            steps = sorted(d.glob("model_[0-9][0-9][0-9][0-9][0-9][0-9].pth"))
            if steps:
                return steps[-1]
    return None


def _entry(ckpt: Any, target: _Target, path: Path) -> Mapping[str, torch.Tensor]:
    if target.entry is None:
        if not isinstance(ckpt, Mapping):
            raise WeightsError(
                f"{path}: expected a state_dict (a dict of tensors), found {type(ckpt).__name__}"
            )
        return ckpt
    if not isinstance(ckpt, Mapping) or target.entry not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, Mapping) else type(ckpt).__name__
        raise WeightsError(f"{path}: expected a dict with key {target.entry!r}, found keys {keys}")
    sub = ckpt[target.entry]
    if not isinstance(sub, Mapping):
        raise WeightsError(f"{path}[{target.entry!r}]: expected a state_dict, found {type(sub).__name__}")
    return sub


def convert_official(
    src_dir: str | os.PathLike[str],
    dst_dir: str | os.PathLike[str],
    names: Iterable[str] | None = None,
) -> dict[str, Path]:
    """Convert the official 3D-Cinemagraphy checkpoints in ``src_dir`` into ``dst_dir``.

    Args:
        src_dir: directory holding the official files (or its parent containing ``ckpts/``).
        dst_dir: output directory (created if needed); existing files of the same names are
            replaced atomically.
        names: networks to convert (default: all of :data:`NEURAL_MODELS`); only the source files
            these need must exist.

    Returns:
        ``{name: path of <dst_dir>/<name>.safetensors}`` for every converted network (the JSON
        config sits beside it). Load one with ``cinemagraph3d.weights.load_model(dst_dir, name)``.

    Raises:
        WeightsError: ``src_dir`` is not a directory, source files are missing (all are named),
            a file cannot be read safely, or its tensors do not match our architectures.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise WeightsError(f"{src}: not a directory (expected the official ckpts/ folder)")
    targets = [_target(n) for n in (NEURAL_MODELS if names is None else names)]
    search = [src, src / "ckpts"]
    sources: dict[str, Path] = {}
    missing: list[str] = []
    for t in targets:
        if t.source in sources or OFFICIAL_FILES[t.source] in missing:
            continue
        found = _find(search, OFFICIAL_FILES[t.source])
        if found is None:
            missing.append(OFFICIAL_FILES[t.source])
        else:
            sources[t.source] = found
    if missing:
        needed = ", ".join(sorted({OFFICIAL_FILES[t.source] for t in targets}))
        raise WeightsError(
            f"{src}: missing {', '.join(missing)} (the conversion needs {needed} from the official "
            "3D-Cinemagraphy release, in this folder or its ckpts/ subfolder)"
        )
    written: dict[str, Path] = {}
    for source_key, path in sources.items():
        ckpt = read_torch_checkpoint(path)
        for t in (t for t in targets if t.source == source_key):
            label = f"{path}" + (f"[{t.entry!r}]" if t.entry else "")
            state, config = _convert(t, _entry(ckpt, t, path), label)
            provenance = {"converted_from": path.name, "entry": t.entry, "release": "3D-Cinemagraphy"}
            written[t.name] = save_state_dict(state, t.name, config, dst_dir, t.name, provenance)
        del ckpt
    return {t.name: written[t.name] for t in targets}


if __name__ == "__main__":  # ``python -m cinemagraph3d.convert SRC DST``: the CLI's convert-weights
    from .cli import main as _cli_main

    sys.exit(_cli_main(["convert-weights", *sys.argv[1:]]))
