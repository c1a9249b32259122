"""Issue 13, cracks and flying pixels: depth steps snapped to the photo's edges, the pop-up depth
not leaking across outlines, and footprints that keep a stretched surface continuous."""

from __future__ import annotations

import math

import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.depth.edges import flying_pixels, sharpen_depth_edges
from cinemagraph3d.geometry.trajectory import Trajectory
from cinemagraph3d.render.footprint import camera_footprints, grid_neighbours


def _soft_step(h=40, w=60, edge=30, width=6, near=0.9, far=0.05):
    """A photo with a dark object left of column ``edge`` against a light sky, and a disparity
    whose step is smeared over ``width`` pixels centred on the edge (as estimators give)."""
    g = torch.Generator().manual_seed(3)
    img = torch.empty(3, h, w)
    img[:, :, :edge] = 0.25
    img[:, :, edge:] = torch.tensor([0.55, 0.7, 0.95])[:, None, None]
    img += 0.02 * torch.randn(3, h, w, generator=g)
    x = torch.arange(w, dtype=torch.float32) + 0.5
    t = ((x - (edge - width / 2)) / width).clamp(0, 1)
    disp = (near + (far - near) * t)[None].expand(h, w).contiguous()
    return img.clamp(0, 1), disp


@pytest.mark.parametrize("scale", [1, 3, 4])
def test_a_soft_depth_step_lands_on_the_colour_edge_with_no_pixel_between(scale):
    # scales 3 and 4: the photo, the smear and the window as at 4K and beyond (r = 15 and 20: the
    # window sampled every 3rd and 4th pixel, 11 × 11 samples)
    s = scale
    img, disp = _soft_step(40 * s, 60 * s, 30 * s, 6 * s)
    assert int(flying_pixels(disp, radius=3 * s).sum()) > 0  # the smear floats pixels (can fail)
    out = sharpen_depth_edges(disp, img, radius=5 * s)
    assert int(flying_pixels(out, radius=3 * s).sum()) == 0
    # every pixel has the disparity of the surface whose colour it has
    # (within 10 % of the step of the value of its side)
    edge = 30 * s
    assert float(out[:, :edge].min()) >= 0.9 - 0.085 and float(out[:, edge:].max()) <= 0.05 + 0.085


def test_snapping_keeps_slanted_textured_surfaces_and_sharp_steps_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.01, 1.0, 64)[:, None].expand(64, 48).contiguous()  # a ground plane
    tex = torch.rand(3, 64, 48, generator=g)  # strong texture is no edge
    assert torch.equal(sharpen_depth_edges(ramp, tex, radius=5), ramp)
    img, _ = _soft_step()
    sharp = torch.where(torch.arange(60)[None, :] < 30, 0.9, 0.05).expand(40, 60).contiguous()
    assert torch.equal(sharpen_depth_edges(sharp, img, radius=5), sharp)


def test_popup_depth_does_not_leak_across_a_ridge_into_the_sky():
    # a level landscape: sky above a dark ridge whose top is jagged, a ground plane below
    h, w = 96, 160
    img = torch.empty(3, h, w)
    img[:] = torch.tensor([0.5, 0.68, 0.95])[:, None, None]
    x = torch.arange(w, dtype=torch.float32)
    top = (40 + 8 * torch.sin(x / 5.0) + 4 * torch.sin(x / 1.7)).long()
    rows = torch.arange(h)[:, None]
    ridge = (rows >= top[None, :]) & (rows < 60)
    img[:, ridge] = torch.tensor([0.3, 0.32, 0.36])[:, None]
    img[:, 60:] = torch.tensor([0.35, 0.5, 0.25])[:, None, None]
    disp = 1.0 / c3.estimate_depth(img).depth[0]
    sky = (rows < top[None, :] - 1).expand(h, w)
    # sky pixels (one pixel away from the ridge's outline) are as far as the sky
    far = float(disp[sky].min())
    assert float(((disp[sky] - far) / (disp.max() - far)).max()) < 0.05
    # and the ridge (one pixel inside its outline) stands well in front of it (but for a few
    # pixels of its thinnest spikes, which the pop-up's regions miss)
    inside = (ridge & (rows > top[None, :] + 1) & (rows < 58)).expand(h, w)
    rel = (disp[inside] - far) / (disp.max() - far)
    assert float((rel < 0.1).float().mean()) < 0.01


def _slanted_plane(h=48, w=64):
    """A textured ground plane below a far wall, seen from a camera that then moves up (image
    rows of the plane spread apart by 1.5 px each: ``Δv = f·t_y·Δ(1/z)`` with ``1/z`` growing by
    ``1/(2f)`` per row)."""
    cam = c3.PinholeCamera.default(w, h)
    v = torch.arange(h, dtype=torch.float64)[:, None] + 0.5
    z = (2.0 * cam.fy / (v - cam.cy + 4.0).clamp(min=1.0)).expand(h, w).clamp(max=60.0)
    g = torch.Generator().manual_seed(1)
    img = torch.rand(3, h, w, generator=g)
    depth = c3.DepthMap(z[None].float(), metric=True, source="analytic")
    return img, depth, cam


def test_footprints_close_the_cracks_of_a_stretched_plane_and_only_there():
    img, depth, cam = _slanted_plane()
    scene = c3.prepare_scene(img, depth, cam)
    T = torch.eye(4, dtype=torch.float64)
    T[1, 3] = 1.0  # points move down by f/z pixels: the near rows spread apart
    K = cam.matrix(dtype=torch.float64)
    traj = Trajectory(T[None], K[None], cam.width, cam.height)
    alphas = {}
    for close in (False, True):
        s = c3.RenderSettings(safe_zoom=False, fill_holes=False, close_gaps=close)
        ((_, res),) = list(c3.render_frames(scene, traj, settings=s, return_aux=True))
        alphas[close] = res.alpha[0]
    inner = torch.zeros(cam.height, cam.width, dtype=torch.bool)
    inner[26:-3, 3:-3] = True  # the plane's image, away from the wall's crease and the borders
    assert int((alphas[False][inner] < 0.5).sum()) > 10  # cracks without the gap closing
    assert int((alphas[True][inner] < 0.5).sum()) == 0
    # the input view stretches nothing: its radii are the base radii exactly
    c = scene.cloud
    nb = grid_neighbours(c.pixels, c.layer, c.points[:, 2])
    base = torch.ones(c.num_points, dtype=c.points.dtype)
    assert torch.equal(camera_footprints(c.points, K.to(c.points), nb.edges, base), base)


def test_joined_pairs_are_each_point_with_its_right_then_its_lower_neighbour():
    g = torch.Generator().manual_seed(1)
    H, W = 9, 13
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    px = torch.stack([xx.reshape(-1) + 0.5, yy.reshape(-1) + 0.5], 1).float()
    depth = 1.0 + (torch.rand(H * W, generator=g) > 0.8).float() * 2.0  # some jumps
    nb = grid_neighbours(px, torch.zeros(H * W, dtype=torch.long), depth)
    want = []
    for k in (0, 2):  # (point, right neighbour) pairs first, then (point, lower neighbour)
        src = [p for p in range(H * W) if nb.connected[k, p]]
        want += [(p, int(nb.index[k, p])) for p in src]
    assert [tuple(e) for e in nb.edges.T.tolist()] == want
    assert 0 < len(want) < 2 * H * W


def test_neighbours_are_not_joined_across_a_depth_jump():
    px = torch.tensor([[0.5, 0.5], [1.5, 0.5], [2.5, 0.5]])
    nb = grid_neighbours(px, torch.zeros(3, dtype=torch.long), torch.tensor([1.0, 1.05, 3.0]))
    assert nb.connected[0].tolist() == [True, False, False]  # right: 0-1 joined, 1-2 a jump
    # a far neighbour landing 3 px away widens the footprint to 3; a jump never does
    pts = torch.tensor([[0.0, 0.0, 1.0], [3.0, 0.0, 1.0], [6.0, 0.0, 1.0]])
    K = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1]])
    r = camera_footprints(pts, K, nb.edges, torch.ones(3))
    assert r.tolist() == [3.0, 3.0, 1.0]
    assert math.isfinite(float(r.sum()))


def test_resampling_compensation_is_the_three_tap_sharpening_then_the_interpolation():
    # a textured fronto-parallel plane seen from a camera moved by exactly half a pixel
    h, w, kappa = 20, 32, 0.4
    cam = c3.PinholeCamera.default(w, h)
    img = torch.rand(3, h, w, generator=torch.Generator().manual_seed(5), dtype=torch.float32)
    depth = c3.DepthMap(torch.full((1, h, w), 2.0), metric=True, source="analytic")
    scene = c3.prepare_scene(img, depth, cam)
    T = torch.eye(4, dtype=torch.float64)
    T[0, 3] = -0.5 * 2.0 / cam.fx  # every point lands 0.5 px to the left of its pixel centre
    traj = Trajectory(T[None], cam.matrix(dtype=torch.float64)[None], w, h)
    out = {}
    for k in (0.0, kappa):
        s = c3.RenderSettings(safe_zoom=False, fill_holes=False, resample_sharpen=k)
        out[k] = next(iter(c3.render_frames(scene, traj, settings=s)))
    # the reference: 3-tap sharpening along u with a = κ f (1 − f) = κ/4, then the mean of the two
    # points that straddle each pixel (unit tents at ±0.5 px)
    a = kappa * 0.25
    sharp = img.clone()
    sharp[:, :, 1:-1] = img[:, :, 1:-1] + a * (2 * img[:, :, 1:-1] - img[:, :, :-2] - img[:, :, 2:])
    expect = 0.5 * (sharp[:, :, 1:-1] + sharp[:, :, 2:])  # pixel j sees points j and j + 1
    torch.testing.assert_close(out[kappa][:, :, 1:-2], expect[:, :, :-1].clamp(0, 1), atol=2e-4, rtol=0)
    plain = 0.5 * (img[:, :, 1:-1] + img[:, :, 2:])
    torch.testing.assert_close(out[0.0][:, :, 1:-2], plain[:, :, :-1], atol=2e-4, rtol=0)
    # and it restores detail: the high band of the compensated frame is stronger
    lap = lambda x: (2 * x[:, :, 1:-1] - x[:, :, :-2] - x[:, :, 2:]).pow(2).mean()  # noqa: E731
    assert float(lap(out[kappa])) > 1.3 * float(lap(out[0.0]))


def test_bad_snapping_settings_are_refused_with_the_setting_named():
    import pytest

    from cinemagraph3d.errors import InputError

    img, disp = _soft_step()
    for kw, name in (({"tight": 0.7}, "tight"), ({"keep": 0.0}, "keep"), ({"iterations": 0}, "iterations"),
                     ({"min_contrast": float("nan")}, "min_contrast"), ({"jump": -1.0}, "jump")):  # fmt: skip
        with pytest.raises(InputError, match=name):
            sharpen_depth_edges(disp, img, **kw)


def test_window_max_spreads_a_nan_like_max_pooling():
    from cinemagraph3d.depth.edges import _window_max

    d = torch.rand(1, 1, 9, 11)
    d[0, 0, 4, 5] = float("nan")
    out = _window_max(d, 2)
    assert torch.equal(torch.isnan(out), torch.isnan(torch.nn.functional.max_pool2d(d, 5, 1, 2)))
    assert int(torch.isnan(out).sum()) == 25
    g = torch.rand(1, 1, 6, 7, requires_grad=True)  # needs gradients: the pooling path
    _window_max(g, 1).sum().backward()
    assert g.grad is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("r", [1, 2, 5, 7])
def test_window_max_equals_the_brute_force_window(r, dtype):
    # the window maximum (OpenCV's dilation for float32/64 on the CPU, separable max pooling
    # otherwise) against the plain definition: every pixel's window clipped to the image,
    # maximum taken element by element
    from cinemagraph3d.depth.edges import _window_max

    g = torch.Generator().manual_seed(r)
    d = torch.randn(1, 1, 9, 13, generator=g).to(dtype)
    out = _window_max(d, r)[0, 0]
    assert out.dtype == dtype
    H, W = d.shape[-2:]
    for i in range(H):
        for j in range(W):
            win = d[0, 0, max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
            assert out[i, j] == win.max(), (i, j)
    assert torch.equal(-_window_max(-d, r)[0, 0], -torch.nn.functional.max_pool2d(-d, 2 * r + 1, 1, r)[0, 0])
