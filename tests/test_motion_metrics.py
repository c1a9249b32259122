"""Issue 13: the per-frame motion metrics on inputs with known answers."""

from __future__ import annotations

import torch

from cinemagraph3d.eval import motion_metrics as mm


def _texture(seed: int, H: int = 48, W: int = 96) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.5 + 0.1 * torch.randn(3, H, W, generator=g)).clamp(0, 1)


def test_border_seam_finds_a_tear_near_the_border():
    a, b = _texture(0), _texture(1)
    mask = torch.ones(48, 96, dtype=torch.bool)
    smooth = torch.nn.functional.avg_pool2d(a[None], 5, 1, 2, count_include_pad=False)[0]
    torn = smooth.clone()
    torn[:, :, :10] = (
        torch.nn.functional.avg_pool2d(b[None], 5, 1, 2, count_include_pad=False)[0][:, :, :10] + 0.2
    )  # a step at x = 10
    s = mm.border_seams(torch.stack([smooth, torn]), mask)
    assert float(s[0]) < 2.0
    assert float(s[1]) > 3.0 * float(s[0])
    # the same step in the middle of the image is not a border seam
    mid = smooth.clone()
    mid[:, :, 40:] += 0.2
    assert float(mm.border_seams(mid[None], mask)[0]) < 2.0


def test_crack_pixels_count_uncovered_pixels_inside_surfaces_only():
    alpha = torch.ones(2, 1, 30, 40)
    alpha[1, 0, 10, 5:25] = 0.2  # a 20-px crack line
    alpha[1, 0, :, 0] = 0.0  # uncovered column at the surface's edge: not counted (eroded)
    surface = torch.ones(2, 1, 30, 40, dtype=torch.bool)
    c = mm.crack_pixels(alpha, surface)
    assert c.tolist() == [0.0, 20.0]


def test_hint_agreement_of_a_uniform_field():
    flow = torch.zeros(2, 40, 60)
    flow[0] = 1.2
    mask = torch.ones(40, 60, dtype=torch.bool)
    speed, cos = mm.hint_agreement(flow, torch.tensor([[30.0, 20.0]]), torch.tensor([[1.0, 0.0]]), mask, 5.0)
    assert abs(float(speed[0]) - 1.2) < 1e-6 and abs(float(cos[0]) - 1.0) < 1e-9
    speed, cos = mm.hint_agreement(flow, torch.tensor([[30.0, 20.0]]), torch.tensor([[0.0, 1.0]]), mask, 5.0)
    assert abs(float(cos[0])) < 1e-9


def test_study_photo_is_deterministic_and_its_regions_hold_their_hints():
    a, b = mm.study_photo(96, 54), mm.study_photo(96, 54)
    assert torch.equal(a.image, b.image)
    for _name, kind, mask, starts, vectors in a.regions:
        assert kind in ("water", "clouds") and bool(mask.any())
        assert starts.shape == vectors.shape and starts.shape[1] == 2
    assert a.regions[0][2][:, 0].any() and a.regions[0][2][:, -1].any()  # the sea touches both sides
