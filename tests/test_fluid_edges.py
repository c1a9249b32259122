"""The moving copies of a fluid's boundary pixels take the fluid's colour once they have moved:
no streak of a still rock's colour trailing into its wake (RenderSettings.clean_fluid_edges)."""

from __future__ import annotations

from dataclasses import replace

import torch

import cinemagraph3d as c3
from cinemagraph3d.motion import integrate_motion
from cinemagraph3d.pipeline import RenderSettings, _FluidEdgeColours
from cinemagraph3d.types import MotionField

H, W, N = 32, 64, 16
ROCK = (slice(10, 22), slice(20, 28))
DARK, MIX = 0.1, 0.35  # the rock, and the water pixels beside it (half rock, half water)


def _stream():
    """Bright striped water flowing right at 1 px/step around a dark, nearer, still rock; the
    water's pixels next to the rock are mixed with the rock's colour, as anti-aliasing does."""
    x = torch.arange(W, dtype=torch.float32)
    water = 0.75 + 0.15 * torch.sin(x / 2.0)[None].expand(H, W)
    img = water[None].repeat(3, 1, 1)
    rock = torch.zeros(H, W, dtype=torch.bool)
    rock[ROCK] = True
    ring = torch.nn.functional.max_pool2d(rock[None, None].float(), 3, 1, 1)[0, 0].bool() & ~rock
    img[:, rock] = DARK
    img[:, ring] = MIX
    depth = torch.full((H, W), 3.0)
    depth[rock] = 2.0
    flow = torch.zeros(2, H, W)
    flow[0] = 1.0
    flow[:, rock] = 0.0
    motion = integrate_motion(MotionField(flow, (~rock).float()[None]), N)
    return img, depth, rock, ring, motion


def _render(clean: bool):
    img, depth, rock, ring, motion = _stream()
    scene = c3.prepare_scene(img, c3.DepthMap(depth[None], True, "test"))
    traj = c3.make_trajectory(c3.TrajectorySettings("static", N), scene.camera, scene.z_near, scene.z_subject)
    rs = RenderSettings(clean_fluid_edges=clean, border_ghosts=False)
    return scene, motion, torch.stack(list(c3.render_frames(scene, traj, motion, N, rs)))


def test_boundary_points_and_their_fluid_colour():
    img, depth, rock, ring, motion = _stream()
    scene = c3.prepare_scene(img, c3.DepthMap(depth[None], True, "test"))
    ec = _FluidEdgeColours(scene, motion)
    pix = scene.cloud.pixels[ec.idx].long()
    on_ring = ring[pix[:, 1], pix[:, 0]]
    assert bool(on_ring.all()) and len(ec) == int(ring.sum())  # exactly the ring's visible points
    clean = ec.base + ec.delta
    assert float(clean.min()) >= 0.6 - 1e-5  # the water's colour (0.6 … 0.9), not the mix (0.35)
    assert float((ec.base - MIX).abs().max()) < 1e-6


def test_no_dark_streak_in_the_wake_and_frame_0_is_the_photo():
    _, _, before = _render(False)
    scene, _, after = _render(True)
    assert torch.equal(before[0], after[0])  # where nothing has moved the photo is unchanged
    torch.testing.assert_close(after[0], scene.image, atol=2e-3, rtol=0)
    wake = (slice(ROCK[0].start, ROCK[0].stop), slice(ROCK[1].stop + 3, W - 2))
    dark_before = int((before[:, :, wake[0], wake[1]].mean(1) < 0.5).sum())
    dark_after = int((after[:, :, wake[0], wake[1]].mean(1) < 0.5).sum())
    assert dark_before >= 12  # the mixed column flows downstream: a dark streak over the loop
    assert dark_after == 0, dark_after


def test_clean_edges_are_deterministic_and_off_means_before():
    a = _render(True)[2]
    b = _render(True)[2]
    assert torch.equal(a, b)
    s = RenderSettings()
    assert not s.clean_fluid_edges and replace(s, clean_fluid_edges=True).clean_fluid_edges  # opt-in
