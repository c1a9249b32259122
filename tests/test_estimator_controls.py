"""The neural motion estimator honours the project's controls (speed, per-mask speeds, anchors,
freeze) exactly as drawn motion does; before, they were silently dropped."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_neural_pipeline import ConstantFlow, stub_preset  # noqa: E402

from cinemagraph3d.motion import estimated_motion_field  # noqa: E402
from cinemagraph3d.project import Project  # noqa: E402

H, W = 48, 64


def _mask(path: Path, rows, cols) -> str:
    m = np.zeros((H, W), np.uint8)
    m[rows[0] : rows[1], cols[0] : cols[1]] = 255
    cv2.imwrite(str(path), m)
    return str(path)


def test_estimator_field_takes_speeds_anchors_and_freeze(tmp_path):
    cv2.imwrite(str(tmp_path / "photo.png"), np.full((H, W, 3), 128, np.uint8))
    left = _mask(tmp_path / "left.png", (20, 48), (0, 32))
    right = _mask(tmp_path / "right.png", (20, 48), (32, 64))
    frozen = _mask(tmp_path / "freeze.png", (40, 48), (0, 8))
    image = torch.full((3, H, W), 0.5)
    preset = stub_preset(ConstantFlow(1.0, 0.0))
    plain = Project.from_flat(
        image=str(tmp_path / "photo.png"), masks=[left, right], preset="neural", weights="w"
    )
    base = estimated_motion_field(plain.motion, image, preset.motion).flow
    assert float(base[0, 30, 10]) > 0 and bool((base[:, 20:, :] != 0).any(0).all())

    p = Project.from_flat(
        image=str(tmp_path / "photo.png"),
        masks=[left, right],
        region_speeds=[2.0, 0.5],
        speed=1.5,
        anchors=[[48.5, 30.5]],
        freeze=[frozen],
        preset="neural",
        weights="w",
    )
    f = estimated_motion_field(p.motion, image, preset.motion)
    flow = f.flow
    left_px, right_px = base[0, 25, 12], base[0, 22, 62]
    assert abs(float(flow[0, 25, 12] / left_px) - 3.0) < 1e-6  # left mask: region speed 2 × global 1.5
    assert abs(float(flow[0, 22, 62] / right_px) - 0.75) < 1e-3  # right mask: 0.5 × 1.5 (anchor 14 px away)
    assert float(flow[:, 30, 48].abs().max()) == 0.0  # the anchor's pixel does not move
    assert float(flow[:, 44, 4].abs().max()) == 0.0 and float(f.mask[0, 44, 4]) == 0.0  # frozen
    assert float(flow[:, 5, 5].abs().max()) == 0.0  # outside every mask
