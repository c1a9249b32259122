"""Pipeline details against independent truth: donor flow under fluid, the LDI depth clamp
and layer counts, the forward-dolly homography, fractional scene time, tent anti-aliasing."""

import math

import numpy as np
import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.geometry.camera import pixel_grid, unproject_depth
from cinemagraph3d.geometry.trajectory import Trajectory
from cinemagraph3d.motion import integrate_motion
from cinemagraph3d.pipeline import RenderSettings, _MovedClouds
from cinemagraph3d.render.fuse import fill_holes, fuse_bidirectional
from cinemagraph3d.render.splat import native_available
from cinemagraph3d.types import MotionField, SceneFlow
from tests.conftest import psnr


def _rock_in_water(H=32, W=48):
    """Textured water plane at z = 10 with a rock (z = 2) in it; the water moves right."""
    v, u = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    img = torch.stack([0.2 + 0.1 * torch.sin(u / 2), 0.4 + 0.2 * torch.cos(v / 3), 0.7 + 0 * u])
    depth = torch.full((1, H, W), 10.0)
    rock = torch.zeros(H, W, dtype=torch.bool)
    rock[12:20, 18:28] = True
    img[:, rock] = torch.tensor([0.5, 0.3, 0.1])[:, None]
    depth[:, rock] = 2.0
    water = torch.zeros(H, W, dtype=torch.bool)
    water[4:28, 6:42] = True
    water &= ~rock  # the rock itself does not move
    flow = torch.zeros(2, H, W)
    flow[0, water] = 0.75
    flow[1, water] = 0.25 * torch.sin(u[water] / 5)
    field = MotionField(flow, water[None].float())
    # band 6 px: the whole rock (8 × 10 px) is inpainted behind
    scene = c3.prepare_scene(
        img.contiguous(), c3.DepthMap(depth, True, "test"), ldi_settings=c3.LDISettings(band=6)
    )
    return scene, water, rock, field


def test_hidden_background_follows_its_donor_displacement():
    """Issue 3 item 4: inpainted background points under the fluid move with the visible water."""
    scene, water, rock, field = _rock_in_water()
    H, W = rock.shape
    cloud, ldi = scene.cloud, scene.ldi
    hid = cloud.inpainted
    assert int(hid.sum()) > 0
    # Brute force: each hidden point's donor is a visible pixel of its own layer at the minimum
    # Euclidean distance (ties may go either way).
    yy, xx = np.mgrid[0:H, 0:W]
    for p in hid.nonzero().squeeze(1).tolist():
        k = int(cloud.layer[p])
        u, v = int(cloud.pixels[p, 0]), int(cloud.pixels[p, 1])
        vis = ldi.visible[k, 0].numpy()
        d2 = ((yy - v) ** 2 + (xx - u) ** 2)[vis]
        dv, du = divmod(int(scene.donor[p]), W)
        assert vis[dv, du], "donor is not a visible pixel of the point's layer"
        assert (dv - v) ** 2 + (du - u) ** 2 == d2.min()
    # Every hidden point of the background behind the rock has a donor in the water.
    behind = hid & rock.flatten()[cloud.pixels[:, 1].long() * W + cloud.pixels[:, 0].long()]
    assert int(behind.sum()) == int(rock.sum())  # the whole rock is inpainted behind
    assert bool(water.flatten()[scene.donor[behind]].all())

    disp = integrate_motion(field, 8)

    class Maps(SceneFlow):  # the same displacements as full maps (the generic path of the renderer)
        num_steps = disp.num_steps

        def forward(self, t):
            return disp.forward(t)

        def backward(self, t):
            return disp.backward(t)

    z = cloud.points[:, 2:3]
    f = torch.tensor([scene.camera.fx, scene.camera.fy])
    for motion in (disp, Maps()):
        moved = _MovedClouds(scene, motion)
        for t in (0.0, 3.0, 5.5, 8.0):
            fwd, bwd, _, _ = moved(t)
            for out, maps in ((fwd, disp.forward(t)), (bwd, disp.backward(t))):
                d = maps.reshape(2, -1)[:, scene.donor].T  # donor pixel's displacement
                torch.testing.assert_close(out[:, :2], cloud.points[:, :2] + d * z / f, rtol=0, atol=1e-5)
                assert torch.equal(out[:, 2], cloud.points[:, 2])
    # not vacuous: behind the rock the background really moves (forward, t = 5)
    d = disp.forward(5.0).reshape(2, -1)[:, scene.donor[behind]]
    assert float(d[0].min()) > 0.9


def _sloped_background(margin=None, H=32, W=48):
    """A fronto-parallel square at z = 2 (rows 16–27) over a background plane sloping from
    z = 4.1 (top row) to z = 2.6 (bottom row). Push–pull of the background's disparity behind the
    lower part of the square lands in front of 2·(1 + 0.5) = 3, so only the clamp keeps it there
    behind the occluder; behind the upper part the fill is farther than 3 and is kept."""
    v = torch.arange(H).float()[:, None].expand(H, W)
    depth = (2.6 + 1.5 * (H - 1 - v) / (H - 1))[None].clone()
    img = torch.stack([0.2 + 0 * v, 0.3 + 0.01 * v, 0.6 + 0 * v])
    sq = (slice(16, 28), slice(16, 32))
    depth[:, sq[0], sq[1]] = 2.0
    img[:, sq[0], sq[1]] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    kw = {} if margin is None else {"depth_margin": margin}
    ldi = c3.build_ldi(img.contiguous(), c3.DepthMap(depth, True, "test"), c3.LDISettings(max_layers=2, **kw))
    return ldi, depth, sq


def test_inpainted_depth_is_clamped_behind_the_occluder():
    ldi, depth, sq = _sloped_background()
    assert ldi.num_layers == 2
    assert bool(ldi.visible[0, 0, sq[0], sq[1]].all()) and int(ldi.visible[0].sum()) == 12 * 16
    hidden = (ldi.alpha[1, 0] > 0) & ~ldi.visible[1, 0]
    zb = ldi.depth[1, 0][hidden]
    assert bool((depth[0][hidden] == 2.0).all())  # every hidden pixel's occluder is the square
    # the documented rule: inpainted depth >= z_occluder · (1 + depth_margin) = 3.0
    assert float(zb.min()) >= 3.0 * (1 - 1e-6)
    clamped = (zb - 3.0).abs() < 1e-5
    assert 0.2 * zb.numel() < int(clamped.sum()) < zb.numel()  # the clamp decides in part
    # without a margin the same push–pull fill comes in front of 3.0 (so the test exercises it)
    ldi0, _, _ = _sloped_background(margin=0.0)
    zb0 = ldi0.depth[1, 0][hidden]
    assert 2.0 <= float(zb0.min()) < 2.9
    assert bool((zb0[clamped] < 3.0).all())
    # where the fill is farther than the clamp it is kept unchanged
    torch.testing.assert_close(zb[~clamped], zb0[~clamped])
    # a larger margin moves it further back
    ldi1, _, _ = _sloped_background(margin=1.0)
    assert float(ldi1.depth[1, 0][hidden].min()) >= 4.0 * (1 - 1e-6)


def _planes(n_planes=4, H=16, W=64):
    depths = [1.0, 2.0, 4.0, 8.0, 16.0][:n_planes]
    z = torch.empty(1, H, W)
    step = W // n_planes
    for k, d in enumerate(depths):
        z[:, :, k * step : (k + 1) * step] = d
    img = torch.rand(3, H, W, generator=torch.Generator().manual_seed(0))
    return img, c3.DepthMap(z, True, "test"), step


def _check_layers_group_planes(ldi, step, n_planes, n_layers):
    labels = ldi.labels
    assert ldi.num_layers == n_layers
    per_plane = [labels[:, k * step : (k + 1) * step] for k in range(n_planes)]
    assert all(bool((p == p[0, 0]).all()) for p in per_plane)  # a plane is never split
    lab = [int(p[0, 0]) for p in per_plane]
    assert lab == sorted(lab) and lab[0] == 0 and lab[-1] == n_layers - 1  # near → far, contiguous


def test_layer_count_settings_on_four_planes():
    """Four equal-area planes at z = 1, 2, 4, 8: normalised disparities 1, 3/7, 1/7, 0. Ward merge
    heights (scipy: sqrt(2ab/(a+b))·|c_a - c_b| for sizes a, b and centroids c) over n samples:
    {8}+{4}: sqrt(n/4)·(1/7) = 0.071√n; +{2}: sqrt(n/3)·(3/7 - 1/14) = 0.206√n;
    +{1}: sqrt(3n/8)·(1 - 4/21) = 0.496√n. The cut is distance_threshold·√n."""
    img, depth, step = _planes(4)
    h = [0.5 / 7, math.sqrt(1 / 3) * (3 / 7 - 1 / 14), math.sqrt(3 / 8) * (1 - 4 / 21)]
    assert h[1] < 0.25 < h[2]
    check = _check_layers_group_planes
    # defaults (threshold 0.25, max_layers 3): the cut lies between the last two merges → 2 layers
    check(c3.build_ldi(img, depth), step, 4, 2)
    # threshold between the first two merges: 3 clusters
    check(c3.build_ldi(img, depth, c3.LDISettings(distance_threshold=0.15)), step, 4, 3)
    # below every merge: 4 clusters, capped by max_layers
    fine = c3.LDISettings(distance_threshold=0.05)
    check(c3.build_ldi(img, depth, fine), step, 4, 3)
    check(c3.build_ldi(img, depth, c3.LDISettings(max_layers=2, distance_threshold=0.05)), step, 4, 2)
    check(c3.build_ldi(img, depth, c3.LDISettings(max_layers=4, distance_threshold=0.05)), step, 4, 4)
    check(c3.build_ldi(img, depth, c3.LDISettings(max_layers=5, distance_threshold=0.05)), step, 4, 4)
    # above every merge: one layer
    check(c3.build_ldi(img, depth, c3.LDISettings(distance_threshold=0.6)), step, 4, 1)
    img5, depth5, step5 = _planes(5, W=80)
    check(c3.build_ldi(img5, depth5, c3.LDISettings(max_layers=5, distance_threshold=0.01)), step5, 5, 5)


def _texture(u, v):
    """A smooth analytic RGB texture of pixel coordinates."""
    return torch.stack(
        [
            0.5 + 0.3 * torch.sin(2 * math.pi * u / 19.0),
            0.5 + 0.3 * torch.cos(2 * math.pi * v / 15.0),
            0.5 + 0.2 * torch.sin(2 * math.pi * (u + v) / 23.0),
        ]
    )


def test_forward_dolly_of_a_plane_is_a_scaling_about_the_principal_point():
    """Camera moving forward by c_z in front of a plane at Z: the image scales by Z / (Z - c_z)
    about the principal point. Rendered through make_trajectory ('zoom-in') and render_frames."""
    H, W, Z = 40, 56, 5.0
    uv = pixel_grid(H, W)
    img = _texture(uv[0], uv[1])
    scene = c3.prepare_scene(img, c3.DepthMap(torch.full((1, H, W), Z), True, "plane"))
    assert scene.z_near == Z
    amp = 0.1  # zoom-in: c_z = amp·z_near·(1 - cos θ)/2, frame 1 of 2 has θ = π → c_z = 0.5
    traj = c3.make_trajectory(c3.TrajectorySettings("zoom-in", 2, amp), scene.camera, Z, Z)
    assert float(traj.cam_from_world[1, 2, 3]) == -amp * Z
    frames = list(c3.render_frames(scene, traj))  # default settings: safe zoom stays 1 going forward
    assert psnr(frames[0], img) >= 40.0
    s = Z / (Z - amp * Z)
    cx, cy = scene.camera.cx, scene.camera.cy
    truth = _texture(cx + (uv[0] - cx) / s, cy + (uv[1] - cy) / s)
    # the tent footprint (radius s) low-passes the texture slightly: threshold 40 dB (measured 51)
    assert psnr(frames[1], truth) >= 40.0
    # the camera moved: against the unscaled photo the error is far larger
    assert psnr(frames[1], img) < 25.0


def test_fractional_scene_time_equals_direct_fusion():
    """5 frames over a 12-step loop render t = 0, 2.4, 4.8, 7.2, 9.6; each frame equals the fusion
    of splats of the cloud moved by F(0→t) and F(0→t−N) computed here directly."""
    scene, water, rock, field = _rock_in_water(24, 32)
    N, K = 12, 5
    disp = integrate_motion(field, N)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", K), scene.camera, 1.0, 1.0)
    lin = c3.FusionSettings(method="linear")
    frames = list(
        c3.render_frames(
            scene,
            traj,
            disp,
            N,
            RenderSettings(fusion=lin, border_ghosts=False, resample_sharpen=0.0, clean_fluid_edges=False),
        )
    )
    cloud, cam = scene.cloud, scene.camera
    Kmat = cam.matrix()
    z = cloud.points[:, 2:3]
    f = torch.tensor([cam.fx, cam.fy])
    moved = _MovedClouds(scene, disp)  # footprints widened by the fluid's stretch
    assert [k * N / K for k in range(K)] == [0.0, 2.4, 4.8, 7.2, 9.6]
    for k, frame in enumerate(frames):
        t = k * N / K
        res = []
        stretch = moved(t)[2:]
        for maps, radius in zip((disp.forward(t), disp.backward(t)), stretch):
            d = maps.reshape(2, -1)[:, scene.donor].T
            pts = cloud.points.clone()
            pts[:, :2] += d * z / f
            res.append(c3.splat_points(pts, cloud.features, cloud.alpha, radius, Kmat, cam.height, cam.width))
        fused = fuse_bidirectional(res[0], res[1], t, N, scene.z_near, lin)
        expect = fill_holes(fused.features, fused.alpha, fused.depth)[:3].clamp(0, 1)
        torch.testing.assert_close(frame, expect, rtol=0, atol=1e-5)
    # fractional t is a real in-between: frame 1 (t = 2.4) differs from t = 2 and t = 3
    other = list(c3.render_frames(scene, c3.make_trajectory(c3.TrajectorySettings("static", 2), cam, 1, 1),
                                  disp, N, times=[2.0, 3.0]))  # fmt: skip
    assert not torch.equal(frames[1], other[0]) and not torch.equal(frames[1], other[1])


def _grid_plane(H, W, shift_u, shift_v, feats):
    """Points at every pixel centre of an H×W plane at z = 1, moved by a sub-pixel shift."""
    Kd = torch.tensor([[10.0, 0, W / 2], [0, 10.0, H / 2], [0, 0, 1]], dtype=torch.float64)
    uv = pixel_grid(H, W, dtype=torch.float64).permute(1, 2, 0).reshape(-1, 2)
    uv = uv + torch.tensor([shift_u, shift_v], dtype=torch.float64)
    pts = unproject_depth(uv, torch.ones(H * W, dtype=torch.float64), Kd)
    return pts, feats.reshape(-1, feats.shape[-1]), Kd


BACKENDS = ["torch"] + (["native"] if native_available() else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_subpixel_translation_is_bilinear_resampling(backend):
    """Radius-1 tents: a grid shifted by (δu, δv) gives out[i, j] = bilinear interpolation of the
    texture at (j - δu, i - δv), i.e. Σ (1-δ) / δ weights of the two neighbours per axis."""
    H, W = 10, 12
    g = torch.Generator().manual_seed(3)
    tex = torch.rand(H, W, 2, generator=g, dtype=torch.float64)
    for du, dv in [(0.3, 0.0), (0.0, 0.7), (0.25, 0.6)]:
        pts, feats, Kd = _grid_plane(H, W, du, dv, tex)
        one = torch.ones(H * W, dtype=torch.float64)
        out = c3.splat_points(pts, feats, one, one, Kd, H, W, backend=backend)
        t = tex.numpy()
        expect = (
            (1 - du) * (1 - dv) * t[1:, 1:] + du * (1 - dv) * t[1:, :-1]
            + (1 - du) * dv * t[:-1, 1:] + du * dv * t[:-1, :-1]
        )  # fmt: skip
        got = out.features.permute(1, 2, 0).numpy()[1:, 1:]
        np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)
        np.testing.assert_allclose(out.alpha[0, 1:, 1:].numpy(), 1.0, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_silhouette_alpha_equals_coverage(backend):
    """A plane covering [0, a) × [0, b) of the image (a, b fractional) against empty space: each
    pixel's alpha is the area of the pixel the plane covers."""
    H, W = 8, 10
    for a, b in [(6.3, 5.6), (4.5, 3.25), (7.9, 2.1)]:
        cols, rows = math.floor(a), math.floor(b)
        du, dv = a - cols, b - rows  # the grid of cols×rows points shifted so its edge sits at (a, b)
        feats = torch.full((rows * cols, 1), 0.8, dtype=torch.float64)
        Kd = torch.tensor([[10.0, 0, W / 2], [0, 10.0, H / 2], [0, 0, 1]], dtype=torch.float64)
        pts = unproject_depth(
            pixel_grid(rows, cols, dtype=torch.float64).permute(1, 2, 0).reshape(-1, 2)
            + torch.tensor([du, dv], dtype=torch.float64),
            torch.ones(rows * cols, dtype=torch.float64),
            Kd,
        )
        one = torch.ones(rows * cols, dtype=torch.float64)
        out = c3.splat_points(pts, feats, one, one, Kd, H, W, backend=backend)
        # the plane starts at du, dv (its first point column is shifted too): coverage of pixel j
        # along u is |[j, j+1) ∩ [du, a)|
        cu = np.clip(np.minimum(np.arange(1, W + 1), a) - np.maximum(np.arange(W), du), 0, 1)
        cv = np.clip(np.minimum(np.arange(1, H + 1), b) - np.maximum(np.arange(H), dv), 0, 1)
        np.testing.assert_allclose(out.alpha[0].numpy(), cv[:, None] * cu[None, :], rtol=0, atol=1e-9)
        covered = out.alpha[0] > 0
        np.testing.assert_allclose(out.features[0][covered].numpy(), 0.8, atol=1e-12)


def _near_over_far_row(edge: float, backend=None):
    """A near plane (colour 1, z = 1) ending at ``u = edge`` over a far plane (colour 0, z = 4),
    splatted into 4×10 pixels."""
    H, W = 4, 10
    Kd = torch.tensor([[10.0, 0, W / 2], [0, 10.0, H / 2], [0, 0, 1]], dtype=torch.float64)
    uvb = pixel_grid(H, W, dtype=torch.float64).permute(1, 2, 0).reshape(-1, 2)
    back = unproject_depth(uvb, torch.full((H * W,), 4.0, dtype=torch.float64), Kd)
    n = math.floor(edge) + 1  # near points at u = edge - n + 0.5, ...: the near plane ends at edge
    uvf = pixel_grid(H, n, dtype=torch.float64).permute(1, 2, 0).reshape(-1, 2)
    uvf[:, 0] += edge - n
    front = unproject_depth(uvf, torch.full((H * n,), 1.0, dtype=torch.float64), Kd)
    pts = torch.cat([front, back])
    feats = torch.cat([torch.ones(H * n, 1), torch.zeros(H * W, 1)]).double()
    one = torch.ones(len(pts), dtype=torch.float64)
    return c3.splat_points(pts, feats, one, one, Kd, H, W, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_occlusion_edge_is_resolved_per_pixel_not_blended(backend):
    """Documents (docs/renderer.md, "Edges and anti-aliasing") what happens where a near surface
    ends over a far one: the soft z-buffer rejects the far points at every pixel the near footprint
    reaches, so the raw features there are the near colour alone with alpha = near coverage."""
    out = _near_over_far_row(4.3, backend)
    row = out.features[0, 1].numpy()
    alpha = out.alpha[0, 1].numpy()
    np.testing.assert_allclose(row[:5], 1.0)  # pixel 4 ([4, 5), 30 % near) shows the near colour
    np.testing.assert_allclose(row[5:], 0.0)
    assert abs(alpha[4] - 0.3) < 1e-9 and abs(alpha[0] - 1.0) < 1e-9  # alpha = the near coverage
    np.testing.assert_allclose(alpha[5:], 1.0)
    # the pipeline then composites that pixel over a fill (see the depth-aware fill tests below)
    filled = fill_holes(out.features.float(), out.alpha.float())[0, 1]
    assert 0.0 < float(filled[4]) < 1.0


def test_fusion_clamps_normalised_disparity_at_4():
    """docs/motion.md: disp = depth_ref / D is clamped at 4 before exp(a·disp)."""
    ones = torch.ones(1, 1, 1)
    f = c3.SplatResult(torch.zeros(1, 1, 1), 0.1 * ones, ones)  # disp 10 → clamped to 4
    b = c3.SplatResult(torch.ones(1, 1, 1), 0.2 * ones, ones)  # disp 5 → clamped to 4
    lin = c3.FusionSettings(method="linear")  # the formula of the linear cross-fade
    out = fuse_bidirectional(f, b, t=3, num_steps=12, depth_ref=1.0, settings=lin)
    torch.testing.assert_close(out.features, torch.full((1, 1, 1), 0.25))  # equal weights: X = τ
    b2 = c3.SplatResult(torch.ones(1, 1, 1), 0.5 * ones, ones)  # disp 2: not clamped
    out = fuse_bidirectional(f, b2, t=6, num_steps=12, depth_ref=1.0, settings=lin)
    wf, wb = math.exp(40.0), math.exp(20.0)
    torch.testing.assert_close(out.features, torch.full((1, 1, 1), wb / (wf + wb)))


def test_custom_trajectory_k_used_exactly_without_safe_zoom():
    """render_frames with safe_zoom=False projects with the trajectory's K as given."""
    H, W, Z = 24, 32, 4.0
    img = torch.full((3, H, W), 0.1)
    img[:, 10:12, 20:22] = 1.0  # a bright 2×2 dot centred at (21, 11)
    scene = c3.prepare_scene(img, c3.DepthMap(torch.full((1, H, W), Z), True, "plane"))
    K = torch.tensor([[0.8 * 32, 0, 15.0], [0, 0.8 * 32, 13.0], [0, 0, 1]], dtype=torch.float64)
    traj = Trajectory(torch.eye(4, dtype=torch.float64)[None], K[None], W, H)
    # no hole filling: the push–pull fill of the empty border would smear the dot's colour
    settings = RenderSettings(safe_zoom=False, fill_holes=False)
    frame = next(c3.render_frames(scene, traj, settings=settings))
    # the dot's centre (21, 11) unprojects with the photo's K and reprojects with K
    X = unproject_depth(
        torch.tensor([21.0, 11.0], dtype=torch.float64),
        torch.tensor(Z),
        scene.camera.matrix(dtype=torch.float64),
    )
    u = float(K[0, 0] * X[0] / Z + K[0, 2])
    v = float(K[1, 1] * X[1] / Z + K[1, 2])
    g = (frame[0] - 0.1).clamp(min=0).double()
    vv, uu = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    cu, cv = float((g * uu).sum() / g.sum()), float((g * vv).sum() / g.sum())
    assert abs(cu - u) < 0.05 and abs(cv - v) < 0.05, ((cu, cv), (u, v))


@pytest.mark.parametrize("edge", [4.3, 4.5, 4.7])
def test_depth_aware_fill_makes_occlusion_edges_coverage_correct(edge):
    """With the splatted depth, hole filling composites the partly covered edge pixel over the far
    colour: value = near coverage (exact anti-aliasing), where the plain fill mixes both sides."""
    out = _near_over_far_row(edge)
    cover = edge - 4.0  # pixel 4 spans [4, 5)
    plain = fill_holes(out.features, out.alpha)[0, 1]
    aware = fill_holes(out.features, out.alpha, out.depth)[0, 1]
    assert abs(float(aware[4]) - cover) < 0.01
    assert float(plain[4]) > cover + 0.1  # the plain fill is biased to the near colour
    torch.testing.assert_close(aware[:4], torch.ones(4, dtype=aware.dtype))
    torch.testing.assert_close(aware[5:], torch.zeros(5, dtype=aware.dtype))
    # far_bias = 0 is the plain fill
    torch.testing.assert_close(
        fill_holes(out.features, out.alpha, out.depth, far_bias=0.0), fill_holes(out.features, out.alpha)
    )


def test_depth_aware_fill_of_empty_pixels():
    """Empty pixels (alpha 0) next to covered ones take the weighted 3×3 mean of their covered
    neighbours; those deeper inside the hole the plain push–pull; covered pixels are untouched."""
    H, W = 8, 16
    feats = torch.zeros(1, H, W)
    feats[:, :, :6] = 1.0
    alpha = torch.ones(1, H, W)
    alpha[:, :, 6:10] = 0.0  # a disoccluded gap between a near and a far surface
    depth = torch.full((1, H, W), 4.0)
    depth[:, :, :6] = 1.0
    depth[:, :, 6:10] = 0.0
    aware = fill_holes(feats, alpha, depth)
    plain = fill_holes(feats, alpha)
    torch.testing.assert_close(aware[:, :, 6], torch.ones(1, H))  # only near neighbours
    torch.testing.assert_close(aware[:, :, 9], torch.zeros(1, H))  # only far neighbours
    torch.testing.assert_close(aware[:, :, 7:9], plain[:, :, 7:9])
    torch.testing.assert_close(aware[:, :, :6], feats[:, :, :6])
    torch.testing.assert_close(aware[:, :, 10:], feats[:, :, 10:])


def test_fill_holes_rejects_bad_depth_and_bias():
    f, a = torch.zeros(1, 4, 4), torch.zeros(1, 4, 4)
    with pytest.raises(c3.InputError, match="depth"):
        fill_holes(f, a, torch.zeros(1, 3, 3))
    with pytest.raises(c3.InputError, match="far_bias"):
        fill_holes(f, a, torch.zeros(1, 4, 4), far_bias=float("nan"))


@pytest.mark.parametrize("radius", [1, 3, 7])
def test_ldi_band_dilation_is_the_euclidean_disc(radius):
    # the occlusion band behind an edge: every pixel within Euclidean distance r of the mask,
    # against the brute-force definition
    from cinemagraph3d.ldi import _dilate

    g = torch.Generator().manual_seed(radius)
    mask = torch.rand(17, 23, generator=g) > 0.97
    out = _dilate(mask, radius)
    ys, xs = torch.nonzero(mask, as_tuple=True)
    yy, xx = torch.meshgrid(torch.arange(17), torch.arange(23), indexing="ij")
    d2 = (yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2
    assert torch.equal(out, (d2 <= radius**2).any(-1))
    assert not _dilate(torch.zeros(5, 6, dtype=torch.bool), radius).any()
