"""The pure-PyTorch splatting reference against independent truth."""

import math

import pytest
import torch

from cinemagraph3d import InputError, SplatSettings, splat_points
from cinemagraph3d.geometry.camera import pixel_grid, unproject_depth
from cinemagraph3d.render._torch_impl import WEIGHT_CUTOFF


def brute_force(points, feats, opac, radius, K, H, W, s: SplatSettings):
    """Per-pixel double loop straight from the docstring formula (float64)."""
    C = feats.shape[1]
    out_f = torch.zeros(C, H, W, dtype=torch.float64)
    out_d = torch.zeros(1, H, W, dtype=torch.float64)
    out_a = torch.zeros(1, H, W, dtype=torch.float64)
    proj = []
    for p in range(points.shape[0]):
        x, y, z = points[p].tolist()
        if not (z > s.znear and math.isfinite(x + y + z)):
            proj.append(None)
            continue
        u = K[0, 0].item() * x / z + K[0, 2].item()
        v = K[1, 1].item() * y / z + K[1, 2].item()
        r = min(max(radius[p].item(), 0.5), s.max_radius)
        proj.append((u, v, r, z))

    def tent(d, r):
        w = 1 - abs(d) / r
        return w if w >= WEIGHT_CUTOFF else 0.0

    for i in range(H):
        for j in range(W):
            touch = []
            for p, pr in enumerate(proj):
                if pr is None:
                    continue
                u, v, r, z = pr
                w = tent(j + 0.5 - u, r) * tent(i + 0.5 - v, r)
                if w > 0:
                    touch.append((p, w, z))
            if not touch:
                continue
            zmin = min(t[2] for t in touch)
            acc = [(p, w * opac[p].item(), z) for p, w, z in touch if z <= zmin * (1 + s.depth_tolerance)]
            Wsum = sum(a[1] for a in acc)
            if Wsum <= s.eps:
                continue
            for p, wo, z in acc:
                out_f[:, i, j] += wo * feats[p].double() / Wsum
                out_d[0, i, j] += wo * z / Wsum
            out_a[0, i, j] = min(1.0, Wsum)
    return out_f, out_d, out_a


K = torch.tensor([[20.0, 0, 8.0], [0, 20.0, 6.0], [0, 0, 1]], dtype=torch.float64)


@pytest.mark.parametrize("radius", [0.7, 1.0, 1.6, 3.0])
def test_matches_brute_force(radius):
    g = torch.Generator().manual_seed(int(radius * 10))
    P, H, W = 60, 12, 16
    pts = torch.rand(P, 3, generator=g, dtype=torch.float64)
    pts[:, :2] = (pts[:, :2] - 0.5) * 1.2
    pts[:, 2] = 1 + pts[:, 2] * 2
    pts[::7, 2] = -1.0  # behind the camera
    feats = torch.rand(P, 5, generator=g, dtype=torch.float64)
    opac = torch.rand(P, generator=g, dtype=torch.float64)
    rad = torch.full((P,), radius, dtype=torch.float64) * (
        0.5 + torch.rand(P, generator=g, dtype=torch.float64)
    )
    s = SplatSettings()
    out = splat_points(pts, feats, opac, rad, K, H, W, s, backend="torch")
    ref = brute_force(pts, feats, opac, rad, K, H, W, s)
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_occlusion_near_surface_wins():
    uv = pixel_grid(6, 8, dtype=torch.float64).permute(1, 2, 0).reshape(-1, 2)
    Kd = torch.tensor([[8.0, 0, 4], [0, 8.0, 3], [0, 0, 1]], dtype=torch.float64)
    far = unproject_depth(uv, torch.full((48,), 5.0, dtype=torch.float64), Kd)
    near = unproject_depth(uv, torch.full((48,), 2.0, dtype=torch.float64), Kd)
    pts = torch.cat([far, near])  # far first: order must not matter
    f = torch.cat([torch.zeros(48, 1), torch.ones(48, 1)]).double()
    one = torch.ones(96, dtype=torch.float64)
    out = splat_points(pts, f, one, one, Kd, 6, 8, backend="torch")
    assert torch.equal(out.features, torch.ones(1, 6, 8, dtype=torch.float64))
    torch.testing.assert_close(out.depth, torch.full((1, 6, 8), 2.0, dtype=torch.float64))


def test_static_dense_grid_is_exact_and_crack_free():
    H, W = 9, 13
    Kd = torch.tensor([[13.0, 0, 6.5], [0, 13.0, 4.5], [0, 0, 1]])
    uv = pixel_grid(H, W).permute(1, 2, 0).reshape(-1, 2)
    z = torch.rand(H * W) * 3 + 1
    img = torch.rand(H * W, 3)
    one = torch.ones(H * W)
    out = splat_points(unproject_depth(uv, z, Kd), img, one, one, Kd, H, W, backend="torch")
    torch.testing.assert_close(out.features, img.T.reshape(3, H, W), rtol=0, atol=1e-6)
    assert bool((out.alpha > 1 - 1e-5).all())


def test_translated_plane_matches_analytic_shift():
    """A fronto-parallel plane at depth Z seen from a camera moved by tx shifts by -f·tx/Z pixels."""
    H, W, Z, f = 24, 32, 4.0, 32.0
    Kd = torch.tensor([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]], dtype=torch.float64)
    uv = pixel_grid(H, W, dtype=torch.float64).permute(1, 2, 0).reshape(-1, 2)
    tex = lambda u, v: torch.stack([torch.sin(0.4 * u) * 0.5 + 0.5, torch.cos(0.3 * v) * 0.5 + 0.5], -1)  # noqa: E731
    pts = unproject_depth(uv, torch.full((H * W,), Z, dtype=torch.float64), Kd)
    tx = 0.3  # camera moves right → scene moves left by f·tx/Z = 2.4 px
    pts_cam = pts - torch.tensor([tx, 0, 0], dtype=torch.float64)
    one = torch.ones(H * W, dtype=torch.float64)
    out = splat_points(pts_cam, tex(uv[:, 0], uv[:, 1]), one, one, Kd, H, W, backend="torch")
    shift = f * tx / Z
    u_src = uv[:, 0] + shift
    truth = tex(u_src, uv[:, 1]).T.reshape(2, H, W)
    inner = (slice(None), slice(2, -2), slice(2, W - 5))
    # bilinear splatting of a smooth texture: error bounded by the texture's curvature
    assert float((out.features[inner] - truth[inner]).abs().max()) < 0.02
    assert bool((out.alpha[inner] > 0.999).all())


def test_gradcheck_features_and_opacity():
    g = torch.Generator().manual_seed(3)
    pts = torch.rand(8, 3, generator=g, dtype=torch.float64)
    pts[:, :2] = (pts[:, :2] - 0.5) * 0.8
    pts[:, 2] += 1
    f = torch.rand(8, 2, generator=g, dtype=torch.float64, requires_grad=True)
    o = (0.3 + 0.5 * torch.rand(8, generator=g, dtype=torch.float64)).requires_grad_()
    r = torch.full((8,), 1.5, dtype=torch.float64)
    Kd = torch.tensor([[6.0, 0, 3], [0, 6.0, 3], [0, 0, 1]], dtype=torch.float64)
    fn = lambda f, o: tuple(splat_points(pts, f, o, r, Kd, 6, 6, backend="torch"))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (f, o))


def test_empty_and_all_behind():
    Kd = torch.eye(3)
    out = splat_points(
        torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), Kd, 3, 5, backend="torch"
    )
    assert out.features.shape == (4, 3, 5) and float(out.alpha.sum()) == 0
    pts = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    out = splat_points(pts, torch.ones(2, 1), torch.ones(2), torch.ones(2), Kd, 3, 5, backend="torch")
    assert float(out.alpha.sum()) == 0


def test_bad_inputs():
    Kd = torch.eye(3)
    with pytest.raises(InputError, match=r"points: expected a \(P, 3\) tensor, found shape \(4, 2\)"):
        splat_points(torch.zeros(4, 2), torch.zeros(4, 1), torch.ones(4), torch.ones(4), Kd, 3, 3)
    with pytest.raises(InputError, match="features"):
        splat_points(torch.zeros(4, 3), torch.zeros(5, 1), torch.ones(4), torch.ones(4), Kd, 3, 3)
    with pytest.raises(InputError, match="opacity"):
        splat_points(torch.zeros(4, 3), torch.zeros(4, 1), torch.ones(3), torch.ones(4), Kd, 3, 3)
    with pytest.raises(InputError, match="backend"):
        splat_points(
            torch.zeros(4, 3), torch.zeros(4, 1), torch.ones(4), torch.ones(4), Kd, 3, 3, backend="gpu"
        )
