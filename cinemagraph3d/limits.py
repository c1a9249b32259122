"""Accepted ranges of every user setting, in one place (imports nothing heavy, so the CLI can
check its arguments before torch is loaded).

Each limit exists because a value outside it cannot give a useful video: it either exhausts
memory or time before a frame appears, or renders black/empty frames. The CLI and
:meth:`cinemagraph3d.project.Project.validate` refuse values outside them with an
:class:`~cinemagraph3d.errors.InputError` naming the setting and the range.
"""

from __future__ import annotations

__all__ = [
    "CAMERA_PATHS",
    "MAX_FRAMES",
    "MAX_LOOP_STEPS",
    "MOTION_MEMORY_BYTES",
    "FPS_RANGE",
    "AMPLITUDE_MAX",
    "FOV_RANGE",
    "MAX_SIDE_RANGE",
    "SEED_MAX",
    "SPEED_MAX",
    "DEMO_SIDE_MAX",
    "DEPTH_RANGE",
]

#: Built-in camera paths (see :mod:`cinemagraph3d.geometry.trajectory`).
CAMERA_PATHS = ("circle", "swing", "up-down", "side", "zoom-in", "dolly-zoom", "static")
#: Output frames of one video (10 000: 5.5 minutes at 30 fps).
MAX_FRAMES = 10_000
#: Motion steps ``N`` of one loop.
MAX_LOOP_STEPS = 10_000
#: Memory for the integrated motion: ``16 · N · H · W`` bytes (forward and backward
#: displacements of every moving pixel for every kept step) must stay under this (8 GiB):
#: at 1280×720 that allows about 930 steps.
MOTION_MEMORY_BYTES = 8 * 1024**3
#: Frames per second, inclusive (ffmpeg cannot express rates far below 1 in its timebase).
FPS_RANGE = (1.0, 240.0)
#: Camera amplitude as a fraction of the near depth (default 0.03). At 0.1 the safe zoom already
#: crops about half of the photo away at the path's extremes; far above it the camera passes
#: beside the nearest surfaces and the frames are empty (1e6 gave black videos).
AMPLITUDE_MAX = 0.1
#: Field of view in degrees across the longer side.
FOV_RANGE = (5.0, 170.0)
#: ``max_side`` (the longer side of the working image) in pixels.
MAX_SIDE_RANGE = (8, 16384)
#: Random seeds are integers in ``[0, SEED_MAX]`` (numpy's seed range).
SEED_MAX = 2**32 - 1
#: Global and per-region speed multipliers are in ``(0, SPEED_MAX]``.
SPEED_MAX = 100.0
#: Largest side of the built-in demo scene.
DEMO_SIDE_MAX = 4096
#: z-depth values of a depth file, in its own units: finite, real and inside this range.
DEPTH_RANGE = (1e-6, 1e9)
