"""Photo pop-up depth, LDI bands on depth edges and the landscape depth metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.depth import ramp_depth
from cinemagraph3d.depth.popup import PopupSettings, popup_disparity
from cinemagraph3d.errors import InputError
from cinemagraph3d.eval.depth_metrics import depth_edge_recall, lean_ratio, ordinal_accuracy
from cinemagraph3d.eval.landscapes import make_landscape


@pytest.fixture(scope="module")
def cliff():
    return make_landscape("cliff", 160, 96)


@pytest.fixture(scope="module")
def branch():
    return make_landscape("branch", 160, 96)


def test_metrics_on_truth_and_on_a_flipped_map(cliff):
    z = cliff.depth
    assert ordinal_accuracy(z, z, cliff.objects) == 1.0
    assert depth_edge_recall(z, z, cliff.objects) == 1.0
    assert ordinal_accuracy(1.0 / z, z, cliff.objects) == 0.0  # order reversed everywhere
    flat = torch.ones_like(z)
    assert ordinal_accuracy(flat, z, cliff.objects) == 0.0  # ties are wrong
    assert depth_edge_recall(flat, z, cliff.objects) == 0.0
    assert lean_ratio(z, cliff.mask("cliff")) == pytest.approx(1.0)
    assert math.isnan(ordinal_accuracy(z, z, torch.zeros_like(cliff.objects)))
    with pytest.raises(InputError):
        ordinal_accuracy(-z, z, cliff.objects)


def test_popup_cliff_stands_upright_and_is_ordered(cliff):
    z = c3.heuristic_depth(cliff.image).depth
    assert z.shape == (1, 96, 160) and torch.isfinite(z).all()
    m = cliff.mask("cliff")
    assert 0.9 <= lean_ratio(z, m) <= 1.1  # the cliff translates, it does not lean
    assert lean_ratio(ramp_depth(cliff.image).depth, m) < 0.5  # the old ramp made it lean
    assert ordinal_accuracy(z, cliff.depth, cliff.objects) >= 0.9
    zc = z[0][m].median()
    assert zc < z[0][cliff.mask("sea")].median() < z[0][cliff.mask("sky")].median()


def test_popup_branch_nearer_than_peak_nearer_than_sky(branch):
    res = popup_disparity(branch.image)
    d = torch.from_numpy(res.disparity)
    b, m, s = (float(d[branch.mask(n)].median()) for n in ("branch", "mountain", "sky"))
    assert b > m > s
    assert res.kind.shape == (96, 160) and set(np.unique(res.kind)) <= {0, 1, 2, 3}
    assert abs(res.horizon - branch.horizon) < 0.25 * 96


def test_popup_deterministic_and_resized(branch):
    a = popup_disparity(branch.image).disparity
    assert np.array_equal(a, popup_disparity(branch.image).disparity)
    small = popup_disparity(branch.image, PopupSettings(max_side=80))
    assert small.disparity.shape == (96, 160) and small.regions.shape == (96, 160)
    with pytest.raises(InputError):
        popup_disparity(torch.rand(96, 160))
    with pytest.raises(InputError):
        PopupSettings(ground_far=0.9, ground_near=0.5)


def test_ldi_band_follows_the_silhouette_not_rows():
    """A ramp ground (smooth, crossing the layer threshold along a row) with a card in front: the
    back layer's inpainted band lies only around the card."""
    h, w = 64, 96
    yy = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    disp = 0.3 + 0.7 * yy / h
    card = torch.zeros(h, w, dtype=torch.bool)
    card[20:50, 30:60] = True
    disp = torch.where(card, torch.full_like(disp, 1.5), disp)
    depth = c3.DepthMap((1.0 / disp)[None], metric=False, source="test")
    img = torch.rand(3, h, w, generator=torch.Generator().manual_seed(0))
    for ratio, rows_band in ((0.1, False), (0.0, True)):
        ldi = c3.build_ldi(
            img, depth, c3.LDISettings(max_layers=3, band=4, distance_threshold=0.05, edge_ratio=ratio)
        )
        assert ldi.alpha.shape[0] == 3  # card, near ground, far ground
        band = torch.zeros(h, w, dtype=torch.bool)
        for k in range(1, ldi.alpha.shape[0]):
            band |= (ldi.alpha[k, 0] > 0) & ~ldi.visible[k, 0]
        near_card = torch.zeros(h, w, dtype=torch.bool)
        near_card[15:55, 25:65] = True  # within band + 1 px of the card
        assert band.any()
        assert bool((band & ~near_card).any()) == rows_band
    with pytest.raises(InputError):
        c3.build_ldi(img, depth, c3.LDISettings(edge_ratio=-1.0))


def test_landscape_suite_scores_and_report():
    from cinemagraph3d.eval.depth_metrics import format_landscape_report, landscape_picture, run_landscapes

    res = run_landscapes(160, 96, scenes=("bay",), clicks_per_region=1)
    d = res.depth["bay"]["popup"]
    assert 0.9 <= d["ordinal"] <= 1.0 and all(ok for *_, ok in d["orderings"])
    assert res.depth["bay"]["ramp (before)"]["ordinal"] < d["ordinal"]
    assert set(res.clicks["bay"]) == {"bay", "sky"} and res.sky["bay"]["outside"] <= 0.02
    text = format_landscape_report(res, "cmd", {"bay": "x/bay.png"})
    assert "| bay | popup |" in text and "![bay](x/bay.png)" in text
    assert landscape_picture(res.pictures["bay"]).shape == (96, 5 * 160, 3)


def test_rendered_cliff_translates_under_the_circle_camera():
    """End to end: the cliff's image motion (DIS optical flow between two rendered frames of the
    circle path) is the same at its top and at its base with the pop-up depth; the old ramp made
    the top move a quarter as much (the cliff leaned)."""
    import cv2

    L = make_landscape("cliff", 320, 192)
    cam = c3.PinholeCamera.default(320, 192)
    inner = cv2.erode(L.mask("cliff").numpy().astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
    rows = np.nonzero(inner.any(axis=1))[0]
    lo, hi = int(rows.min()), int(rows.max())
    n = (hi - lo) // 5

    def top_over_base(depth):
        scene = c3.prepare_scene(L.image, depth, cam)
        traj = c3.make_trajectory(
            c3.TrajectorySettings("circle", 8, 0.03), scene.camera, scene.z_near, scene.z_subject
        )
        frames = iter(c3.render_frames(scene, traj))
        f0, _, f2 = next(frames), next(frames), next(frames)
        grey = [
            cv2.cvtColor((f.permute(1, 2, 0).numpy() * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
            for f in (f0, f2)
        ]
        flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey[0], grey[1], None)
        speed = np.linalg.norm(flow, axis=2)
        top = speed[lo : lo + n][inner[lo : lo + n]].mean()
        base = speed[hi - n : hi + 1][inner[hi - n : hi + 1]].mean()
        assert base > 2.0  # the camera moves the cliff by several pixels
        return top / base

    assert 0.9 <= top_over_base(c3.heuristic_depth(L.image)) <= 1.1
    assert top_over_base(ramp_depth(L.image)) < 0.5


def test_eval_suite_landscapes_writes_pictures_and_report(tmp_path, monkeypatch, capsys):
    """``cinemagraph3d eval --suite landscapes`` (one small scene instead of the two full sizes)."""
    from cinemagraph3d.cli import main
    from cinemagraph3d.eval import depth_metrics as dm

    small = [dm.run_landscapes(160, 96, scenes=("bay",), clicks_per_region=1)]
    monkeypatch.setattr(dm, "run_landscape_sizes", lambda progress=None: small)
    out = tmp_path / "q"
    assert main(["eval", "--suite", "landscapes", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "| bay | popup |" in report and "![bay](bay.png)" in report
    assert "cinemagraph3d eval --suite landscapes --out" in report
    assert (out / "bay.png").stat().st_size > 1000 and (out / ".cinemagraph3d-output").is_file()
    assert main(["eval", "--suite", "landscapes", "--out", str(out)]) == 2  # ours, but no --force
    assert "exists" in capsys.readouterr().err


def test_clouds_floating_in_the_sky_are_sky(tmp_path):
    """Light grey clouds above the horizon with sky under them belong to the far sky, not to
    cards floating in front of it (whose edges tear under camera motion). On the README's lake
    photo 45 % of the cloud pixels are now at the sky's disparity (17 % before the cloud rule)."""
    import subprocess
    import sys
    from pathlib import Path

    import cv2

    from cinemagraph3d.depth.popup import popup_disparity
    from cinemagraph3d.io import read_image

    example = Path(__file__).resolve().parents[1] / "examples" / "lake_labelme.py"
    subprocess.run([sys.executable, str(example), str(tmp_path / "lake")], check=True, capture_output=True)
    img = read_image(tmp_path / "lake" / "photo.jpg")
    res = popup_disparity(img)
    lab = cv2.cvtColor(img.permute(1, 2, 0).numpy().astype(np.float32), cv2.COLOR_RGB2Lab)
    cloud = (lab[..., 0] > 80) & (np.hypot(lab[..., 1], lab[..., 2]) < 15)
    cloud[int(res.horizon) :] = False
    assert cloud.sum() > 10000
    assert float((res.disparity[cloud] < 0.02).mean()) >= 0.4
