"""Synthetic training clips from the project's analytic scenes (exact frames and flow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cinemagraph3d.eval.scenes import SCENES, input_truth, video_truth
from cinemagraph3d.geometry.trajectory import Trajectory
from cinemagraph3d.io import write_png

#: (scene, seed, speed px/step) of the synthetic clips
CLIPS = [("lake", 0, 1.0), ("falls", 1, 1.2), ("window", 2, 1.0), ("lake", 3, 0.8), ("falls", 4, 0.9)]


def static_trajectory(scene, frames: int) -> Trajectory:
    cam = scene.camera
    K = cam.matrix(dtype=torch.float64)
    return Trajectory(torch.eye(4, dtype=torch.float64).repeat(frames, 1, 1), K.repeat(frames, 1, 1),
                      cam.width, cam.height)  # fmt: skip


def write_clips(root: Path, size: int = 64, frames: int = 12, clips=CLIPS) -> list[tuple[Path, torch.Tensor]]:
    """Write each clip as a folder of PNG frames (``frames`` frames = one loop of ``frames``
    motion steps); returns ``(folder, true flow (2, H, W) px/frame)`` per clip."""
    out = []
    for i, (name, seed, speed) in enumerate(clips):
        scene = SCENES[name](size, size, frames, speed, seed)
        truth = video_truth(scene, static_trajectory(scene, frames), supersample=1)
        d = root / f"{name}{i}"
        d.mkdir(parents=True)
        for k in range(frames):
            write_png(d / f"{k:03d}.png", truth.frames[k])
        out.append((d, input_truth(scene, supersample=1).flow))
    return out


def write_static_clip(root: Path, size: int = 64, frames: int = 10) -> Path:
    """A clip whose frames are all the same picture."""
    d = root / "still"
    d.mkdir(parents=True)
    img = np.random.default_rng(5).random((3, size, size)).astype(np.float32)
    for k in range(frames):
        write_png(d / f"{k:03d}.png", torch.from_numpy(img))
    return d
