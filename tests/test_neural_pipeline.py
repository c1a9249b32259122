"""The neural preset end to end, with small randomly initialised networks saved by the test."""

import cv2
import numpy as np
import pytest
import torch

from cinemagraph3d.cli import main


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from cinemagraph3d.models import create_model
    from cinemagraph3d.weights import save_model

    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    save_model(create_model("feature_encoder"), d)
    save_model(create_model("image_decoder", base_channels=8, group_size=8), d)
    save_model(create_model("motion_estimator", base_filters=8, spade_hidden=16, input_size=256), d)
    return d


@pytest.fixture
def photo(tmp_path):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    d = demo_scene(64, 40)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    cv2.imwrite(str(tmp_path / "water.png"), d.water.numpy().astype(np.uint8) * 255)
    return tmp_path


def run(capsys, argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def frames(d):
    return [cv2.imread(str(p)) for p in sorted(d.glob("*.png"))]


def test_neural_preset_renders_deterministically(photo, weights, capsys):
    base = [
        "animate",
        photo / "photo.png",
        "--depth",
        photo / "depth.npy",
        "--preset",
        "neural",
        "--weights",
        weights,
        "--frames",
        3,
        "--mask",
        photo / "water.png",
        "--arrow",
        "5,30,45,30",
    ]
    code, err = run(capsys, base + ["-o", photo / "a"])
    assert code == 0, err
    code, err = run(capsys, base + ["-o", photo / "b"])
    assert code == 0, err
    a, b = frames(photo / "a"), frames(photo / "b")
    assert len(a) == 3 and a[0].shape == (40, 64, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_mask_without_arrows_uses_the_motion_estimator(photo, weights, capsys):
    code, err = run(
        capsys,
        [
            "animate",
            photo / "photo.png",
            "--depth",
            photo / "depth.npy",
            "--preset",
            "neural",
            "--weights",
            weights,
            "--frames",
            4,
            "--camera",
            "static",
            "--mask",
            photo / "water.png",
            "--loop-steps",
            8,
            "-o",
            photo / "m",
        ],
    )
    assert code == 0, err
    m = frames(photo / "m")
    water = cv2.imread(str(photo / "water.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert np.abs(m[2].astype(int) - m[0].astype(int))[water].mean() > 0  # the estimator moved the water


def test_estimate_motion_is_zero_outside_mask(weights):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.neural import estimate_motion, load_neural_preset

    d = demo_scene(64, 40)
    preset = load_neural_preset(weights)
    field = estimate_motion(preset, d.image, d.water)
    assert field.flow.shape == (2, 40, 64)
    assert bool((field.flow[:, ~d.water] == 0).all())


def test_neural_features_carried_by_points(weights):
    import cinemagraph3d as c3
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.neural import encode_layers, load_neural_preset

    d = demo_scene(48, 32)
    preset = load_neural_preset(weights)
    scene = c3.prepare_scene(
        d.image, c3.DepthMap(d.depth, True, "demo"), features=lambda ldi: encode_layers(preset, ldi)
    )
    assert scene.cloud.features.shape[1] == 35
    vis = ~scene.cloud.inpainted
    # the first three channels are the photo's colour
    rgb = d.image.permute(1, 2, 0).reshape(-1, 3)
    idx = scene.cloud.pixels[vis, 1].long() * 48 + scene.cloud.pixels[vis, 0].long()
    torch.testing.assert_close(scene.cloud.features[vis, :3], rgb[idx])


def test_missing_weights_explained(photo, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run(
        capsys,
        ["animate", photo / "photo.png", "--preset", "neural", "--weights", empty, "-o", photo / "x.mp4"],
    )
    assert code == 2
    assert "feature_encoder.safetensors" in err and "image_decoder" in err and "convert-weights" in err
    assert len(err.strip().splitlines()) == 1
    code, err = run(capsys, ["animate", photo / "photo.png", "--preset", "neural", "-o", photo / "x.mp4"])
    assert code == 2 and "--weights" in err
    assert not (photo / "x.mp4").exists()


def test_convert_weights_cli_missing_files(tmp_path, capsys):
    code, err = run(capsys, ["convert-weights", tmp_path, tmp_path / "out"])
    assert code == 2 and "model_150000.pth" in err
