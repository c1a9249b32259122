"""Parity of the native hole filling (``cinemagraph3d._C.fill_holes``) with the torch operations
of ``fill_holes`` (the reference, ``native=False``).

Tolerance: 1e-5 absolute on values in [0, 1] (float32). The 3×3 sums are added in the
reference's order; the differences come from exp of the C library against torch's vectorised one
and from the pyramid's bilinear weights recomputed in float (one unit in the last place each).
Fully covered pixels are returned bit for bit (checked with ``torch.equal``). In float64 the two
agree within 1e-12.
"""

from __future__ import annotations

import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.render import native_available
from cinemagraph3d.render.fuse import fill_holes

if not native_available():
    pytest.skip("native extension cinemagraph3d._C is not built", allow_module_level=True)

from cinemagraph3d import _C  # noqa: E402

if not hasattr(_C, "fill_holes"):
    pytest.skip("extension built before fill_holes existed", allow_module_level=True)


def _frame(H=37, W=53, C=3, dtype=torch.float32, seed=0):
    """A splatted frame: covered background, a nearer block with soft edges, a big empty hole
    (pyramid pixels), scattered cracks and partly covered pixels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(C, H, W, generator=g, dtype=dtype)
    a = torch.ones(1, H, W, dtype=dtype)
    z = 3.0 + 0.1 * torch.rand(1, H, W, generator=g, dtype=dtype)
    z[:, 8:20, 10:30] = 1.5  # nearer surface
    a[:, 8:20, 9:10] = 0.3  # its soft edge
    a[:, 20:21, 10:30] = 0.6
    a[:, 24:33, 30:48] = 0.0  # a hole several pixels wide: the pyramid's
    crack = torch.rand(1, H, W, generator=g) < 0.05
    a[crack] = 0.0
    soft = torch.rand(1, H, W, generator=g) < 0.1
    a[soft] = a[soft] * 0.5
    x = x * (a > 0)  # nothing landed: features 0
    z = z * (a > 0)
    return x, a, z


@pytest.mark.parametrize("with_depth", [True, False])
@pytest.mark.parametrize("far_bias", [10.0, 0.0, 3.0])
@pytest.mark.parametrize("size", [(37, 53), (40, 64), (1, 7), (9, 2)])
def test_native_fill_matches_the_torch_operations(with_depth, far_bias, size):
    x, a, z = _frame(*size)
    depth = z if with_depth else None
    ref = fill_holes(x, a, depth, far_bias, native=False)
    got = fill_holes(x, a, depth, far_bias, native=True)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)
    covered = a[0] >= 1
    assert torch.equal(got[:, covered], x[:, covered])


def test_native_fill_in_float64_agrees_to_rounding():
    x, a, z = _frame(dtype=torch.float64)
    ref = fill_holes(x, a, z, native=False)
    got = fill_holes(x, a, z, native=True)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)


def test_empty_and_full_frames():
    x, a, z = _frame()
    empty = torch.zeros_like(a)
    torch.testing.assert_close(
        fill_holes(x * 0, empty, z * 0, native=True), fill_holes(x * 0, empty, z * 0, native=False)
    )
    full = torch.ones_like(a)
    assert torch.equal(fill_holes(x, full, z, native=True), x)


def test_hole_takes_the_far_side_across_an_occlusion_edge():
    # analytic: an empty pixel between a near (z = 1) and a far (z = 4) surface, beta = 10: the far
    # side outweighs the near side by exp(10 (1 - 1/4)) = 1808
    x = torch.zeros(1, 1, 3)
    x[0, 0, 0], x[0, 0, 2] = 1.0, 0.0  # near surface white, far surface black
    a = torch.tensor([[[1.0, 0.0, 1.0]]])
    z = torch.tensor([[[1.0, 0.0, 4.0]]])
    got = fill_holes(x, a, z, 10.0, native=True)
    want = 1.0 / (1.0 + torch.exp(torch.tensor(7.5)))
    torch.testing.assert_close(got[0, 0, 1], want, rtol=1e-6, atol=0)


def test_native_fill_refuses_what_it_cannot_do():
    x, a, z = _frame()
    with pytest.raises(InputError, match="native"):
        fill_holes(x.requires_grad_(True), a, z, native=True)
    with pytest.raises(RuntimeError, match="alpha must be"):
        _C.fill_holes(x.detach(), a[:, :-1].contiguous(), z, 10.0)


def test_native_fill_does_not_depend_on_the_thread_count():
    x, a, z = _frame(97, 131)
    saved = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            outs.append(fill_holes(x, a, z, native=True))
    finally:
        torch.set_num_threads(saved)
    assert all(torch.equal(o, outs[0]) for o in outs[1:])
