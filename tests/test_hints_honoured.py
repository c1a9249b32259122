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


def _shifted_texture(H: int, W: int, shift: tuple[float, float], seed: int = 0) -> torch.Tensor:
    """``(H, W)`` smooth periodic random texture translated exactly by ``shift`` = ``(dx, dy)``
    pixels (Fourier phase)."""
    g = torch.Generator().manual_seed(seed)
    spec = torch.fft.fft2(torch.randn(H, W, generator=g, dtype=torch.float64))
    fy = torch.fft.fftfreq(H, dtype=torch.float64)[:, None].expand(H, W)
    fx = torch.fft.fftfreq(W, dtype=torch.float64)[None, :].expand(H, W)
    r = torch.sqrt(fx * fx + fy * fy)
    spec = spec * (r < 0.25) / r.clamp(min=1.0 / max(H, W))
    img = torch.fft.ifft2(spec * torch.exp(-2j * math.pi * (fx * shift[0] + fy * shift[1]))).real
    ref = torch.fft.ifft2(spec).real
    return 0.5 + 0.1 * (img - ref.mean()) / ref.std()


@pytest.mark.parametrize("velocity", [(0.36, 0.0), (0.42, 0.1), (1.13, -0.37), (-2.3, 0.4)])
def test_rendered_hint_agreement_measures_subpixel_speeds(velocity):
    """An exact sub-pixel translation (a speed the first version's 0.25-px grid quantised by up
    to 30 %) measures its speed within 2 %."""
    H, W, K, step = 48, 80, 6, 2.0
    vx, vy = velocity
    frames = torch.stack([_shifted_texture(H, W, (k * vx, k * vy)) for k in range(K)])[:, None].expand(
        K, 3, H, W
    )
    hint = torch.tensor([[vx / step, vy / step]])  # px/step
    speed, cos = rendered_hint_agreement(frames.float(), step, torch.tensor([[40.0, 24.0]]), hint,
                                         torch.ones(H, W, dtype=torch.bool), radius=10.0, pairs=K - 1)  # fmt: skip
    assert float(speed[0]) == pytest.approx(1.0, abs=0.02) and float(cos[0]) > 0.999


def test_rendered_hint_agreement_of_a_thin_band_beside_still_banks():
    """A 4-px band running down at 63° (staircase edges, like the study's stream) whose texture
    slides along it at 1.1 px/frame between still, contrasting banks: the first version, which
    matched the banks' edges too, measured 2.1 times the speed here (0.33 on the study's stream)."""
    H, W, K, step = 96, 96, 8, 2.0
    d = torch.tensor([0.45, 0.9]) / math.hypot(0.45, 0.9)
    yy, xx = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    band = ((xx - 48) * d[1] - (yy - 48) * d[0]).abs() < 2.0
    bank = _shifted_texture(H, W, (0.0, 0.0), seed=3) * 0.6  # darker, still
    v = 1.1 * d
    water = [0.55 + 0.5 * _shifted_texture(H, W, (k * v[0], k * v[1]), seed=4) for k in range(K)]  # brighter
    frames = [torch.where(band, w, bank) for w in water]
    frames = torch.stack(frames)[:, None].expand(K, 3, H, W).float()
    speed, cos = rendered_hint_agreement(frames, step, torch.tensor([[48.0, 48.0]]), (v / step)[None], band,
                                         radius=6.0)  # fmt: skip
    assert float(speed[0]) == pytest.approx(1.0, abs=0.05) and float(cos[0]) > 0.99


def test_thin_stream_renders_at_its_hint_speed():
    """A stream 1 % of D wide (4 px at 384) with one hint, rendered with the default settings: the
    displacement over the loop near the hint equals the hint's speed times the loop's steps
    within 15 % (the issue's target), direction cosine >= 0.95."""
    import cinemagraph3d as c3
    from cinemagraph3d.types import DepthMap

    H, W, N, K = 216, 384, 40, 20
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64),
                            indexing="ij")  # fmt: skip
    bank = 0.25 + 0.5 * (_shifted_texture(H, W, (0.0, 0.0), seed=5) - 0.5)
    stream = (yy >= 100) & (yy < 104) & (xx >= 20) & (xx < 364)
    water = 0.75 + 0.08 * torch.sin(0.9 * xx) + 0.5 * (_shifted_texture(H, W, (0.0, 0.0), seed=6) - 0.5)
    image = torch.where(stream, water, bank).clamp(0, 1).float()[None].expand(3, H, W).contiguous()
    scene = c3.prepare_scene(image, DepthMap(torch.full((1, H, W), 5.0), True, "test"))
    traj = c3.make_trajectory(c3.TrajectorySettings("static", K), scene.camera, 5.0, 5.0)
    start, vec = torch.tensor([[192.0, 102.0]]), torch.tensor([[0.5, 0.0]])
    fld = motion_field(H, W, [MotionRegion(stream, MotionHints(start, vec))])
    frames = torch.stack(list(c3.render_frames(scene, traj, integrate_motion(fld, N), N)))
    speed, cos = rendered_hint_agreement(frames, N / K, start, vec, stream, radius=20.0 * W / 1280)
    loop = float(speed[0]) * 0.5 * N  # pixels travelled over the loop
    assert loop == pytest.approx(0.5 * N, rel=0.15) and float(cos[0]) >= 0.95
