"""Single-click masks and the automatic sky on the procedural landscapes (hard cases)."""

from __future__ import annotations

import pytest
import torch

from cinemagraph3d.controls import detect_sky, segment_clicks
from cinemagraph3d.controls.sky import horizon_cut
from cinemagraph3d.eval.depth_metrics import click_points, mask_scores
from cinemagraph3d.eval.landscapes import make_landscape


@pytest.fixture(scope="module")
def reflection():
    return make_landscape("reflection", 160, 96)


def test_click_on_water_reflecting_the_sky_stops_at_the_horizon(reflection):
    for name in ("lake", "sky"):
        region = reflection.regions[name]
        x, y = click_points(region, 1)[0]
        s = mask_scores(segment_clicks(reflection.image, [[x, y]]), region)
        assert s["iou"] >= 0.8 and s["oversize"] <= 0.25, (name, s)


def test_unclick_removes_and_second_click_adds():
    L = make_landscape("bay", 160, 96)
    bay, sky = L.regions["bay"], L.regions["sky"]
    (bx, by), (sx, sy) = click_points(bay, 1)[0], click_points(sky, 1)[0]
    both = segment_clicks(L.image, [[bx, by], [sx, sy]])
    assert mask_scores(both, bay | sky)["iou"] >= 0.8
    only = segment_clicks(L.image, [[bx, by]], unclicks=[[sx, sy]])
    assert not only[int(sy), int(sx)] and mask_scores(only, bay)["iou"] >= 0.8


def test_auto_sky_excludes_reflecting_water_and_leaf_gaps(reflection):
    det = detect_sky(reflection.image)
    s = mask_scores(det.mask, reflection.sky)
    assert det.found and s["outside"] <= 0.02 and s["recall"] >= 0.95
    cut = horizon_cut(reflection.image, (det.mask | reflection.regions["lake"]).numpy())
    assert cut is not None and abs(cut - reflection.horizon) <= 3
    fol = make_landscape("foliage", 160, 96)
    s = mask_scores(detect_sky(fol.image).mask, fol.sky)
    assert s["outside"] <= 0.02 and s["recall"] >= 0.9


def test_no_horizon_cut_in_a_plain_sky():
    h, w = 72, 96
    t = torch.linspace(0, 1, h)[:, None].expand(h, w)
    img = torch.stack([0.45 + 0.25 * t, 0.62 + 0.2 * t, 0.92 + 0.05 * t])
    assert horizon_cut(img, torch.ones(h, w, dtype=torch.bool).numpy()) is None
