"""Learned depth back-end: Hugging Face ``transformers`` depth-estimation models (DPT, Depth Anything).

Models load from a local directory (``save_pretrained`` layout: ``config.json``, weights and
``preprocessor_config.json``) or from the local Hugging Face cache only. Nothing is downloaded
unless the caller passes ``allow_download=True`` (the command line has a flag for it), which
loads with ``local_files_only=False``; remote code is never executed
(``trust_remote_code=False``). ``transformers`` is an optional dependency, imported on first use.

Output convention: a *relative disparity* map ``(1, H, W)`` in [0, 1] at the input resolution,
larger = nearer, min-max normalised over the image (1 at the nearest pixel, 0 at the farthest).
Relative models (DPT, Depth Anything "relative") predict affine-invariant inverse depth, so only
the order and ratios of differences are meaningful; the depth stage turns it into z-depth at the
documented scale. Metric models (``depth_estimation_type == "metric"``, ZoeDepth, GLPN, Depth Pro)
predict depth, which is inverted to disparity before the same normalisation.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import BackendError, WeightsError, check

__all__ = ["HFDepthEstimator", "estimate_depth_hf"]

_METRIC_MODEL_TYPES = {"zoedepth", "glpn", "depth_pro", "prompt_depth_anything"}


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise BackendError(
            "learned depth needs the optional package 'transformers' (pip install transformers)"
        ) from None
    return transformers


class HFDepthEstimator:
    """A loaded Hugging Face depth-estimation model; call it on images to get relative disparity.

    Args:
        model_dir: a local directory written by ``save_pretrained`` (model + image processor), or
            a model id already present in the local Hugging Face cache.
        allow_download: allow fetching ``model_dir`` from the Hugging Face Hub when it is not
            available locally (off by default: nothing is downloaded).
        device: where to run the model; by default the device of each input image.

    Raises:
        BackendError: ``transformers`` is not installed.
        WeightsError: no model (or image processor) is found locally, or it is not a depth model.

    Example:
        >>> est = HFDepthEstimator("models/depth-anything-small")  # doctest: +SKIP
        >>> est(torch.rand(3, 240, 320)).shape  # doctest: +SKIP
        torch.Size([1, 240, 320])
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        allow_download: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        transformers = _import_transformers()
        source = os.fspath(model_dir)
        kwargs = {"local_files_only": not allow_download, "trust_remote_code": False}
        where = "locally" if not allow_download else "locally or on the Hugging Face Hub"
        try:
            self.model = transformers.AutoModelForDepthEstimation.from_pretrained(source, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a refused pickle, a bad config...: one typed error
            hint = "" if allow_download else " (downloading is off: pass allow_download=True to fetch it)"
            raise WeightsError(
                f"{source}: no Hugging Face depth-estimation model found {where}{hint}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        try:
            self.processor = transformers.AutoImageProcessor.from_pretrained(source, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise WeightsError(
                f"{source}: no image processor (preprocessor_config.json) found {where}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        self.model.eval()
        self.device = torch.device(device) if device is not None else None
        config = self.model.config
        self.metric = (
            getattr(config, "depth_estimation_type", None) == "metric"
            or getattr(config, "model_type", "") in _METRIC_MODEL_TYPES
        )
        self.source = source

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Estimate relative disparity.

        Args:
            image: ``(3, H, W)`` (or ``(1, 3, H, W)``) float RGB in [0, 1].
            normalize: min-max normalise to [0, 1] (see module docstring); if False, return the
                model's disparity-like output resized to ``(H, W)`` unnormalised (for metric
                models: ``1 / depth`` in 1/metres).

        Returns:
            ``(1, H, W)`` float32 relative disparity on the image's device (larger = nearer).
        """
        if image.ndim == 4 and image.shape[0] == 1:
            image = image[0]
        check(image.ndim == 3 and image.shape[0] == 3, "image", "(3, H, W) RGB tensor", tuple(image.shape))
        check(image.is_floating_point(), "image", "a float tensor in [0, 1]", image.dtype)
        h, w = image.shape[-2:]
        device = self.device or image.device
        self.model.to(device)
        pixels = image.detach().clamp(0.0, 1.0).to("cpu", torch.float32)
        inputs = self.processor(images=pixels, return_tensors="pt", do_rescale=False)
        pred = self.model(pixel_values=inputs["pixel_values"].to(device)).predicted_depth
        pred = pred.reshape(1, 1, *pred.shape[-2:]).float()
        pred = F.interpolate(pred, size=(h, w), mode="bilinear", align_corners=False)[0]
        if self.metric:
            pred = 1.0 / pred.clamp_min(1e-6)
        if normalize:
            lo, hi = pred.min(), pred.max()
            span = hi - lo
            pred = (pred - lo) / span if span > 1e-12 * max(1.0, float(hi.abs())) else torch.ones_like(pred)
        return pred.to(image.device)


def estimate_depth_hf(
    image: torch.Tensor,
    model_dir: str | os.PathLike[str],
    allow_download: bool = False,
) -> torch.Tensor:
    """Relative disparity of one image from a local Hugging Face depth model.

    Loads the model on every call; keep an :class:`HFDepthEstimator` to reuse it.

    Args:
        image: ``(3, H, W)`` float RGB in [0, 1].
        model_dir: local ``save_pretrained`` directory, or a model id in the local HF cache.
        allow_download: permit downloading ``model_dir`` from the Hub (default: never).

    Returns:
        ``(1, H, W)`` float32 relative disparity in [0, 1], 1 = nearest pixel, 0 = farthest,
        affine-invariant (see the module docstring), on the image's device.

    Raises:
        BackendError: ``transformers`` is not installed.
        WeightsError: the model is not available locally (and downloading is not allowed).
        InputError: ``image`` is not a ``(3, H, W)`` float tensor.
    """
    return HFDepthEstimator(model_dir, allow_download=allow_download)(image)
