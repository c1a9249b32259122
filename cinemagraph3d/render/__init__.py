"""Splatting renderer, fusion and hole filling."""

from .decode import decode_frame, decoder_input
from .fuse import FusionSettings, fill_holes, fuse_bidirectional
from .splat import SplatSettings, active_backend, native_available, splat_points

__all__ = [
    "SplatSettings",
    "splat_points",
    "active_backend",
    "native_available",
    "FusionSettings",
    "fuse_bidirectional",
    "fill_holes",
    "decode_frame",
    "decoder_input",
]
