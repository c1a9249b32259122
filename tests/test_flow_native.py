"""The native Euler step of the motion integration (``cinemagraph3d._C.flow_step``) against
independent truth and the torch reference (``_Stepper`` with ``grid_sample``).

Tolerances: against a float64 evaluation of the same rule (bilinear at ``x - 0.5``, border
values, 0 outside unless extended), float32 within 2e-6 of the field's scale (the weights' own
float32 rounding; the sample position ``x - 0.5`` is exact) and float64 within 1e-12. The torch
reference rounds each position through normalised grid coordinates and back (``(2x/W - 1 + 1)
W/2 - 0.5``: ≈ 1e-7 relative of ``x``), so the two paths differ by that much per step; whole
integrations of a smooth field over 12 steps stay within 1e-4 px of each other.
"""

from __future__ import annotations

import pytest
import torch

from cinemagraph3d.motion import integrate as integ
from cinemagraph3d.motion.turbulence import make_turbulence
from cinemagraph3d.render import native_available
from cinemagraph3d.types import MotionField

if not native_available():
    pytest.skip("native extension cinemagraph3d._C is not built", allow_module_level=True)

from cinemagraph3d import _C  # noqa: E402

if not hasattr(_C, "flow_step"):
    pytest.skip("extension built before flow_step existed", allow_module_level=True)


def _bilinear64(field: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(C, P) float64 bilinear values of field (C, H, W) at pixel-centre coordinates x, y (P,),
    border replicated: an independent loop-free evaluation in float64."""
    f = field.double()
    H, W = f.shape[1:]
    x = x.double().clamp(0, W - 1)
    y = y.double().clamp(0, H - 1)
    x0, y0 = x.floor().long(), y.floor().long()
    wx, wy = x - x0, y - y0
    x1, y1 = (x0 + 1).clamp(max=W - 1), (y0 + 1).clamp(max=H - 1)
    return (f[:, y0, x0] * (1 - wx) * (1 - wy) + f[:, y0, x1] * wx * (1 - wy)
            + f[:, y1, x0] * (1 - wx) * wy + f[:, y1, x1] * wx * wy)  # fmt: skip


def _truth(field, pos, state, sign, extended, wave=None, cell=1.0):
    p = (pos + state).double() if state is not None else pos.double()
    v = _bilinear64(field, p[:, 0] - 0.5, p[:, 1] - 0.5)
    if not extended:
        H, W = field.shape[1:]
        inside = (p[:, 0] >= 0) & (p[:, 0] <= W) & (p[:, 1] >= 0) & (p[:, 1] <= H)
        v = v * inside
    if wave is not None:
        o = _bilinear64(wave, p[:, 0] / cell - 0.5, p[:, 1] / cell - 0.5)
        v = v[:2] + v[2:] * o
    v = v.T
    return v if state is None else state.double() + sign * v


def _case(dtype, seed=0, P=3000, H=23, W=31, C=2):
    g = torch.Generator().manual_seed(seed)
    field = torch.randn(C, H, W, generator=g, dtype=dtype)
    pos = torch.rand(P, 2, generator=g, dtype=dtype) * torch.tensor([W * 1.3, H * 1.3], dtype=dtype)
    pos -= torch.tensor([W * 0.15, H * 0.15], dtype=dtype)
    state = torch.randn(P, 2, generator=g, dtype=dtype) * 2
    return field, pos, state


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
@pytest.mark.parametrize("extended", [False, True])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_step_matches_float64_truth(dtype, tol, extended, sign):
    field, pos, state = _case(dtype)
    out = _C.flow_step(field, pos, state, sign, extended)
    ref = _truth(field, pos, state, sign, extended)
    assert out.dtype == dtype and out.shape == pos.shape
    # positions within rounding of the image border may fall on either side of the rule: none here
    torch.testing.assert_close(out.double(), ref, atol=tol * 4, rtol=0)
    v = _C.flow_step(field, pos, None, 1.0, extended)  # the field alone
    torch.testing.assert_close(v.double(), _truth(field, pos, None, 1.0, extended), atol=tol * 4, rtol=0)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-6), (torch.float64, 1e-12)])
def test_turbulence_matches_float64_truth(dtype, tol):
    field, pos, state = _case(dtype, seed=1, C=3)
    g = torch.Generator().manual_seed(5)
    wave = torch.randn(2, 9, 12, generator=g, dtype=dtype)
    cell = 2.7
    out = _C.flow_step(field, pos, state, -1.0, False, wave, cell)
    torch.testing.assert_close(
        out.double(), _truth(field, pos, state, -1.0, False, wave, cell), atol=tol * 8, rtol=0
    )


def test_analytic_fields_and_the_border_rule():
    H, W = 6, 8
    yy, xx = torch.meshgrid(
        torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij"
    )
    field = torch.stack([xx * 0.25, yy * 0.5 + 1.0])  # linear: exact at any inner position
    pos = torch.tensor(
        [[2.5, 1.5], [3.75, 2.25], [0.2, 0.1], [7.9, 5.95], [9.0, 3.0], [-0.5, 2.0], [4.0, 6.0]]
    )
    v = _C.flow_step(field, pos, None, 1.0, True)
    cx = (pos[:, 0] - 0.5).clamp(0, W - 1)  # border values: the position clamped to the pixel centres
    cy = (pos[:, 1] - 0.5).clamp(0, H - 1)
    assert torch.equal(v, torch.stack([cx * 0.25, cy * 0.5 + 1.0], 1))
    stop = _C.flow_step(field, pos, None, 1.0, False)
    # x = 9 > W and x = -0.5 < 0 are outside; y = H is still in
    outside = torch.tensor([False, False, False, False, True, True, False])
    assert torch.equal(stop[outside], torch.zeros(2, 2))
    assert torch.equal(stop[~outside], v[~outside])


def test_same_values_in_place_and_on_any_thread_count():
    field, pos, state = _case(torch.float32, seed=2, P=70_000, H=64, W=96, C=3)
    wave = torch.randn(2, 20, 30, generator=torch.Generator().manual_seed(3))
    threads = torch.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            outs.append(_C.flow_step(field, pos, state, 1.0, True, wave, 3.3))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
    s = state.clone()
    r = _C.flow_step(field, pos, s, 1.0, True, wave, 3.3, s)  # out is the state itself
    assert r.data_ptr() == s.data_ptr() and torch.equal(s, outs[0])


def _smooth_field(H=40, W=56, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(2, 5, 7, generator=g)
    flow = torch.nn.functional.interpolate(coarse[None], size=(H, W), mode="bicubic", align_corners=False)[0]
    flow[:, : H // 3] = 0  # a still part: only the moving pixels are stepped
    return flow.contiguous()


@pytest.mark.parametrize("turbulent", [False, True])
@pytest.mark.parametrize("outside", ["stop", "continue"])
def test_integration_matches_the_torch_stepper(monkeypatch, turbulent, outside):
    flow = _smooth_field()
    amp = (flow.norm(dim=0) > 0).float() * 0.4
    tb = make_turbulence(amp, 12.0, seed=4) if turbulent else None
    field = MotionField(flow, (flow[:1] != 0).float(), tb)
    nat = integ.integrate_motion(field, 12, store_every=1, outside=outside)
    assert nat._stepper.native
    monkeypatch.setattr(integ, "_native_step", lambda flow: None)
    ref = integ.integrate_motion(field, 12, store_every=1, outside=outside)
    assert not ref._stepper.native
    for a, b in zip(nat._states, ref._states):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    # extra sources (outside the image too) through the same steps
    src = torch.tensor([[-3.0, 30.0], [20.0, 35.0], [60.0, 39.0]])
    pn = nat.extend(src, store_every=3)
    pr = ref.extend(src, store_every=3)
    for t in (0.0, 4.5, 12.0):
        for a, b in zip(pn.at(t), pr.at(t)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_bad_inputs_are_refused_with_the_reason():
    field, pos, state = _case(torch.float32)
    with pytest.raises(RuntimeError, match=r"field must be \(2, H, W\)"):
        _C.flow_step(field[:1], pos, state, 1.0, True)
    with pytest.raises(RuntimeError, match="state must be"):
        _C.flow_step(field, pos, state[:-1], 1.0, True)
    with pytest.raises(RuntimeError, match="dtype"):
        _C.flow_step(field, pos.double(), None, 1.0, True)
    with pytest.raises(RuntimeError, match="needs the wave grid"):
        _C.flow_step(torch.randn(3, 4, 5), pos, None, 1.0, True)
    with pytest.raises(RuntimeError, match="sign must be"):
        _C.flow_step(field, pos, state, 0.5, True)
    with pytest.raises(RuntimeError, match="cell must be"):
        _C.flow_step(torch.randn(3, 4, 5), pos, None, 1.0, True, torch.randn(2, 2, 2), 0.0)
