"""Issue 13: fluid flowing in through the image border brings the photo's texture (mirrored)."""

from __future__ import annotations

import torch

import cinemagraph3d as c3
from cinemagraph3d.eval.motion_metrics import border_seams
from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field
from cinemagraph3d.pipeline import RenderSettings, border_ghosts, prepare_scene, render_frames
from cinemagraph3d.types import DepthMap


def _scene(H=24, W=40):
    g = torch.Generator().manual_seed(2)
    img = (0.5 + 0.2 * torch.randn(3, H, W, generator=g)).clamp(0, 1)
    return img, prepare_scene(img, DepthMap(torch.full((1, H, W), 3.0), True, "test"))


def test_inflow_strip_is_the_mirrored_photo():
    H, W, N = 24, 40, 8
    img, scene = _scene(H, W)
    mask = torch.ones(H, W, dtype=torch.bool)
    field = motion_field(
        H, W, [MotionRegion(mask, MotionHints.create([[20.0, 12.0]], [[1.0, 0.0]]), turbulence=0.0)]
    )
    disp = integrate_motion(field, N)
    ghosts = border_ghosts(scene, disp)
    assert ghosts is not None and float(ghosts.cloud.pixels[:, 0].min()) < 0  # some lie left of the image
    traj = c3.make_trajectory(c3.TrajectorySettings("static", 1), scene.camera, 1.0, 1.0)
    out = {}
    for bg in (False, True):
        rs = RenderSettings(mode="forward", border_ghosts=bg, safe_zoom=False)
        out[bg] = next(render_frames(scene, traj, disp, N, rs, return_aux=True, times=[4.0]))
    # without ghosts the forward splat leaves the 4-px inflow strip empty
    assert float(out[False][1].alpha[0, :, :4].max()) < 0.01
    # with them it is covered by the photo mirrored at the border: column 3 - j shows column j
    assert float(out[True][1].alpha[0, :, :4].min()) > 0.99
    for j in range(4):
        torch.testing.assert_close(out[True][0][:, :, 3 - j], img[:, :, j], atol=1e-4, rtol=0)
    # and the rest is the photo shifted by 4 px, as before
    torch.testing.assert_close(out[True][0][:, :, 4:], out[False][0][:, :, 4:])


def test_symmetric_loop_has_no_seam_at_the_inflow_border():
    H, W, N, K = 24, 40, 8, 4
    _, scene = _scene(H, W)
    mask = torch.ones(H, W, dtype=torch.bool)
    field = motion_field(
        H, W, [MotionRegion(mask, MotionHints.create([[20.0, 12.0]], [[1.0, 0.0]]), turbulence=0.0)]
    )
    disp = integrate_motion(field, N)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", K), scene.camera, 1.0, 1.0)
    seams = {}
    for bg in (False, True):
        frames = torch.stack(list(render_frames(scene, traj, disp, N, RenderSettings(border_ghosts=bg))))
        seams[bg] = float(border_seams(frames[1:], mask, band=0.3).max())
        assert torch.equal(
            frames[0], next(render_frames(scene, traj, disp, N, RenderSettings(border_ghosts=bg)))
        )
    assert seams[True] < seams[False]
