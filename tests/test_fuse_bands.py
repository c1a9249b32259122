"""The coarser bands' low pass on a decimated grid (``FusionSettings.band_decimation``) against
independent truths: the full-resolution box at ``k = 1``, constants and linear ramps (a symmetric
box and bilinear interpolation between block centres reproduce a linear function exactly away
from the frame's edges) and independence of the region it is evaluated on."""

from __future__ import annotations

import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.render.fuse import FusionSettings, _coarse_lowpass, _lowpass, band_decimation


def _full(x):
    return (slice(0, x.shape[1]), slice(0, x.shape[2]))


def test_k1_is_the_full_resolution_box():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 37, 53, generator=g, dtype=torch.float64)
    a = (torch.rand(1, 37, 53, generator=g, dtype=torch.float64) > 0.2).to(torch.float64)
    torch.testing.assert_close(_coarse_lowpass(x, a, 5, 1, _full(x)), _lowpass(x, a, 5), rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_linear_ramps_and_constants_are_kept(k):
    H, W, r = 80, 120, 12
    y, x = torch.meshgrid(
        torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij"
    )
    ramp = torch.stack([0.01 * x + 0.02 * y, torch.full_like(x, 0.7), 0.5 - 0.003 * x])
    alpha = torch.ones(1, H, W, dtype=torch.float64)
    alpha[:, 30:34, 50:60] = 0.0  # a hole: coverage normalisation fills it in
    lo = _coarse_lowpass(ramp, alpha, r, k, _full(ramp))
    m = r + 2 * k  # away from the frame's edges (there the box is clipped)
    inner = (slice(None), slice(m, H - m), slice(m, W - m))
    hole_free = torch.ones(H, W, dtype=torch.bool)
    hole_free[30 - r - 2 * k : 34 + r + 2 * k, 50 - r - 2 * k : 60 + r + 2 * k] = (
        False  # the hole biases the mean
    )
    got, want = lo[inner], ramp[inner]
    keep = hole_free[inner[1:]]
    torch.testing.assert_close(got[:, keep], want[:, keep], rtol=0, atol=1e-9)
    torch.testing.assert_close(lo[1], torch.full_like(lo[1], 0.7), rtol=0, atol=1e-12)  # constants everywhere


def test_a_pixel_s_low_pass_does_not_depend_on_the_region_asked_for():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(3, 64, 96, generator=g)
    a = torch.ones(1, 64, 96)
    whole = _coarse_lowpass(x, a, 16, 4, _full(x))
    part = _coarse_lowpass(x, a, 16, 4, (slice(21, 40), slice(7, 90)))
    torch.testing.assert_close(part, whole[:, 21:40, 7:90], rtol=0, atol=0)


def test_decimation_rule_and_setting_checks():
    s = FusionSettings()
    assert [band_decimation(s, r) for r in (3, 7, 8, 15, 19, 64)] == [1, 1, 2, 3, 4, 4]
    assert band_decimation(FusionSettings(band_decimation=1), 64) == 1
    for bad in (0, 2.5, True):
        with pytest.raises(InputError, match="band_decimation"):
            FusionSettings(band_decimation=bad)
