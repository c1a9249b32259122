"""Evaluation: metrics on cases with known answers, exactness of the analytic scenes, the eval CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from _optional import require

from cinemagraph3d.errors import BackendError, InputError
from cinemagraph3d.eval import metrics as M
from cinemagraph3d.eval.scenes import AnalyticMotion, input_truth, make_scene, video_truth
from cinemagraph3d.geometry import PinholeCamera, Trajectory


def _texture(u: np.ndarray, v: np.ndarray, t: float = 0.0) -> np.ndarray:
    """Smooth analytic RGB texture, ``(3, ...)`` in [0, 1]."""
    g = (
        0.5
        + 0.2 * np.sin(0.45 * u + 0.2 * v + 1.0)
        + 0.15 * np.sin(0.13 * u - 0.37 * v)
        + 0.1 * np.sin(0.31 * u + 0.29 * v + 2.0)
    )
    return np.stack([g, 0.8 * g + 0.1, 1.0 - 0.7 * g])


def _shifted(shift: tuple[float, float], h: int = 48, w: int = 64) -> torch.Tensor:
    """The texture moved by ``shift`` pixels: out(x) = texture(x − shift)."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    return torch.from_numpy(_texture(u - shift[0], v - shift[1])).float()


def _translating_video(speed: tuple[float, float], k: int = 8) -> torch.Tensor:
    return torch.stack([_shifted((speed[0] * i, speed[1] * i)) for i in range(k)])


def _flows(speed: tuple[float, float], k: int = 8, h: int = 48, w: int = 64) -> torch.Tensor:
    return torch.tensor(speed, dtype=torch.float32)[None, :, None, None].expand(k, 2, h, w).clone()


def _interior(h: int = 48, w: int = 64, margin: int = 6) -> torch.Tensor:
    m = torch.zeros(1, h, w, dtype=torch.bool)
    m[:, margin:-margin, margin:-margin] = True
    return m


# --------------------------------------------------------------------------- fidelity
def test_psnr_ssim_identical_images():
    x = _shifted((0.0, 0.0))
    assert M.psnr(x, x) == math.inf
    assert M.ssim(x, x) == pytest.approx(1.0, abs=1e-6)
    assert M.ssim(torch.stack([x, x]), torch.stack([x, x])) == pytest.approx(1.0, abs=1e-6)


def test_psnr_known_value_and_mask():
    t = torch.zeros(3, 8, 8)
    p = torch.full((3, 8, 8), 0.1)
    assert M.psnr(p, t) == pytest.approx(20.0, abs=1e-5)  # MSE 0.01
    p2 = t.clone()
    p2[:, :, :4] = 0.1
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[:, 4:] = True
    assert M.psnr(p2, t, mask) == math.inf
    assert M.psnr(p2, t, ~mask) == pytest.approx(20.0, abs=1e-5)
    assert M.psnr(p2, t) == pytest.approx(20.0 + 10 * math.log10(2.0), abs=1e-5)  # half the pixels
    assert math.isnan(M.psnr(p2, t, torch.zeros(8, 8, dtype=torch.bool)))


def test_ssim_drops_with_a_shift_and_noise():
    a, b = _shifted((0.0, 0.0)), _shifted((3.0, 0.0))
    assert M.ssim(a, b) < 0.9
    noisy = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    assert 0.2 < M.ssim(noisy, a) < 0.95


def test_shape_errors_are_input_errors():
    with pytest.raises(InputError):
        M.psnr(torch.zeros(3, 4, 4), torch.zeros(3, 4, 5))
    with pytest.raises(InputError):
        M.ssim(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(InputError):
        M.psnr(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4), torch.ones(5, 5, dtype=torch.bool))


def test_lpips_is_skipped_cleanly_without_local_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert not M.lpips_available()
    with pytest.raises(BackendError):
        M.lpips_distance(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16))


def test_lpips_with_local_weights(tmp_path, monkeypatch):
    require("lpips")
    tv = require("torchvision")
    (tmp_path / "checkpoints").mkdir()
    torch.save(tv.models.alexnet().state_dict(), tmp_path / "checkpoints" / "alexnet-test.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert M.lpips_available()
    a, b = _shifted((0.0, 0.0)), _shifted((4.0, 2.0))
    assert M.lpips_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert M.lpips_distance(a, b) > 0.0


# --------------------------------------------------------------------------- motion
@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_optical_flow_recovers_a_known_shift(method):
    shift = (1.5, -0.75)
    flow = M.optical_flow(_shifted((0.0, 0.0)), _shifted(shift), method)
    assert flow.shape == (2, 48, 64)
    truth = torch.tensor(shift)[:, None, None].expand(2, 48, 64)
    assert M.endpoint_error(flow, truth, _interior()) < 0.25


def test_endpoint_error_known_value():
    f = torch.zeros(2, 4, 4)
    g = torch.zeros(2, 4, 4)
    g[0], g[1] = 3.0, 4.0
    assert M.endpoint_error(f, g) == pytest.approx(5.0)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    g[:, 0, 0] = 0.0
    mask[0, 0] = True
    assert M.endpoint_error(f, g, mask) == pytest.approx(0.0)


def test_motion_epe_of_moving_and_frozen_videos():
    speed = (1.0, 0.5)
    video = _translating_video(speed)
    flows = _flows(speed)
    mask = _interior()[None].expand(8, 1, 48, 64).clone()
    mask[-1] = False  # the wrap pair of a non-looping translation is not a step of the motion
    assert M.motion_epe(video, flows, mask) < 0.25
    frozen = video[:1].expand(8, 3, 48, 64)
    assert M.motion_epe(frozen, flows, mask) == pytest.approx(math.hypot(*speed), abs=0.1)


def test_warp_integer_shift_is_exact():
    img = _shifted((0.0, 0.0)).double()
    flow = torch.zeros(2, 48, 64, dtype=torch.float64)
    flow[0], flow[1] = 2.0, -1.0
    out = M.warp(img, flow)
    torch.testing.assert_close(out[:, 1:, :-2], img[:, :-1, 2:])


def test_warping_error_zero_for_true_motion_and_positive_for_flicker():
    speed = (2.0, 1.0)  # integer: the warp is exact
    video = _translating_video(speed).double()
    back = -_flows(speed)
    mask = _interior()[None].expand(8, 1, 48, 64).clone()
    mask[-1] = False
    assert M.warping_error(video, back, mask) == pytest.approx(0.0, abs=1e-6)
    flicker = video.clone()
    flicker[1::2] = (flicker[1::2] + 0.05).clamp(max=1)
    assert M.warping_error(flicker, back, mask) > 0.03


# --------------------------------------------------------------------------- loop seam
def _periodic_video(k: int = 12, shift_at_seam: float = 0.0) -> torch.Tensor:
    """A texture scrolling by 2 px per frame whose period is ``2k`` px: it loops exactly."""
    h, w = 32, 48
    v, u = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    period = 2.0 * k
    frames = []
    for i in range(k):
        x = u - 2.0 * i + (shift_at_seam if i == k - 1 else 0.0)
        g = 0.5 + 0.3 * np.sin(2 * np.pi * x / period + 0.2 * v) + 0.1 * np.sin(4 * np.pi * x / period)
        frames.append(np.stack([g, g, g]))
    return torch.from_numpy(np.stack(frames)).float()


def test_seam_of_an_exact_loop_is_one():
    video = _periodic_video()
    assert M.loop_seam_score(video) == pytest.approx(1.0, abs=0.05)
    assert M.loop_seam_score(video, reference=video) == pytest.approx(1.0, abs=1e-9)


def test_seam_jump_scores_above_one():
    good = _periodic_video()
    bad = _periodic_video(shift_at_seam=-8.0)  # last frame jumps: a visible seam
    assert M.loop_seam_score(bad) > 2.0
    assert M.loop_seam_score(bad, reference=good) > 2.0


def test_frozen_video_cannot_score_a_good_seam():
    good = _periodic_video()
    frozen = good[:1].expand_as(good).clone()
    assert M.loop_seam_score(frozen) == math.inf
    assert M.loop_seam_score(frozen, reference=good) > 20.0
    # half the intended change is penalised too
    assert M.loop_seam_score(0.5 * good + 0.5 * good[:1], reference=good) > 1.5


def test_seam_needs_three_frames():
    with pytest.raises(InputError):
        M.loop_seam_score(torch.zeros(2, 3, 4, 4))


# --------------------------------------------------------------------------- stability, holes
def test_static_stability_known_values():
    g = _periodic_video()
    assert M.static_stability(g, g) == pytest.approx(0.0, abs=1e-12)
    flicker = g.clone().double()
    flicker[1::2] += 0.02  # every pair's change is off by exactly 0.02
    assert M.static_stability(flicker, g) == pytest.approx(0.02, abs=1e-6)


def test_hole_ratio_known_values():
    alpha = torch.ones(2, 1, 4, 4)
    assert M.hole_ratio(alpha) == 0.0
    alpha[:, :, :, :2] = 0.0
    assert M.hole_ratio(alpha) == pytest.approx(0.5)
    alpha[:, :, :, :2] = 0.25
    assert M.hole_ratio(alpha) == pytest.approx(0.375)
    assert M.hole_ratio(alpha, threshold=0.5) == pytest.approx(0.5)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[:, 2:] = True
    assert M.hole_ratio(alpha, mask) == 0.0


# --------------------------------------------------------------------------- analytic scenes
def _static_traj(camera: PinholeCamera, n: int) -> Trajectory:
    K = camera.matrix(dtype=torch.float64)
    return Trajectory(
        torch.eye(4, dtype=torch.float64)[None].repeat(n, 1, 1),
        K[None].repeat(n, 1, 1),
        camera.width,
        camera.height,
    )


def _side_traj(camera: PinholeCamera, n: int, amp: float) -> Trajectory:
    poses = torch.eye(4, dtype=torch.float64)[None].repeat(n, 1, 1)
    for k in range(n):
        poses[k, 0, 3] = -amp * math.sin(2 * math.pi * k / n)
    K = camera.matrix(dtype=torch.float64)
    return Trajectory(poses, K[None].repeat(n, 1, 1), camera.width, camera.height)


@pytest.mark.parametrize("name", ["lake", "falls", "window"])
def test_ground_truth_loop_is_exact(name):
    scene = make_scene(name, 64, 48, 8)
    T = np.eye(4)
    T[0, 3] = 0.05
    K = scene.K0
    for t in (0.0, 2.5):
        a = scene.render(T, K, t)
        b = scene.render(T, K, t + scene.num_steps)
        np.testing.assert_allclose(a, b, atol=1e-9, rtol=0)
    assert not np.allclose(scene.render(T, K, 0.0), scene.render(T, K, 1.0))  # it does move


def test_fluid_texture_is_carried_by_its_velocity():
    scene = make_scene("falls", 64, 48, 8)
    ((_, fluid),) = scene.fluids
    rng = np.random.default_rng(0)
    ab = fluid.centre + rng.uniform(-0.3, 0.3, (50, 2)) * fluid.half
    for dt in (0.5, 1.0, 3.0):
        np.testing.assert_allclose(
            fluid.colour(ab, 1.0, scene.num_steps),
            fluid.colour(ab + fluid.velocity * dt, 1.0 + dt, scene.num_steps),
            atol=1e-9,
        )


def test_input_truth_is_consistent():
    scene = make_scene("falls", 64, 48, 8, speed=1.5)
    inp = input_truth(scene)
    assert inp.image.shape == (3, 48, 64) and inp.depth.shape == (1, 48, 64)
    assert float(inp.depth.min()) == pytest.approx(4.0) and float(inp.depth.max()) == pytest.approx(10.0)
    (region,) = inp.regions
    assert region.mask.sum() > 50 and torch.equal(region.mask, inp.fluid)
    # fronto-parallel waterfall: 1.5 px/step straight down everywhere in the mask
    torch.testing.assert_close(
        inp.flow[:, inp.fluid],
        torch.tensor([[0.0], [1.5]]).expand(2, int(inp.fluid.sum())),
        atol=1e-4,
        rtol=0,
    )
    assert (inp.flow[:, ~inp.fluid] == 0).all()
    j, i = region.starts[:, 0].long(), region.starts[:, 1].long()
    assert inp.fluid[i, j].all()
    torch.testing.assert_close(region.vectors, inp.flow[:, i, j].T)
    # the photo is the truth's first frame seen from the input camera
    vt = video_truth(scene, _static_traj(inp.camera, 4))
    torch.testing.assert_close(vt.frames[0], inp.image)
    assert not vt.regions[:, 2].any()  # nothing is disoccluded for a still camera


def test_lake_flow_follows_depth():
    inp = input_truth(make_scene("lake", 64, 48, 8))
    water = [r for r in inp.regions if r.name == "water"][0].mask
    fz = (inp.flow[0] * inp.depth[0])[water]  # |v_x| f / z · z = const on the ground plane
    assert float(fz.std()) < 1e-3 * float(fz.abs().mean())
    assert (inp.flow[1][water].abs() < 1e-6).all()


def test_analytic_motion_displacements():
    scene = make_scene("falls", 64, 48, 8, speed=1.5)
    motion = AnalyticMotion(scene)
    inp = input_truth(scene)
    assert (motion.forward(0.0) == 0).all() and (motion.backward(8.0) == 0).all()
    f, b = motion.forward(2.0), motion.backward(2.0)
    rows = torch.nonzero(inp.fluid.any(1)).squeeze(1)
    mid = int(rows[len(rows) // 2])
    cols = torch.nonzero(inp.fluid[mid]).squeeze(1)
    assert torch.allclose(f[1, mid, cols], torch.tensor(3.0), atol=1e-4)  # 2 steps × 1.5 px
    assert (b[1, mid, cols] < 0).all() and (b[1, mid, cols] >= -9.0 - 1e-4).all()
    # material stops at the window's lower edge: nothing leaves the mask
    end = torch.nonzero(inp.fluid.any(1)).max()
    ys = torch.arange(48)[:, None].float() + 0.5 + f[1]
    assert float(ys[inp.fluid].max()) <= float(end) + 1.0 + 1e-4
    with pytest.raises(InputError):
        motion.forward(9.0)


def test_video_truth_flows_and_regions():
    scene = make_scene("window", 64, 48, 8)
    cam = PinholeCamera.default(64, 48)
    vt = video_truth(scene, _side_traj(cam, 8, 0.1))
    assert vt.frames.shape == (8, 3, 48, 64) and vt.flow_fwd.shape == (8, 2, 48, 64)
    # the regions partition the image, and the side motion disoccludes something
    assert (vt.regions.sum(1) == 1).all()
    assert vt.regions[:, 2].any()
    # the true flows carry each frame onto the next (up to resampling of the box-filtered frames)
    err = M.warping_error(vt.frames, vt.flow_bwd, vt.valid_bwd)
    still = M.frame_changes(vt.frames).mean()
    assert err < 0.3 * float(still)
    # still camera on the falls: flow is the fluid's 1.5 px/step × N/K = 1 step, 0 elsewhere
    sc = make_scene("falls", 64, 48, 8, speed=1.5)
    vt = video_truth(sc, _static_traj(PinholeCamera.default(64, 48), 8))
    fl, st = vt.regions[:, 0:1], vt.regions[:, 1:2]
    ok = vt.valid_fwd
    assert torch.allclose(vt.flow_fwd[:, 1:2][fl & ok], torch.tensor(1.5), atol=1e-6)
    assert (vt.flow_fwd[:, :][(st & ok).expand(8, 2, 48, 64)] == 0).all()


def test_unknown_scene_is_an_input_error():
    with pytest.raises(InputError):
        make_scene("ocean", 64, 48, 8)


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from cinemagraph3d.cli import main

    out = tmp_path_factory.mktemp("eval") / "report"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["eval", "--suite", "tiny", "--out", str(out)])
    return code, out, buf.getvalue()


def test_eval_cli_runs_the_tiny_suite(tiny_run):
    code, out, text = tiny_run
    assert code == 0
    assert "per scene" in text and "per region" in text
    for word in ("lake", "falls", "mean", "full", "forward", "2d", "still", "fluid", "static", "disoccluded"):
        assert word in text
    report = (out / "report.md").read_text()
    assert "![lake](lake.png)" in report and "cinemagraph3d eval --suite tiny" in report
    assert (out / "lake.png").stat().st_size > 1000 and (out / "falls.png").exists()
    data = json.loads((out / "scores.json").read_text())
    assert {"full", "forward", "2d", "still", "truth"} == set(data["methods"])


def test_eval_scores_rank_the_methods(tiny_run):
    _, out, _ = tiny_run
    rows = json.loads((out / "scores.json").read_text())["scores"]
    score = {(r["scene"], r["method"], r["region"]): r for r in rows}
    for scene in ("lake", "falls"):
        full, still = score[(scene, "full", "all")], score[(scene, "still", "all")]
        assert full["psnr"] > still["psnr"] + 2.0
        assert full["epe"] < still["epe"]
        assert (
            score[(scene, "still", "fluid")]["seam"] in ("inf",)
            or float(score[(scene, "still", "fluid")]["seam"]) > 10
        )
        assert score[(scene, "truth", "all")]["psnr"] == "inf"
        assert float(score[(scene, "truth", "all")]["seam"]) == pytest.approx(1.0)
        # what symmetric fusion buys: the forward-only splat leaves more of the fluid uncovered
        # (measured on the tiny suite: 11% vs 5% on lake, 10% vs 0.7% on falls)
        assert score[(scene, "forward", "fluid")]["holes"] > 1.5 * score[(scene, "full", "fluid")]["holes"]
        # what parallax buys: 2D-only animation misplaces the static scene under a moving camera
        # (measured: 22 vs 30 dB on lake, 21 vs 32 dB on falls)
        assert score[(scene, "2d", "static")]["psnr"] < score[(scene, "full", "static")]["psnr"] - 3.0


def test_eval_cli_user_errors(tmp_path, capsys):
    from cinemagraph3d.cli import main

    assert main(["eval", "--suite", "nope", "--out", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--suite" in err[0]
    # an existing folder of the user's is never filled or replaced
    (tmp_path / "mine").mkdir()
    assert main(["eval", "--suite", "tiny", "--out", str(tmp_path / "mine"), "--force"]) == 2
    assert "not created by cinemagraph3d" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["eval", "--suite", "tiny", "--out", str(f)]) == 2
    assert main(["eval", "--suite", "tiny", "--out", str(tmp_path / "o"), "--methods", "full,magic"]) == 2
    assert not (tmp_path / "o").exists()


def test_motion_from_hints_matches_the_truth_on_a_uniform_fall():
    from cinemagraph3d.eval import motion_from_hints

    inp = input_truth(make_scene("falls", 64, 48, 8, speed=1.5))
    est = motion_from_hints(inp)
    rows = torch.nonzero(inp.fluid.any(1)).squeeze(1)
    mid = int(rows[len(rows) // 2])
    cols = torch.nonzero(inp.fluid[mid]).squeeze(1)[2:-2]  # away from the mask's feathered edge
    torch.testing.assert_close(
        est.forward(2.0)[:, mid, cols], inp.motion.forward(2.0)[:, mid, cols], atol=0.05, rtol=0
    )
