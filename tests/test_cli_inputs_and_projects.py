"""CLI inputs and project files: bad inputs (unwritable output, bad project files, empty image, loop length),
project round trips with every kind of input, H.264 output, 8-bit inputs, custom K, --seed."""

import json
import re
import subprocess

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.cli import main
from cinemagraph3d.demo import demo_scene
from cinemagraph3d.io import read_image, write_png

W, H = 48, 32


@pytest.fixture
def files(tmp_path):
    d = demo_scene(W, H)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    np.save(tmp_path / "disp.npy", 1.0 / d.depth[0].numpy())
    cv2.imwrite(str(tmp_path / "water.png"), d.water.numpy().astype(np.uint8) * 255)
    return tmp_path


def run(capsys, argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def assert_one_line_error(code, err, tmp, out_name="out.mp4"):
    assert code == 2, err
    # A progress bar already drawn (tqdm: "\rrendering: ...]" with no newline) shares its line
    # with an error raised after it started: api.animate opens the bar before the writer.
    err = re.sub(r"rendering:[^\]\n]*\]", "", err)
    lines = [x for x in re.split(r"[\r\n]+", err) if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("cinemagraph3d: error:"), err
    assert not (tmp / out_name).exists()
    assert not [f for f in tmp.iterdir() if f.name.startswith(f".{out_name.split('.')[0]}")], list(
        tmp.iterdir()
    )


def _frames(directory):
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(directory.glob("*.png"))]


# ----------------------------------------------------------------------------- bad inputs


def test_unwritable_output_parent_is_a_file(files, capsys):
    code, _, err = run(capsys, ["animate", files / "photo.png", "-o", files / "photo.png" / "out.mp4"])
    assert_one_line_error(code, err, files)
    assert "directory" in err


def test_unwritable_output_read_only_directory(files, capsys, monkeypatch):
    ro = files / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    import os

    if os.access(ro, os.W_OK):  # root ignores permission bits: simulate what a user would see
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **kw: False if str(p) == str(ro) else real(p, m, **kw))
    code, _, err = run(capsys, ["animate", files / "photo.png", "-o", ro / "out.mp4", "--frames", 2])
    ro.chmod(0o755)
    assert_one_line_error(code, err, ro)
    assert "writable" in err


def test_output_that_cannot_be_created_is_one_line(files, capsys, monkeypatch):
    """The directory passes the access check but creating the temporary file fails (e.g. a
    read-only file system or a full disk): still one line, exit 2, nothing left."""
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, err = run(capsys, ["animate", files / "photo.png", "-o", files / "out.mp4", "--frames", 2])
    assert_one_line_error(code, err, files)


def test_zero_byte_image(files, capsys):
    (files / "empty.png").write_bytes(b"")
    code, _, err = run(capsys, ["animate", files / "empty.png", "-o", files / "out.mp4"])
    assert_one_line_error(code, err, files)
    assert "empty.png" in err


@pytest.mark.parametrize("seconds", ["0", "-1.5", "nan", "inf"])
def test_bad_loop_seconds(files, capsys, seconds):
    argv = ["animate", files / "photo.png", "-o", files / "out.mp4", "--loop-seconds", seconds]
    code, _, err = run(capsys, argv)
    assert_one_line_error(code, err, files)
    assert "--loop-seconds" in err


@pytest.mark.parametrize("fps", ["0", "-2", "nan"])
def test_bad_fps_with_loop_seconds(files, capsys, fps):
    argv = ["animate", files / "photo.png", "-o", files / "out.mp4", "--fps", fps, "--loop-seconds", "2"]
    code, _, err = run(capsys, argv)
    assert_one_line_error(code, err, files)
    assert "--fps" in err


PROJECTS = {
    "syntax": '{"version": 1, "image": "photo.png",',
    "trailing-comma": '{"version": 1, "image": "photo.png",}',
    "not-object": '["photo.png"]',
    "empty-file": "",
    "no-version": json.dumps({"image": "photo.png"}),
    "wrong-version": json.dumps({"version": 99, "image": "photo.png"}),
    "no-image": json.dumps({"version": 1, "frames": 3}),
    "missing-image": json.dumps({"version": 1, "image": "nope.png", "frames": 2}),
    "frames-text": json.dumps({"version": 1, "image": "photo.png", "frames": "many"}),
    "frames-zero": json.dumps({"version": 1, "image": "photo.png", "frames": 0}),
    "fps-negative": json.dumps({"version": 1, "image": "photo.png", "fps": -1}),
    "unknown-key": json.dumps({"version": 1, "image": "photo.png", "bogus": 1}),
    "bad-region": json.dumps({"version": 1, "image": "photo.png", "regions": [{"colour": "red"}]}),
    "region-not-object": json.dumps({"version": 1, "image": "photo.png", "regions": [3]}),
    "bad-camera": json.dumps({"version": 1, "image": "photo.png", "camera": "spiral", "frames": 2}),
    "bad-depth-kind": json.dumps({"version": 1, "image": "photo.png", "depth_kind": "metres"}),
}


@pytest.mark.parametrize("case", sorted(PROJECTS))
def test_bad_project_file_one_line_no_output(files, capsys, case):
    (files / "p.json").write_text(PROJECTS[case])
    code, _, err = run(capsys, ["render", files / "p.json", "-o", files / "out.mp4"])
    assert_one_line_error(code, err, files)


def test_bad_project_file_no_frame_directory(files, capsys):
    (files / "p.json").write_text('{"version": 1, "image": "photo.png", "frames": 2, "camera": "x.json"}')
    code, _, err = run(capsys, ["render", files / "p.json", "-o", files / "frames"])
    assert_one_line_error(code, err, files, out_name="frames")


# ----------------------------------------------------------------------------- project round trips


def _round_trip(capsys, tmp, extra, frames=3):
    base = ["animate", tmp / "photo.png", "--frames", frames, "--loop-steps", 5, "--no-auto-sky"]
    code, _, err = run(capsys, base + extra + ["-o", tmp / "a", "--save-project", tmp / "p.json"])
    assert code == 0, err
    code, _, err = run(capsys, ["render", tmp / "p.json", "-o", tmp / "b"])
    assert code == 0, err
    a, b = _frames(tmp / "a"), _frames(tmp / "b")
    assert len(a) == len(b) == frames
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    return json.loads((tmp / "p.json").read_text()), a


def test_round_trip_labelme_disparity_fov_custom_camera(files, capsys):
    lm = {
        "imageHeight": H,
        "imageWidth": W,
        "shapes": [
            {
                "label": "motion water",
                "shape_type": "polygon",
                "points": [[0, 20], [47, 20], [47, 31], [0, 31]],
            },
            {"label": "hint", "shape_type": "line", "points": [[4, 26], [40, 26]]},
            {"label": "hint 2", "shape_type": "line", "points": [[10, 30], [30, 22]]},
        ],
    }
    (files / "lm.json").write_text(json.dumps(lm))
    T = [np.eye(4).tolist() for _ in range(3)]
    T[1][0][3], T[2][1][3] = 0.02, -0.02
    cam = {"K": [[50.0, 0, 24.0], [0, 50.0, 16.0], [0, 0, 1]], "width": W, "height": H, "cam_from_world": T}
    (files / "cam.json").write_text(json.dumps(cam))
    extra = ["--labelme", files / "lm.json", "--depth", files / "disp.npy", "--depth-kind", "disparity"]
    extra += ["--fov", "55", "--camera", files / "cam.json", "--speed", "1.3"]
    data, frames = _round_trip(capsys, files, extra)
    assert data["motion"]["labelme"].endswith("lm.json") and data["depth"]["kind"] == "disparity"
    cam = data["camera"]
    assert cam["fov"] == 55.0 and cam["path"].endswith("cam.json") and data["motion"]["speed"] == 1.3
    assert not np.array_equal(frames[0], frames[1])  # the camera and the water did move


def test_round_trip_hints_keyframes_anchor_region_speed(files, capsys):
    hints = {"units": "pixels_per_frame", "hints": [{"x": 10, "y": 26, "dx": 0.8, "dy": 0.0}]}
    (files / "h.json").write_text(json.dumps(hints))
    kf = {"keyframes": [{"position": [0, 0, 0]}, {"position": [0.03, 0, 0.02], "rotation_deg": [1, 0, 0]}]}
    (files / "kf.json").write_text(json.dumps(kf))
    extra = ["--mask", files / "water.png", "--region-speed", "0.7", "--hints", files / "h.json"]
    extra += ["--anchor", "30,28", "--depth", files / "depth.npy", "--camera", files / "kf.json"]
    extra += ["--no-safe-zoom", "--seed", "7", "--amplitude", "0.05"]
    data, _ = _round_trip(capsys, files, extra)
    m = data["motion"]
    assert m["hints"].endswith("h.json") and m["anchors"] == [[30.0, 28.0]]
    assert m["region_speeds"] == [0.7] and data["camera"]["safe_zoom"] is False and data["seed"] == 7


def test_same_seed_identical_frames_through_cli(files, capsys):
    argv = ["animate", files / "photo.png", "--frames", 3, "--loop-steps", 4, "--seed", "123"]
    argv += ["--mask", files / "water.png", "--arrow", "5,26,30,26"]
    for out in ("s1", "s2"):
        code, _, err = run(capsys, argv + ["-o", files / out])
        assert code == 0, err
    a, b = _frames(files / "s1"), _frames(files / "s2")
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))


# ----------------------------------------------------------------------------- output and inputs


def test_mp4_is_h264_yuv420p(files, capsys):
    import imageio_ffmpeg

    out = files / "v.mp4"
    argv = ["animate", files / "photo.png", "-o", out, "--frames", 3, "--depth", files / "depth.npy"]
    code, _, err = run(capsys, argv + ["--no-auto-sky", "--fps", "12"])
    assert code == 0, err
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True
    )
    video = [line for line in probe.stderr.splitlines() if "Video:" in line]
    assert len(video) == 1, probe.stderr
    assert re.search(r"Video: h264\b", video[0]) and "yuv420p" in video[0], video[0]
    assert f"{W}x{H}" in video[0] and "12 fps" in video[0], video[0]
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert meta["codec"] == "h264" and tuple(meta["size"]) == (W, H)
    assert len(list(c3.io.iter_frames(out))) == 3


def test_8bit_grey_image_and_8bit_depth_png(tmp_path):
    grey = (np.arange(6 * 8).reshape(6, 8) * 5).astype(np.uint8)
    iio.imwrite(tmp_path / "g.png", grey)
    img = read_image(tmp_path / "g.png")
    assert img.shape == (3, 6, 8)
    for c in range(3):
        np.testing.assert_allclose(img[c].numpy(), grey / 255.0, rtol=0, atol=1e-7)
    z8 = (np.arange(6 * 8).reshape(6, 8) + 10).astype(np.uint8)
    iio.imwrite(tmp_path / "z8.png", z8)
    dm = c3.load_depth_file(tmp_path / "z8.png", 6, 8, "depth")  # z-depth keeps its units (0–255)
    assert dm.metric
    np.testing.assert_allclose(dm.depth[0].numpy(), z8.astype(np.float64), rtol=1e-6)
    dd = c3.load_depth_file(tmp_path / "z8.png", 6, 8, "disparity")  # relative: [NEAR, FAR]
    from cinemagraph3d.depth import RELATIVE_FAR, RELATIVE_NEAR

    assert not dd.metric
    assert float(dd.depth[0, 0, 0]) == pytest.approx(RELATIVE_FAR)  # smallest disparity: far
    assert float(dd.depth[0, -1, -1]) == pytest.approx(RELATIVE_NEAR)


def test_no_safe_zoom_custom_camera_uses_k_exactly_through_cli(tmp_path, capsys):
    """A bright 2×2 dot on a plane at z = 4, a custom trajectory with a wider K: with
    --no-safe-zoom the dot's centre lands at the analytic projection with that K."""
    img = np.full((H, W, 3), 25, np.uint8)
    img[10:12, 30:32] = 255  # centre (31, 11) in pixel coordinates
    iio.imwrite(tmp_path / "dot.png", img)
    np.save(tmp_path / "z.npy", np.full((H, W), 4.0))
    K = [[0.8 * W, 0, 23.0], [0, 0.8 * W, 17.0], [0, 0, 1]]
    (tmp_path / "cam.json").write_text(
        json.dumps({"K": K, "width": W, "height": H, "cam_from_world": [np.eye(4).tolist()]})
    )
    base = ["animate", tmp_path / "dot.png", "--depth", tmp_path / "z.npy", "--camera", tmp_path / "cam.json"]
    base += ["--frames", 1, "--no-auto-sky"]
    f0 = W  # default focal length of the photo: max(W, H)
    X, Y = (31 - W / 2) / f0, (11 - H / 2) / f0  # x/z, y/z of the dot's centre
    u, v = K[0][0] * X + K[0][2], K[1][1] * Y + K[1][2]

    def centroid(directory):
        g = _frames(directory)[0][:, :, 0].astype(float) - 25
        g[g < 0] = 0
        # only the dot's neighbourhood: the hole filling spreads a faint tint over the empty border
        g[g < 20] = 0
        vv, uu = np.mgrid[0:H, 0:W] + 0.5
        return (g * uu).sum() / g.sum(), (g * vv).sum() / g.sum()

    code, _, err = run(capsys, base + ["--no-safe-zoom", "-o", tmp_path / "exact"])
    assert code == 0, err
    cu, cv = centroid(tmp_path / "exact")
    assert abs(cu - u) < 0.1 and abs(cv - v) < 0.1, ((cu, cv), (u, v))
    # with the safe zoom the focal length grows (the wide K shows past the photo's border)
    code, _, err = run(capsys, base + ["-o", tmp_path / "zoomed"])
    assert code == 0, err
    zu, zv = centroid(tmp_path / "zoomed")
    assert abs(zu - u) > 0.5


def test_custom_trajectory_k_is_the_trajectory_k(tmp_path):
    """load_trajectory keeps K exactly (no rescale when width/height match)."""
    K = [[37.5, 0, 20.25], [0, 41.0, 15.5], [0, 0, 1]]
    (tmp_path / "c.json").write_text(
        json.dumps({"K": K, "width": W, "height": H, "cam_from_world": [np.eye(4).tolist()] * 2})
    )
    traj = c3.load_trajectory(tmp_path / "c.json", c3.PinholeCamera.default(W, H))
    assert torch.equal(traj.K, torch.tensor(K, dtype=torch.float64)[None].repeat(2, 1, 1))


def test_frames_and_loop_seconds_must_agree(files, capsys):
    base = ["animate", files / "photo.png", "--fps", "10", "--loop-seconds", "0.3", "--camera", "static"]
    code = main([str(a) for a in base + ["--frames", "5", "-o", files / "a"]])
    err = capsys.readouterr().err
    assert code == 2 and "--frames/--loop-seconds" in err and "3 frames" in err
    assert not (files / "a").exists()
    code = main([str(a) for a in base + ["--frames", "3", "-o", files / "b"]])  # they agree
    capsys.readouterr()
    assert code == 0 and len(list((files / "b").glob("*.png"))) == 3
