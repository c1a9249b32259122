"""The one place the training code imports pieces of the neural preset's inference path, so
stage 2 renders a training frame exactly as inference renders a frame (and a move of those
pieces during the package restructuring is fixed here only).

- :func:`decoder_input`: a 35-channel splat → the decoder's 37-channel map;
- :func:`prepare_scene`: photo + depth → LDI and point cloud (with each point's donor pixel);
- :func:`moved_clouds`: the callable ``t -> (forward points, backward points, forward stretch,
  backward stretch)`` of the renderer (fronto-parallel lifting, donors for inpainted points,
  footprints widened where the fluid stretches the surface), without the border ghosts.
"""

from __future__ import annotations

try:
    from ..render.decode import decoder_input
except ImportError:  # before the neural preset was split into render/ (issue 11)
    from ..neural import splat_map as decoder_input  # type: ignore[no-redef]

__all__ = ["decoder_input", "prepare_scene", "moved_clouds"]


def prepare_scene(image, depth, camera, ldi_settings):
    """:func:`cinemagraph3d.pipeline.prepare_scene` with RGB point features."""
    from ..pipeline import prepare_scene as _prepare

    return _prepare(image, depth, camera, ldi_settings)


def moved_clouds(scene, motion):
    """The renderer's moved clouds of ``scene`` under integrated ``motion`` (no border ghosts)."""
    from ..pipeline import _MovedClouds

    return _MovedClouds(scene, motion, None)
