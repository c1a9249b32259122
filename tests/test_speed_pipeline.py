"""Issue 15: the faster frame loop computes what the plain formulas say.

Kept-every-k-th states recompute the same values; ghosts integrated in chunks equal those
integrated at once; the moved clouds written
into one buffer equal the photo's points and the ghosts moved by the fronto-parallel lift
``x + d·z / f`` and appended; a splat given the features with their extra channel already
joined equals the one that joins them itself; the fast decoder matches the decoder.
"""

from __future__ import annotations

import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field
from cinemagraph3d.pipeline import (
    RenderSettings,
    _MovedClouds,
    _splat,
    border_ghosts,
    prepare_scene,
)
from cinemagraph3d.types import DepthMap, MotionField


def _setup(H=24, W=40, N=6, varied=False):
    g = torch.Generator().manual_seed(3)
    img = (0.5 + 0.2 * torch.randn(3, H, W, generator=g)).clamp(0, 1)
    depth = 2.0 + torch.rand(1, H, W, generator=g)
    scene = prepare_scene(img, DepthMap(depth, True, "test"))
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[:, : W // 2] = True  # the left half flows left, out through the border (and ghosts in)
    hints = MotionHints.create([[10.0, 12.0]], [[-1.0, 0.3]])
    field = motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)])
    if varied:  # the speed growing to the left: a field that stretches the texture
        flow = field.flow.clone()
        flow[0] *= 1.0 + 2.0 * torch.linspace(1.0, 0.0, W)
        field = MotionField(flow, field.mask)
    disp = integrate_motion(field, N)
    return scene, disp


def test_thinned_point_states_recompute_the_same_values():
    _, disp = _setup()
    src = torch.tensor([[-1.5, 3.5], [-0.5, 10.5], [-2.5, 20.5], [-0.5, 1.5], [-3.5, 7.5]])
    full = disp.extend(src)
    assert full.forward_states.shape == (7, 5, 2) and full.store_every == 1
    for ext in (full.thinned(2), full.thinned(3), disp.extend(src, store_every=3)):
        assert ext.forward_states.shape[0] == 6 // ext.store_every + 1
        for t in (0.0, 0.5, 2.5, 4.0, 5.75, 6.0, 1.25):  # any order
            for a, b in zip(ext.at(t), full.at(t)):
                assert torch.equal(a, b), t
    sub = full.thinned(3).subset(torch.tensor([True, False, True, False, True]))
    for t in (1.0, 4.5):
        for a, b in zip(sub.at(t), full.at(t)):
            assert torch.equal(a, b[[0, 2, 4]])
    with pytest.raises(InputError, match="multiple"):
        full.thinned(2).thinned(3)


def test_border_ghosts_in_chunks_with_kept_states_equal_all_at_once(monkeypatch):
    import cinemagraph3d.motion.integrate as integ
    from cinemagraph3d import pipeline

    scene, disp = _setup()
    whole = border_ghosts(scene, disp)
    assert whole is not None and whole.motion.store_every == 1
    G = whole.cloud.num_points
    assert G > 7
    monkeypatch.setattr(pipeline, "GHOST_CHUNK", 7)  # several chunks, some kept ghosts in each
    monkeypatch.setattr(integ, "STATE_BUDGET_BYTES", 16)  # every k-th ghost state only
    parts = border_ghosts(scene, disp)
    assert parts.motion.store_every > 1 and parts.motion.forward_states.shape[0] < 7
    assert parts.cloud.num_points == G
    for name in ("points", "features", "alpha", "pixels", "layer", "inpainted"):
        assert torch.equal(getattr(whole.cloud, name), getattr(parts.cloud, name)), name
    for t in (6.0, 4.5, 0.0, 3.0, 0.25):
        for a, b in zip(whole.motion.at(t), parts.motion.at(t)):
            assert torch.equal(a, b), t


def _native_move():
    from cinemagraph3d.render._native import native_pass

    return native_pass("move_cloud", (torch.zeros(1, 3),))


@pytest.mark.parametrize("native", [False, True])
def test_moved_clouds_with_ghosts_follow_the_lift_formula(native):
    scene, disp = _setup()
    ghosts = border_ghosts(scene, disp)
    assert ghosts is not None and ghosts.cloud.num_points > 0
    if native and _native_move() is None:
        pytest.skip("native extension without move_cloud")
    moved = _MovedClouds(scene, disp, ghosts, native=native)
    assert (moved.native is not None) == native
    P, G = scene.cloud.num_points, ghosts.cloud.num_points
    f = torch.tensor([scene.camera.fx, scene.camera.fy])
    for t in (1.0, 3.5):
        p_f, p_b, s_f, s_b = moved(t)
        assert p_f.shape == p_b.shape == (P + G, 3) and s_f.shape == s_b.shape == (P + G,)
        for k, (pts, fullmap) in enumerate(((p_f, disp.forward(t)), (p_b, disp.backward(t)))):
            d = fullmap.reshape(2, -1)[:, scene.donor].T  # each point follows its donor pixel
            z = scene.cloud.points[:, 2:3]
            want = torch.cat([scene.cloud.points[:, :2] + d * z / f, z], 1)
            torch.testing.assert_close(pts[:P], want, rtol=1e-6, atol=1e-6)
            gd = ghosts.motion.at(t)[k]
            gz = ghosts.cloud.points[:, 2:3]
            gwant = torch.cat([ghosts.cloud.points[:, :2] + gd * gz / f, gz], 1)
            torch.testing.assert_close(pts[P:], gwant, rtol=1e-6, atol=1e-6)
        assert float(s_f[P:].min()) == float(s_f[P:].max()) == 1.0  # ghosts are not stretched


@pytest.mark.parametrize("ghosted", [False, True])
def test_native_moved_clouds_are_bit_identical_to_the_torch_ones(ghosted):
    # _C.move_cloud follows the torch operations one by one: the same bits, stretch included
    if _native_move() is None:
        pytest.skip("native extension without move_cloud")
    scene, disp = _setup(H=30, W=52, N=8, varied=True)
    ghosts = border_ghosts(scene, disp) if ghosted else None
    ref = _MovedClouds(scene, disp, ghosts)
    nat = _MovedClouds(scene, disp, ghosts, native=True)
    reused = _MovedClouds(scene, disp, ghosts, native=True)
    reused.reuse = True  # render_frames' mode: the same buffers each call, only moving rows rewritten
    assert ref.native is None and nat.native is not None
    stretched = 0
    ptrs = set()
    for t in (0.0, 0.5, 3.0, 5.25, 8.0, 1.5):
        want = ref(t)
        for a, b in zip(want, nat(t)):
            assert a.shape == b.shape and torch.equal(a, b), (t, float((a - b).abs().max()))
        got = reused(t)
        for a, b in zip(want, got):
            assert a.shape == b.shape and torch.equal(a, b), ("reused", t, float((a - b).abs().max()))
        ptrs.add(tuple(x.data_ptr() for x in got))
        stretched += int((ref(t)[2] > 1.01).sum())
    assert stretched > 0  # the stretch path was exercised (not only unit stretch, nor rounding noise)
    assert len(ptrs) == 1  # the buffers really were reused


def test_native_move_refuses_bad_indices():
    move = _native_move()
    if move is None:
        pytest.skip("native extension without move_cloud")
    pts = torch.zeros(5, 3)
    d = torch.zeros(2, 2)
    nb = torch.full((4, 2), 2, dtype=torch.int64)
    ij = torch.zeros(2, dtype=torch.int64)
    cap = torch.full((2, 2), 4.0)

    def call(sel, rows, nbrs=nb, *out):
        return move(
            pts, torch.tensor(sel), torch.tensor(rows), d, nbrs, cap, ij, ij, 1.0, 1.0, 4.0, None, None, *out
        )

    # checked as the pass reads them (a bad index is skipped, then refused), below and above
    for sel, rows in (([0, 5], [0, 1]), ([-1, 1], [0, 1]), ([0, 1], [0, 2]), ([0, 1], [-3, 1])):
        with pytest.raises(RuntimeError, match="sel outside"):
            call(sel, rows)
    for bad in (nb + 1, nb - 3):
        with pytest.raises(RuntimeError, match="nbrs outside"):
            call([0, 1], [0, 1], bad)
    # and a reused buffer is refused the same way
    out, st = call([0, 1], [0, 1])
    with pytest.raises(RuntimeError, match="sel outside"):
        call([0, 9], [0, 1], nb, out, st)
    with pytest.raises(RuntimeError, match="disp must be"):
        move(
            pts,
            torch.tensor([0, 1]),
            torch.tensor([0, 1]),
            d.double(),
            nb,
            cap,
            ij,
            ij,
            1.0,
            1.0,
            4.0,
            None,
            None,
        )


def test_splat_with_prejoined_extra_channel_is_the_same():
    scene, _ = _setup()
    T = torch.eye(4)
    K = scene.camera.matrix()
    extra = torch.linspace(0.0, 1.0, scene.cloud.num_points)
    joined = torch.cat([scene.cloud.features, extra[:, None]], 1)
    a = _splat(scene, scene.cloud.points, T, K, RenderSettings(), extra)[0]
    b = _splat(scene, scene.cloud.points, T, K, RenderSettings(), joined)[0]
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_fast_decoder_matches_the_decoder():
    from cinemagraph3d.models.decoder import ImageDecoder
    from cinemagraph3d.models.runtime import fast_decoder

    torch.manual_seed(0)
    dec = ImageDecoder(base_channels=8, group_size=4).eval()  # a narrow one: same layers, fast
    state = {k: v.clone() for k, v in dec.state_dict().items()}
    x_f, x_b = torch.rand(1, 37, 32, 48), torch.rand(1, 37, 32, 48)
    with torch.inference_mode():
        ref = dec(x_f, x_b, 0.3)
        for precision, tol in (("float32", 1e-4), ("bfloat16", 5e-2)):
            other = ImageDecoder(base_channels=8, group_size=4).eval()
            other.load_state_dict(state)
            out = fast_decoder(other, precision)(x_f, x_b, 0.3)
            assert out.dtype == torch.float32 and out.shape == ref.shape and out.is_contiguous()
            assert float((out - ref).abs().max()) <= tol, precision
    with pytest.raises(InputError, match="precision"):
        fast_decoder(dec, "float16")


def test_automatic_store_every_keeps_the_values(monkeypatch):
    import cinemagraph3d.motion.integrate as integ

    field = motion_field(
        24,
        40,
        [
            MotionRegion(
                torch.ones(24, 40, dtype=torch.bool), MotionHints.create([[10.0, 12.0]], [[-1.0, 0.3]])
            )
        ],
    )
    # 60 steps: N / k + k states per direction is least (16) at k = 6 and k = 10; 6 is taken
    assert integ._auto_store_every(60, 363_215, 4) == 6
    assert integ._auto_store_every(60, 1_000, 4) == 1  # 2 x 61 states of 1000 pixels fit
    full = integ.integrate_motion(field, 6, store_every=1)
    # a budget below all 2 x 7 states: per direction k = 2 keeps 4 and recomputes a block of 1,
    # k = 3 keeps 3 and recomputes 2 (5 states each, the least); the smaller k is taken
    monkeypatch.setattr(integ, "STATE_BUDGET_BYTES", 2 * 7 * full.num_moving * 2 * 4 - 1)
    auto = integ.integrate_motion(field, 6)
    assert auto.store_every == 2 and auto.forward_states.shape[0] == 4
    for t in (0.0, 1.0, 2.5, 4.0, 5.75, 6.0):
        torch.testing.assert_close(auto.forward(t), full.forward(t), rtol=0, atol=0)
        torch.testing.assert_close(auto.backward(t), full.backward(t), rtol=0, atol=0)


def test_recomputed_blocks_once_per_video_and_states_kept(monkeypatch):
    # Frames in time order read the forward states ascending and the backward ones descending:
    # each block after a kept state is recomputed once, N - N / k steps per direction in all.
    field = motion_field(
        24,
        40,
        [
            MotionRegion(
                torch.ones(24, 40, dtype=torch.bool), MotionHints.create([[10.0, 12.0]], [[-1.0, 0.3]])
            )
        ],
    )
    N, k = 12, 4
    full = integrate_motion(field, N, store_every=1)
    d = integrate_motion(field, N, store_every=k)
    calls = []
    step = d._stepper.step
    monkeypatch.setattr(d._stepper, "step", lambda *a, **kw: calls.append(a[1]) or step(*a, **kw))
    handed = []
    times = [i * N / 18 for i in range(18)]  # 18 frames over 12 steps, t < N
    for t in times:
        fwd, bwd = d.moving_at(t)
        handed.append((t, fwd, bwd))
        assert torch.equal(fwd, full.moving_at(t)[0]) and torch.equal(bwd, full.moving_at(t)[1])
    assert len(calls) == 2 * (N - N // k)  # 9 recomputed states per direction, each once
    # states handed out earlier keep their values after later blocks were computed
    for t, fwd, bwd in handed:
        assert torch.equal(fwd, full.moving_at(t)[0]) and torch.equal(bwd, full.moving_at(t)[1])


@pytest.mark.parametrize("margin", [None, 2.0])
def test_native_ghost_keep_equals_the_torch_loop(margin):
    # _C.ghost_keep makes the torch loop's comparisons in the same precision: the same ghosts
    from cinemagraph3d import pipeline
    from cinemagraph3d.render._native import native_pass

    if native_pass("ghost_keep", (torch.zeros(1, 2),)) is None:
        pytest.skip("native extension without ghost_keep")
    scene, disp = _setup(H=30, W=52, N=8)
    ref = border_ghosts(scene, disp, margin=margin, native=False)
    nat = border_ghosts(scene, disp, margin=margin, native=True)
    assert ref is not None and nat is not None
    assert torch.equal(ref.cloud.pixels, nat.cloud.pixels) and torch.equal(ref.cloud.points, nat.cloud.points)
    for a, b in ((ref.motion.forward_states, nat.motion.forward_states),
                 (ref.motion.backward_states, nat.motion.backward_states)):  # fmt: skip
        assert torch.equal(a, b)
    # and the keep mask itself, on candidates some of which do land on still pixels
    pos = torch.tensor([[-1.5, 3.5], [-0.5, 10.5], [-2.5, 20.5], [-0.5, 1.5], [-30.5, 7.5], [60.5, 2.5]])
    ext = disp.extend(pos)
    moving = torch.zeros(30 * 52, dtype=torch.bool)
    moving[disp.index] = True
    want = pipeline._ghost_keep(pos, ext, moving, 30, 52, margin, None, None)
    got = native_pass("ghost_keep", (pos,))(
        pos, ext.forward_states.contiguous(), ext.backward_states.contiguous(), moving, 30, 52,
        -1.0 if margin is None else margin,
    )  # fmt: skip
    assert torch.equal(got, want)
    front = 2.0 + torch.rand(30 * 52, generator=torch.Generator().manual_seed(1))
    zg = torch.full((6,), 2.5)
    want = pipeline._ghost_keep(pos, ext, moving, 30, 52, margin, front, zg)
    got = native_pass("ghost_keep", (pos,))(
        pos, ext.forward_states.contiguous(), ext.backward_states.contiguous(), moving, 30, 52,
        -1.0 if margin is None else margin, front, zg,
    )  # fmt: skip
    assert torch.equal(got, want)


def test_turbulence_wave_grids_computed_once_per_time(monkeypatch):
    # The block recomputation and the ghosts step through the same scene times again; the wave
    # grid of each time is computed once and the states equal those computed without the cache.
    import cinemagraph3d.motion.integrate as integ
    from cinemagraph3d.motion.turbulence import Turbulence

    mask = torch.ones(24, 40, dtype=torch.bool)
    region = MotionRegion(mask, MotionHints.create([[10.0, 12.0]], [[-1.0, 0.3]]), turbulence=0.5)
    field = motion_field(24, 40, [region])
    assert field.turbulence is not None
    calls = []
    grid = Turbulence.grid
    monkeypatch.setattr(Turbulence, "grid", lambda self, t, n: calls.append(t) or grid(self, t, n))
    N, k = 12, 4
    times = [i * N / 18 for i in range(18)]
    src = torch.tensor([[-1.5, 3.5], [-0.5, 10.5], [41.0, 20.5]])

    def run():
        calls.clear()
        d = integrate_motion(field, N, store_every=k)
        states = [d.moving_at(t) for t in times]
        ext = d.extend(src, store_every=2)
        return states + [ext.at(t) for t in times], list(calls)

    cached, n_cached = run()
    assert len(n_cached) == len(set(n_cached)) <= N + 1  # times 0 … N, each once
    monkeypatch.setattr(integ, "WAVE_GRID_CACHE_BYTES", 0)
    fresh, n_fresh = run()
    assert len(n_fresh) > 2 * len(n_cached)
    for a, b in zip(cached, fresh):
        for x, y in zip(a, b):
            assert torch.equal(x, y)


def test_render_frames_holds_no_splat_of_the_frame_it_hands_out():
    # the loop's names would otherwise keep the frame's two splats and fused planes alive through
    # the next frame's splats (the render loop's memory peak)
    import cinemagraph3d as c3

    scene, disp = _setup(H=24, W=40, N=6)
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", 3, 0.02), scene.camera, scene.z_near, scene.z_subject
    )
    gen = c3.render_frames(scene, traj, disp, 6)
    frames = [next(gen)]
    held = gen.gi_frame.f_locals
    for name in ("fwd", "bwd", "res", "feats", "like", "widen"):
        assert held.get(name) is None, name
    frames += list(gen)
    assert len(frames) == 3 and all(f.shape == (3, 24, 40) for f in frames)


def test_render_frames_lets_go_of_the_joined_clouds_unread_arrays():
    # with the border ghosts joined, the cloud is a copy of the photo's points: the frame loop keeps
    # only the opacities, the photo depths and (where no per-frame features replace them) the features
    import gc

    import cinemagraph3d as c3

    scene, disp = _setup(H=24, W=40, N=6)
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", 3, 0.02), scene.camera, scene.z_near, scene.z_subject
    )
    ref = list(c3.render_frames(scene, traj, disp, 6))
    gen = c3.render_frames(scene, traj, disp, 6)
    frames = [next(gen)]
    loop_scene = gen.gi_frame.f_locals["scene"]
    c = loop_scene.cloud
    assert c.points.numel() == c.pixels.numel() == c.layer.numel() == c.inpainted.numel() == 0
    assert c.alpha.numel() > scene.cloud.num_points  # the photo's points and the ghosts
    # nothing else held the joined arrays: no live tensor of the joined cloud's point count but
    # the opacities, the photo depths, the moved clouds and their per-frame features
    n = c.alpha.numel()
    gc.collect()
    joined = [t for t in gc.get_objects() if type(t) is torch.Tensor and t.shape[:1] == (n,) and t.dim() == 2
              and t.shape[1] in (2,) and t.dtype == scene.cloud.pixels.dtype]  # fmt: skip
    assert not joined  # the joined (P + G, 2) pixel positions are gone
    frames += list(gen)
    for a, b in zip(frames, ref):
        assert torch.equal(a, b)
