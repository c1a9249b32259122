"""Depth back-ends (a small registry) and the relative-depth scale.

Relative depth (disparity files, the heuristic, learned estimators) is brought to the documented
scale: disparity is normalised to [0, 1] and mapped to z-depth in ``[RELATIVE_NEAR, RELATIVE_FAR]``
= [1, 20] scene units, ``z = 1 / (1/FAR + d̂ (1/NEAR - 1/FAR))``. A z-depth file keeps its units.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..limits import DEPTH_RANGE
from ..ops import box_mean
from ..types import DepthMap
from .edges import sharpen_depth_edges
from .popup import PopupSettings, popup_disparity

__all__ = [
    "DepthSettings",
    "estimate_depth",
    "register_depth_backend",
    "depth_backends",
    "depth_from_disparity",
    "load_depth_file",
    "heuristic_depth",
    "ramp_depth",
    "resolve_auto_depth",
    "LEARNED_DEPTH_HINT",
    "PopupSettings",
    "RELATIVE_NEAR",
    "RELATIVE_FAR",
]

RELATIVE_NEAR = 1.0
RELATIVE_FAR = 20.0


@dataclass(frozen=True)
class DepthSettings:
    """Settings of the depth stage.

    Attributes:
        backend: registry name: ``"auto"`` (the learned model fetched by ``cinemagraph3d models
            fetch depth`` when it is in the cache, else ``"heuristic"``; see
            :func:`resolve_auto_depth`), ``"file"``, ``"heuristic"`` (photo pop-up), ``"ramp"``
            (the previous ground ramp), ``"hf"`` (a local transformers model at ``path``).
        path: depth file (``file``) or model directory (learned back-ends).
        kind: ``"depth"`` (z-depth, units kept) or ``"disparity"`` (relative, rescaled).
        allow_download: learned back-ends may download weights only when this is True.
    """

    backend: str = "heuristic"
    path: str | None = None
    kind: str = "depth"
    allow_download: bool = False


_REGISTRY: dict[str, Callable[[torch.Tensor, DepthSettings], DepthMap]] = {}


def register_depth_backend(name: str):
    """Decorator registering ``fn(image (3,H,W), settings) -> DepthMap`` under ``name``."""

    def deco(fn):
        _REGISTRY[name] = fn
        return fn

    return deco


def depth_backends() -> list[str]:
    """Names of the registered depth back-ends."""
    return sorted(_REGISTRY)


def estimate_depth(image: torch.Tensor, settings: DepthSettings | None = None) -> DepthMap:
    """Depth of a photo with the back-end named in ``settings``.

    Args:
        image: ``(3, H, W)`` float in [0, 1].
        settings: :class:`DepthSettings` (default: the heuristic).

    Returns:
        :class:`DepthMap` with ``depth`` ``(1, H, W)`` z-depth.
    """
    settings = settings or DepthSettings()
    if settings.backend not in _REGISTRY:
        raise InputError("depth backend", f"one of {depth_backends()}", repr(settings.backend))
    return _REGISTRY[settings.backend](image, settings)


def depth_from_disparity(disp: torch.Tensor) -> torch.Tensor:
    """Relative disparity ``(1, H, W)`` (any positive scale, larger = nearer) → z-depth in
    ``[RELATIVE_NEAR, RELATIVE_FAR]`` by min–max normalisation (constant input → all ``NEAR``)."""
    lo, hi = disp.min(), disp.max()
    d = (disp - lo) / (hi - lo) if hi > lo else torch.ones_like(disp)
    inv = 1.0 / RELATIVE_FAR + d * (1.0 / RELATIVE_NEAR - 1.0 / RELATIVE_FAR)
    return 1.0 / inv


def _read_depth_array(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif suffix == ".exr":
            os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
            import cv2

            arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
            if arr is None:
                raise ValueError("OpenCV could not decode it (EXR support missing?)")
        else:
            import cv2

            # OpenCV keeps 16-bit PNG/TIFF values and fails fast on a file that is no image
            # (imageio would try each of its ~30 plugins in turn first).
            arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if arr is None:
                raise ValueError("not an image OpenCV can decode")
            if arr.ndim == 3 and arr.shape[2] >= 3:
                arr = arr[:, :, [2, 1, 0, 3][: arr.shape[2]]]  # BGR(A) -> RGB(A)
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            "depth.file", "a readable .png/.npy/.exr depth file", f"{path.name}: {exc}"
        ) from None
    arr = np.asarray(arr)
    if arr.ndim == 3:
        if arr.shape[2] in (3, 4) and suffix != ".npy":
            arr = arr[:, :, 0]  # grey stored as RGB
        elif arr.shape[0] == 1:
            arr = arr[0]
        elif arr.shape[2] == 1:
            arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError("depth.file", "a single-channel (H, W) depth map", f"array of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError("depth.file", "real numeric depth values", f"dtype {arr.dtype}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InputError("depth.file", "a map of at least 2×2 values", f"shape {arr.shape}")
    return arr.astype(np.float64)


def load_depth_file(path: str | os.PathLike, height: int, width: int, kind: str = "depth") -> DepthMap:
    """Read a depth or disparity map and bring it to the image size.

    Size rule: a map of a different size is resized (bilinear on disparity) when its aspect ratio
    matches the image's within 2 %; otherwise it is an error. Values must be finite; z-depth must be
    > 0 everywhere; disparity must be >= 0 (zero = infinitely far, clamped to the far plane).

    Args:
        path: ``.png`` (8/16-bit), ``.npy`` or ``.exr`` file.
        height, width: image size in pixels.
        kind: ``"depth"`` (z-depth; units kept, ``metric=True``) or ``"disparity"`` (relative,
            mapped to the documented scale).

    Returns:
        :class:`DepthMap` ``(1, H, W)``.
    """
    if kind not in ("depth", "disparity"):
        raise InputError("depth.kind", "'depth' or 'disparity'", repr(kind))
    path = Path(path)
    if not path.is_file():
        raise InputError("depth.file", "an existing depth file", f"no file at {str(path)!r}")
    arr = _read_depth_array(path)
    if not np.isfinite(arr).all():
        raise InputError("depth.file", "finite values", f"{int((~np.isfinite(arr)).sum())} NaN/inf values")
    if kind == "depth" and arr.min() <= 0:
        raise InputError("depth.file", "z-depth > 0 everywhere", f"minimum {arr.min():g}")
    lo, hi = DEPTH_RANGE
    if kind == "depth" and not (lo <= arr.min() and arr.max() <= hi):
        raise InputError(
            "depth.file", f"z-depth in [{lo:g}, {hi:g}] (its own units)", f"{arr.min():g} to {arr.max():g}"
        )
    if kind == "disparity" and not (lo <= arr.max() <= hi):
        raise InputError(
            "depth.file", f"disparity whose maximum is in [{lo:g}, {hi:g}]", f"maximum {arr.max():g}"
        )
    if kind == "disparity" and arr.min() < 0:
        raise InputError("depth.file", "disparity >= 0 everywhere", f"minimum {arr.min():g}")
    h, w = arr.shape
    if (h, w) != (height, width):
        if abs((w / h) / (width / height) - 1.0) > 0.02:
            raise InputError(
                "depth.file", f"a map with the image's aspect ratio ({width}×{height})", f"{w}×{h}"
            )
    t = torch.from_numpy(arr)[None, None]
    if kind == "depth":
        disp = 1.0 / t
        if (h, w) != (height, width):
            disp = F.interpolate(disp, size=(height, width), mode="bilinear", align_corners=False)
        return DepthMap((1.0 / disp)[0].float(), metric=True, source="file")
    if (h, w) != (height, width):
        t = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
    return DepthMap(depth_from_disparity(t[0]).float(), metric=False, source="file")


@register_depth_backend("file")
def _file_backend(image: torch.Tensor, settings: DepthSettings) -> DepthMap:
    if not settings.path:
        raise InputError("depth.file", "a depth file path for the 'file' back-end", "none")
    return load_depth_file(settings.path, image.shape[-2], image.shape[-1], settings.kind)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Edge-preserving smoothing of ``src (1, H, W)`` guided by the grey ``guide (1, H, W)``
    (He et al.'s guided filter, box windows of side ``2 radius + 1``)."""
    g, s = guide.float(), src.float()
    mg, ms = box_mean(g, radius), box_mean(s, radius)
    a = (box_mean(g * s, radius) - mg * ms) / (box_mean(g * g, radius) - mg * mg + eps)
    b = ms - a * mg
    return box_mean(a, radius) * g + box_mean(b, radius)


def heuristic_depth(image: torch.Tensor, settings: PopupSettings | None = None) -> DepthMap:
    """Training-free "photo pop-up" depth for landscapes (relative scale, see module docstring).

    Sky farthest, a ground plane receding to the horizon, upright regions standing at the depth
    of their ground contact, thin occluders reaching in from the frame border nearest, steps on
    the image's edges; the rules and their failure cases are in
    :mod:`cinemagraph3d.depth.popup` and ``docs/pipeline.md``.

    Args:
        image: ``(3, H, W)`` float in [0, 1].
        settings: :class:`~cinemagraph3d.depth.popup.PopupSettings`.

    Returns:
        :class:`DepthMap` ``(1, H, W)`` on the relative scale.

    Example:
        >>> img = torch.rand(3, 48, 64)
        >>> heuristic_depth(img).depth.shape
        torch.Size([1, 48, 64])
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        found = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError("image", "a (3, H, W) float tensor in [0, 1]", found)
    res = popup_disparity(image, settings)
    disp = torch.from_numpy(res.disparity).to(image.device)
    disp = sharpen_depth_edges(disp, image.clamp(0, 1))[None]
    return DepthMap(depth_from_disparity(disp), metric=False, source="heuristic")


def ramp_depth(image: torch.Tensor) -> DepthMap:
    """The previous training-free depth (kept as the ``ramp`` back-end and an evaluation
    baseline): a ground ramp below a horizon, the sky far, a guided filter.

    Cues: (1) a ground-plane prior: disparity grows linearly from an estimated horizon row to the
    bottom of the frame; (2) sky: bright, low-texture, blue-or-grey pixels connected to the top
    rows are put at the far plane; (3) the result is aligned to image edges by a guided filter on
    the luminance, so depth steps follow object outlines. Fails on close-ups, indoor scenes, tilted
    horizons and objects standing above the horizon (trees and buildings are pushed back to the
    depth of the ground at their base row only approximately).

    Args:
        image: ``(3, H, W)`` float in [0, 1].

    Returns:
        :class:`DepthMap` ``(1, H, W)`` on the relative scale.
    """
    _, h, w = image.shape
    r, g, b = image[0], image[1], image[2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    # Local texture: gradient magnitude smoothed over a small window.
    gy, gx = torch.gradient(lum)
    tex = box_mean((gx.abs() + gy.abs())[None], max(1, min(h, w) // 100))[0]
    skyish = (lum > 0.45) & (b >= r - 0.02) & (tex < 0.04)
    # Keep sky pixels connected to the top rows (flood down column-wise while sky persists).
    sky = torch.cumprod(skyish.float(), dim=0) > 0 if skyish[0].any() else torch.zeros_like(skyish)
    sky_rows = sky.float().mean(dim=1)
    below = (sky_rows < 0.05).nonzero()
    horizon = float(below[0, 0]) / h if len(below) else 0.4
    horizon = min(max(horizon, 0.15), 0.7)
    rows = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    ground = ((rows - horizon) / (1.0 - horizon)).clamp(min=0.0)[:, None].expand(h, w)
    disp = 0.05 + 0.95 * ground
    disp = torch.where(sky, torch.zeros_like(disp), disp)
    disp = guided_filter(lum[None], disp[None], radius=max(2, min(h, w) // 60), eps=1e-3)
    disp = disp.clamp(min=0.0)
    return DepthMap(depth_from_disparity(disp), metric=False, source="heuristic")


@register_depth_backend("heuristic")
def _heuristic_backend(image: torch.Tensor, settings: DepthSettings) -> DepthMap:
    return heuristic_depth(image)


@register_depth_backend("ramp")
def _ramp_backend(image: torch.Tensor, settings: DepthSettings) -> DepthMap:
    return ramp_depth(image)


#: The one line printed (through :mod:`logging`) when ``auto`` falls back to the pop-up depth.
LEARNED_DEPTH_HINT = (
    "depth: training-free pop-up depth (run `cinemagraph3d models fetch depth` once for the "
    "learned Depth Anything V2 Small, Apache-2.0)"
)
_hinted = False


def resolve_auto_depth(settings: DepthSettings) -> DepthSettings:
    """What ``backend="auto"`` runs: ``hf`` with ``settings.path`` when one is given, else ``hf``
    with the model fetched by ``cinemagraph3d models fetch depth`` when it is in the local cache
    (:func:`cinemagraph3d.model_cache.installed_model`), else the training-free ``heuristic``.
    Never downloads."""
    from ..model_cache import installed_model

    if settings.path:
        return DepthSettings("hf", settings.path, settings.kind, settings.allow_download)
    local = installed_model("depth")
    if local is not None:
        return DepthSettings("hf", str(local), settings.kind, False)
    return DepthSettings("heuristic", None, settings.kind, False)


@register_depth_backend("auto")
def _auto_backend(image: torch.Tensor, settings: DepthSettings) -> DepthMap:
    global _hinted
    chosen = resolve_auto_depth(settings)
    if chosen.backend == "heuristic" and not _hinted:
        import logging

        # a library does not print: the hint goes to the 'cinemagraph3d' logger (Python shows
        # warnings of an unconfigured logger as the bare line on stderr)
        logging.getLogger("cinemagraph3d").warning(LEARNED_DEPTH_HINT)
        _hinted = True
    return _REGISTRY[chosen.backend](image, chosen)


@register_depth_backend("hf")
def _hf_backend(image: torch.Tensor, settings: DepthSettings) -> DepthMap:
    from .learned import estimate_depth_hf  # optional learned back-end

    if not settings.path:
        raise InputError("depth.model", "a local Hugging Face depth model directory", "none")
    disp = estimate_depth_hf(image, settings.path, allow_download=settings.allow_download)
    disp = sharpen_depth_edges(disp.clamp(min=0).reshape(disp.shape[-2:]), image.clamp(0, 1))
    return DepthMap(depth_from_disparity(disp[None]), metric=False, source="hf")
