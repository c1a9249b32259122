"""Weights of the neural networks: our safetensors + JSON format, and safe reading of .pth files.

Our format stores one network as two files in a directory::

    <name>.safetensors   every tensor of ``model.state_dict()`` (parameters and buffers)
    <name>.json          {"format_version": 1, "architecture": "<registry name>",
                          "config": {<hyper-parameters>}, "num_tensors": ..., "num_elements": ...,
                          "source": {...optional provenance...}}

Loading rebuilds the architecture from the JSON (:func:`cinemagraph3d.models.create_model`) and
refuses a tensor file whose names or shapes differ from that architecture, listing the missing,
unexpected and mis-shaped tensors. Foreign PyTorch checkpoints are read only with
``torch.load(weights_only=True)``; nothing ever unpickles arbitrary objects.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import InputError, WeightsError

__all__ = [
    "FORMAT_VERSION",
    "weight_paths",
    "save_model",
    "save_state_dict",
    "load_model",
    "read_torch_checkpoint",
    "check_state_dict",
    "missing_weights",
]

FORMAT_VERSION = 1
_MAX_LISTED = 30


def weight_paths(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """``(tensor file, config file)`` of network ``name`` in ``directory``."""
    d = Path(directory)
    return d / f"{name}.safetensors", d / f"{name}.json"


def missing_weights(directory: str | os.PathLike[str], names: Iterable[str]) -> list[Path]:
    """Files of the networks ``names`` that do not exist in ``directory`` (empty if all do)."""
    missing = []
    for name in names:
        missing += [p for p in weight_paths(directory, name) if not p.is_file()]
    return missing


def _listing(label: str, items: list[str]) -> str:
    shown = items[:_MAX_LISTED]
    more = f" ... and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
    return f"{label} ({len(items)}): " + ", ".join(shown) + more


def check_state_dict(
    expected: Mapping[str, torch.Tensor] | nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
) -> None:
    """Raise :class:`WeightsError` unless ``state_dict`` has exactly the expected names and shapes.

    Args:
        expected: a module (its ``state_dict()``) or a reference mapping name → tensor.
        state_dict: the tensors to check.
        source: what the tensors came from (a file name), used in the message.

    The message lists every missing, unexpected and mis-shaped tensor (up to 30 of each).
    """
    ref = expected.state_dict() if isinstance(expected, nn.Module) else expected
    missing = sorted(set(ref) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(ref))
    bad_shape = sorted(
        f"{k} {tuple(state_dict[k].shape)} != {tuple(ref[k].shape)}"
        for k in set(ref) & set(state_dict)
        if tuple(ref[k].shape) != tuple(state_dict[k].shape)
    )
    problems = []
    if missing:
        problems.append(_listing("missing tensors", missing))
    if unexpected:
        problems.append(_listing("unexpected tensors", unexpected))
    if bad_shape:
        problems.append(_listing("tensors with the wrong shape (found != expected)", bad_shape))
    if problems:
        raise WeightsError(f"{source}: refused, it does not match the architecture; " + "; ".join(problems))


def _atomic_write(path: Path, write: Any) -> None:
    """Write through ``write(tmp_path)`` then rename, so a failure leaves no partial file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    architecture: str,
    config: Mapping[str, Any],
    directory: str | os.PathLike[str],
    name: str,
    source: Mapping[str, Any] | None = None,
) -> Path:
    """Write tensors plus their JSON config in our format; return the ``.safetensors`` path.

    Prefer :func:`save_model`; this lower-level form lets the converter write without building
    the network's weights twice. Tensors are written contiguous on the CPU, dtypes unchanged.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensor_path, config_path = weight_paths(directory, name)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    meta = {
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "config": dict(config),
        "num_tensors": len(tensors),
        "num_elements": int(sum(v.numel() for v in tensors.values())),
    }
    if source:
        meta["source"] = dict(source)
    try:
        text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    except TypeError as exc:
        raise InputError("model config", "JSON-serialisable hyper-parameters", str(exc)) from None
    st_meta = {"format": "pt", "cinemagraph3d_architecture": architecture}
    _atomic_write(tensor_path, lambda p: save_file(tensors, str(p), metadata=st_meta))
    _atomic_write(config_path, lambda p: p.write_text(text, encoding="utf-8"))
    return tensor_path


def save_model(
    model: nn.Module,
    directory: str | os.PathLike[str],
    name: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> Path:
    """Save a registered network as ``<directory>/<name>.safetensors`` + ``<name>.json``.

    Args:
        model: a network built by :func:`cinemagraph3d.models.create_model` (it carries ``arch``
            and ``config``).
        directory: output directory, created if needed.
        name: file stem; defaults to the architecture name (what :func:`load_model` expects).
        source: optional provenance stored in the JSON (e.g. the converted file).

    Returns:
        Path of the ``.safetensors`` file. Both files are written atomically.
    """
    arch = getattr(model, "arch", None)
    config = getattr(model, "config", None)
    if not isinstance(arch, str) or not isinstance(config, dict):
        raise InputError(
            "model", "a network from cinemagraph3d.models.create_model (with arch and config)", type(model)
        )
    return save_state_dict(model.state_dict(), arch, config, directory, name or arch, source)


def _read_config(config_path: Path) -> dict[str, Any]:
    if not config_path.is_file():
        raise WeightsError(f"{config_path}: missing (the JSON config that goes with the .safetensors file)")
    try:
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{config_path}: unreadable JSON config ({exc})") from None
    if not isinstance(meta, dict) or not {"format_version", "architecture", "config"} <= set(meta):
        raise WeightsError(f"{config_path}: expected keys format_version, architecture, config")
    version = meta["format_version"]
    if not isinstance(version, int) or version < 1:
        raise WeightsError(f"{config_path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise WeightsError(
            f"{config_path}: format_version {version} is newer than this cinemagraph3d reads "
            f"({FORMAT_VERSION}); upgrade cinemagraph3d"
        )
    if not isinstance(meta["config"], dict):
        raise WeightsError(f"{config_path}: 'config' must be an object")
    for key, value in meta["config"].items():
        _check_config_value(config_path, key, value)
    return meta


#: Integer hyper-parameters (channel counts, layers, group sizes) must lie in this range.
CONFIG_INT_RANGE = (-1, 65536)  # -1: "none" for index-valued settings


def _check_config_value(config_path: Path, key: str, value: Any) -> None:
    import math

    lo, hi = CONFIG_INT_RANGE
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not lo <= value <= hi:
            raise WeightsError(
                f"{config_path}: config {key!r} must be an integer in [{lo}, {hi}], found {value}"
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise WeightsError(f"{config_path}: config {key!r} must be finite, found {value}")
        return
    if isinstance(value, list):
        for v in value:
            _check_config_value(config_path, key, v)
        return
    raise WeightsError(
        f"{config_path}: config {key!r} must be a number, string or list, found {type(value).__name__}"
    )


def _check_values(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse tensors of another dtype than the network's (int8, bool, ...) and NaN/inf values."""
    expected = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    for key, t in state.items():
        want = expected.get(key)
        if want is not None and t.dtype != want.dtype:
            raise WeightsError(f"{source}: tensor {key!r} is {t.dtype}, expected {want.dtype}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise WeightsError(f"{source}: tensor {key!r} holds NaN or infinite values")


def load_model(
    directory: str | os.PathLike[str],
    name: str,
    *,
    device: str | torch.device = "cpu",
    expected_architecture: str | None = None,
) -> nn.Module:
    """Load a network saved by :func:`save_model` (or written by the converter).

    Args:
        directory: directory holding ``<name>.safetensors`` and ``<name>.json``.
        name: file stem, e.g. ``"image_decoder"``.
        device: where to put the weights.
        expected_architecture: if given, refuse a file holding another architecture.

    Returns:
        The network in eval mode (batch norms with running statistics use them; spectral norms
        use their stored vectors), on ``device``.

    Raises:
        WeightsError: a file is missing or unreadable, the format is unknown or newer, or the
            tensors do not match the architecture (the message lists the differences).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .models import create_model, list_models

    tensor_path, config_path = weight_paths(directory, name)
    missing = [str(p) for p in (tensor_path, config_path) if not p.is_file()]
    if missing:
        raise WeightsError(f"weights '{name}' not found: missing {', '.join(missing)}")
    meta = _read_config(config_path)
    arch = meta["architecture"]
    if arch not in list_models():
        raise WeightsError(f"{config_path}: unknown architecture {arch!r}; known: {list_models()}")
    if expected_architecture is not None and arch != expected_architecture:
        raise WeightsError(f"{config_path}: holds a {arch!r} network, expected {expected_architecture!r}")
    try:
        model = create_model(arch, **meta["config"])
    except InputError as exc:
        raise WeightsError(f"{config_path}: invalid config for {arch}: {exc}") from None
    except (ValueError, RuntimeError, ZeroDivisionError, OverflowError, MemoryError) as exc:
        raise WeightsError(f"{config_path}: config for {arch} builds no network: {exc}") from None
    try:
        state = load_file(str(tensor_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{tensor_path}: unreadable safetensors file ({exc})") from None
    check_state_dict(model, state, str(tensor_path))
    _check_values(model, state, str(tensor_path))
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def read_torch_checkpoint(path: str | os.PathLike[str]) -> Any:
    """Read a PyTorch ``.pth``/``.pt`` file safely (``torch.load(weights_only=True)``, on the CPU).

    Only tensors and plain containers/numbers/strings are accepted; a file that needs any other
    Python class to load is refused with :class:`WeightsError` instead of being unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"{path}: cannot be read safely with torch.load(weights_only=True) ({first_line}); "
            "it may be truncated, not a PyTorch file, or hold Python objects other than tensors "
            "(re-save just its state_dict with torch.save)"
        ) from None
