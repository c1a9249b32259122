"""The ``neural`` preset: learned features, learned fusion + U-Net decoder, learned motion.

Every stage of the classic preset is kept; this module swaps three of them:

- features: the :class:`~cinemagraph3d.models.FeatureEncoder` turns the RGBA LDI layers into
  32-channel maps; each point carries ``[RGB (3), features (32)]`` (``C = 35``);
- fusion and decoding: each splat gives the 37-channel map ``[RGB, alpha, features, disp]``
  (``disp`` = inverse depth min–max normalised over the scene's points), and the
  :class:`~cinemagraph3d.models.ImageDecoder` fuses the forward and backward maps with its learned
  scalar ``a`` and decodes them to RGB;
- motion (optional): the :class:`~cinemagraph3d.models.MotionEstimator` predicts the Eulerian
  field inside the mask when the user gives a region but no arrows;
- LDI inpainting (optional): when the weights directory also holds ``depth_inpaint`` and
  ``color_inpaint``, the LDI bands are filled by those nets (:mod:`cinemagraph3d.ldi.learned`)
  instead of push–pull.

Weights come from the user (``cinemagraph3d convert-weights`` or our training code); nothing is
downloaded.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import WeightsError
from .ldi import INPAINT_WEIGHTS, InpaintNets, LDISettings
from .types import LayeredDepthImage, MotionField, SplatResult

__all__ = ["NeuralPreset", "REQUIRED", "OPTIONAL", "load_neural_preset", "encode_layers", "neural_frame"]

#: weight files (stems in the weights directory) the neural preset needs / can use.
REQUIRED = ("feature_encoder", "image_decoder")
OPTIONAL = ("motion_estimator",) + INPAINT_WEIGHTS


@dataclass(frozen=True)
class NeuralPreset:
    """Loaded networks of the neural preset (all in eval mode).

    Attributes:
        encoder: feature encoder, RGBA ``(L, 4, H, W)`` → ``(L, 32, H, W)``.
        decoder: image decoder, two ``(1, 37, H, W)`` maps + τ → ``(1, 3, H, W)``.
        motion: motion estimator or ``None`` when its weights are absent.
        inpaint: the LDI inpainting nets, or ``None`` when either of their weights is absent
            (the classic push–pull inpainting is used then).
    """

    encoder: torch.nn.Module
    decoder: torch.nn.Module
    motion: torch.nn.Module | None = None
    inpaint: InpaintNets | None = None

    def ldi_settings(self, base: LDISettings | None = None) -> LDISettings:
        """``base`` (default :class:`LDISettings`) with the learned inpainting when it is loaded."""
        from dataclasses import replace

        base = base or LDISettings()
        if self.inpaint is None:
            return base
        return replace(base, inpaint="learned", inpaint_nets=self.inpaint)


def load_neural_preset(weights: str | os.PathLike, device: str | torch.device = "cpu") -> NeuralPreset:
    """Load the neural preset from a weights directory.

    The networks of :data:`OPTIONAL` are loaded when their files are there: the motion estimator,
    and the two inpainting nets (both needed; with only one of them a warning is given and the
    classic inpainting is used).

    Raises:
        WeightsError: naming exactly which files are missing (``<name>.safetensors`` + ``<name>.json``
            for each of :data:`REQUIRED`) and how to produce them.
    """
    from .ldi import load_inpaint_nets
    from .weights import load_model, missing_weights

    d = Path(weights)
    if not d.is_dir():
        raise WeightsError(f"--weights: expected a directory of neural-preset weights, found {str(d)!r}")
    missing = missing_weights(d, REQUIRED)
    if missing:
        names = ", ".join(p.name for p in missing)
        raise WeightsError(
            f"--weights {d}: the neural preset needs {', '.join(f'{n}.safetensors/.json' for n in REQUIRED)}; "
            f"missing {names}. Convert the official 3D-Cinemagraphy checkpoints with "
            "`cinemagraph3d convert-weights SRC_DIR DST_DIR` (model_150000.pth, sceneflow_model.pth)"
        )
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
            f"--weights {d}: learned LDI inpainting disabled, missing {', '.join(p.name for p in absent)} "
            "(it needs depth_inpaint and color_inpaint); using the classic inpainting",
            stacklevel=2,
        )
    return NeuralPreset(enc, dec, mot, inpaint)


@torch.no_grad()
def encode_layers(preset: NeuralPreset, ldi: LayeredDepthImage) -> torch.Tensor:
    """Per-layer point features ``(L, 35, H, W)``: the layer colour and its 32 learned channels.

    All layers are encoded as one batch (the encoder normalises with batch statistics, as the
    reference renderer does).
    """
    rgba = torch.cat([ldi.color, ldi.alpha], dim=1)
    feats = preset.encoder(rgba)
    return torch.cat([ldi.color, feats.to(ldi.color.dtype)], dim=1)


def splat_map(res: SplatResult, disp_range: tuple[float, float]) -> torch.Tensor:
    """The decoder's 37-channel input ``(1, 37, H, W)`` from a 35-channel splat.

    Layout ``[RGB, alpha, 32 features, disp]`` with ``disp = (1/D - lo) / (hi - lo)`` (0 where
    nothing landed), ``(lo, hi)`` the inverse-depth range of the scene's points.
    """
    lo, hi = disp_range
    inv = torch.where(res.depth > 0, 1.0 / res.depth.clamp(min=1e-12), torch.zeros_like(res.depth))
    disp = torch.where(res.depth > 0, (inv - lo) / max(hi - lo, 1e-12), torch.zeros_like(res.depth))
    f = res.features
    return torch.cat([f[:3], res.alpha, f[3:], disp], dim=0)[None]


@torch.no_grad()
def neural_frame(
    preset: NeuralPreset, forward: SplatResult, backward: SplatResult | None, tau: float, disp_range
) -> torch.Tensor:
    """Decode one frame ``(3, H, W)`` in [0, 1] from the forward (and backward) splats."""
    x_f = splat_map(forward, disp_range)
    x_b = x_f if backward is None else splat_map(backward, disp_range)
    return preset.decoder(x_f, x_b, float(tau))[0].clamp(0.0, 1.0)


@torch.no_grad()
def estimate_motion(
    preset: NeuralPreset, image: torch.Tensor, mask: torch.Tensor, hint: torch.Tensor | None = None
) -> MotionField:
    """Eulerian motion from the learned estimator.

    Args:
        preset: a preset with a motion estimator.
        image: ``(3, H, W)`` in [0, 1].
        mask: ``(H, W)`` bool fluid region.
        hint: optional ``(2, H, W)`` dense hint in px/step (zeros when absent).

    Returns:
        :class:`MotionField` (px/step, exactly 0 outside the mask).
    """
    if preset.motion is None:
        raise WeightsError(
            "the neural motion estimator needs motion_estimator.safetensors/.json in --weights"
        )
    m = mask.to(image.dtype)[None, None]
    h = torch.zeros(1, 2, *mask.shape, dtype=image.dtype) if hint is None else hint[None].to(image.dtype)
    flow = preset.motion.estimate(image[None], m, h)[0]
    flow = torch.where(mask[None], flow, torch.zeros_like(flow))
    return MotionField(flow.float(), mask[None].float())
