"""Learned LDI inpainting: small random inpainting nets saved and loaded by the real weights code."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cinemagraph3d.errors import InputError, WeightsError
from cinemagraph3d.ldi import LDISettings, build_ldi, build_ldi_learned, load_inpaint_nets
from cinemagraph3d.types import DepthMap

H, W = 40, 56


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A weights directory with tiny random depth/colour inpainting nets (real classes)."""
    from cinemagraph3d.models import create_model
    from cinemagraph3d.weights import save_model

    d = tmp_path_factory.mktemp("inpaint_weights")
    torch.manual_seed(0)
    for name in ("depth_inpaint", "color_inpaint"):
        net = create_model(name, base_channels=4)
        with torch.no_grad():  # non-trivial batch-norm statistics, used in eval mode
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 2.0)
        save_model(net, d)
    return d


@pytest.fixture(scope="module")
def nets(weights):
    return load_inpaint_nets(weights)


@pytest.fixture(scope="module")
def scene():
    """Random colours over three depth planes: far wall, a middle box, a near box."""
    g = torch.Generator().manual_seed(1)
    image = torch.rand(3, H, W, generator=g)
    z = torch.full((1, H, W), 10.0)
    z[:, 8:34, 10:40] = 4.0
    z[:, 15:28, 22:32] = 1.5
    z = z * (1.0 + 0.02 * torch.rand(1, H, W, generator=g))
    return image, DepthMap(z)


def settings(**kw):
    return LDISettings(band=4, distance_threshold=0.1, **kw)


def band_of(ldi, k):
    return ldi.alpha[k, 0].bool() & ~ldi.visible[k, 0]


def direct_fill(nets, image, z, context, holes):
    """The nets called directly on the reference inputs (no library helper): log-depth made
    zero-mean over the context, centred zero padding to multiples of 128, depth then colour."""
    ctx, hol = context.float()[None, None], holes.float()[None, None]
    log_z = torch.log(z[None] + 1e-8) * ctx
    mean = log_z[ctx > 0].mean()
    x_d = torch.cat([(log_z - mean) * ctx, torch.zeros_like(ctx), ctx, hol], 1)
    x_c = torch.cat([image[None] * ctx, torch.zeros_like(ctx), ctx, hol], 1)
    ph, pw = math.ceil(H / 128) * 128 - H, math.ceil(W / 128) * 128 - W
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    rows, cols = slice(ph // 2, ph // 2 + H), slice(pw // 2, pw // 2 + W)
    with torch.no_grad():
        z_net = torch.exp(nets.depth(F.pad(x_d, pad))[0, :, rows, cols] + mean)
        rgb_net = nets.color(F.pad(x_c, pad))[0, :, rows, cols]
    return rgb_net, z_net


def test_band_equals_the_nets_called_directly(scene, nets):
    image, depth = scene
    ldi = build_ldi(image, depth, settings(inpaint="learned"), inpaint_nets=nets)
    assert ldi.num_layers == 3
    checked = 0
    for k in range(1, ldi.num_layers):
        band = band_of(ldi, k)
        assert band.sum() > 20
        rgb_net, z_net = direct_fill(nets, image, depth.depth, ldi.visible[k, 0], band)
        expect_z = torch.maximum(z_net, depth.depth * 1.5)  # the classic clamp, depth_margin 0.5
        torch.testing.assert_close(ldi.color[k][:, band], rgb_net[:, band], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ldi.depth[k][:, band], expect_z[:, band], rtol=1e-5, atol=1e-6)
        # the net's own depth is used wherever it already lies behind the occluder
        free = band & (z_net[0] > depth.depth[0] * 1.5)
        checked += int(free.sum())
    assert checked > 0, "every band pixel was clamped: the test would not see the net's depth"


def test_outside_the_band_equals_the_classic_ldi(scene, nets):
    image, depth = scene
    classic = build_ldi(image, depth, settings())
    learned = build_ldi(image, depth, settings(inpaint="learned"), inpaint_nets=nets)
    for name in ("alpha", "visible", "labels"):
        assert torch.equal(getattr(learned, name), getattr(classic, name)), name
    bands = torch.stack([band_of(classic, k) for k in range(classic.num_layers)])[:, None]
    assert bands[1:].any() and not bands[0].any()
    for name in ("color", "depth"):
        a, b = getattr(learned, name), getattr(classic, name)
        assert torch.equal(torch.where(bands, 0.0, a), torch.where(bands, 0.0, b)), name
    # the band itself is filled differently (the nets, not push-pull)
    assert not torch.equal(
        learned.color[bands.expand_as(learned.color)], classic.color[bands.expand_as(classic.color)]
    )


def test_inpainted_depth_stays_behind_the_occluder(scene, nets):
    image, depth = scene
    ldi = build_ldi(image, depth, settings(inpaint="learned"), inpaint_nets=nets)
    for k in range(1, ldi.num_layers):
        band = band_of(ldi, k)
        zb = ldi.depth[k, 0][band]
        assert torch.isfinite(zb).all()
        assert (zb >= depth.depth[0][band] * 1.5 - 1e-6).all()
        # band pixels belong to nearer layers: everything filled is behind what hides it
        assert (ldi.labels[band] < k).all()


def test_no_foreground_colour_enters_the_context(scene, nets):
    """Changing the pixels of nearer layers (the occluders) does not change a back layer's fill."""
    image, depth = scene
    ldi = build_ldi(image, depth, settings(inpaint="learned"), inpaint_nets=nets)
    other = image.clone()
    near = ldi.labels == 0
    other[:, near] = torch.rand(3, int(near.sum()), generator=torch.Generator().manual_seed(5))
    ldi2 = build_ldi(other, depth, settings(inpaint="learned"), inpaint_nets=nets)
    for k in range(1, ldi.num_layers):
        band = band_of(ldi, k)
        assert torch.equal(ldi.color[k][:, band], ldi2.color[k][:, band])


def test_learned_inpainting_is_deterministic(scene, weights, nets):
    image, depth = scene
    a = build_ldi(image, depth, settings(inpaint="learned"), inpaint_nets=nets)
    b = build_ldi_learned(image, depth, weights, settings())  # loads the nets again from disk
    for name in ("color", "depth", "alpha", "visible", "labels"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_explicit_learned_request_without_weights(scene, tmp_path, weights):
    image, depth = scene
    with pytest.raises(WeightsError) as err:
        build_ldi_learned(image, depth, tmp_path / "nowhere")
    for f in (
        "depth_inpaint.safetensors",
        "depth_inpaint.json",
        "color_inpaint.safetensors",
        "color_inpaint.json",
    ):
        assert f in str(err.value)
    assert "convert-weights" in str(err.value) and "depth-model.pth" in str(err.value)
    # only the colour net present: exactly the depth net's files are reported missing
    (tmp_path / "half").mkdir()
    for suffix in (".safetensors", ".json"):
        (tmp_path / "half" / f"color_inpaint{suffix}").symlink_to(weights / f"color_inpaint{suffix}")
    with pytest.raises(WeightsError, match=r"missing depth_inpaint\.safetensors, depth_inpaint\.json\."):
        load_inpaint_nets(tmp_path / "half")
    with pytest.raises(WeightsError, match="needs the inpaint_nets argument"):
        build_ldi(image, depth, LDISettings(inpaint="learned"))
    with pytest.raises(InputError, match="'classic' or 'learned'"):
        build_ldi(image, depth, LDISettings(inpaint="telea"))


@pytest.fixture(scope="module")
def neural_dirs(tmp_path_factory, weights):
    """Two neural-preset weights directories: without and with the inpainting nets."""
    from cinemagraph3d.models import create_model
    from cinemagraph3d.weights import save_model

    base = tmp_path_factory.mktemp("neural_base")
    torch.manual_seed(0)
    save_model(create_model("feature_encoder"), base)
    save_model(create_model("image_decoder", base_channels=8, group_size=8), base)
    full = tmp_path_factory.mktemp("neural_full")
    for f in base.iterdir():
        (full / f.name).symlink_to(f)
    for f in weights.iterdir():
        (full / f.name).symlink_to(f)
    return base, full


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    d = tmp_path_factory.mktemp("photo")
    s = demo_scene(64, 40)
    write_png(d / "photo.png", s.image)
    np.save(d / "depth.npy", s.depth[0].numpy())
    return d


def test_prepare_project_neural_uses_learned_inpainting_when_present(photo, neural_dirs):
    from cinemagraph3d.api import prepare_project, project_frames
    from cinemagraph3d.project import Project

    base, full = neural_dirs

    def prepared(weights):
        p = Project.from_flat(
            image=str(photo / "photo.png"),
            depth=str(photo / "depth.npy"),
            preset="neural",
            weights=str(weights),
            frames=2,
            loop_steps=2,
        )
        return prepare_project(p)

    with_nets, without = prepared(full), prepared(base)
    assert with_nets.models.inpaint is not None and without.models.inpaint is None
    scene = with_nets.scene
    expect = build_ldi_learned(scene.image, scene.depth, load_inpaint_nets(full))
    classic = build_ldi(scene.image, scene.depth)
    for name in ("color", "depth", "alpha"):
        assert torch.equal(getattr(scene.ldi, name), getattr(expect, name)), name
        assert torch.equal(getattr(without.scene.ldi, name), getattr(classic, name)), name
    assert not torch.equal(scene.ldi.color, classic.color)  # the bands differ
    frames = list(project_frames(with_nets))
    assert len(frames) == 2 and all(f.shape == (3, 40, 64) and torch.isfinite(f).all() for f in frames)


def test_neural_preset_with_only_one_inpainting_net_warns_and_stays_classic(tmp_path, neural_dirs, weights):
    from cinemagraph3d.models import load_models

    base, _ = neural_dirs
    for f in list(base.iterdir()) + [weights / "depth_inpaint.safetensors", weights / "depth_inpaint.json"]:
        (tmp_path / f.name).symlink_to(f)
    with pytest.warns(UserWarning, match=r"missing color_inpaint\.safetensors, color_inpaint\.json"):
        models = load_models(tmp_path)
    assert models.inpaint is None
