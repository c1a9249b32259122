"""Issue 13: fluid flowing in through the image border brings the photo's texture (mirrored)."""

from __future__ import annotations

import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.errors import InputError
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


def _smooth_scene(H: int, W: int):
    """A scene whose photo is a smooth random texture (amplitude ∝ f^-1.5, like water) at depth 3."""
    g = torch.Generator().manual_seed(5)
    spec = torch.fft.fft2(torch.randn(H, W, generator=g, dtype=torch.float64))
    fy = torch.fft.fftfreq(H, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(W, dtype=torch.float64)[None, :]
    r = torch.sqrt(fx * fx + fy * fy)
    tex = torch.fft.ifft2(spec * (r < 0.3) / r.clamp(min=1.0 / max(H, W)) ** 1.5).real
    img = (
        (0.45 + 0.08 * (tex - tex.mean()) / tex.std()).clamp(0, 1).float()[None].expand(3, H, W).contiguous()
    )
    return img, prepare_scene(img, DepthMap(torch.full((1, H, W), 3.0), True, "test"))


def _uniform_right(H: int, W: int, N: int, outside: str = "stop", speed: float = 0.7):
    mask = torch.ones(H, W, dtype=torch.bool)
    hints = MotionHints.create([[W / 2, H / 2]], [[speed, 0.0]])
    field = motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)])
    return mask, integrate_motion(field, N, outside=outside)


def test_symmetric_loop_has_no_seam_at_the_inflow_border():
    """Fluid flowing in at the left and out at the right: without ghosts the inflow strip is
    filled with unrelated texture (a tear, found by border_seams); with the ghosts and points
    that leave the image going on out of view there is none; frame 0 is the same either way."""
    H, W, N, K = 64, 112, 16, 8
    _, scene = _smooth_scene(H, W)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", K), scene.camera, 1.0, 1.0)
    seams = {}
    for ghosts, outside in ((False, "continue"), (True, "continue")):
        mask, disp = _uniform_right(H, W, N, outside)
        rs = RenderSettings(border_ghosts=ghosts)
        frames = torch.stack(list(render_frames(scene, traj, disp, N, rs)))
        seams[ghosts, outside] = float(border_seams(frames[1:], mask).max())
        assert torch.equal(frames[0], next(render_frames(scene, traj, disp, N, rs)))
    # Since the switch times flow with the fluid in both splats (point_phases sign fix) the tear
    # without ghosts is 1.42 on this smooth scene (it was above 1.5 before the fix); the ghosts
    # must keep it under the target and no worse.
    assert seams[True, "continue"] <= 1.5, seams
    assert seams[True, "continue"] <= seams[False, "continue"] + 1e-6, seams


def test_points_leaving_the_image_go_on_out_of_view():
    """With ``outside="continue"`` the fluid flowing out at the right border leaves the view: at
    t = 5 (0.8 px/step) the last column shows the photo's column W - 5; with ``"stop"`` every
    point that left piles up 0.8 px beyond the border and its footprint tints that column."""
    H, W, N = 24, 40, 8
    img, scene = _smooth_scene(H, W)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", 1), scene.camera, 1.0, 1.0)
    rs = RenderSettings(mode="forward", safe_zoom=False)
    last = {}
    for outside in ("stop", "continue"):
        _, disp = _uniform_right(H, W, N, outside, speed=0.8)
        frame = next(render_frames(scene, traj, disp, N, rs, times=[5.0]))
        last[outside] = frame[:, :, -1]
    torch.testing.assert_close(last["continue"], img[:, :, W - 5], atol=1e-4, rtol=0)
    assert float((last["stop"] - img[:, :, W - 5]).abs().max()) > 1e-3
    with pytest.raises(InputError, match="outside"):
        _uniform_right(H, W, N, "wrap")


def test_ghosts_that_never_come_near_the_image_are_dropped_without_changing_a_frame(monkeypatch):
    # Fluid flowing out through the right border and along the bottom: most of the mirrored pixels
    # stay outside the image all loop. Dropping those (margin = 2 x the largest footprint) leaves
    # every frame of a safe-zoomed camera path bit for bit as it was with all ghosts.
    H, W, N = 24, 40, 8
    img, scene = _scene(H, W)
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[8:, :] = True
    hints = MotionHints.create([[20.0, 16.0]], [[1.5, 0.2]])
    disp = integrate_motion(motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)]), N)
    every = border_ghosts(scene, disp)
    kept = border_ghosts(scene, disp, margin=8.0)
    assert every is not None and kept is not None
    assert 0 < kept.cloud.num_points < every.cloud.num_points
    traj = c3.make_trajectory(c3.TrajectorySettings("circle", 4, 0.05), scene.camera, 2.5, 3.0)
    pruned = torch.stack(list(render_frames(scene, traj, disp, N)))
    import cinemagraph3d.pipeline as pl

    real = pl.border_ghosts
    monkeypatch.setattr(
        pl, "border_ghosts", lambda sc, m, margin=None, native=None: real(sc, m, native=native)
    )
    full = torch.stack(list(render_frames(scene, traj, disp, N)))
    assert torch.equal(pruned, full)
