"""Issue 13: the dense field passes through the hints, thin regions move, turbulence churns."""

from __future__ import annotations

import math

import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.eval.motion_metrics import hint_agreement, rendered_hint_agreement
from cinemagraph3d.motion import MotionHints, MotionRegion, MotionSettings, integrate_motion, motion_field
from cinemagraph3d.motion.field import DEFAULT_TURBULENCE
from cinemagraph3d.motion.turbulence import MAX_STRAIN, make_turbulence

LEGACY = MotionSettings(hint_radius=0.0, feather_thickness=0.0)


def _three_hints():
    H, W = 144, 256
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[20:130, 10:246] = True
    hints = MotionHints.create(
        [[60.5, 70.5], [120.5, 70.5], [180.5, 70.5]], [[1.5, 0.0], [0.4, 0.6], [0.2, 0.0]]
    )
    return H, W, mask, hints


def test_field_passes_through_each_hint_near_it():
    H, W, mask, hints = _three_hints()
    r = 20.0 * max(H, W) / 1280  # the 20 px at 1280, scaled
    new = motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)])
    speed, cos = hint_agreement(new.flow, hints.starts, hints.vectors, mask, r)
    assert bool(((speed - 1).abs() <= 0.15).all()) and bool((cos >= 0.95).all())
    # the kernel average alone (the field before issue 13) misses them
    old = motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)], settings=LEGACY)
    speed, cos = hint_agreement(old.flow, hints.starts, hints.vectors, mask, r)
    assert bool(((speed - 1).abs() > 0.15).any() or (cos < 0.95).any())
    # exactly the hint at its start pixel
    for (x, y), v in zip(hints.starts.tolist(), hints.vectors):
        torch.testing.assert_close(new.flow[:, int(y), int(x)], v)


def test_thin_region_moves_at_its_speed():
    """A band 12 px wide at 1280 (6 px at 640, under the 6.4-px feather) keeps its speed in its
    middle with the thickness-scaled feather; with the fixed feather it barely moves."""
    H, W = 360, 640
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[100:106, 50:600] = True
    hints = MotionHints.create([[320.5, 103.5]], [[0.73, 0.0]])
    new = motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)])
    old = motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)], settings=LEGACY)
    mid_new = new.flow[0, 102:104, 100:550]
    mid_old = old.flow[0, 102:104, 100:550]
    assert float(mid_new.min()) >= 0.95 * 0.73
    assert float(mid_old.max()) < 0.5 * 0.73
    assert float(new.flow[0, 100, 300]) < 0.73  # the edge row still eases in


def test_turbulence_defaults_by_kind_and_is_deterministic():
    assert DEFAULT_TURBULENCE["water"] > 0 and DEFAULT_TURBULENCE["clouds"] == 0 == DEFAULT_TURBULENCE["sky"]
    H, W, mask, hints = _three_hints()
    water = motion_field(H, W, [MotionRegion(mask, hints)])
    clouds = motion_field(H, W, [MotionRegion(mask, hints, kind="clouds")])
    assert water.turbulence is not None and clouds.turbulence is None
    assert torch.equal(water.flow, clouds.flow)  # the mean field is the same
    again = motion_field(H, W, [MotionRegion(mask, hints)])
    assert torch.equal(water.turbulence.waves, again.turbulence.waves)
    other = motion_field(H, W, [MotionRegion(mask, hints)], settings=MotionSettings(seed=3))
    assert not torch.equal(water.turbulence.waves, other.turbulence.waves)
    assert float(water.turbulence.amplitude[~mask].abs().max()) == 0.0  # nothing outside the mask
    with pytest.raises(InputError, match="kind"):
        MotionRegion(mask, hints, kind="lava")


def test_turbulence_is_loop_periodic_divergence_free_and_strain_bounded():
    amp = torch.ones(64, 96)
    tb = make_turbulence(amp, 24.0, seed=1)
    N = 30
    torch.testing.assert_close(tb.grid(0.0, N), tb.grid(float(N), N), atol=1e-5, rtol=0)
    g = tb.grid(7.0, N)[0].double()
    assert not torch.allclose(g, tb.grid(3.0, N)[0].double())  # it changes within the loop
    div = (g[0, 1:-1, 2:] - g[0, 1:-1, :-2] + g[1, 2:, 1:-1] - g[1, :-2, 1:-1]) / (2 * tb.cell)
    curl = (g[1, 1:-1, 2:] - g[1, 1:-1, :-2] - g[0, 2:, 1:-1] + g[0, :-2, 1:-1]) / (2 * tb.cell)
    assert float(div.abs().mean()) < 0.1 * float(curl.abs().mean())
    rms = float(g.pow(2).sum(0).mean().sqrt())
    assert 0.5 < rms < 1.5  # unit root-mean-square speed
    gain = tb.gain(N)
    strain = 0.0
    for kx, ky, m, _, a in tb.waves.tolist():
        strain += (math.hypot(kx, ky) * gain * a * N / (2 * math.pi * abs(m))) ** 2
    assert math.sqrt(strain) <= MAX_STRAIN + 1e-9


def test_turbulence_moves_the_fluid_differently_and_keeps_the_rest_still():
    H, W, mask, hints = _three_hints()
    flat = integrate_motion(motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.0)]), 20)
    churn = integrate_motion(motion_field(H, W, [MotionRegion(mask, hints, turbulence=0.5)]), 20)
    diff = (churn.forward(10.0) - flat.forward(10.0)).norm(dim=0)
    assert float(diff[mask].max()) > 0.2
    assert float(diff[~mask].max()) == 0.0


def test_rendered_hint_agreement_measures_a_translation():
    H, W, K = 40, 64, 6
    g = torch.Generator().manual_seed(0)
    base = torch.rand(3, H, W + 20, generator=g)
    base = torch.nn.functional.avg_pool2d(base[None], 3, 1, 1)[0]
    frames = torch.stack([base[:, :, 10 - k : 10 - k + W] for k in range(K)])  # 1 px/frame to the right
    mask = torch.ones(H, W, dtype=torch.bool)
    speed, cos = rendered_hint_agreement(frames, 2.0, torch.tensor([[32.0, 20.0]]), torch.tensor([[0.5, 0.0]]),
                                         mask, radius=8.0, pairs=3)  # fmt: skip
    assert float(speed[0]) == pytest.approx(1.0, abs=0.05) and float(cos[0]) > 0.99
