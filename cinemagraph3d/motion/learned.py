"""The learned motion estimator as a motion-stage function (the network is
:class:`~cinemagraph3d.models.MotionEstimator`, loaded into :class:`~cinemagraph3d.models.Models`)."""

from __future__ import annotations

import torch

from ..errors import WeightsError
from ..types import MotionField

__all__ = ["estimate_motion"]


@torch.no_grad()
def estimate_motion(
    estimator: torch.nn.Module | None,
    image: torch.Tensor,
    mask: torch.Tensor,
    hint: torch.Tensor | None = None,
) -> MotionField:
    """Eulerian motion from the learned estimator.

    Args:
        estimator: a :class:`~cinemagraph3d.models.MotionEstimator` (``Models.motion``).
        image: ``(3, H, W)`` in [0, 1].
        mask: ``(H, W)`` bool fluid region (on ``image``'s device).
        hint: optional ``(2, H, W)`` dense hint in px/step (zeros when absent).

    Returns:
        :class:`MotionField` (px/step, exactly 0 outside the mask).

    Raises:
        WeightsError: no estimator loaded.
    """
    if estimator is None:
        raise WeightsError(
            "the neural motion estimator needs motion_estimator.safetensors/.json in the weights"
        )
    mask = mask.to(image.device)
    m = mask.to(image.dtype)[None, None]
    h = (
        torch.zeros(1, 2, *mask.shape, dtype=image.dtype, device=image.device)
        if hint is None
        else hint[None].to(device=image.device, dtype=image.dtype)
    )
    flow = estimator.estimate(image[None], m, h)[0]
    flow = torch.where(mask[None], flow, torch.zeros_like(flow))
    return MotionField(flow.float(), mask[None].float())
