"""Training both stages of the method on the user's own clips (see ``docs/training.md``).

- :func:`build_dataset` — clips → samples (frames, DIS teacher flow, motion mask, k-means
  hints, first-frame depth), safetensors + JSON index, train/validation split by clip;
- :func:`train_motion` — stage 1, the SPADE U-Net motion estimator (L_GAN + 10·L_FM + L_EPE);
- :func:`train_render` — stage 2, feature encoder + learned fusion + decoder through the
  differentiable renderer, motion estimator frozen (L_GAN + 10·L_FM + L_1 + L_perceptual).

Both run in one process (CPU or GPU) or data-parallel under ``torchrun`` (DDP, ``gloo`` on CPU,
``nccl`` on GPU), write checkpoints that ``resume`` continues exactly, and end with weights
that the neural preset loads (``load_models(RUN)``).
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "build_dataset": ".dataset",
    "BuildReport": ".dataset",
    "TrainData": ".dataset",
    "Clip": ".dataset",
    "DatasetSettings": ".settings",
    "TrainSettings": ".settings",
    "MotionTrainSettings": ".settings",
    "RenderTrainSettings": ".settings",
    "train_motion": ".motion",
    "train_render": ".render",
    "MotionTrainer": ".motion",
    "RenderTrainer": ".render",
    "MultiScaleDiscriminator": ".discriminator",
    "load_perceptual": ".losses",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals(), submodules=True)
