"""Neural networks of the neural preset and our weights format: shapes, counts, save/load, refusals."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from cinemagraph3d.errors import InputError, WeightsError
from cinemagraph3d.models import (
    ColorInpaintNet,
    DepthInpaintNet,
    FeatureEncoder,
    ImageDecoder,
    MotionEstimator,
    PartialConv2d,
    create_model,
    fusion_weights,
    inpaint_color,
    inpaint_depth,
    list_models,
)
from cinemagraph3d.weights import load_model, missing_weights, save_model, weight_paths

# nn.Parameter counts and state_dict sizes of the official networks (state-dict manifest)
OFFICIAL = {
    "feature_encoder": (8_875_968, 105),
    "image_decoder": (18_891_991, 95),
    "motion_estimator": (15_565_826, 142),
    "depth_inpaint": (51_554_825, 91),
    "color_inpaint": (51_569_735, 89),
}


def seeded(name: str, seed: int = 0, **config):
    torch.manual_seed(seed)
    return create_model(name, **config)


@pytest.fixture(scope="module")
def depth_net() -> DepthInpaintNet:
    return seeded("depth_inpaint").eval()


@pytest.fixture(scope="module")
def color_net() -> ColorInpaintNet:
    return seeded("color_inpaint").eval()


@pytest.fixture(scope="module")
def small_nets():
    return {
        "feature_encoder": seeded("feature_encoder").eval(),
        "image_decoder": seeded("image_decoder").eval(),
        "motion_estimator": seeded("motion_estimator", input_size=256).eval(),
    }


# ----------------------------------------------------------------------------------------------
# registry and sizes


def test_registry():
    assert list_models() == sorted(OFFICIAL)
    with pytest.raises(InputError, match="feature_encoder"):
        create_model("resnet50")
    with pytest.raises(InputError, match="image_decoder"):
        create_model("image_decoder", nonsense=1)


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_parameter_counts_and_layout_match_official(name):
    with torch.device("meta"):
        model = create_model(name)
    params, tensors = OFFICIAL[name]
    assert sum(p.numel() for p in model.parameters()) == params
    assert len(model.state_dict()) == tensors
    assert model.arch == name
    assert create_model(name, **model.config).config == model.config


# ----------------------------------------------------------------------------------------------
# shapes and behaviour


@torch.no_grad()
def test_feature_encoder_shapes(small_nets):
    enc: FeatureEncoder = small_nets["feature_encoder"]
    x = torch.rand(3, 4, 96, 160)
    assert enc(x, full_size=False).shape == (3, 32, 24, 40)
    assert enc(x).shape == (3, 32, 96, 160)
    assert enc(torch.rand(2, 4, 50, 75)).shape == (2, 32, 50, 75)
    with pytest.raises(InputError, match="H, W >= 32"):
        enc(torch.rand(1, 4, 20, 64))
    with pytest.raises(InputError, match=r"\(B, 4, H, W\)"):
        enc(torch.rand(1, 3, 64, 64))


@torch.no_grad()
def test_feature_encoder_uses_batch_statistics(small_nets):
    """BN without running stats: a layer's features depend on the other layers in the batch."""
    enc = small_nets["feature_encoder"]
    x = torch.rand(2, 4, 64, 64)
    together = enc(x)
    alone = enc(x[:1])
    assert not torch.allclose(together[:1], alone)
    assert torch.equal(enc.eval()(x), enc.train()(x))  # same in both modes
    enc.eval()


@torch.no_grad()
def test_image_decoder_shapes(small_nets):
    dec: ImageDecoder = small_nets["image_decoder"]
    x = torch.rand(2, 37, 96, 160)
    out = dec(x, x.flip(0), torch.tensor([0.0, 0.5]))
    assert out.shape == (2, 3, 96, 160)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert dec(torch.rand(1, 37, 67, 101), torch.rand(1, 37, 67, 101), 0.2).shape == (1, 3, 67, 101)
    with pytest.raises(InputError, match="x_b"):
        dec(torch.rand(1, 37, 64, 64), torch.rand(1, 37, 64, 96), 0.5)
    with pytest.raises(InputError, match=r"\(B, 37, H, W\)"):
        dec.decode(torch.rand(1, 36, 64, 64))


def test_fusion_weights():
    ones = torch.ones(1, 1, 4, 4)
    disp = torch.rand(1, 1, 4, 4)
    w_f, w_b = fusion_weights(0.0, ones, disp, ones, disp, 1.0)
    assert torch.equal(w_f, ones) and torch.equal(w_b, torch.zeros_like(ones))
    w_f, w_b = fusion_weights(0.5, ones, disp, ones, disp + 1.0, 2.0)
    torch.testing.assert_close(w_f + w_b, ones)
    torch.testing.assert_close(w_b / w_f, torch.full_like(ones, torch.e**2))
    zero = torch.zeros_like(ones)
    w_f, w_b = fusion_weights(0.5, zero, disp, zero, disp, 1.0)  # nothing splatted: no weight
    assert torch.equal(w_f, zero) and torch.equal(w_b, zero)


def test_decoder_fusion_scalar_is_learned():
    dec = seeded("image_decoder")
    x = torch.rand(1, 37, 32, 32)
    dec(x, torch.rand(1, 37, 32, 32), 0.5).mean().backward()
    assert dec.fusion_a.grad is not None and dec.fusion_a.grad.abs() > 0


@torch.no_grad()
def test_motion_estimator_shapes(small_nets):
    net: MotionEstimator = small_nets["motion_estimator"]
    assert net(torch.rand(1, 6, 256, 512)).shape == (1, 2, 256, 512)
    with pytest.raises(InputError, match="multiples of 256"):
        net(torch.rand(1, 6, 200, 256))
    image = torch.rand(1, 3, 90, 160)
    mask = torch.zeros(1, 1, 90, 160)
    mask[..., :, :60] = 1.0
    hint = torch.zeros(1, 2, 90, 160)
    hint[:, 0, :, :60] = 1.5
    flow = net.estimate(image, mask, hint)
    assert flow.shape == (1, 2, 90, 160)
    assert torch.isfinite(flow).all()
    assert flow[..., 70:].abs().max() == 0  # nothing moves outside the mask
    assert flow[..., :50].abs().max() > 0
    with pytest.raises(InputError, match="hint"):
        net.estimate(image, mask, hint[:, :1])


@torch.no_grad()
def test_motion_estimator_eval_keeps_spectral_vectors(small_nets):
    net = small_nets["motion_estimator"]
    u = net.conv3.parametrizations.weight[0]._u.clone()
    x = torch.rand(1, 6, 256, 256)
    a, b = net(x), net(x)
    assert torch.equal(a, b)
    assert torch.equal(net.conv3.parametrizations.weight[0]._u, u)


@torch.no_grad()
def test_inpaint_nets(depth_net, color_net):
    x = torch.zeros(1, 4, 128, 128)
    x[:, 2, :, :50] = 1.0  # context
    x[:, 3, :, 50:90] = 1.0  # holes
    assert depth_net(x).shape == (1, 1, 128, 128)
    out = color_net(torch.cat([torch.rand(1, 3, 128, 128), x[:, 1:]], 1))
    assert out.shape == (1, 3, 128, 128) and 0.0 <= out.min() and out.max() <= 1.0
    with pytest.raises(InputError, match="multiples of 128"):
        depth_net(torch.zeros(1, 4, 100, 128))


class Echo(torch.nn.Module):
    """Stand-in inpainting net that returns its first ``out`` input channels (checks padding)."""

    levels = 7

    def __init__(self, out: int) -> None:
        super().__init__()
        self.out = out
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        return x[:, : self.out]


@torch.no_grad()
def test_inpaint_helpers_normalise_pad_and_compose():
    h, w = 90, 150
    context = torch.zeros(1, 1, h, w)
    context[..., :, :80] = 1.0
    holes = torch.zeros(1, 1, h, w)
    holes[..., :, 80:130] = 1.0
    depth = 1.0 + torch.rand(1, 1, h, w) * 4.0
    echo = Echo(1)
    filled = inpaint_depth(echo, depth, context, holes)
    assert echo.seen == [(1, 4, 128, 256)]
    assert filled.shape == (1, 1, h, w)
    # the network sees zero-mean log-depth; echoing it back gives the depth on the context
    torch.testing.assert_close(filled[..., :80], depth[..., :80])
    log_mean = torch.log(depth[..., :80]).mean()
    torch.testing.assert_close(filled[..., 80:], torch.exp(log_mean).expand(1, 1, h, 70))
    rgb = torch.rand(1, 3, h, w)
    out = inpaint_color(Echo(3), rgb, context, holes)
    assert out.shape == (1, 3, h, w)
    assert torch.equal(out[..., :80], rgb[..., :80])  # the context is kept exactly
    assert out[..., 80:].abs().max() == 0  # echo of the masked input: 0 in holes; 0 elsewhere
    with pytest.raises(InputError, match="holes"):
        inpaint_color(Echo(3), rgb, context, holes[..., :-1])


@torch.no_grad()
def test_inpaint_helpers_run_the_real_nets(depth_net, color_net):
    context = torch.zeros(1, 1, 70, 100)
    context[..., :, :50] = 1.0
    holes = 1.0 - context
    assert inpaint_depth(depth_net, 1.0 + torch.rand(1, 1, 70, 100), context, holes).shape == (1, 1, 70, 100)
    out = inpaint_color(color_net, torch.rand(1, 3, 70, 100), context, holes)
    assert out.shape == (1, 3, 70, 100) and 0.0 <= out.min() and out.max() <= 1.0


def test_partial_conv_fast_mask_sum_equals_convolution():
    torch.manual_seed(0)
    pc = PartialConv2d(6, 5, 3, 2, 1, bias=True)
    mask = (torch.rand(2, 6, 17, 20) > 0.6).float()  # channels differ, as after a concat
    x = torch.randn(2, 6, 17, 20)
    expected_sum = F.conv2d(mask, torch.ones(5, 6, 3, 3), stride=2, padding=1)
    torch.testing.assert_close(pc._mask_sum(mask), expected_sum, rtol=0, atol=0)
    y, new_mask = pc(x, mask)
    assert torch.equal(new_mask, (expected_sum > 0).float())
    assert torch.equal(y[expected_sum == 0], torch.zeros_like(y[expected_sum == 0]))
    with torch.no_grad():
        pc.mask_conv.weight.mul_(2.0)  # not all ones: the general path is used
    torch.testing.assert_close(pc._mask_sum(mask), 2.0 * expected_sum, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# determinism


DETERMINISM_CONFIG = {
    "motion_estimator": {"input_size": 256},
    "depth_inpaint": {"base_channels": 16},
    "color_inpaint": {"base_channels": 16},
}


@torch.no_grad()
@pytest.mark.parametrize(
    "name", ["feature_encoder", "image_decoder", "motion_estimator", "depth_inpaint", "color_inpaint"]
)
def test_determinism(name):
    a = seeded(name, seed=3, **DETERMINISM_CONFIG.get(name, {})).eval()
    b = seeded(name, seed=3, **DETERMINISM_CONFIG.get(name, {})).eval()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    gen = torch.Generator().manual_seed(5)
    if name == "feature_encoder":
        x = torch.rand(2, 4, 64, 64, generator=gen)
        assert torch.equal(a(x), a(x)) and torch.equal(a(x), b(x))
    elif name == "image_decoder":
        x = torch.rand(1, 37, 64, 64, generator=gen)
        assert torch.equal(a(x, x, 0.3), b(x, x, 0.3))
    elif name == "motion_estimator":
        x = torch.rand(1, 6, 256, 256, generator=gen)
        assert torch.equal(a(x), b(x))
    else:  # inpainting nets: [data (1 or 3), edge (0), context, holes] at a multiple of 128
        data = torch.rand(1, 1 if name == "depth_inpaint" else 3, 128, 256, generator=gen)
        context = (torch.rand(1, 1, 128, 256, generator=gen) > 0.5).float()
        holes = 1.0 - context
        x = torch.cat([data * context, torch.zeros_like(holes), context, holes], 1)
        out = a(x)
        assert out.shape == (1, data.shape[1], 128, 256)
        assert torch.equal(out, a(x)) and torch.equal(out, b(x))


# ----------------------------------------------------------------------------------------------
# our weights format


@torch.no_grad()
@pytest.mark.parametrize("name", ["feature_encoder", "image_decoder", "motion_estimator"])
def test_save_load_round_trip(small_nets, tmp_path, name):
    model = small_nets[name]
    path = save_model(model, tmp_path, source={"note": "test"})
    assert path == tmp_path / f"{name}.safetensors"
    meta = json.loads((tmp_path / f"{name}.json").read_text())
    assert meta["format_version"] == 1 and meta["architecture"] == name
    assert meta["config"] == model.config and meta["source"] == {"note": "test"}
    loaded = load_model(tmp_path, name)
    assert not loaded.training and loaded.config == model.config
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    gen = torch.Generator().manual_seed(7)
    if name == "feature_encoder":
        x = torch.rand(2, 4, 64, 96, generator=gen)
        assert torch.equal(model(x), loaded(x))
    elif name == "image_decoder":
        x = torch.rand(1, 37, 64, 96, generator=gen)
        assert torch.equal(model(x, x, 0.7), loaded(x, x, 0.7))
    else:
        x = torch.rand(1, 6, 256, 256, generator=gen)
        assert torch.equal(model(x), loaded(x))


def test_round_trip_with_running_stats_and_other_name(depth_net, tmp_path):
    save_model(depth_net, tmp_path, name="my_depth")
    loaded = load_model(tmp_path, "my_depth", expected_architecture="depth_inpaint")
    assert torch.equal(loaded.enc_4.bn.running_var, depth_net.enc_4.bn.running_var)
    with pytest.raises(WeightsError, match="expected 'color_inpaint'"):
        load_model(tmp_path, "my_depth", expected_architecture="color_inpaint")


def rewrite_tensors(tmp_path, name, edit):
    from safetensors.torch import load_file, save_file

    path, _ = weight_paths(tmp_path, name)
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path))


@pytest.fixture
def saved_decoder(small_nets, tmp_path):
    save_model(small_nets["image_decoder"], tmp_path)
    return tmp_path


def test_refuses_unexpected_tensor(saved_decoder):
    rewrite_tensors(saved_decoder, "image_decoder", lambda t: t.update({"extra.weight": torch.zeros(2)}))
    with pytest.raises(WeightsError, match=r"unexpected tensors \(1\): extra\.weight"):
        load_model(saved_decoder, "image_decoder")


def test_refuses_missing_tensors(saved_decoder):
    def drop(t):
        del t["fusion_a"]
        del t["up2.b.norm.bias"]

    rewrite_tensors(saved_decoder, "image_decoder", drop)
    with pytest.raises(WeightsError, match=r"missing tensors \(2\): fusion_a, up2\.b\.norm\.bias"):
        load_model(saved_decoder, "image_decoder")


def test_refuses_wrong_shape(saved_decoder):
    rewrite_tensors(saved_decoder, "image_decoder", lambda t: t.update({"head.conv.bias": torch.zeros(4)}))
    with pytest.raises(WeightsError, match=r"head\.conv\.bias \(4,\) != \(3,\)"):
        load_model(saved_decoder, "image_decoder")


def test_refuses_bad_files(saved_decoder):
    tensor_path, config_path = weight_paths(saved_decoder, "image_decoder")
    meta = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(WeightsError, match="newer"):
        load_model(saved_decoder, "image_decoder")
    config_path.write_text(json.dumps({**meta, "architecture": "unet9000"}))
    with pytest.raises(WeightsError, match="unknown architecture"):
        load_model(saved_decoder, "image_decoder")
    config_path.write_text("{not json")
    with pytest.raises(WeightsError, match="JSON"):
        load_model(saved_decoder, "image_decoder")
    config_path.write_text(json.dumps(meta))
    tensor_path.write_bytes(b"garbage")
    with pytest.raises(WeightsError, match="safetensors"):
        load_model(saved_decoder, "image_decoder")
    tensor_path.unlink()
    with pytest.raises(WeightsError, match="image_decoder.safetensors"):
        load_model(saved_decoder, "image_decoder")


def test_missing_weights_lists_files(saved_decoder):
    assert missing_weights(saved_decoder, ["image_decoder"]) == []
    missing = missing_weights(saved_decoder, ["image_decoder", "feature_encoder"])
    assert [p.name for p in missing] == ["feature_encoder.safetensors", "feature_encoder.json"]


def test_save_requires_registered_model(tmp_path):
    with pytest.raises(InputError, match="create_model"):
        save_model(torch.nn.Linear(2, 2), tmp_path)
