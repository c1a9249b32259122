"""Parity of the native splatting kernel (cinemagraph3d._C) with the pure-PyTorch reference.

Tolerances (float32): outputs rtol 1e-5 / atol 1e-6 and gradients rtol 1e-4 / atol 1e-4 of the
gradient's scale. Both implementations evaluate the same expressions in the same order, so in
practice the CPU forward is bit-identical to the reference; the tolerances absorb a different
summation order (the reference's index_add, the CUDA atomics) and the comparator allows a small
fraction of pixels (0.1 %) to differ, which is what a projection landing exactly on a footprint
or depth-test edge can cause. It is a count of pixels, not a looser tolerance.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from cinemagraph3d.errors import BackendError, InputError
from cinemagraph3d.render import active_backend, native_available, splat_points
from cinemagraph3d.render._torch_impl import _splat_forward
from cinemagraph3d.render.splat import SplatSettings

if not native_available():
    pytest.skip("native extension cinemagraph3d._C is not built", allow_module_level=True)

from cinemagraph3d import _C  # noqa: E402
from cinemagraph3d.render._native import splat_native  # noqa: E402

ARGS = (1e-3, 0.02, 4.0, 1e-6)  # znear, depth_tolerance, max_radius, eps (SplatSettings defaults)
MAX_FLIP_FRACTION = 1e-3
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() and _C.has_cuda else [])


def _intrinsics(h: int, w: int, dtype=torch.float32) -> torch.Tensor:
    f = float(max(h, w))
    return torch.tensor([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]], dtype=dtype)


def make_cloud(
    P: int,
    C: int,
    h: int,
    w: int,
    *,
    seed: int = 0,
    rmin: float = 0.3,
    rmax: float = 2.5,
    layers: int = 1,
    margin: float = 3.0,
    dtype=torch.float32,
):
    """Random points projecting into (and a little around) an h x w image.

    With ``layers > 1`` every point is repeated at ``layers`` depths (occlusion-heavy), some of
    them inside the soft z-buffer tolerance of the nearest one.
    """
    g = torch.Generator().manual_seed(seed)
    K = _intrinsics(h, w, torch.float64)
    n = max(1, P // layers) if P else 0
    u = torch.rand(n, generator=g, dtype=torch.float64) * (w + 2 * margin) - margin
    v = torch.rand(n, generator=g, dtype=torch.float64) * (h + 2 * margin) - margin
    z = 1.0 + 3.0 * torch.rand(n, generator=g, dtype=torch.float64)
    if layers > 1:
        steps = torch.tensor([1.0, 1.005, 1.3, 2.0, 1.01, 3.0][:layers], dtype=torch.float64)
        u, v = u.repeat(layers), v.repeat(layers)
        z = (z[None, :] * steps[:, None]).reshape(-1)
        perm = torch.randperm(u.numel(), generator=g)
        u, v, z = u[perm][:P], v[perm][:P], z[perm][:P]
    x = (u - K[0, 2]) * z / K[0, 0]
    y = (v - K[1, 2]) * z / K[1, 1]
    pts = torch.stack([x, y, z], 1)
    feats = torch.randn(pts.shape[0], C, generator=g, dtype=torch.float64)
    opac = 0.05 + 0.95 * torch.rand(pts.shape[0], generator=g, dtype=torch.float64)
    rad = rmin + (rmax - rmin) * torch.rand(pts.shape[0], generator=g, dtype=torch.float64)
    return tuple(t.to(dtype) for t in (pts, feats, opac, rad, K))


def assert_close_with_flips(actual, expected, *, rtol, atol, name, max_flip_fraction=MAX_FLIP_FRACTION):
    """Elementwise closeness, except on at most ``max_flip_fraction`` of the pixels (rows for 2-D)."""
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != {expected.dtype}"
    a, e = actual.detach().cpu(), expected.detach().cpu()
    bad = ~torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if bad.ndim == 3:  # (C, H, W): a pixel is bad if any channel is
        bad_units = bad.any(dim=0)
    elif bad.ndim == 2:  # (P, C): a point is bad if any channel is
        bad_units = bad.any(dim=1)
    else:
        bad_units = bad
    n_bad = int(bad_units.sum())
    allowed = math.floor(max_flip_fraction * bad_units.numel())
    if n_bad > allowed:
        diff = (a - e).abs()
        raise AssertionError(
            f"{name}: {n_bad} of {bad_units.numel()} pixels/points differ (allowed {allowed}); "
            f"max abs diff {float(diff.max()):.3g}"
        )


def assert_outputs_close(got, ref, dtype):
    rtol, atol = (1e-5, 1e-6) if dtype == torch.float32 else (1e-12, 1e-13)
    for name, a, e in zip(("features", "depth", "alpha"), got, ref):
        assert_close_with_flips(a, e, rtol=rtol, atol=atol, name=name)


def grads(fn, pts, feats, opac, rad, K, h, w, seed=1):
    feats = feats.detach().clone().requires_grad_(True)
    opac = opac.detach().clone().requires_grad_(True)
    out = fn(pts, feats, opac, rad, K, h, w, *ARGS)
    g = torch.Generator().manual_seed(seed)
    cf = torch.randn(out[0].shape, generator=g, dtype=out[0].dtype).to(out[0].device)
    ca = torch.randn(out[2].shape, generator=g, dtype=out[2].dtype).to(out[2].device)
    loss = (out[0] * cf).sum() + (out[2] * ca).sum()
    return out, torch.autograd.grad(loss, [feats, opac])


def assert_grads_close(got, ref, dtype):
    rtol = 1e-4 if dtype == torch.float32 else 1e-10
    for name, a, e in zip(("grad features", "grad opacity"), got, ref):
        scale = float(e.abs().max()) if e.numel() else 1.0
        assert_close_with_flips(a, e, rtol=rtol, atol=rtol * max(scale, 1e-6), name=name)


CASES = [
    # (P, C, H, W, rmin, rmax, layers)
    (1, 3, 7, 9, 0.5, 1.5, 1),
    (17, 1, 8, 8, 0.2, 1.0, 1),  # r <= 1 (clamped at 0.5)
    (500, 3, 24, 31, 1.0, 1.0, 1),  # unit radius
    (2000, 37, 40, 56, 0.5, 2.0, 1),
    (3000, 64, 33, 47, 1.5, 3.8, 1),  # general footprints (r > 2)
    (6000, 3, 48, 64, 0.5, 4.5, 3),  # occlusion-heavy, radii beyond max_radius
    (20000, 3, 64, 96, 0.8, 1.6, 1),
    (12000, 1, 40, 60, 1.0, 1.0, 6),  # six layers per pixel, some within the tolerance
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "P{}-C{}-{}x{}-r{}-{}-L{}".format(*c))
def test_forward_backward_parity(case, device):
    P, C, h, w, rmin, rmax, layers = case
    pts, feats, opac, rad, K = (
        t.to(device) for t in make_cloud(P, C, h, w, rmin=rmin, rmax=rmax, layers=layers)
    )
    out_n, g_n = grads(splat_native, pts, feats, opac, rad, K, h, w)
    out_r, g_r = grads(_splat_forward, pts, feats, opac, rad, K, h, w)
    assert out_n[0].shape == (C, h, w) and out_n[1].shape == (1, h, w) and out_n[2].shape == (1, h, w)
    assert_outputs_close(out_n, out_r, torch.float32)
    assert_grads_close(g_n, g_r, torch.float32)
    if P >= 100:
        assert float(out_n[2].detach().sum()) > 0  # something landed


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("tol", [0.0, 0.2, 1.0])
def test_depth_tolerances(tol, device):
    """Occlusion-heavy cloud under several soft z-buffer tolerances (0.2 is the default)."""
    cloud = make_cloud(8000, 3, 40, 50, rmin=0.5, rmax=2.5, layers=4, seed=9)
    pts, feats, opac, rad, K = (t.to(device) for t in cloud)
    args = (1e-3, tol, 4.0, 1e-6)
    out_n = splat_native(pts, feats, opac, rad, K, 40, 50, *args)
    out_r = _splat_forward(pts, feats, opac, rad, K, 40, 50, *args)
    assert_outputs_close(out_n, out_r, torch.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_parity_float64(device):
    cloud = make_cloud(3000, 5, 30, 41, rmin=0.4, rmax=3.0, layers=2, dtype=torch.float64)
    pts, feats, opac, rad, K = (t.to(device) for t in cloud)
    out_n, g_n = grads(splat_native, pts, feats, opac, rad, K, 30, 41)
    out_r, g_r = grads(_splat_forward, pts, feats, opac, rad, K, 30, 41)
    assert out_n[0].dtype == torch.float64
    assert_outputs_close(out_n, out_r, torch.float64)
    assert_grads_close(g_n, g_r, torch.float64)


@pytest.mark.parametrize("device", DEVICES)
def test_discarded_points(device):
    """Behind the camera, at znear, non-finite, far outside, or with a non-finite radius."""
    h, w = 20, 30
    K = _intrinsics(h, w)
    pts = torch.tensor(
        [
            [0.0, 0.0, -1.0],  # behind the camera
            [0.0, 0.0, 1e-3],  # exactly at znear: discarded (z <= znear)
            [0.0, 0.0, 0.0],
            [float("nan"), 0.0, 2.0],
            [float("inf"), 0.0, 2.0],
            [0.0, float("-inf"), 2.0],
            [0.0, 0.0, float("inf")],
            [100.0, 0.0, 1.0],  # far right
            [-100.0, 0.0, 1.0],  # far left
            [0.0, 100.0, 1.0],  # far below
            [0.0, 0.0, 2.0],  # valid, but its radius is NaN
            [0.2, 0.1, 2.0],  # valid, radius inf -> clamped to max_radius
            [-0.52667, 0.0, 1.0],  # u = -0.8: left of the image, touching column 0
            [0.52667, 0.0, 1.0],  # u = 30.8: right of the image, touching the last column
            [0.0, -0.5, 1.0],  # v = -5: cannot touch with r <= 4
            [0.01, 0.02, 1.5],  # ordinary point
        ]
    )
    P = pts.shape[0]
    feats = torch.randn(P, 4, generator=torch.Generator().manual_seed(3))
    opac = torch.full((P,), 0.7)
    rad = torch.full((P,), 1.5)
    rad[10] = float("nan")
    rad[11] = float("inf")
    pts, feats, opac, rad, K = (t.to(device) for t in (pts, feats, opac, rad, K))
    out_n, g_n = grads(splat_native, pts, feats, opac, rad, K, h, w)
    out_r, g_r = grads(_splat_forward, pts, feats, opac, rad, K, h, w)
    assert_outputs_close(out_n, out_r, torch.float32)
    assert_grads_close(g_n, g_r, torch.float32)
    discarded = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14]
    assert torch.all(g_n[0][discarded] == 0) and torch.all(g_n[1][discarded] == 0)
    assert torch.all(torch.isfinite(out_n[0])) and torch.all(torch.isfinite(out_n[1]))


@pytest.mark.parametrize("device", DEVICES)
def test_empty_input(device):
    h, w = 6, 5
    K = _intrinsics(h, w).to(device)
    pts, feats = torch.zeros(0, 3, device=device), torch.zeros(0, 3, device=device, requires_grad=True)
    opac = torch.zeros(0, device=device, requires_grad=True)
    out = splat_native(pts, feats, opac, torch.zeros(0, device=device), K, h, w, *ARGS)
    assert [tuple(o.shape) for o in out] == [(3, h, w), (1, h, w), (1, h, w)]
    assert all(float(o.detach().abs().sum()) == 0 for o in out)
    gf, go = torch.autograd.grad(out[0].sum() + out[2].sum(), [feats, opac])
    assert gf.shape == (0, 3) and go.shape == (0,)


def test_single_pixel_images():
    for h, w in ((1, 1), (1, 7), (9, 1)):
        pts, feats, opac, rad, K = make_cloud(200, 2, h, w, rmin=0.5, rmax=3.0, margin=1.0)
        assert_outputs_close(
            splat_native(pts, feats, opac, rad, K, h, w, *ARGS),
            _splat_forward(pts, feats, opac, rad, K, h, w, *ARGS),
            torch.float32,
        )


def test_exact_ties_and_pixel_centres():
    """Points on pixel centres (weights exactly 1 / 0) and exactly equal depths."""
    h, w = 12, 16
    K = _intrinsics(h, w)
    vv, uu = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    z = torch.full_like(uu, 2.0)
    pts = torch.stack([(uu - w / 2) * z / K[0, 0], (vv - h / 2) * z / K[1, 1], z], -1).reshape(-1, 3)
    pts = torch.cat([pts, pts, pts * torch.tensor([1.0, 1.0, 1.01])])  # duplicates and a near copy
    P = pts.shape[0]
    g = torch.Generator().manual_seed(5)
    feats, opac = torch.rand(P, 3, generator=g), torch.rand(P, generator=g)
    for r in (0.5, 1.0, 1.5, 2.0, 3.0):
        rad = torch.full((P,), r)
        out_n, g_n = grads(splat_native, pts, feats, opac, rad, K, h, w)
        out_r, g_r = grads(_splat_forward, pts, feats, opac, rad, K, h, w)
        assert_outputs_close(out_n, out_r, torch.float32)
        assert_grads_close(g_n, g_r, torch.float32)


def test_alpha_gradient_convention():
    """dα/dW = 1 where W < 1 and 0 where W >= 1 (α = min(1, W)), checked by hand."""
    K = _intrinsics(1, 2)
    pts = torch.tensor([[-0.5, 0.0, 2.0], [0.5, 0.0, 2.0]]) * torch.tensor([1.0, 1.0, 1.0])
    pts[:, 0] = torch.tensor([-0.5, 0.5]) * 2.0 / K[0, 0]  # pixel centres of a 1 x 2 image
    feats = torch.ones(2, 1, requires_grad=True)
    opac = torch.tensor([1.0, 0.5], requires_grad=True)  # W = 1 exactly at pixel 0, 0.5 at pixel 1
    out = splat_native(pts, feats, opac, torch.ones(2), K, 1, 2, *ARGS)
    assert out[2].flatten().tolist() == [1.0, 0.5]
    (go,) = torch.autograd.grad(out[2].sum(), [opac])
    assert go.tolist() == [0.0, 1.0]


def test_gradcheck_float64():
    pts, feats, opac, rad, K = make_cloud(
        7, 2, 5, 6, rmin=0.8, rmax=2.5, margin=0.5, dtype=torch.float64, seed=4
    )
    opac = (
        0.2 + 0.3 * torch.rand(7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ).requires_grad_()
    feats = feats.requires_grad_()

    def fn(f, o):
        out = splat_native(pts, f, o, rad, K, 5, 6, *ARGS)
        return out[0], out[2]  # depth is not differentiable by contract

    assert torch.autograd.gradcheck(fn, (feats, opac), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_deterministic_across_runs_and_threads():
    pts, feats, opac, rad, K = make_cloud(30000, 5, 70, 90, rmin=0.5, rmax=3.0, layers=2)
    h, w = 70, 90
    before = torch.get_num_threads()
    results = []
    try:
        for nt in (1, 2, 3, 1):
            torch.set_num_threads(nt)
            out, g = grads(splat_native, pts, feats, opac, rad, K, h, w)
            results.append([t.detach().clone() for t in (*out, *g)])
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def test_deterministic_across_omp_env(tmp_path):
    """OMP_NUM_THREADS=1 in a fresh process gives the same bytes as this process."""
    code = (
        "import sys, torch\n"
        "sys.path.insert(0, {tests!r})\n"
        "from test_splat_native import make_cloud, ARGS\n"
        "from cinemagraph3d.render._native import splat_native\n"
        "pts, f, o, r, K = make_cloud(20000, 3, 60, 80, rmin=0.5, rmax=2.5, layers=2)\n"
        "out = splat_native(pts, f, o, r, K, 60, 80, *ARGS)\n"
        "torch.save([t.contiguous() for t in out], {path!r})\n"
    )
    path = str(tmp_path / "out.pt")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, "-c", code.format(tests=os.path.dirname(__file__), path=path)], check=True, env=env
    )
    theirs = torch.load(path, weights_only=True)
    pts, f, o, r, K = make_cloud(20000, 3, 60, 80, rmin=0.5, rmax=2.5, layers=2)
    ours = splat_native(pts, f, o, r, K, 60, 80, *ARGS)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_half_precision_runs_in_float32():
    pts, feats, opac, rad, K = make_cloud(600, 3, 16, 20)
    half = [t.to(torch.bfloat16) for t in (pts, feats, opac, rad, K)]
    feats_h = half[1].clone().requires_grad_(True)
    out = splat_native(half[0], feats_h, half[2], half[3], half[4], 16, 20, *ARGS)
    assert all(o.dtype == torch.bfloat16 for o in out)
    ref = splat_native(*(t.float() for t in half), 16, 20, *ARGS)
    for a, e in zip(out, ref):
        assert torch.equal(a, e.to(torch.bfloat16))
    (g,) = torch.autograd.grad(out[0].float().sum(), [feats_h])
    assert g.dtype == torch.bfloat16 and g.shape == feats_h.shape


def test_non_contiguous_inputs():
    pts, feats, opac, rad, K = make_cloud(800, 4, 20, 24)
    ref = _splat_forward(pts, feats, opac, rad, K, 20, 24, *ARGS)
    got = splat_native(
        pts.t().contiguous().t(),
        feats.t().contiguous().t(),
        opac[None].expand(2, -1)[1],
        rad,
        K.t().contiguous().t(),
        20,
        24,
        *ARGS,
    )
    assert_outputs_close(got, ref, torch.float32)


def _bad_forward_inputs():
    """(id, forward arguments, expected-shape text, actual-shape text) for each malformed input."""
    h, w = 4, 5
    K = _intrinsics(h, w)
    pts, f, o, r = torch.zeros(3, 3), torch.zeros(3, 2), torch.zeros(3), torch.zeros(3)
    return [
        ("points", (torch.zeros(3, 2), f, o, r, K), "points: expected shape (P, 3)", "found [3, 2]"),
        ("points-1d", (torch.zeros(9), f, o, r, K), "points: expected shape (P, 3)", "found [9]"),
        (
            "features-rows",
            (pts, torch.zeros(4, 2), o, r, K),
            "features: expected shape (3, C) with C >= 1",
            "found [4, 2]",
        ),
        (
            "features-no-channel",
            (pts, torch.zeros(3, 0), o, r, K),
            "features: expected shape (3, C) with C >= 1",
            "found [3, 0]",
        ),
        ("opacity", (pts, f, torch.zeros(2), r, K), "opacity: expected shape (3,)", "found [2]"),
        ("opacity-2d", (pts, f, torch.zeros(3, 1), r, K), "opacity: expected shape (3,)", "found [3, 1]"),
        ("radius", (pts, f, o, torch.zeros(4), K), "radius: expected shape (3,)", "found [4]"),
        ("K", (pts, f, o, r, torch.eye(4)), "K: expected shape (3, 3)", "found [4, 4]"),
        ("K-flat", (pts, f, o, r, torch.zeros(9)), "K: expected shape (3, 3)", "found [9]"),
    ]


@pytest.mark.parametrize("case", _bad_forward_inputs(), ids=lambda c: c[0])
def test_input_validation_shape_messages(case):
    """Every shape error names the input, the expected shape and the shape it found."""
    _, tensors, expected, found = case
    with pytest.raises(RuntimeError) as info:
        _C.splat_forward(*tensors, 4, 5, *ARGS)
    msg = str(info.value)
    assert expected in msg and found in msg, msg


def test_backward_validation_shape_messages():
    """The backward binding checks the shapes of the gradients and saved buffers the same way."""
    h, w = 4, 5
    pts, feats, opac, rad, K = make_cloud(6, 2, h, w)
    feat, _, _, wsum, zmin = _C.splat_forward(pts, feats, opac, rad, K, h, w, *ARGS, save_for_backward=True)
    good = {"grad_features": torch.ones(2, h, w), "grad_alpha": torch.ones(1, h, w), "points": pts}
    good.update(features=feats, opacity=opac, radius=rad, K=K, out_features=feat, coverage=wsum, zmin=zmin)
    znear, tol, max_radius, eps = ARGS
    scalars = dict(height=h, width=w, znear=znear, depth_tolerance=tol, max_radius=max_radius, eps=eps)

    def backward(**bad):
        return _C.splat_backward(**{**good, **bad}, **scalars, need_features=True, need_opacity=True)

    gf, go = backward()  # the good arguments pass
    assert gf.shape == (6, 2) and go.shape == (6,)
    bad = [
        ("grad_features", torch.ones(3, h, w), "grad_features: expected shape [2, 4, 5]", "found [3, 4, 5]"),
        ("grad_alpha", torch.ones(h, w), "grad_alpha: expected shape [1, 4, 5]", "found [4, 5]"),
        ("out_features", feat[:1], "features output: expected shape [2, 4, 5]", "found [1, 4, 5]"),
        ("coverage", wsum[None], "coverage: expected shape [4, 5]", "found [1, 4, 5]"),
        ("zmin", zmin[:, :4], "z-min buffer: expected shape [4, 5]", "found [4, 4]"),
        # inputs shared with the forward get the forward's messages
        ("opacity", opac[:5], "opacity: expected shape (6,)", "found [5]"),
        ("K", K[:2], "K: expected shape (3, 3)", "found [2, 3]"),
    ]
    for name, tensor, expected, found in bad:
        with pytest.raises(RuntimeError) as info:
            backward(**{name: tensor})
        msg = str(info.value)
        assert expected in msg and found in msg, (name, msg)


def test_input_validation_messages():
    """Non-shape errors: dtype, image size and max_radius."""
    h, w = 4, 5
    K = _intrinsics(h, w)
    pts, f, o, r = torch.zeros(3, 3), torch.zeros(3, 2), torch.zeros(3), torch.zeros(3)
    with pytest.raises(RuntimeError, match=r"to have the dtype of features \(Float\), found Double"):
        _C.splat_forward(pts.double(), f, o, r, K, h, w, *ARGS)
    with pytest.raises(RuntimeError, match=r"features: expected float32 or float64, found Int"):
        _C.splat_forward(pts, f.int(), o, r, K, h, w, *ARGS)
    with pytest.raises(RuntimeError, match=r"image size: expected 1 <= height \* width < 2\^31, found 0x5"):
        _C.splat_forward(pts, f, o, r, K, 0, w, *ARGS)
    with pytest.raises(RuntimeError, match=r"max_radius: expected a value in \(0, 65536\], found 0"):
        _C.splat_forward(pts, f, o, r, K, h, w, 1e-3, 0.02, 0.0, 1e-6)


# --- backend dispatch --------------------------------------------------------------------------


def test_active_backend(monkeypatch):
    monkeypatch.delenv("CINEMAGRAPH3D_BACKEND", raising=False)
    assert active_backend("cpu") == "native-cpu"
    assert active_backend("cpu", backend="torch") == "torch"
    assert active_backend("cpu", backend="native") == "native-cpu"
    monkeypatch.setenv("CINEMAGRAPH3D_BACKEND", "torch")
    assert active_backend("cpu") == "torch"
    assert active_backend("cpu", backend="native") == "native-cpu"  # the argument wins
    monkeypatch.setenv("CINEMAGRAPH3D_BACKEND", "bogus")
    with pytest.raises(InputError):
        active_backend("cpu")


@pytest.mark.skipif(_C.has_cuda, reason="extension built with CUDA")
def test_native_cuda_unavailable_is_an_error(monkeypatch):
    monkeypatch.delenv("CINEMAGRAPH3D_BACKEND", raising=False)
    with pytest.raises(BackendError):
        active_backend("cuda", backend="native")
    assert active_backend("cuda") == "torch"


def test_splat_points_dispatch(monkeypatch):
    import cinemagraph3d.render._native as native_mod

    monkeypatch.delenv("CINEMAGRAPH3D_BACKEND", raising=False)
    calls = []
    real = native_mod.splat_native

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(native_mod, "splat_native", spy)
    pts, feats, opac, rad, K = make_cloud(500, 3, 16, 20)
    settings = SplatSettings()
    a = splat_points(pts, feats, opac, rad, K, 16, 20, settings)  # auto -> native
    assert len(calls) == 1
    b = splat_points(pts, feats, opac, rad, K, 16, 20, settings, backend="torch")
    assert len(calls) == 1
    monkeypatch.setenv("CINEMAGRAPH3D_BACKEND", "torch")
    c = splat_points(pts, feats, opac, rad, K, 16, 20, settings)
    assert len(calls) == 1
    assert_outputs_close(a, b, torch.float32)
    assert_outputs_close(c, b, torch.float32)
