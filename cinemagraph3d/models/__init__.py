"""Neural networks of the ``neural`` preset.

=====================  ==============================  =============================================
registry name          class                           role
=====================  ==============================  =============================================
``feature_encoder``    :class:`FeatureEncoder`         RGBA LDI layer → 32-channel feature map
``image_decoder``      :class:`ImageDecoder`           two splatted 37-channel maps → fused → RGB
``motion_estimator``   :class:`MotionEstimator`        image + mask + hint → Eulerian motion
``depth_inpaint``      :class:`DepthInpaintNet`        partial-conv U-Net filling LDI depth
``color_inpaint``      :class:`ColorInpaintNet`        partial-conv U-Net filling LDI colour
=====================  ==============================  =============================================

Build one with :func:`create_model` (random weights) or load trained weights with
:func:`cinemagraph3d.weights.load_model`. Architectures are described in ``docs/neural.md``.
"""

from __future__ import annotations

from .bundle import Models, load_models
from .decoder import ImageDecoder, fusion_weights
from .encoder import FeatureEncoder
from .inpaint import ColorInpaintNet, DepthInpaintNet, PartialConv2d, inpaint_color, inpaint_depth
from .motion_net import SPADE, MotionEstimator
from .registry import create_model, list_models, model_class, register_model

__all__ = [
    "Models",
    "load_models",
    "FeatureEncoder",
    "ImageDecoder",
    "MotionEstimator",
    "DepthInpaintNet",
    "ColorInpaintNet",
    "PartialConv2d",
    "SPADE",
    "fusion_weights",
    "inpaint_depth",
    "inpaint_color",
    "create_model",
    "list_models",
    "model_class",
    "register_model",
]
