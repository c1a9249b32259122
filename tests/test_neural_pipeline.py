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


def test_mask_without_arrows_uses_the_motion_estimator(photo, weights, capsys, monkeypatch):
    import cinemagraph3d.motion.integrate as motion_pkg
    from cinemagraph3d.io import read_image
    from cinemagraph3d.models import load_models
    from cinemagraph3d.motion import estimate_motion, load_mask

    integrated = []  # (field, num_steps) of every motion integration of the render
    real_integrate = motion_pkg.integrate_motion

    def spy(field, num_steps, **kwargs):
        integrated.append((field, num_steps))
        return real_integrate(field, num_steps, **kwargs)

    monkeypatch.setattr(motion_pkg, "integrate_motion", spy)
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
    # the field the render integrated is exactly the estimator's field on the photo and the mask
    assert len(integrated) == 1
    used, steps = integrated[0]
    assert steps == 8
    image = read_image(photo / "photo.png")
    mask = load_mask(photo / "water.png", 40, 64)
    expected = estimate_motion(load_models(weights).motion, image, mask)
    torch.testing.assert_close(used.flow, expected.flow, rtol=0, atol=0)
    torch.testing.assert_close(used.mask, expected.mask, rtol=0, atol=0)
    assert used.flow[:, mask].abs().max() > 0 and bool((used.flow[:, ~mask] == 0).all())
    m = frames(photo / "m")
    water = cv2.imread(str(photo / "water.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert np.abs(m[2].astype(int) - m[0].astype(int))[water].mean() > 0  # the estimator moved the water


class ConstantFlow(torch.nn.Module):
    """Stands in for the motion network: a constant ``(dx, dy)`` in px/frame at the network size."""

    def __init__(self, dx: float, dy: float) -> None:
        super().__init__()
        self.register_buffer("flow", torch.tensor([dx, dy]).view(1, 2, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return self.flow.expand(x.shape[0], 2, *x.shape[2:])


class EchoHint(torch.nn.Module):
    """Stands in for the motion network: returns the hint channels it was given."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 4:6]


def stub_preset(net: torch.nn.Module):
    """Neural-preset models whose motion estimator runs ``net`` in place of the SPADE U-Net (all
    the estimator's pre- and post-processing is kept)."""
    from cinemagraph3d.models import Models, create_model

    estimator = create_model("motion_estimator", base_filters=8, spade_hidden=16)  # input_size 768
    assert estimator.config["input_size"] == 768
    estimator.forward = net.forward  # the instance attribute wins over the class's forward
    return Models(encoder=None, decoder=None, motion=estimator)


def box(h, w, top, bottom, left, right):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[top:bottom, left:right] = True
    return m


def test_estimator_flow_is_rescaled_from_768_to_the_working_size():
    """Known answer: the network's flow (px/frame at 768x768) becomes ``flow * (W/768, H/768)``
    at the working size ``W x H`` (each axis by its own ratio) inside the mask, exactly 0 outside.

    Near the mask's edge the reference's 15x15 box filter (at 768) averages in zeros, so the
    equality is checked on the mask eroded by 2 working pixels (> 7 px at 768 plus the area
    resampling of the mask edge); over the whole mask the field lies between 0 and that value.
    """
    from cinemagraph3d.motion import estimate_motion

    H, W = 40, 64  # 768/64 = 12 and 768/40 = 19.2: different scales per axis
    net = ConstantFlow(6.0, -9.6)
    preset = stub_preset(net)
    image = torch.rand(3, H, W, generator=torch.Generator().manual_seed(0))
    mask = box(H, W, 8, 32, 12, 52)
    field = estimate_motion(preset.motion, image, mask)
    assert tuple(net.seen.shape) == (1, 6, 768, 768)  # the network ran at 768x768
    expected = torch.tensor([6.0 * W / 768, -9.6 * H / 768]).view(2, 1, 1)  # (0.5, -0.5) px/frame
    interior = box(H, W, 10, 30, 14, 50)
    flow = field.flow
    assert flow.shape == (2, H, W)
    torch.testing.assert_close(flow[:, interior], expected.expand(2, H, W)[:, interior], rtol=1e-5, atol=1e-6)
    assert bool((flow[:, ~mask] == 0).all())
    ratio = flow[:, mask] / expected.view(2, 1)
    assert bool((ratio >= -1e-6).all() and (ratio <= 1 + 1e-5).all())


def test_estimator_hint_round_trips_through_the_network_scale():
    """A hint in px/frame at the working size is scaled by (768/W, 768/H) for the network and the
    output back by (W/768, H/768): a network that echoes its hint returns the hint."""
    from cinemagraph3d.motion import estimate_motion

    H, W = 40, 64
    preset = stub_preset(EchoHint())
    image = torch.rand(3, H, W, generator=torch.Generator().manual_seed(1))
    mask = box(H, W, 8, 32, 12, 52)
    hint = torch.tensor([1.5, 0.75]).view(2, 1, 1).expand(2, H, W).clone()
    field = estimate_motion(preset.motion, image, mask, hint)
    interior = box(H, W, 10, 30, 14, 50)
    torch.testing.assert_close(field.flow[:, interior], hint[:, interior], rtol=1e-5, atol=1e-6)
    assert bool((field.flow[:, ~mask] == 0).all())


def test_estimate_motion_is_zero_outside_mask(weights):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.models import load_models
    from cinemagraph3d.motion import estimate_motion

    d = demo_scene(64, 40)
    models = load_models(weights)
    field = estimate_motion(models.motion, d.image, d.water)
    assert field.flow.shape == (2, 40, 64)
    assert bool((field.flow[:, ~d.water] == 0).all())


def test_neural_features_carried_by_points(weights):
    import cinemagraph3d as c3
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.models import load_models

    d = demo_scene(48, 32)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"), models=load_models(weights))
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


def test_motion_estimator_alone_drives_the_classic_renderer(photo, tmp_path, capsys):
    """Stage 1 of training writes only ``motion_estimator``: with ``--preset neural`` that folder
    gives the learned motion inside the mask and the classic fusion (no decoder)."""
    from cinemagraph3d.models import create_model, load_models
    from cinemagraph3d.weights import save_model

    d = tmp_path / "motion_only"
    d.mkdir()
    torch.manual_seed(0)
    save_model(create_model("motion_estimator", base_filters=8, spade_hidden=16, input_size=256), d)
    models = load_models(d)
    assert models.encoder is None and models.decoder is None and models.motion is not None
    argv = ["animate", photo / "photo.png", "--depth", photo / "depth.npy", "--preset", "neural"]
    argv += ["--weights", d, "--frames", 3, "--camera", "static", "--mask", photo / "water.png"]
    code, err = run(capsys, argv + ["--loop-steps", 6, "-o", photo / "m"])
    assert code == 0, err
    m = frames(photo / "m")
    water = cv2.imread(str(photo / "water.png"), cv2.IMREAD_GRAYSCALE) > 0
    rows = np.nonzero(water.any(1))[0]
    far = slice(0, max(1, rows.min() - 8))  # rows well above the water
    assert np.array_equal(m[0][far], m[1][far])  # classic renderer: the still scene stays exact
    assert np.abs(m[1].astype(int) - m[0])[water].mean() > 1.0  # the estimator moved the water
    photo_px = cv2.imread(str(photo / "photo.png"))
    assert np.abs(m[0].astype(int) - photo_px).max() <= 1  # frame 0 is the photo (no decoder)
