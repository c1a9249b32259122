"""Image/depth reading, video writing and trajectory files."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

import cinemagraph3d as c3
from cinemagraph3d.errors import InputError
from cinemagraph3d.io import VideoWriter, iter_frames, read_image


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return (rng.random((10, 14, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tiff"])
def test_read_formats(tmp_path, rgb, ext):
    p = tmp_path / f"a.{ext}"
    Image.fromarray(rgb).save(p, quality=100) if ext != "webp" else Image.fromarray(rgb).save(
        p, lossless=True
    )
    img = read_image(p)
    assert img.shape == (3, 10, 14) and img.dtype == torch.float32
    if ext != "jpg":
        np.testing.assert_allclose(img.permute(1, 2, 0).numpy() * 255, rgb, atol=0.51)


def test_read_16bit_grey_and_rgba(tmp_path, rgb):
    g16 = (np.arange(6 * 5).reshape(5, 6) * 2000).astype(np.uint16)
    iio.imwrite(tmp_path / "g.png", g16)
    img = read_image(tmp_path / "g.png")
    assert img.shape == (3, 5, 6)
    np.testing.assert_allclose(img[0].numpy(), g16 / 65535.0, atol=1e-6)
    assert torch.equal(img[0], img[2])
    rgba = np.concatenate([rgb, np.zeros((10, 14, 1), np.uint8)], -1)  # fully transparent → white
    iio.imwrite(tmp_path / "a.png", rgba)
    assert float(read_image(tmp_path / "a.png").min()) == 1.0
    rgb16 = rgb.astype(np.uint16) * 257
    import cv2

    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[:, :, ::-1])
    np.testing.assert_allclose(
        read_image(tmp_path / "c16.png").permute(1, 2, 0).numpy(), rgb / 255.0, atol=1e-6
    )


def test_exif_orientation(tmp_path):
    yy, xx = np.mgrid[0:10, 0:14]
    rgb = np.stack([xx * 18, yy * 25, 0 * xx + 128], -1).astype(np.uint8)  # smooth: JPEG-safe
    im = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(tmp_path / "o.jpg", exif=exif, quality=100)
    img = read_image(tmp_path / "o.jpg")
    assert img.shape == (3, 14, 10)
    ref = np.rot90(rgb, 3)  # clockwise
    assert np.abs(img.permute(1, 2, 0).numpy() * 255 - ref).mean() < 4


def test_max_side(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png", max_side=7).shape == (3, 5, 7)


def test_bad_images(tmp_path):
    with pytest.raises(InputError, match="no file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    with pytest.raises(InputError, match="readable"):
        read_image(tmp_path / "bad.png")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "one.png")
    with pytest.raises(InputError, match="2×2"):
        read_image(tmp_path / "one.png")


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".webp", ""])
def test_video_round_trip(tmp_path, suffix):
    frames = [torch.full((3, 17, 23), v) for v in (0.1, 0.5, 0.9)]
    out = tmp_path / f"v{suffix}"
    c3.write_video(out, frames, fps=10)
    assert out.exists()
    got = list(iter_frames(out))
    assert len(got) == 3
    assert abs(float(got[1].mean()) / 255 - 0.5) < 0.03
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left over
    if suffix == "":
        assert sorted(p.name for p in out.glob("*.png")) == ["0000.png", "0001.png", "0002.png"]


def test_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 10) as w:
            w.write(torch.zeros(3, 8, 8))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output(tmp_path):
    with pytest.raises(InputError, match="directory"):
        VideoWriter(tmp_path / "nope" / "v.mp4", 10)
    with pytest.raises(InputError, match="output"):
        VideoWriter(tmp_path / "v.avi", 10)
    with pytest.raises(InputError, match="output.fps"):
        VideoWriter(tmp_path / "v.mp4", 0)


def test_depth_file_units_and_resize(tmp_path):
    z = np.linspace(1, 5, 8 * 12).reshape(8, 12)
    np.save(tmp_path / "d.npy", z)
    dm = c3.load_depth_file(tmp_path / "d.npy", 8, 12, "depth")
    assert dm.metric and np.allclose(dm.depth[0].numpy(), z, rtol=1e-6)
    dm2 = c3.load_depth_file(tmp_path / "d.npy", 16, 24, "depth")  # same aspect: resized
    assert dm2.depth.shape == (1, 16, 24) and 1 <= float(dm2.depth.min()) and float(dm2.depth.max()) <= 5
    iio.imwrite(tmp_path / "d16.png", (z * 1000).astype(np.uint16))
    dm3 = c3.load_depth_file(tmp_path / "d16.png", 8, 12, "depth")
    np.testing.assert_allclose(dm3.depth[0].numpy(), np.floor(z * 1000), rtol=1e-6)


def test_disparity_scale(tmp_path):
    d = np.linspace(0, 1, 30).reshape(5, 6)
    np.save(tmp_path / "d.npy", d)
    dm = c3.load_depth_file(tmp_path / "d.npy", 5, 6, "disparity")
    from cinemagraph3d.depth import RELATIVE_FAR, RELATIVE_NEAR

    assert not dm.metric
    assert float(dm.depth.min()) == pytest.approx(RELATIVE_NEAR) and float(dm.depth.max()) == pytest.approx(
        RELATIVE_FAR
    )
    assert float(dm.depth[0, 4, 5]) < float(dm.depth[0, 0, 0])  # larger disparity = nearer


@pytest.mark.parametrize(
    "arr,match",
    [
        (np.full((4, 6), np.nan), "finite"),
        (np.full((4, 6), np.inf), "finite"),
        (-np.ones((4, 6)), "> 0"),
        (np.zeros((4, 6)), "> 0"),
        (np.ones((6, 6)), "aspect"),
    ],
)
def test_bad_depth(tmp_path, arr, match):
    np.save(tmp_path / "d.npy", arr)
    with pytest.raises(InputError, match=match):
        c3.load_depth_file(tmp_path / "d.npy", 4, 6, "depth")


def test_heuristic_depth_sky_far_ground_near():
    from cinemagraph3d.demo import demo_scene

    d = demo_scene(96, 64)
    dm = c3.heuristic_depth(d.image)
    z = dm.depth[0]
    assert float(z[d.sky].median()) > 3 * float(z[-5:].median())
    assert float(z[-1].mean()) < float(z[40].mean())  # ground recedes towards the horizon


def test_closed_paths_loop():
    cam = c3.PinholeCamera.default(64, 48)
    for name in c3.CAMERA_PATHS:
        n = 8
        a = c3.make_trajectory(c3.TrajectorySettings(name, n, 0.1), cam, 2.0, 5.0)
        b = c3.make_trajectory(c3.TrajectorySettings(name, n + 1, 0.1), cam, 2.0, 5.0)
        assert len(a) == n
        # the pose after the last one (phase 2π) is the first: poses are periodic in k/K
        torch.testing.assert_close(a.cam_from_world[0], b.cam_from_world[0])
    with pytest.raises(InputError, match="settings.name"):
        c3.make_trajectory(c3.TrajectorySettings("spiral", 4), cam, 1, 1)


def test_dolly_zoom_keeps_subject_plane():
    cam = c3.PinholeCamera.default(64, 48)
    tr = c3.make_trajectory(c3.TrajectorySettings("dolly-zoom", 8, 0.2), cam, 2.0, 5.0)
    p = torch.tensor([1.0, 0.5, 5.0], dtype=torch.float64)  # on the subject plane
    for T, K in zip(tr.cam_from_world, tr.K):
        q = T[:3, :3] @ p + T[:3, 3]
        u = K[0, 0] * q[0] / q[2] + K[0, 2]
        assert float(u) == pytest.approx(cam.fx * 1.0 / 5.0 + cam.cx)


def test_custom_trajectory_files(tmp_path):
    cam = c3.PinholeCamera.default(64, 48)
    T = torch.eye(4).tolist()
    K = [[32.0, 0, 16], [0, 32.0, 12], [0, 0, 1]]
    (tmp_path / "t.json").write_text(
        json.dumps({"K": K, "width": 32, "height": 24, "cam_from_world": [T, T]})
    )
    tr = c3.load_trajectory(tmp_path / "t.json", cam)
    assert len(tr) == 2 and float(tr.K[0, 0, 0]) == 64.0  # K scaled to the working size
    kf = {"keyframes": [{"position": [0, 0, 0]}, {"position": [1, 0, 0]}, {"position": [0, 1, 0]}]}
    (tmp_path / "k.json").write_text(json.dumps(kf))
    tr = c3.load_trajectory(tmp_path / "k.json", cam, 9)
    assert len(tr) == 9
    torch.testing.assert_close(tr.cam_from_world[0], torch.eye(4, dtype=torch.float64))
    torch.testing.assert_close(tr.cam_from_world[3, :3, 3], torch.tensor([-1.0, 0, 0], dtype=torch.float64))
    for bad, match in [
        ("{", "valid JSON"),
        (json.dumps({"K": K, "cam_from_world": [[[1, 0], [0, 1]]]}), r"4×4"),
        (json.dumps({"K": [[1, 0, 0]], "cam_from_world": [T]}), "3×3"),
        (json.dumps({"foo": 1}), "keyframes"),
    ]:
        (tmp_path / "b.json").write_text(bad)
        with pytest.raises(InputError, match=match):
            c3.load_trajectory(tmp_path / "b.json", cam)


def test_write_layers_and_ply(tmp_path):
    from cinemagraph3d.demo import demo_scene

    d = demo_scene(32, 20)
    ldi = c3.build_ldi(d.image, c3.DepthMap(d.depth, True, "demo"))
    paths = c3.write_layers(tmp_path / "layers", ldi)
    assert len(paths) == 2 * ldi.num_layers
    rgba = iio.imread(tmp_path / "layers" / "layer_0_rgba.png")
    assert rgba.shape == (20, 32, 4)
    np.testing.assert_array_equal(rgba[..., 3] > 0, ldi.alpha[0, 0].numpy() > 0)
    cloud = c3.lift_ldi(ldi, c3.PinholeCamera.default(32, 20))
    o3d = pytest.importorskip("open3d")
    c3.write_ply(tmp_path / "c.ply", cloud)
    pc = o3d.io.read_point_cloud(str(tmp_path / "c.ply"))
    np.testing.assert_allclose(np.asarray(pc.points), cloud.points.double().numpy(), rtol=1e-6)


@pytest.mark.parametrize(("suffix", "max_err"), [(".gif", 1.5), (".webp", 5.0)])
def test_gif_webp_frames_match_and_loop_forever(tmp_path, suffix, max_err):
    """Animated GIF/WebP (streamed through ffmpeg) keep every frame, close to the input (GIF: a
    palette per frame; WebP: lossy 4:2:0, about 3.5 grey levels on this tiny high-frequency
    texture even through Pillow's own encoder), and loop forever."""
    from PIL import Image

    from cinemagraph3d.demo import demo_scene

    base = demo_scene(48, 30).image
    frames = [torch.roll(base, 2 * k, dims=2) for k in range(5)]  # odd width/height allowed
    out = tmp_path / f"v{suffix}"
    c3.write_video(out, frames, fps=12)
    got = list(iter_frames(out))
    assert len(got) == 5
    for k, g in enumerate(got):
        want = (frames[k].permute(1, 2, 0).numpy() * 255).round()
        assert g.shape == (30, 48, 3)
        err = np.abs(np.asarray(g, dtype=np.float64) - want).mean()
        assert err < max_err, (k, err)
    with Image.open(out) as im:
        assert im.info.get("loop") == 0
        assert im.n_frames == 5
