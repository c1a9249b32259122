"""The loaded networks of the neural preset as one object, passed to the stages that use them
(never carried inside a settings dataclass)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import WeightsError
from ..ldi.learned import INPAINT_WEIGHTS

__all__ = ["Models", "load_models", "REQUIRED", "OPTIONAL", "INPAINT_WEIGHTS"]

#: weight files (stems in the weights directory) the neural preset needs / can use.
REQUIRED = ("feature_encoder", "image_decoder")
OPTIONAL = ("motion_estimator",) + INPAINT_WEIGHTS


@dataclass(frozen=True)
class Models:
    """Loaded networks of the neural preset (all in eval mode).

    Attributes:
        encoder: feature encoder, RGBA ``(L, 4, H, W)`` → ``(L, 32, H, W)`` (used by
            :func:`cinemagraph3d.features.encode_layers`), or ``None`` (RGB points).
        decoder: image decoder, two ``(1, 37, H, W)`` maps + τ → ``(1, 3, H, W)`` (used by
            :func:`cinemagraph3d.render.decode_frame`), or ``None`` (the classic fusion and
            hole filling). Encoder and decoder come together.
        motion: motion estimator or ``None`` when its weights are absent (used by
            :func:`cinemagraph3d.motion.estimate_motion`).
        inpaint: the LDI inpainting nets (:class:`~cinemagraph3d.ldi.InpaintNets`), or ``None``
            when either of their weights is absent (the classic push–pull inpainting is used then).
    """

    encoder: torch.nn.Module | None
    decoder: torch.nn.Module | None
    motion: torch.nn.Module | None = None
    inpaint: object | None = None


def load_models(weights: str | os.PathLike, device: str | torch.device = "cpu") -> Models:
    """Load the neural preset's networks from a weights directory.

    The networks of :data:`OPTIONAL` are loaded when their files are there: the motion estimator,
    and the two inpainting nets (both needed; with only one of them a warning is given and the
    classic inpainting is used). A directory holding only ``motion_estimator`` (what stage 1 of
    ``cinemagraph3d train`` writes) gives a learned motion estimator for the classic renderer:
    ``encoder`` and ``decoder`` are then ``None``.

    Raises:
        WeightsError: naming exactly which files are missing (``<name>.safetensors`` + ``<name>.json``
            for each of :data:`REQUIRED`, when there is no motion estimator either) and how to
            produce them.
    """
    from ..ldi.learned import load_inpaint_nets
    from ..weights import load_model, missing_weights

    d = Path(weights)
    if not d.is_dir():
        raise WeightsError(f"weights: expected a directory of neural-preset weights, found {str(d)!r}")
    missing = missing_weights(d, REQUIRED)
    motion_only = len(missing) == 2 * len(REQUIRED) and not missing_weights(d, ("motion_estimator",))
    if missing and not motion_only:
        names = ", ".join(p.name for p in missing)
        raise WeightsError(
            f"weights {d}: the neural preset needs {', '.join(f'{n}.safetensors/.json' for n in REQUIRED)}; "
            f"missing {names}. Convert the official 3D-Cinemagraphy checkpoints with "
            "`cinemagraph3d convert-weights SRC_DIR DST_DIR` (model_150000.pth, sceneflow_model.pth)"
        )
    enc = dec = None
    if not motion_only:
        enc = load_model(d, "feature_encoder", device=device, expected_architecture="feature_encoder")
        dec = load_model(d, "image_decoder", device=device, expected_architecture="image_decoder")
    mot = None
    if not missing_weights(d, ("motion_estimator",)):
        mot = load_model(d, "motion_estimator", device=device, expected_architecture="motion_estimator")
    inpaint = None
    absent = missing_weights(d, INPAINT_WEIGHTS)
    if not absent:
        inpaint = load_inpaint_nets(d, device=device)
    elif len(absent) < 2 * len(INPAINT_WEIGHTS):
        warnings.warn(
            f"weights {d}: learned LDI inpainting disabled, missing {', '.join(p.name for p in absent)} "
            "(it needs depth_inpaint and color_inpaint); using the classic inpainting",
            stacklevel=2,
        )
    return Models(enc, dec, mot, inpaint)
