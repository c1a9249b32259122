"""Fluid motion through the whole pipeline: loops, static regions, flow direction, CLI."""

import json

import cv2
import numpy as np
import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.cli import main
from cinemagraph3d.demo import demo_scene
from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field
from cinemagraph3d.pipeline import RenderSettings


def lake(w=96, h=64, steps=12):
    d = demo_scene(w, h)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"))
    hints = MotionHints(d.hints[:, :2].clone(), d.hints[:, 2:].clone())
    field = motion_field(h, w, [MotionRegion(d.water, hints)])
    return d, scene, field, integrate_motion(field, steps)


def test_wrap_frame_reconstructs_frame_0_closed_path():
    d, scene, field, disp = lake()
    N, K = 12, 6
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", K, 0.03), scene.camera, scene.z_near, scene.z_subject
    )
    frames = list(c3.render_frames(scene, traj, disp, N))
    # render "frame K" (t = N, camera of phase 2π = camera 0) explicitly
    from cinemagraph3d.geometry.trajectory import Trajectory

    t1 = Trajectory(traj.cam_from_world[:1], traj.K[:1], traj.width, traj.height)

    zoom = c3.geometry.trajectory.safe_zoom(traj, c3.pipeline.border_points(scene))
    wrap = next(c3.render_frames(scene, t1.zoomed(zoom), disp, N, RenderSettings(safe_zoom=False), times=[N]))
    # at t = N the fusion weight is entirely on the backward cloud, whose displacement B_0 = 0
    assert torch.equal(disp.backward(N), torch.zeros_like(disp.backward(N)))
    assert torch.equal(wrap, frames[0])  # bit for bit
    # and the water does move in between
    assert float((frames[K // 2] - frames[0]).abs()[:, d.water].mean()) > 0.01


def test_static_camera_static_pixels_bit_identical():
    d, scene, field, disp = lake()
    traj = c3.make_trajectory(c3.TrajectorySettings("static", 6), scene.camera, scene.z_near, scene.z_subject)
    frames = list(c3.render_frames(scene, traj, disp, 12))
    moving = torch.from_numpy(cv2.dilate(d.water.numpy().astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    static = ~moving
    assert int(static.sum()) > 0.3 * static.numel()
    for f in frames[1:]:
        assert torch.equal(f[:, static], frames[0][:, static])
    assert any(not torch.equal(f[:, d.water], frames[0][:, d.water]) for f in frames[1:])


def test_rendered_motion_follows_the_arrows():
    """Optical flow (OpenCV DIS) measured in the output points along the arrows."""
    w, h = 128, 96
    rng = np.random.default_rng(1)
    tex = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.2)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    image = torch.from_numpy(tex.transpose(2, 0, 1).copy())
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[20:80, 16:112] = True
    depth = c3.DepthMap(torch.full((1, h, w), 5.0), True, "plane")
    scene = c3.prepare_scene(image, depth)
    hints = MotionHints(torch.tensor([[40.0, 40.0], [90.0, 60.0]]), torch.tensor([[0.8, 0.6], [0.8, 0.6]]))
    field = motion_field(h, w, [MotionRegion(mask, hints)])
    disp = integrate_motion(field, 20)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", 20), scene.camera, 5.0, 5.0)
    frames = [
        (f.permute(1, 2, 0).numpy() * 255).astype(np.uint8) for f in c3.render_frames(scene, traj, disp, 20)
    ]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    cos = []
    inner = (slice(32, 68), slice(30, 100))
    for a, b in zip(frames[2:8], frames[3:9]):
        flow = dis.calc(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None)
        f = flow[inner].reshape(-1, 2)
        v = np.array([0.8, 0.6])
        cos.append(float(((f @ v) / (np.linalg.norm(f, axis=1) + 1e-9)).mean()))
    assert np.mean(cos) >= 0.9, cos


def test_same_inputs_identical_frames():
    _, scene, _, disp = lake(64, 40, 6)
    traj = c3.make_trajectory(c3.TrajectorySettings("circle", 3), scene.camera, scene.z_near, scene.z_subject)
    a = list(c3.render_frames(scene, traj, disp, 6))
    _, scene2, _, disp2 = lake(64, 40, 6)
    b = list(c3.render_frames(scene2, traj, disp2, 6))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_forward_only_baseline_differs_and_fusion_formula():
    _, scene, _, disp = lake(64, 40, 6)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", 3), scene.camera, scene.z_near, scene.z_subject)
    sym = list(c3.render_frames(scene, traj, disp, 6))
    fwd = list(c3.render_frames(scene, traj, disp, 6, RenderSettings(mode="forward")))
    assert torch.equal(sym[0], fwd[0])  # τ = 0: the forward splat alone
    assert not torch.equal(sym[2], fwd[2])


def test_fusion_weights_analytic():
    ones = torch.ones(1, 2, 2)
    f = c3.SplatResult(torch.zeros(1, 2, 2), 2 * ones, ones)
    b = c3.SplatResult(torch.ones(1, 2, 2), 2 * ones, ones)
    lin = c3.FusionSettings(method="linear")  # the design contract's plain cross-fade
    out = c3.fuse_bidirectional(f, b, t=3, num_steps=12, depth_ref=1.0, settings=lin)
    torch.testing.assert_close(out.features, torch.full((1, 2, 2), 0.25))  # equal depth: X = τ
    nearer = c3.SplatResult(torch.ones(1, 2, 2), 1 * ones, ones)
    out = c3.fuse_bidirectional(f, nearer, t=6, num_steps=12, depth_ref=1.0, settings=lin)
    a = 10.0
    wf, wb = 0.5 * np.exp(a * 0.5), 0.5 * np.exp(a * 1.0)
    torch.testing.assert_close(out.features, torch.full((1, 2, 2), wb / (wf + wb)))


@pytest.fixture
def lake_files(tmp_path):
    from cinemagraph3d.io import write_png

    d = demo_scene(64, 40)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    cv2.imwrite(str(tmp_path / "water.png"), d.water.numpy().astype(np.uint8) * 255)
    return tmp_path, d


def run(capsys, argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_cli_motion_and_project_reproduces_exactly(lake_files, capsys):
    d, _ = lake_files
    base = [
        "animate",
        d / "photo.png",
        "--depth",
        d / "depth.npy",
        "--mask",
        d / "water.png",
        "--arrow",
        "10,30,40,30",
        "--arrow",
        "50,35,60,25",
        "--anchor",
        "32,34",
        "--speed",
        "1.5",
        "--frames",
        4,
        "--loop-steps",
        8,
        "--camera",
        "swing",
    ]
    code, err = run(capsys, base + ["-o", d / "a", "--save-project", d / "p.json"])
    assert code == 0, err
    code, err = run(capsys, ["render", d / "p.json", "-o", d / "b"])
    assert code == 0, err
    for i in range(4):
        a = cv2.imread(str(d / "a" / f"{i:04d}.png"))
        b = cv2.imread(str(d / "b" / f"{i:04d}.png"))
        assert np.array_equal(a, b)


def test_cli_labelme(lake_files, capsys):
    d, scene = lake_files
    lm = {
        "imageHeight": 40,
        "imageWidth": 64,
        "shapes": [
            {"label": "motion", "shape_type": "polygon", "points": [[0, 23], [63, 23], [63, 39], [0, 39]]},
            {"label": "hint", "shape_type": "line", "points": [[5, 30], [45, 30]]},
        ],
    }
    (d / "lm.json").write_text(json.dumps(lm))
    code, err = run(
        capsys,
        [
            "animate",
            d / "photo.png",
            "--labelme",
            d / "lm.json",
            "--frames",
            2,
            "--loop-steps",
            4,
            "-o",
            d / "o.mp4",
            "--motion-png",
            d / "field.png",
        ],
    )
    assert code == 0, err
    # The field picture: the photo untouched outside the polygon, tinted and arrowed inside.
    photo = cv2.imread(str(d / "photo.png"))
    field = cv2.imread(str(d / "field.png"))
    assert field.shape == photo.shape
    assert np.array_equal(field[:20], photo[:20])
    assert np.abs(field[24:].astype(int) - photo[24:]).mean() > 5


def test_cli_motion_png_without_motion_is_exit_2(lake_files, capsys):
    d, _ = lake_files
    argv = ["animate", d / "photo.png", "--depth", d / "depth.npy", "--no-auto-sky", "--frames", 2]
    code, err = run(capsys, argv + ["-o", d / "o.mp4", "--motion-png", d / "f.png"])
    assert code == 2 and "--motion-png" in err and len(err.strip().splitlines()) == 1
    assert not (d / "o.mp4").exists() and not (d / "f.png").exists()
    # a mask left to the neural estimator: its field exists only during the render
    (d / "w").mkdir()
    neural = ["--preset", "neural", "--weights", d / "w", "--mask", d / "water.png"]
    code, err = run(capsys, argv + neural + ["-o", d / "o.mp4", "--motion-png", d / "f.png"])
    assert code == 2 and "neural estimator" in err and len(err.strip().splitlines()) == 1
    assert not (d / "o.mp4").exists() and not (d / "f.png").exists()


BAD = {
    "mask-size": lambda d: ["--mask", d / "small.png", "--arrow", "1,30,9,30"],
    "mask-empty": lambda d: ["--mask", d / "empty.png", "--arrow", "1,30,9,30"],
    "arrow-outside": lambda d: ["--mask", d / "water.png", "--arrow", "1,30,99,30"],
    "arrow-zero": lambda d: ["--mask", d / "water.png", "--arrow", "5,30,5,30"],
    "arrow-text": lambda d: ["--mask", d / "water.png", "--arrow", "5,30"],
    "hints-json": lambda d: ["--mask", d / "water.png", "--hints", d / "bad.json"],
    "labelme-json": lambda d: ["--labelme", d / "bad.json"],
    "anchor-outside": lambda d: ["--mask", d / "water.png", "--arrow", "1,30,9,30", "--anchor", "500,3"],
    "speed-zero": lambda d: ["--mask", d / "water.png", "--arrow", "1,30,9,30", "--speed", "0"],
    "speed-nan": lambda d: ["--mask", d / "water.png", "--arrow", "1,30,9,30", "--speed", "nan"],
    "no-arrows": lambda d: ["--mask", d / "water.png"],
    "arrows-no-mask": lambda d: ["--arrow", "1,30,9,30"],
    "region-speed": lambda d: ["--mask", d / "water.png", "--arrow", "1,30,9,30", "--region-speed", "-1"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_motion_inputs(lake_files, capsys, case):
    d, _ = lake_files
    cv2.imwrite(str(d / "small.png"), np.full((10, 10), 255, np.uint8))
    cv2.imwrite(str(d / "empty.png"), np.zeros((40, 64), np.uint8))
    (d / "bad.json").write_text('{"hints": [{"x": 1}')
    code, err = run(capsys, ["animate", d / "photo.png", "-o", d / "o.mp4", "--frames", 2] + BAD[case](d))
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if not x.startswith("rendering")]
    assert len(lines) == 1 and lines[0].startswith("cinemagraph3d: error:"), err
    assert not (d / "o.mp4").exists()


def test_cli_bad_project_file(lake_files, capsys):
    d, _ = lake_files
    (d / "p.json").write_text(json.dumps({"version": 1, "image": "photo.png", "frames": "many"}))
    code, err = run(capsys, ["render", d / "p.json", "-o", d / "o.mp4"])
    assert code == 2 and "frames: expected an integer" in err and "many" in err
    (d / "q.json").write_text(json.dumps({"version": 1, "image": "photo.png", "bogus": 1}))
    code, err = run(capsys, ["render", d / "q.json", "-o", d / "o.mp4"])
    assert code == 2 and "bogus" in err


def test_fill_holes_equals_push_pull_composite():
    from cinemagraph3d.ops import push_pull
    from cinemagraph3d.render.fuse import fill_holes

    g = torch.Generator().manual_seed(5)
    for h, w in [(37, 51), (8, 9), (64, 32)]:
        x = torch.rand(3, h, w, generator=g)
        a = torch.rand(1, h, w, generator=g)
        a[a > 0.6] = 1.0
        ref = torch.where(a >= 1, x, push_pull(x, a))
        torch.testing.assert_close(fill_holes(x, a), ref, rtol=0, atol=1e-6)
    x = torch.rand(2, 9, 9, generator=g)
    assert torch.equal(fill_holes(x, torch.ones(1, 9, 9)), x)


def test_push_pull_keeps_valid_and_fills_constant():
    from cinemagraph3d.ops import push_pull

    w = torch.zeros(1, 16, 16)
    w[:, ::3, ::3] = 1
    v = torch.full((2, 16, 16), 0.7) * w
    out = push_pull(v, w)
    torch.testing.assert_close(out, torch.full((2, 16, 16), 0.7))
