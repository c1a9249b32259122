"""The README's Python examples run verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_one_call_example_with_fluid_motion(tmp_path, monkeypatch):
    """The one-call example writes the video and returns frames; the motion it describes moves
    the water (and only the water) and keeps its anchor still, in the video too."""
    import torch

    from cinemagraph3d.io import iter_frames
    from cinemagraph3d.motion import build_motion_field, coordinate_scale

    code = next(b for b in _blocks() if "c3.animate(" in b)
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "lake_labelme.py"), str(tmp_path / "lake")],
        check=True,
        capture_output=True,
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    video = [f.astype(float) for f in iter_frames(tmp_path / "lake.mp4")]
    assert len(video) == 30 and video[0].shape == (360, 640, 3)
    frames = namespace["frames"]
    assert len(frames) == 4 and frames[0].shape == (3, 180, 320)
    photo = cv2.imread(str(tmp_path / "lake" / "photo.jpg"))
    scale = coordinate_scale((photo.shape[1], photo.shape[0]), 360, 640)
    flow = build_motion_field(namespace["motion"], torch.zeros(3, 360, 640), scale).flow
    water = cv2.resize(cv2.imread(str(tmp_path / "lake" / "water.png"), 0), (640, 360)) > 127
    speed = flow.norm(dim=0).numpy()
    assert speed[water].mean() > 0.3 and speed[~water].max() == 0.0
    assert float(flow[0][water].mean()) < 0  # "flow left"
    assert speed[300, 320] == 0.0  # the anchor (640, 600) at half size
    # the returned frames (static camera): water changes over the loop, the rest stays
    small = cv2.resize(water.astype(np.uint8), (320, 180)) > 0
    change = (frames[2] - frames[0]).abs().amax(0).numpy()
    core = cv2.erode(small.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    still = cv2.dilate(small.astype(np.uint8), np.ones((15, 15), np.uint8)) == 0
    assert change[core].mean() > 0.01 and change[still].max() < 1e-6


def test_readme_stage_example_names_exist():
    import cinemagraph3d as c3

    code = next(b for b in _blocks() if "c3.render_frames(" in b)
    for name in re.findall(r"c3\.(\w+)", code):
        assert hasattr(c3, name), name
