"""Converter of the official 3D-Cinemagraphy checkpoints.

The test writes checkpoints with exactly the layout of the state-dict manifest (names, shapes,
dtypes, top-level keys; random values), converts them, and checks that every tensor arrives once
and unchanged, and that each converted network computes what the official one computes: forward
passes of our modules are compared with small functional re-implementations of the reference
networks that read the *source* tensors by their official names.
"""

from __future__ import annotations

import collections
import hashlib
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cinemagraph3d.convert import NEURAL_MODELS, convert_official
from cinemagraph3d.errors import WeightsError
from cinemagraph3d.weights import load_model, read_torch_checkpoint

MANIFEST = (
    Path(__file__).resolve().parents[2] / "shared" / "anchors" / "3d-cinemagraphy-state-dict-manifest.txt"
)

pytestmark = pytest.mark.skipif(not MANIFEST.is_file(), reason=f"manifest not found at {MANIFEST}")

SECTIONS = {
    ("model_150000.pth", "feature_net"): "feature_encoder",
    ("model_150000.pth", "img_decoder"): "image_decoder",
    ("sceneflow_model.pth", "netG"): "motion_estimator",
    ("depth-model.pth", None): "depth_inpaint",
    ("color-model.pth", None): "color_inpaint",
}
COUNT_LABELS = {
    "feature_net": "feature_encoder",
    "img_decoder": "image_decoder",
    "motion": "motion_estimator",
    "depth inpaint": "depth_inpaint",
    "color inpaint": "color_inpaint",
}


# ----------------------------------------------------------------------------------------------
# manifest parsing and fake checkpoints


def parse_manifest() -> tuple[dict[tuple[str, str | None], list[tuple[str, tuple[int, ...], str]]], dict]:
    sections: dict[tuple[str, str | None], list] = {}
    counts: dict[str, int] = {}
    current = None
    for line in MANIFEST.read_text().splitlines():
        m = re.match(r"## ckpts/(\S+)(?: \['(\w+)'\])?\s+--", line)
        if m:
            current = (m[1], m[2])
            sections[current] = []
            continue
        m = re.match(r"\s+(feature_net|img_decoder|motion|depth inpaint|color inpaint)\s.*?: ([\d,]+)$", line)
        if m and current is None:
            counts[COUNT_LABELS[m[1]]] = int(m[2].replace(",", ""))
            continue
        parts = line.split("\t")
        if current is not None and len(parts) == 3 and parts[1].startswith("("):
            shape = tuple(int(s) for s in parts[1].strip("()").split(",") if s.strip())
            sections[current].append((parts[0], shape, parts[2]))
    return sections, counts


def power_iteration(w: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    mat = w.flatten(1)
    v = F.normalize(torch.randn(mat.shape[1], generator=gen), dim=0)
    for _ in range(30):
        u = F.normalize(mat @ v, dim=0)
        v = F.normalize(mat.T @ u, dim=0)
    return u, v


def fake_state_dict(layout, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Random tensors with the manifest's names/shapes and plausible statistics."""
    sd: dict[str, torch.Tensor] = {}
    for name, shape, dtype in layout:
        leaf = name.rsplit(".", 1)[-1]
        if dtype == "int64":
            sd[name] = torch.randint(1, 10_000, shape, generator=gen, dtype=torch.int64)
        elif name.endswith("mask_conv.weight"):
            sd[name] = torch.ones(shape)
        elif leaf in ("weight_u", "weight_v"):
            continue  # filled from weight_orig below
        elif leaf == "running_var":
            sd[name] = torch.rand(shape, generator=gen) + 0.5
        elif leaf == "running_mean":
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) >= 2:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod()))
            sd[name] = torch.randn(shape, generator=gen) / fan_in**0.5
        elif len(shape) == 0:
            sd[name] = torch.tensor(0.5 + torch.rand((), generator=gen).item())
        elif leaf == "weight":
            sd[name] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:
            sd[name] = 0.1 * torch.randn(shape, generator=gen)
    for name, _shape, _ in layout:
        if name.endswith("weight_u"):
            stem = name[: -len("weight_u")]
            u, v = power_iteration(sd[stem + "weight_orig"], gen)
            # a slightly stale u, v as after training: sigma is close to, not exactly, the top one
            sd[stem + "weight_u"] = F.normalize(u + 0.01 * torch.randn(u.shape, generator=gen), dim=0)
            sd[stem + "weight_v"] = F.normalize(v + 0.01 * torch.randn(v.shape, generator=gen), dim=0)
    return {name: sd[name] for name, _, _ in layout}


@pytest.fixture(scope="module")
def manifest():
    return parse_manifest()


@pytest.fixture(scope="module")
def official(manifest, tmp_path_factory):
    """Official-layout checkpoint files in a temporary ckpts/ folder, and their state dicts."""
    sections, _ = manifest
    gen = torch.Generator().manual_seed(0)
    states = {key: fake_state_dict(sections[key], gen) for key in SECTIONS}
    root = tmp_path_factory.mktemp("release")
    ckpts = root / "ckpts"
    ckpts.mkdir()
    netd = fake_state_dict(sections[("model_150000.pth", "netD")], gen)
    torch.save(
        {
            "optimG": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0, 1]}]},
            "schedG": {"step_size": 50000, "gamma": 0.5, "last_epoch": 150000, "_last_lr": [2.5e-5]},
            "optimD": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
            "schedD": {"step_size": 50000, "gamma": 0.5, "last_epoch": 150000},
            "feature_net": states[("model_150000.pth", "feature_net")],
            "img_decoder": states[("model_150000.pth", "img_decoder")],
            "netD": netd,
        },
        ckpts / "model_150000.pth",
    )
    torch.save({"netG": states[("sceneflow_model.pth", "netG")], "epoch": 100}, ckpts / "sceneflow_model.pth")
    torch.save(states[("depth-model.pth", None)], ckpts / "depth-model.pth")
    torch.save(states[("color-model.pth", None)], ckpts / "color-model.pth")
    return root, states


@pytest.fixture(scope="module")
def converted(official, tmp_path_factory):
    root, _ = official
    dst = tmp_path_factory.mktemp("converted")
    paths = convert_official(root, dst)  # the parent of ckpts/ is accepted
    return dst, paths


def official_state(states, name):
    return next(states[k] for k, v in SECTIONS.items() if v == name)


# ----------------------------------------------------------------------------------------------
# bookkeeping


def test_parameter_counts_equal_manifest(manifest):
    from cinemagraph3d.models import create_model

    _, counts = manifest
    assert set(counts) == set(NEURAL_MODELS)
    for name, count in counts.items():
        with torch.device("meta"):
            model = create_model(name)
        assert sum(p.numel() for p in model.parameters()) == count, name


def digest(t: torch.Tensor) -> tuple:
    return (
        t.dtype,
        tuple(t.shape),
        hashlib.blake2b(t.contiguous().numpy().tobytes(), digest_size=16).digest(),
    )


def test_every_tensor_arrives_once_and_unchanged(official, converted):
    from safetensors.torch import load_file

    _, states = official
    dst, paths = converted
    assert set(paths) == set(NEURAL_MODELS)
    for name in NEURAL_MODELS:
        assert paths[name] == dst / f"{name}.safetensors"
        assert (dst / f"{name}.json").is_file()
        ours = load_file(str(paths[name]))
        src = official_state(states, name)
        assert len(ours) == len(src), name
        # bijection by content: the multiset of tensors is preserved (names checked by the
        # forward comparisons below)
        assert collections.Counter(map(digest, ours.values())) == collections.Counter(
            map(digest, src.values())
        ), name


def test_converted_files_load(converted):
    dst, _ = converted
    for name in NEURAL_MODELS:
        model = load_model(dst, name)
        assert model.arch == name
        assert not model.training


# ----------------------------------------------------------------------------------------------
# functional re-implementations of the reference networks, reading the official tensor names


def conv(x, w, b=None, stride=1, pad=0, reflect=False):
    if pad and reflect:
        x = F.pad(x, [pad] * 4, mode="reflect")
        pad = 0
    return F.conv2d(x, w, b, stride, pad)


def ref_feature_net(sd, x):
    def bn(x, p):  # track_running_stats=False: batch statistics
        return F.batch_norm(x, None, None, sd[p + ".weight"], sd[p + ".bias"], training=True)

    def conv_bn_elu(x, p):
        return F.elu(
            bn(conv(x, sd[p + ".conv.weight"], sd[p + ".conv.bias"], pad=1, reflect=True), p + ".bn")
        )

    def up_skip(x, skip, p):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        x = conv_bn_elu(x, p + ".conv")
        dy, dx = x.shape[2] - skip.shape[2], x.shape[3] - skip.shape[3]
        skip = F.pad(skip, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return torch.cat([x, skip], 1)

    h = F.relu(bn(conv(x, sd["conv1.weight"], stride=2, pad=3, reflect=True), "bn1"))
    h = F.max_pool2d(h, 3, 2, 1)
    feats = []
    for layer, blocks in ((1, 3), (2, 4), (3, 6)):
        for i in range(blocks):
            p = f"layer{layer}.{i}"
            stride = 2 if (layer > 1 and i == 0) else 1
            out = F.relu(bn(conv(h, sd[p + ".conv1.weight"], stride=stride, pad=1, reflect=True), p + ".bn1"))
            out = bn(conv(out, sd[p + ".conv2.weight"], pad=1, reflect=True), p + ".bn2")
            if p + ".downsample.0.weight" in sd:
                h = bn(conv(h, sd[p + ".downsample.0.weight"], stride=stride), p + ".downsample.1")
            h = F.relu(out + h)
        feats.append(h)
    y = conv_bn_elu(up_skip(feats[2], feats[1], "upconv3"), "iconv3")
    y = conv_bn_elu(up_skip(y, feats[0], "upconv2"), "iconv2")
    return conv(y, sd["out_conv.weight"], sd["out_conv.bias"])


def ref_img_decoder(sd, x0, x1, time):
    a = sd["alpha"]
    w0 = (1 - time) * torch.exp(a * x0[:, -1:]) * x0[:, 3:4]
    w1 = time * torch.exp(a * x1[:, -1:]) * x1[:, 3:4]
    total = torch.clamp(w0 + w1, min=1e-6)
    x = w0 / total * x0 + w1 / total * x1

    def unit(x, p):
        y = conv(x, sd[p + ".0.weight"], sd[p + ".0.bias"], pad=1, reflect=True)
        y = F.group_norm(y, y.shape[1] // 32, sd[p + ".1.weight"], sd[p + ".1.bias"])
        return F.prelu(y, sd[p + ".2.weight"])

    def double(x, p):
        a = unit(x, p + ".double_conv1")
        return a, unit(a, p + ".double_conv2")

    def fit(x, ref):
        # The official Up step calls F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2],
        # mode="reflect") with dy = ref_h - x_h: reflect-pads when x is smaller and crops when it
        # is larger. A negative pad of dy // 2 (floor) crops ceil(|dy| / 2) rows at the top and the
        # remaining floor(|dy| / 2) at the bottom (likewise left/right), which matters when the
        # size at H/16 is odd. Written out here as slicing, independent of F.pad.
        dy, dx = ref.shape[2] - x.shape[2], ref.shape[3] - x.shape[3]
        if dy < 0:
            top = -(dy // 2)  # = ceil(-dy / 2)
            x = x[:, :, top : top + ref.shape[2]]
        if dx < 0:
            left = -(dx // 2)
            x = x[:, :, :, left : left + ref.shape[3]]
        dy, dx = max(dy, 0), max(dx, 0)
        if dy or dx:
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2], mode="reflect")
        return x

    def up(x, c1, c2, p):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        a = unit(torch.cat([c1, fit(x, c1)], 1), p + ".double_conv1")
        return unit(torch.cat([c2, a], 1), p + ".double_conv2")

    s = F.prelu(conv(x, sd["firstconv.weight"], pad=3), sd["firstprelu.weight"])
    d = [double(F.max_pool2d(s, 2), "down1.maxpool_conv.1")]
    for k in (2, 3, 4):
        d.append(double(F.max_pool2d(d[-1][1], 2), f"down{k}.maxpool_conv.1"))
    _, m = double(d[3][1], "conv5")
    u = up(m, d[3][1], d[3][0], "up1.conv")
    u = up(u, d[2][1], d[2][0], "up2.conv")
    u = up(u, d[1][1], d[1][0], "up3.conv")
    u = up(u, d[0][1], d[0][0], "up4.conv")
    u = F.interpolate(u, scale_factor=2, mode="bilinear", align_corners=True)
    return torch.sigmoid(
        conv(torch.cat([s, u], 1), sd["outc.conv.weight"], sd["outc.conv.bias"], pad=1, reflect=True)
    )


def ref_motion(sd, x):
    p = "motion_predictor."

    def sn_conv(h, name, stride):
        w = sd[p + name + ".weight_orig"]
        sigma = torch.dot(sd[p + name + ".weight_u"], w.flatten(1) @ sd[p + name + ".weight_v"])
        return F.conv2d(h, w / sigma, sd[p + name + ".bias"], stride, 1)

    def resize_cond(size):
        return torch.cat(
            [
                F.interpolate(x[:, :3], size=size, mode="bilinear", align_corners=False),
                F.interpolate(x[:, 3:4], size=size, mode="nearest"),
                F.interpolate(x[:, 4:6], size=size, mode="bilinear", align_corners=False),
            ],
            1,
        )

    def spade(h, name):
        seg = resize_cond(h.shape[2:])
        q = p + name
        actv = F.relu(F.conv2d(seg, sd[q + ".mlp_shared.0.weight"], sd[q + ".mlp_shared.0.bias"], padding=1))
        gamma = F.conv2d(actv, sd[q + ".mlp_gamma.weight"], sd[q + ".mlp_gamma.bias"], padding=1)
        beta = F.conv2d(actv, sd[q + ".mlp_beta.weight"], sd[q + ".mlp_beta.bias"], padding=1)
        return F.instance_norm(h) * (1 + gamma) + beta

    def up(h):
        bil = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        return torch.cat(
            [bil(h[:, :3]), F.interpolate(h[:, 3:4], scale_factor=2, mode="nearest"), bil(h[:, 4:])], 1
        )

    enc_norms = [
        "spade_layer2_0",
        "spade_layer4_0",
        "spade_layer8_0",
        "spade_layer8_1",
        "spade_layer8_2",
        "spade_layer8_3",
    ]
    dec_norms = [
        "spade_layer8_4",
        "spade_layer8_5",
        "spade_layer8_6",
        "spade_layer8_7",
        "spade_layer4_1",
        "spade_layer2_1",
        "spade_layer",
    ]
    e = [sn_conv(x, "conv1", 2)]
    for k, norm in zip(range(2, 8), enc_norms):
        e.append(spade(sn_conv(F.leaky_relu(e[-1], 0.2), f"conv{k}", 2), norm))
    d = up(F.relu(sn_conv(F.leaky_relu(e[-1], 0.2), "conv8", 2)))
    for k, norm in zip(range(1, 8), dec_norms):
        h = spade(sn_conv(d, f"dconv{k}", 1), norm)
        d = F.relu(torch.cat([up(h), up(e[7 - k])], 1))
    return sn_conv(d, "dconv8", 1) * 20.0


def ref_inpaint(sd, x, dec_suffix, final):
    def pconv(h, m, p, stride, pad):
        w, b = sd[p + ".input_conv.weight"], sd.get(p + ".input_conv.bias")
        out = F.conv2d(h * m, w, b, stride, pad)
        msum = F.conv2d(m, sd[p + ".mask_conv.weight"], None, stride, pad)
        holes = msum == 0
        msum = msum.masked_fill(holes, 1.0)
        bias = b.view(1, -1, 1, 1) if b is not None else torch.zeros_like(out)
        out = ((out - bias) * (w.shape[1] * w.shape[2] * w.shape[3])) / msum + bias
        return out.masked_fill(holes, 0.0), (~holes).float()

    def block(h, m, p, stride, pad, act):
        h, m = pconv(h, m, p + ".conv", stride, pad)
        if p + ".bn.weight" in sd:
            h = F.batch_norm(
                h,
                sd[p + ".bn.running_mean"],
                sd[p + ".bn.running_var"],
                sd[p + ".bn.weight"],
                sd[p + ".bn.bias"],
            )
        if act == "relu":
            h = F.relu(h)
        elif act == "leaky":
            h = F.leaky_relu(h, 0.2)
        return h, m

    mask = (x[:, -2:-1] + x[:, -1:]).clamp(0, 1).repeat(1, x.shape[1], 1, 1)
    hs, ms = [x], [mask]
    for k, (_kernel, pad) in enumerate([(7, 3), (5, 2), (5, 2), (3, 1), (3, 1), (3, 1), (3, 1)], start=1):
        h, m = block(hs[-1], ms[-1], f"enc_{k}", 2, pad, "relu")
        hs.append(h)
        ms.append(m)
    h, m = hs[-1], ms[-1]
    for k in range(7, 0, -1):
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        m = F.interpolate(m, scale_factor=2, mode="nearest")
        name = f"dec_{k}{dec_suffix if k <= 5 else ''}"
        h, m = block(
            torch.cat([h, hs[k - 1]], 1),
            torch.cat([m, ms[k - 1]], 1),
            name,
            1,
            1,
            None if k == 1 else "leaky",
        )
    return torch.sigmoid(h) if final == "sigmoid" else h


# ----------------------------------------------------------------------------------------------
# forward equality of converted modules and reference computations on the source tensors


def close(a, b, rel=2e-4):
    scale = b.abs().max().item() + 1e-6
    torch.testing.assert_close(a, b, rtol=rel, atol=rel * scale)


@torch.no_grad()
def test_feature_encoder_matches_reference(official, converted):
    _, states = official
    dst, _ = converted
    sd = official_state(states, "feature_encoder")
    x = torch.rand(3, 4, 70, 98, generator=torch.Generator().manual_seed(1))
    ours = load_model(dst, "feature_encoder")(x, full_size=False)
    ref = ref_feature_net(sd, x)
    assert ours.shape == ref.shape == (3, 32, 20, 28)
    close(ours, ref)


@torch.no_grad()
@pytest.mark.parametrize(
    "height, width",
    [
        (66, 100),  # H/16 and W/16 even: the first up-step crops an even number of rows/columns
        (80, 96),  # H/16 = 5: odd crop of rows
        (144, 96),  # H/16 = 9
        (96, 80),  # W/16 = 5: odd crop of columns
    ],
)
def test_image_decoder_matches_reference(official, converted, height, width):
    _, states = official
    dst, _ = converted
    sd = official_state(states, "image_decoder")
    gen = torch.Generator().manual_seed(2)
    x0 = torch.rand(1, 37, height, width, generator=gen)
    x1 = torch.rand(1, 37, height, width, generator=gen)
    ours = load_model(dst, "image_decoder")(x0, x1, 0.3)
    ref = ref_img_decoder(sd, x0, x1, 0.3)
    assert ours.shape == ref.shape == (1, 3, height, width)
    close(ours, ref)


@torch.no_grad()
def test_motion_estimator_matches_reference(official, converted):
    _, states = official
    dst, _ = converted
    sd = official_state(states, "motion_estimator")
    gen = torch.Generator().manual_seed(3)
    rgb = torch.rand(1, 3, 256, 256, generator=gen) * 2 - 1
    mask = (torch.rand(1, 1, 256, 256, generator=gen) > 0.5).float()
    hint = torch.randn(1, 2, 256, 256, generator=gen)
    x = torch.cat([rgb, mask, hint], 1)
    ours = load_model(dst, "motion_estimator")(x)
    ref = ref_motion(sd, x)
    assert ours.shape == ref.shape == (1, 2, 256, 256)
    close(ours, ref)


def inpaint_input(channels: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    context = torch.zeros(1, 1, 128, 128)
    context[..., 20:100, 10:70] = 1.0
    holes = torch.zeros(1, 1, 128, 128)
    holes[..., 10:110, 70:120] = 1.0
    data = torch.randn(1, channels - 3, 128, 128, generator=gen) * context
    return torch.cat([data, torch.zeros_like(holes), context, holes], 1)


@torch.no_grad()
@pytest.mark.parametrize(
    "name, channels, suffix, final", [("depth_inpaint", 4, "", None), ("color_inpaint", 6, "A", "sigmoid")]
)
def test_inpaint_nets_match_reference(official, converted, name, channels, suffix, final):
    _, states = official
    dst, _ = converted
    sd = official_state(states, name)
    x = inpaint_input(channels, seed=4)
    ours = load_model(dst, name)(x)
    ref = ref_inpaint(sd, x, suffix, final)
    assert ours.shape == ref.shape == (1, channels - 3, 128, 128)
    close(ours, ref)


# ----------------------------------------------------------------------------------------------
# refusals


def test_missing_files_are_named(tmp_path):
    (tmp_path / "depth-model.pth").write_bytes(b"")
    with pytest.raises(WeightsError) as info:
        convert_official(tmp_path, tmp_path / "out")
    listed = re.search(r": missing (.*?) \(", str(info.value))[1]
    assert set(listed.split(", ")) == {"model_150000.pth", "sceneflow_model.pth", "color-model.pth"}
    assert not (tmp_path / "out").exists()


def test_not_a_directory(tmp_path):
    with pytest.raises(WeightsError, match="not a directory"):
        convert_official(tmp_path / "nope", tmp_path / "out")


def test_module_entry_is_the_cli_command(tmp_path):
    """``python -m cinemagraph3d.convert SRC DST`` runs ``cinemagraph3d convert-weights``: one
    error line, exit 2, nothing written."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "cinemagraph3d.convert", str(tmp_path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.startswith("cinemagraph3d: error: ")
    assert out.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_unexpected_and_missing_tensors_are_listed(official, tmp_path):
    _, states = official
    sd = dict(official_state(states, "depth_inpaint"))
    del sd["dec_3.bn.running_var"]
    sd["enc_8.conv.input_conv.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "depth-model.pth")
    with pytest.raises(WeightsError) as info:
        convert_official(tmp_path, tmp_path / "out", names=["depth_inpaint"])
    message = str(info.value)
    assert "dec_3.bn.running_var" in message
    assert "enc_8.conv.input_conv.weight" in message
    assert not (tmp_path / "out" / "depth_inpaint.safetensors").exists()


def test_wrong_shape_is_refused(official, tmp_path):
    _, states = official
    sd = dict(official_state(states, "color_inpaint"))
    sd["dec_1A.conv.input_conv.bias"] = torch.zeros(4)
    torch.save(sd, tmp_path / "color-model.pth")
    with pytest.raises(WeightsError, match=r"dec_1\.conv\.input_conv\.bias \(4,\) != \(3,\)"):
        convert_official(tmp_path, tmp_path / "out", names=["color_inpaint"])


def test_missing_entry_is_named(tmp_path):
    torch.save({"generator": {}}, tmp_path / "sceneflow_model.pth")
    with pytest.raises(WeightsError, match="'netG'"):
        convert_official(tmp_path, tmp_path / "out", names=["motion_estimator"])


class NotATensor:
    """A Python object that a safe loader must refuse to unpickle."""

    def __init__(self) -> None:
        self.payload = 1


def test_arbitrary_objects_are_not_unpickled(tmp_path):
    path = tmp_path / "depth-model.pth"
    torch.save({"enc_1.conv.input_conv.weight": torch.zeros(1), "extra": NotATensor()}, path)
    with pytest.raises(WeightsError, match="weights_only=True"):
        read_torch_checkpoint(path)
    with pytest.raises(WeightsError):
        convert_official(tmp_path, tmp_path / "out", names=["depth_inpaint"])


# ----------------------------------------------------------------------------------------------
# "Done when" of the neural-preset issue: one conversion command, then a neural render


@pytest.fixture
def small_photo(tmp_path):
    """A 64x40 photo with its z-depth (.npy) and a fluid mask (PNG)."""
    import cv2
    import numpy as np

    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    d = demo_scene(64, 40)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    cv2.imwrite(str(tmp_path / "water.png"), d.water.numpy().astype(np.uint8) * 255)
    return tmp_path


def test_convert_then_render_neural_through_the_cli(official, small_photo, tmp_path, capsys):
    """Official-layout checkpoints -> `convert-weights` -> `animate --preset neural --weights`."""
    import cv2
    import numpy as np

    from cinemagraph3d.cli import main as cli_main

    root, _ = official
    dst = tmp_path / "weights"
    assert cli_main(["convert-weights", str(root / "ckpts"), str(dst)]) == 0
    out, err = capsys.readouterr()
    # success path: one "name: path" line per written network, each file really written
    printed = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert set(printed) == set(NEURAL_MODELS), out
    for name, path in printed.items():
        assert Path(path) == dst / f"{name}.safetensors"
        assert Path(path).is_file() and (dst / f"{name}.json").is_file()

    frames_dir = tmp_path / "frames"
    argv = [
        "animate",
        small_photo / "photo.png",
        "--depth",
        small_photo / "depth.npy",
        "--preset",
        "neural",
        "--weights",
        dst,
        "--frames",
        "2",
        "--camera",
        "swing",
        "--mask",  # a region without arrows: the converted motion estimator predicts its motion
        small_photo / "water.png",
        "--loop-steps",
        "4",
        "-o",
        frames_dir,
    ]
    code = cli_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"wrote {frames_dir}" in out
    frames = [cv2.imread(str(p)) for p in sorted(frames_dir.glob("*.png"))]
    assert len(frames) == 2
    for frame in frames:
        assert frame is not None and frame.shape == (40, 64, 3) and frame.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[1])  # camera and water moved between the frames
