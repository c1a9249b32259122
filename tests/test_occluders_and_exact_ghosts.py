"""Fluid next to still occluders and at the border, measured with the exact motion (issue 13):
the nearer surface wins the fusion where the other splat shows what lies behind a gap, and the
evaluation's exact motion goes through the same border-ghost path as integrated motion."""

from __future__ import annotations

import math

import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.eval.baselines import zoomed_trajectory
from cinemagraph3d.eval.motion_metrics import crack_pixels
from cinemagraph3d.eval.scenes import input_truth, make_scene, video_truth
from cinemagraph3d.geometry.trajectory import TrajectorySettings, make_trajectory
from cinemagraph3d.pipeline import RenderSettings, border_ghosts, prepare_scene, render_frames
from cinemagraph3d.render.fuse import FusionSettings, fuse_bidirectional
from cinemagraph3d.render.splat import SplatResult
from cinemagraph3d.types import DepthMap


def _splat(colour: float, depth: float, h: int = 4, w: int = 6) -> SplatResult:
    return SplatResult(torch.full((3, h, w), colour), torch.full((1, h, w), depth), torch.ones(1, h, w))


def test_a_clearly_nearer_surface_wins_the_dissolve_whatever_the_switch_time():
    near, far = _splat(0.2, 2.0), _splat(0.9, 4.0)  # disparity ratio 2: far beyond 1.2 + 0.2
    late, early = 0.95, 0.05  # every pixel has switched to the backward splat / not yet
    phase = torch.full((1, 4, 6), 0.5)
    for fwd, bwd, tau, want in ((near, far, late, 0.2), (far, near, early, 0.2)):
        out = fuse_bidirectional(fwd, bwd, tau * 60, 60, 2.0, phase=phase)
        assert torch.allclose(out.features, torch.full_like(out.features, want), atol=1e-5)
        off = fuse_bidirectional(fwd, bwd, tau * 60, 60, 2.0, FusionSettings(occlusion_ratio=math.inf),
                                 phase=phase)  # fmt: skip
        assert torch.allclose(off.features, torch.full_like(off.features, 0.9), atol=1e-3)
    # surfaces at about the same depth (one fluid sheet): the switch time alone decides
    a, b = _splat(0.2, 2.0), _splat(0.9, 2.1)
    on = fuse_bidirectional(a, b, late * 60, 60, 2.0, phase=phase)
    off = fuse_bidirectional(a, b, late * 60, 60, 2.0, FusionSettings(occlusion_ratio=math.inf), phase=phase)
    assert torch.equal(on.features, off.features)


def test_bad_occlusion_ratio_is_refused_with_the_setting_named():
    for bad in (0.5, float("nan"), "1.2", True):
        with pytest.raises(InputError, match="occlusion_ratio"):
            FusionSettings(occlusion_ratio=bad)


def test_exact_motion_extends_beyond_the_image_as_its_own_pixels_move():
    scene = make_scene("lake", 64, 36, 8)
    motion = input_truth(scene).motion
    W = 64
    idx = motion.index
    assert motion.num_moving == idx.numel() > 0
    px = torch.stack([(idx % W).float() + 0.5, (idx // W).float() + 0.5], 1)
    ext = motion.extend(px)
    for n in (0, 3, 8):
        fwd = motion.forward(float(n)).reshape(2, -1)[:, idx].T
        bwd = motion.backward(float(8 - n)).reshape(2, -1)[:, idx].T
        assert torch.allclose(ext.forward_states[n], fwd, atol=1e-4)
        assert torch.allclose(ext.backward_states[n], bwd, atol=1e-4)
    # beyond the left border the water continues: a source there moves right, as the border pixel
    row = int(idx[-1] // W)
    out = motion.extend(torch.tensor([[-3.5, row + 0.5], [0.5, row + 0.5]]))
    assert out.forward_states[8][0, 0] > 0.5
    assert math.isclose(float(out.forward_states[8][0, 0]), float(out.forward_states[8][1, 0]), rel_tol=0.2)
    with pytest.raises(InputError, match="sources"):
        motion.extend(torch.zeros(3))


def test_water_flowing_past_a_rock_and_in_through_the_border_leaves_no_crack():
    """The lake (rock standing in water flowing right, in through the left border) under the
    circle camera with the exact motion: without border ghosts and the nearer-surface rule the
    inflow and the water behind the rock leave uncovered pixels; with them none."""
    K, N = 8, 16
    an = make_scene("lake", 128, 72, N, 1.5)
    inp = input_truth(an)
    sc = prepare_scene(inp.image, DepthMap(inp.depth, metric=True, source="analytic"), inp.camera)
    assert border_ghosts(sc, inp.motion) is not None
    tr = make_trajectory(TrajectorySettings("circle", K, 0.03), inp.camera, sc.z_near, sc.z_subject)
    tr = zoomed_trajectory(sc, tr)  # as the evaluation: the view stays inside the photo
    truth = video_truth(an, tr, supersample=1)
    surface = truth.regions[:, 0:1] | truth.regions[:, 1:2]

    def cracks(rs: RenderSettings) -> float:
        out = [a for _, a in render_frames(sc, tr, inp.motion, N, rs, return_aux=True)]
        alpha = torch.stack([a.alpha for a in out])
        return float(crack_pixels(alpha, surface, depth=truth.depth).sum())

    before = cracks(RenderSettings(border_ghosts=False, fusion=FusionSettings(occlusion_ratio=math.inf)))
    assert before > 0, before
    assert cracks(RenderSettings()) == 0
