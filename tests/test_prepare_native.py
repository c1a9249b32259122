"""Parity of the native per-point pass before a splat (``cinemagraph3d._C.prepare_splat``) with
the pipeline's torch reference (``transform_points``, ``_depth_scale_radius``, the stretch and
widen factors, ``_Resampling``).

Tolerance (float32): camera-frame points within 2 units in the last place (relative 3e-7 of the
coordinate's scale): the native pass sums the 3-term dot product in double and rounds once, the
reference's ``linear`` uses BLAS in float32 with its own summation order. Radius and colours
follow the reference's order of operations, so they agree to the same relative tolerance given
those points, except where a point's projection lies within rounding of a pixel boundary
(``floor`` jumps): at most 0.1 % of the points may differ in colour, each by at most the
sharpening term itself. Whole frames through the two paths agree within 1e-5.
"""

from __future__ import annotations

import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d import pipeline
from cinemagraph3d.geometry.camera import transform_points
from cinemagraph3d.render import native_available

if not native_available():
    pytest.skip("native extension cinemagraph3d._C is not built", allow_module_level=True)

from cinemagraph3d import _C  # noqa: E402

if not hasattr(_C, "prepare_splat"):
    pytest.skip("extension built before prepare_splat existed", allow_module_level=True)


def _pose(dtype) -> torch.Tensor:
    a = 0.07
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = torch.tensor(
        [[1.0, 0.0, 0.0], [0.0, torch.cos(torch.tensor(a)), -torch.sin(torch.tensor(a))],
         [0.0, torch.sin(torch.tensor(a)), torch.cos(torch.tensor(a))]], dtype=torch.float64
    )  # fmt: skip
    T[:3, 3] = torch.tensor([0.03, -0.02, 0.05])
    return T.to(dtype)


def _inputs(P: int = 5000, C: int = 4, n_lap: int = 4000, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pts = torch.rand(P, 3, generator=g, dtype=dtype) * 2 - 1
    pts[:, 2] = 1.0 + 3.0 * torch.rand(P, generator=g, dtype=dtype)
    z0 = pts[:, 2] * (0.8 + 0.4 * torch.rand(P, generator=g, dtype=dtype))
    K = torch.tensor([[120.0, 0.0, 80.0], [0.0, 118.0, 45.0], [0.0, 0.0, 1.0]], dtype=dtype)
    stretch = 1.0 + torch.rand(P, generator=g, dtype=dtype)
    widen = 1.0 + 0.5 * torch.rand(P, generator=g, dtype=dtype)
    feats = torch.rand(P, C, generator=g, dtype=dtype)
    lap_u = torch.randn(n_lap, 3, generator=g, dtype=dtype) * 0.1
    lap_v = torch.randn(n_lap, 3, generator=g, dtype=dtype) * 0.1
    return pts, _pose(dtype), K, z0, 100.0, stretch, widen, feats, lap_u, lap_v, 0.9


def _reference(pts, T, K, z0, fx, stretch, widen, feats, lap_u, lap_v, kappa):
    cam = transform_points(T, pts)
    radius = pipeline._depth_scale_radius(K, fx, z0, cam[:, 2])
    if stretch is not None:
        radius = radius * stretch
    if widen is not None:
        radius = radius * widen
    if lap_u is not None:
        sharpen = pipeline._Resampling.__new__(pipeline._Resampling)
        sharpen.lap_u, sharpen.lap_v, sharpen.kappa = lap_u, lap_v, kappa
        feats = sharpen(feats, cam, K, radius)
    return cam, radius, feats


def _check(native, ref, dtype):
    rtol = 3e-7 if dtype == torch.float32 else 1e-15
    cam, radius, feats = native[:3]
    rcam, rradius, rfeats = ref
    scale = float(rcam.abs().max())
    torch.testing.assert_close(cam, rcam, rtol=0, atol=rtol * scale)
    torch.testing.assert_close(radius, rradius, rtol=4 * rtol, atol=0)
    bad = ~torch.isclose(feats, rfeats, rtol=4 * rtol, atol=4 * rtol).all(1)
    assert int(bad.sum()) <= max(1, int(1e-3 * feats.shape[0])), int(bad.sum())
    assert float((feats - rfeats).abs().max()) < 0.5  # a floor jump moves it by the sharpening term


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_pass_matches_the_torch_reference(dtype):
    args = _inputs(dtype=dtype)
    native = _C.prepare_splat(*args)
    _check(native, _reference(*args), dtype)
    assert native[2] is not args[7]  # sharpened into a new tensor, the input untouched
    assert torch.equal(args[7], _inputs(dtype=dtype)[7])


@pytest.mark.parametrize("drop", ["stretch", "widen", "sharpen", "all"])
def test_optional_inputs_may_be_absent(drop):
    pts, T, K, z0, fx, stretch, widen, feats, lap_u, lap_v, kappa = _inputs()
    if drop in ("stretch", "all"):
        stretch = None
    if drop in ("widen", "all"):
        widen = None
    if drop in ("sharpen", "all"):
        lap_u = lap_v = None
    args = (pts, T, K, z0, fx, stretch, widen, feats, lap_u, lap_v, kappa)
    native = _C.prepare_splat(*args)
    _check(native, _reference(*args), torch.float32)
    if lap_u is None:
        assert native[2] is feats  # nothing to sharpen: the features pass through


def test_radius_is_at_least_one_and_follows_depth():
    pts, T, K, z0, fx, *_ = _inputs()
    _, radius, _, _ = _C.prepare_splat(
        pts, T, K, z0, fx, None, None, pts.new_zeros(pts.shape[0], 1), None, None, 0.0
    )
    cam = transform_points(T, pts)
    expect = (K[0, 0] * z0 / (fx * cam[:, 2])).clamp(min=1.0)  # analytic: pixel spacing ratio
    torch.testing.assert_close(radius, expect, rtol=1e-6, atol=0)
    assert float(radius.min()) >= 1.0


def test_points_on_the_pixel_grid_keep_their_colour():
    # the photo's own view: every point projects onto a pixel centre, f (1 - f) = 0, no sharpening
    h, w, f = 20, 30, 40.0
    K = torch.tensor([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])
    v, u = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    z = torch.full((h * w,), 2.0)
    pts = torch.stack([(u.reshape(-1) - w / 2) * z / f, (v.reshape(-1) - h / 2) * z / f, z], 1)
    feats = torch.rand(h * w, 3)
    lap = torch.ones(h * w, 3)
    _, _, out, _ = _C.prepare_splat(pts, torch.eye(4), K, z, f, None, None, feats, lap, lap, 1.0)
    assert torch.equal(out, feats)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.__setitem__(0, a[0][:, :2].contiguous()), "points must be"),
        (lambda a: a.__setitem__(3, a[3][:-1]), "z0 must be"),
        (lambda a: a.__setitem__(5, a[5].double()), "stretch must be"),
        (lambda a: a.__setitem__(7, a[7][:-1]), "features must be"),
        (lambda a: a.__setitem__(9, None), "both lap_u and lap_v"),
        (lambda a: a.__setitem__(8, a[8][:, :2].contiguous()), "lap_u / lap_v"),
    ],
)
def test_bad_inputs_are_refused_with_the_name(change, message):
    args = list(_inputs(P=50, n_lap=40))
    change(args)
    with pytest.raises(RuntimeError, match=message):
        _C.prepare_splat(*args)


def test_frames_through_the_native_pass_match_the_torch_pass(monkeypatch):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field

    d = demo_scene(64, 40)
    scene = c3.prepare_scene(d.image, c3.estimate_depth(d.image))
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", 4, 0.05), scene.camera, scene.z_near, scene.z_subject
    )
    field = motion_field(
        40, 64, [MotionRegion(d.water, MotionHints(d.hints[:, :2].float(), d.hints[:, 2:].float()))]
    )
    motion = integrate_motion(field, 6)
    calls = []
    real = pipeline._native_prepare

    def counted(*a):
        out = real(*a)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(pipeline, "_native_prepare", counted)
    native = torch.stack(list(c3.render_frames(scene, traj, motion, 6)))
    assert calls and all(calls)  # the native pass did run
    monkeypatch.setattr(pipeline, "_native_prepare", lambda *a: None)
    ref = torch.stack(list(c3.render_frames(scene, traj, motion, 6)))
    assert float((native - ref).abs().max()) < 1e-5


# _C.gap_widen: the footprint widening of _GapClosing in one pass. Tolerance (float32): the
# camera-frame points are summed in double (see the module docstring), so factors agree within
# rtol 1e-5; at most 0.1 % of the points may differ more, where a gap lies within rounding of
# max_gap or of the base radius (the factor then jumps).


def _gap_scene():
    from cinemagraph3d.demo import demo_scene

    d = demo_scene(96, 64)
    return c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"))


@pytest.mark.skipif(not hasattr(_C, "gap_widen"), reason="extension built before gap_widen existed")
def test_gap_widen_matches_the_torch_reference():
    scene = _gap_scene()
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", 6, 0.08), scene.camera, scene.z_near, scene.z_subject
    )
    ref, nat = pipeline._GapClosing(scene, False), pipeline._GapClosing(scene, None)
    assert ref.native is None and nat.native is not None
    widened = 0
    for k in range(1, len(traj)):
        T, K = traj.cam_from_world[k], traj.K[k]
        a, b = nat(T, K), ref(T, K)
        assert a.shape == b.shape == (scene.cloud.num_points,) and a.dtype == b.dtype
        bad = ~torch.isclose(a, b, rtol=1e-5, atol=0.0)
        assert int(bad.sum()) <= 0.001 * a.numel()
        widened += int((b > 1.0).sum())
    assert widened > 0  # the poses do stretch the slanted ground: the comparison is not of ones


@pytest.mark.skipif(not hasattr(_C, "gap_widen"), reason="extension built before gap_widen existed")
def test_gap_widen_of_two_joined_points_is_their_gap():
    # Two points at depth 1 seen through fx = fy = 100: 0.03 apart -> a 3 px gap -> widened 3x
    # (base radius 1); 0.05 apart -> 5 px > max_gap 4 -> not widened; behind znear -> never bridges.
    K = torch.tensor([[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]])
    eye = torch.eye(4)

    def widen(dx, z1=1.0):
        pts = torch.tensor([[0.0, 0.0, 1.0], [dx, 0.0, z1]])
        nodes = torch.tensor([1, 3])
        return _C.gap_widen(pts, eye, K, 100.0, nodes, torch.tensor([[0], [1]]), 5, 1e-3, 4.0)

    w = widen(0.03)
    assert torch.allclose(w, torch.tensor([1.0, 3.0, 1.0, 3.0, 1.0]), rtol=1e-6)
    assert torch.equal(widen(0.05), torch.ones(5))
    assert torch.equal(widen(0.03, z1=-1.0), torch.ones(5))


@pytest.mark.skipif(not hasattr(_C, "gap_widen"), reason="extension built before gap_widen existed")
def test_gap_widen_refuses_pairs_outside_the_nodes():
    pts = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match="pairs must index"):
        _C.gap_widen(pts, torch.eye(4), torch.eye(3), 1.0, torch.tensor([0, 1]), torch.tensor([[0], [2]]), 2,
                     1e-3, 4.0)  # fmt: skip


def _demo_lake(camera: str = "circle", frames: int = 4):
    """The demo lake at 96×64 (exact depth): scene, a trajectory of ``frames`` and its motion over
    8 steps (the lake fills the lower ~45 % of the rows)."""
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field

    d = demo_scene(96, 64)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"))
    traj = c3.make_trajectory(c3.TrajectorySettings(camera, frames, 0.05), scene.camera, scene.z_near,
                              scene.z_subject)  # fmt: skip
    hints = MotionHints(d.hints[:, :2].float(), d.hints[:, 2:].float())
    return scene, traj, integrate_motion(motion_field(64, 96, [MotionRegion(d.water, hints)]), 8)


# The backward splat over the rows the moving points may touch (pipeline._splat_rows): the still
# points are the same in both clouds, so the frames must be the same bit for bit as with the
# backward splat over every row.


@pytest.mark.parametrize("camera", ["circle", "static"])
def test_backward_splat_on_the_moving_rows_gives_the_same_frames(monkeypatch, camera):
    scene, traj, motion = _demo_lake(camera, 5)
    spans = []
    real = pipeline._splat_rows

    def counted(scene, pts, feats, radius, K, settings, span, other):
        spans.append(span)
        return real(scene, pts, feats, radius, K, settings, span, other)

    monkeypatch.setattr(pipeline, "_splat_rows", counted)
    for settings in (pipeline.RenderSettings(), pipeline.RenderSettings(clean_fluid_edges=True)):
        spans.clear()
        rows_only = [f for f, _ in pipeline.render_frames(scene, traj, motion, 8, settings, return_aux=True)]
        assert len(spans) == len(traj)  # every frame's backward splat went through it
        lo = min(a for a, _ in spans)
        assert 0 < lo < 40  # it did leave rows out: the sky and the hills above the lake
        monkeypatch.setattr(pipeline, "_ROWS_WORTH_IT", 0.0)  # every row, as before
        spans.clear()
        every_row = [f for f, _ in pipeline.render_frames(scene, traj, motion, 8, settings, return_aux=True)]
        assert not spans
        monkeypatch.setattr(pipeline, "_ROWS_WORTH_IT", 0.85)
        for a, b in zip(rows_only, every_row):
            assert torch.equal(a, b)


def test_moving_rows_cover_the_moving_footprints():
    # One moving point at v = 20.3 px with radius 1.6 px: rows floor(18.2) = 18 .. floor(21.4) + 1 = 22
    # (bin_points' conservative range); a still point elsewhere and a moving one behind znear add none.
    pts = torch.tensor([[0.0, 0.3, 1.0], [0.0, -0.4, 1.0], [0.0, 5.0, -1.0]])
    K = torch.tensor([[100.0, 0.0, 50.0], [0.0, 100.0, -9.7], [0.0, 0.0, 1.0]])
    feats = torch.zeros(3, 3)
    z0 = pts[:, 2].clone()
    stretch = torch.tensor([1.6, 1.0, 1.0])
    moving = torch.tensor([True, False, True])
    out = _C.prepare_splat(pts, torch.eye(4), K, z0, 100.0, stretch, None, feats, None, None, 0.0, moving,
                           1e-3, 4.0)  # fmt: skip
    assert out[3].tolist() == [18, 23]
    none = _C.prepare_splat(pts, torch.eye(4), K, z0, 100.0, stretch, None, feats, None, None, 0.0,
                            torch.tensor([False, True, False]) & False, 1e-3, 4.0)  # fmt: skip
    assert none[3].tolist() == [0, 0]
    assert (
        _C.prepare_splat(pts, torch.eye(4), K, z0, 100.0, None, None, feats, None, None, 0.0)[3].numel() == 0
    )


def test_splat_rows_outside_the_range_are_zero_and_inside_exact():
    g = torch.Generator().manual_seed(3)
    P, H, W = 4000, 70, 50
    pts = torch.rand(P, 3, generator=g) * torch.tensor([1.0, 1.4, 1.0]) - torch.tensor([0.5, 0.7, -1.0])
    feats, opac = torch.rand(P, 3, generator=g), torch.rand(P, generator=g)
    rad = 0.8 + torch.rand(P, generator=g)
    K = torch.tensor([[50.0, 0.0, 25.0], [0.0, 50.0, 35.0], [0.0, 0.0, 1.0]])
    full = _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, save_for_backward=False)
    part = _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, save_for_backward=False,
                            row_begin=33, row_end=47)  # fmt: skip
    for a, b in zip(part[:3], full[:3]):
        assert torch.equal(a[:, 33:47], b[:, 33:47])
        assert float(a[:, :16].abs().max()) == 0.0 and float(a[:, 64:].abs().max()) == 0.0
    assert float(full[0][:, :16].abs().max()) > 0.0  # the rows left out do have points
    with pytest.raises(RuntimeError, match="rows"):
        _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, row_begin=10, row_end=5)
    # given another splat's planes, the rows left out are copied from them, the others computed
    other = [
        torch.rand(3, H, W, generator=g),
        torch.rand(1, H, W, generator=g),
        torch.rand(1, H, W, generator=g),
    ]
    filled = _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, save_for_backward=False,
                              row_begin=33, row_end=47, other_features=other[0], other_depth=other[1],
                              other_alpha=other[2])  # fmt: skip
    for a, b, o in zip(filled[:3], part[:3], other):
        assert torch.equal(a[:, 33:47], b[:, 33:47])
        assert torch.equal(a[:, :16], o[:, :16]) and torch.equal(a[:, 64:], o[:, 64:])
        for y in range(H):  # each row is computed (the splat's) or copied (the other's)
            assert torch.equal(a[:, y], b[:, y]) or torch.equal(a[:, y], o[:, y]), y
    with pytest.raises(RuntimeError, match="together"):
        _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, other_features=other[0])
    with pytest.raises(RuntimeError, match="depth: expected shape"):
        _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, other_features=other[0],
                         other_depth=other[1][:, :-1], other_alpha=other[2])  # fmt: skip
    with pytest.raises(RuntimeError, match="dtype"):
        _C.splat_forward(pts, feats, opac, rad, K, H, W, 1e-3, 0.2, 4.0, 1e-6, other_features=other[0].double(),
                         other_depth=other[1], other_alpha=other[2])  # fmt: skip


# Reuse (`out_points` / `out_radius` / `out_features`): the backward cloud of a frame differs
# from the forward one only at its moving points, so its pass redoes only the blocks of 64 points
# holding one, into the forward call's buffers. Truth: a fresh full call on the second cloud.


@pytest.mark.parametrize("sharpen", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reuse_redoes_the_moving_blocks_into_the_buffers_bit_for_bit(sharpen, dtype):
    pts, T, K, z0, fx, stretch, widen, feats, lap_u, lap_v, kappa = _inputs(P=5000, dtype=dtype)
    if not sharpen:
        lap_u = lap_v = None
    g = torch.Generator().manual_seed(5)
    moving = torch.zeros(5000, dtype=torch.bool)
    moving[torch.randint(0, 5000, (40,), generator=g)] = True  # scattered: ~40 of the 79 blocks
    moving[4900:] = True  # and the last (partial) block's run, as the border ghosts are
    pts2, stretch2, feats2 = pts.clone(), stretch.clone(), feats.clone()
    pts2[moving] += 0.05 * torch.randn(int(moving.sum()), 3, generator=g, dtype=dtype)
    stretch2[moving] *= 1.3
    feats2[moving] = torch.rand(int(moving.sum()), feats.shape[1], generator=g, dtype=dtype)
    common = (T, K, z0, fx)
    first = _C.prepare_splat(pts, *common, stretch, widen, feats, lap_u, lap_v, kappa, moving, 1e-3, 4.0)
    fresh = _C.prepare_splat(pts2, *common, stretch2, widen, feats2, lap_u, lap_v, kappa, moving, 1e-3, 4.0)
    bufs = [first[0], first[1], first[2] if sharpen else None]
    ptrs = [None if b is None else b.data_ptr() for b in bufs]
    assert not torch.equal(first[0], fresh[0])  # the second cloud really differs
    reused = _C.prepare_splat(pts2, *common, stretch2, widen, feats2, lap_u, lap_v, kappa, moving, 1e-3, 4.0,
                              *bufs)  # fmt: skip
    for a, b in zip(reused, fresh):
        assert torch.equal(a, b)
    assert reused[0].data_ptr() == ptrs[0] and reused[1].data_ptr() == ptrs[1]  # written in place
    if sharpen:
        assert reused[2].data_ptr() == ptrs[2]
    else:
        assert reused[2] is feats2  # nothing to sharpen: the features as given


def test_reuse_refuses_inconsistent_buffers():
    pts, T, K, z0, fx, stretch, widen, feats, lap_u, lap_v, kappa = _inputs(P=300)
    moving = torch.zeros(300, dtype=torch.bool)
    first = _C.prepare_splat(pts, T, K, z0, fx, None, None, feats, lap_u[:200], lap_v[:200], kappa, moving)
    base = (pts, T, K, z0, fx, None, None, feats, lap_u[:200], lap_v[:200], kappa)
    with pytest.raises(RuntimeError, match="reuse needs moving"):
        _C.prepare_splat(*base, None, 0.0, 0.0, first[0], first[1], first[2])
    with pytest.raises(RuntimeError, match="reuse needs moving"):  # sharpening without out_features
        _C.prepare_splat(*base, moving, 0.0, 0.0, first[0], first[1], None)
    with pytest.raises(RuntimeError, match="not the points"):
        _C.prepare_splat(*base, moving, 0.0, 0.0, pts, first[1], first[2])
    with pytest.raises(RuntimeError, match="out_radius"):
        _C.prepare_splat(*base, moving, 0.0, 0.0, first[0], first[1][:10], first[2])
    with pytest.raises(RuntimeError, match="shaped like the features output"):
        _C.prepare_splat(*base, moving, 0.0, 0.0, first[0], first[1], feats)


def test_backward_pass_reusing_the_forward_buffers_gives_the_same_frames(monkeypatch):
    scene, traj, motion = _demo_lake()
    real = pipeline._splat
    reused = []

    def spy(*a, keep=None, **k):
        if keep is not None and "prepared" in keep:
            reused.append(True)
        return real(*a, keep=keep, **k)

    def without(*a, keep=None, **k):
        return real(*a, **k)

    for settings in (pipeline.RenderSettings(), pipeline.RenderSettings(clean_fluid_edges=True)):
        reused.clear()
        monkeypatch.setattr(pipeline, "_splat", spy)
        a = [f for f, _ in pipeline.render_frames(scene, traj, motion, 8, settings, return_aux=True)]
        assert len(reused) == len(traj)  # every backward pass reused the forward buffers
        monkeypatch.setattr(pipeline, "_splat", without)
        b = [f for f, _ in pipeline.render_frames(scene, traj, motion, 8, settings, return_aux=True)]
        for x, y in zip(a, b):
            assert torch.equal(x, y)


# `extra` (P,): the features output is the (sharpened) features joined with it as the last
# channel. Truth: the same call on the features with the channel joined beforehand (the
# sharpening touches the first 3 channels only).


@pytest.mark.parametrize("sharpen", [False, True])
def test_extra_channel_is_joined_as_if_it_came_with_the_features(sharpen):
    pts, T, K, z0, fx, stretch, widen, feats, lap_u, lap_v, kappa = _inputs(P=3000, C=3, n_lap=2500)
    if not sharpen:
        lap_u = lap_v = None
    phase = torch.rand(3000, generator=torch.Generator().manual_seed(2))
    joined = torch.cat([feats, phase[:, None]], 1)
    common = (pts, T, K, z0, fx, stretch, widen)
    want = _C.prepare_splat(*common, joined, lap_u, lap_v, kappa)
    got = _C.prepare_splat(*common, feats, lap_u, lap_v, kappa, extra=phase)
    assert got[2].shape == (3000, 4)
    for a, b in zip(got[:3], want[:3]):
        assert torch.equal(a, b)
    # reused buffers take the joined shape, and only the moving blocks are redone
    moving = torch.zeros(3000, dtype=torch.bool)
    moving[1000:1100] = True
    first = _C.prepare_splat(*common, feats, lap_u, lap_v, kappa, moving, 1e-3, 4.0, extra=phase)
    phase2 = phase.clone()
    phase2[moving] = 0.25
    fresh = _C.prepare_splat(*common, feats, lap_u, lap_v, kappa, moving, 1e-3, 4.0, extra=phase2)
    again = _C.prepare_splat(*common, feats, lap_u, lap_v, kappa, moving, 1e-3, 4.0, first[0], first[1], first[2],
                             extra=phase2)  # fmt: skip
    assert again[2].data_ptr() == first[2].data_ptr()
    for a, b in zip(again, fresh):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="extra must be"):
        _C.prepare_splat(*common, feats, lap_u, lap_v, kappa, extra=phase[:10])
    with pytest.raises(RuntimeError, match="out_features must be"):
        _C.prepare_splat(*common, feats, lap_u, lap_v, kappa, moving, 1e-3, 4.0, first[0], first[1],
                         torch.empty(3000, 3), extra=phase2)  # fmt: skip


def test_phases_joined_in_the_native_pass_give_the_same_frames(monkeypatch):
    scene, traj, motion = _demo_lake()
    real_splat, real_prepare = pipeline._splat, pipeline._native_prepare
    extras = []

    def spy(*a, **k):
        extras.append(a[5].dim())
        return real_splat(*a, **k)

    monkeypatch.setattr(pipeline, "_splat", spy)
    a = list(pipeline.render_frames(scene, traj, motion, 8))
    assert extras and set(extras) == {1}  # the phases went in as (P,) channels
    # the previous way, the phases joined to the features once ((P, C + 1) each): the set-up's
    # question "does the native pass apply?" answered no, the splats' own yes
    asked = []

    def first_no(settings, pts, feats):
        asked.append(1)
        return None if len(asked) == 1 else real_prepare(settings, pts, feats)

    monkeypatch.setattr(pipeline, "_native_prepare", first_no)
    extras.clear()
    b = list(pipeline.render_frames(scene, traj, motion, 8))
    assert set(extras) == {2}
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def _random_cloud(n: int, dtype, seed: int, layers=(0, 1, 3), special: bool = True):
    g = torch.Generator().manual_seed(seed)
    px = (torch.rand(n, 2, generator=g, dtype=torch.float64) * torch.tensor([40.0, 25.0]) - 3.0).to(dtype)
    px = torch.floor(px) + 0.5
    lay = torch.tensor(layers)[torch.randint(0, len(layers), (n,), generator=g)]
    # smooth depth with steps: joined neighbours, occlusion edges and slanted runs
    depth = (2.0 + 0.05 * px[:, 0] + 3.0 * (px[:, 1] > 10).to(dtype) + lay.to(dtype)).to(dtype)
    depth = depth * (1 + 0.01 * torch.rand(n, generator=g, dtype=torch.float64).to(dtype))
    if special:
        depth[:5] = torch.tensor([float("nan"), float("inf"), 0.0, -1.0, 1e-20], dtype=dtype)
    return px, lay, depth


@pytest.mark.skipif(
    not hasattr(_C, "grid_neighbours"), reason="extension built before grid_neighbours existed"
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_neighbours_native_equals_the_torch_reference(dtype, seed):
    from cinemagraph3d.render.footprint import grid_neighbours

    # random pixels (repeats: several points at one pixel and layer), layers, NaN / inf / zero /
    # negative depths, pixels outside the photo
    px, lay, depth = _random_cloud(600, dtype, seed)
    ref = grid_neighbours(px, lay, depth, native=False)
    nat = grid_neighbours(px, lay, depth, native=True)
    assert torch.equal(nat.index, ref.index) and torch.equal(nat.connected, ref.connected)
    assert int(ref.connected.sum()) > 100  # joined and unjoined neighbours both occur
    assert int((~ref.connected).sum()) > 100


@pytest.mark.skipif(
    not hasattr(_C, "grid_neighbours"), reason="extension built before grid_neighbours existed"
)
def test_grid_neighbours_native_on_a_scene():
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.render.footprint import grid_neighbours

    d = demo_scene(96, 64)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"))
    c = scene.cloud
    ref = grid_neighbours(c.pixels, c.layer, c.points[:, 2], native=False)
    nat = grid_neighbours(c.pixels, c.layer, c.points[:, 2])
    assert torch.equal(nat.index, ref.index) and torch.equal(nat.connected, ref.connected)
    with pytest.raises(RuntimeError, match="pixels: expected dtype"):
        _C.grid_neighbours(c.pixels.double(), c.layer, c.points[:, 2].contiguous(), 0.1)


@pytest.mark.skipif(
    not hasattr(_C, "grid_neighbours"), reason="extension built before grid_neighbours existed"
)
def test_grid_neighbours_native_extreme_inputs():
    from cinemagraph3d.render.footprint import grid_neighbours

    px, lay, depth = _random_cloud(300, torch.float32, 5, special=False)
    # layer values spanning all of int64: the ranks, not the values, index the map
    ext = torch.where(
        lay == 0, torch.iinfo(torch.int64).min, torch.where(lay == 1, 0, torch.iinfo(torch.int64).max)
    )
    ref = grid_neighbours(px, ext, depth, native=False)
    nat = grid_neighbours(px, ext, depth, native=True)
    assert torch.equal(nat.index, ref.index) and torch.equal(nat.connected, ref.connected)
    # coordinates that cannot be cast to a grid are refused, not read out of bounds
    for bad in (float("nan"), float("inf"), 2.0**42):
        p = px.clone()
        p[7, 0] = bad
        with pytest.raises(RuntimeError, match="pixels: expected finite coordinates"):
            _C.grid_neighbours(p, lay, depth, 0.1)
    far = px[:2].clone()
    far[1] = 2.0**39  # finite, but a grid of 2^78 cells
    with pytest.raises(RuntimeError, match="at most 2\\^32 cells"):
        _C.grid_neighbours(far, lay[:2], depth[:2], 0.1)


def test_rows_only_splat_with_an_extension_built_before_other_planes(monkeypatch):
    # an older extension's splat_forward has no other_*: the rows outside are copied in Python
    scene, traj, motion = _demo_lake("circle", 3)
    settings = pipeline.RenderSettings()
    new = [f for f, _ in pipeline.render_frames(scene, traj, motion, 8, settings, return_aux=True)]
    real = pipeline.native_pass
    calls = []

    def older(name, tensors, native=None):
        fn = real(name, tensors, native)
        if name != "splat_forward" or fn is None:
            return fn

        def splat(*args, **kw):  # its docstring names no other_* (it has none)
            if any(k.startswith("other_") for k in kw):
                raise TypeError("splat_forward(): incompatible function arguments")
            if "row_begin" in kw:
                calls.append(kw["row_begin"])
            return fn(*args, **kw)

        return splat

    monkeypatch.setattr(pipeline, "native_pass", older)
    old = [f for f, _ in pipeline.render_frames(scene, traj, motion, 8, settings, return_aux=True)]
    assert len(calls) == len(traj)
    assert all(torch.equal(a, b) for a, b in zip(new, old))
