"""The methods compared by the evaluation, all rendered through the same renderer.

========  ==========================================================================================
name      what it is
========  ==========================================================================================
still     the photo itself in every frame (no fluid motion, no camera motion)
2d        the photo animated by the 2-D motion only: symmetric fusion, camera ignored (no parallax)
forward   3-D: camera path and motion, forward-moved cloud only (no symmetric fusion)
full      the method: camera path and motion, forward and backward clouds fused symmetrically
========  ==========================================================================================

Every method is framed by the same zoomed intrinsics as the ground truth (the automatic safe zoom of
the camera path, see :func:`zoomed_trajectory`), so the 2-D baselines differ from the truth by
their missing motion, not by their framing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..errors import InputError
from ..geometry.trajectory import Trajectory, photo_border_points, safe_zoom
from ..pipeline import RenderSettings, Scene, render_frames

__all__ = ["METHODS", "MethodOutput", "zoomed_trajectory", "static_trajectory", "render_method"]

METHODS = ("full", "forward", "2d", "still")


@dataclass(frozen=True)
class MethodOutput:
    """Frames of one method.

    Attributes:
        frames: ``(K, 3, H, W)`` float32 in [0, 1] (after hole filling).
        alpha: ``(K, 1, H, W)`` splat coverage before hole filling.
    """

    frames: torch.Tensor
    alpha: torch.Tensor


def zoomed_trajectory(scene: Scene, trajectory: Trajectory) -> Trajectory:
    """``trajectory`` with the renderer's automatic safe zoom applied (so that the truth and
    every method see the same framing; render it with ``safe_zoom=False``)."""
    return trajectory.zoomed(safe_zoom(trajectory, photo_border_points(scene.depth.depth, scene.camera)))


def static_trajectory(trajectory: Trajectory) -> Trajectory:
    """The input camera at every frame, with ``trajectory``'s intrinsics (its zoom)."""
    n = len(trajectory)
    poses = torch.eye(4, dtype=torch.float64)[None].repeat(n, 1, 1)
    return Trajectory(poses, trajectory.K.clone(), trajectory.width, trajectory.height)


def render_method(
    name: str,
    scene: Scene,
    trajectory: Trajectory,
    motion,
    num_steps: int,
    settings: RenderSettings | None = None,
) -> MethodOutput:
    """Render one method of :data:`METHODS`.

    Args:
        name: method name.
        scene: prepared :class:`Scene` of the photo.
        trajectory: the (already zoomed) camera path.
        motion: displacements with ``forward(t)``/``backward(t)`` (ignored by ``still``).
        num_steps: loop length ``N``.
        settings: base :class:`RenderSettings` (mode and safe zoom are set per method).

    Returns:
        :class:`MethodOutput`.
    """
    base = replace(settings or RenderSettings(), safe_zoom=False)
    if name == "still":
        traj, mot, rs = static_trajectory(trajectory), None, base
    elif name == "2d":
        traj, mot, rs = static_trajectory(trajectory), motion, replace(base, mode="symmetric")
    elif name == "forward":
        traj, mot, rs = trajectory, motion, replace(base, mode="forward")
    elif name == "full":
        traj, mot, rs = trajectory, motion, replace(base, mode="symmetric")
    else:
        raise InputError("method", f"one of {', '.join(METHODS)}", repr(name))
    frames, alpha = [], []
    for frame, res in render_frames(scene, traj, mot, num_steps, rs, return_aux=True):
        frames.append(frame.detach().float().cpu())
        alpha.append(res.alpha.detach().float().cpu())
    return MethodOutput(torch.stack(frames), torch.stack(alpha))
