"""The README's Python examples run verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_one_call_example_with_fluid_motion(tmp_path, monkeypatch):
    """The one-call example writes the video, and the project it builds moves the water (and
    only the water) and keeps its anchor still."""
    from cinemagraph3d.io import iter_frames
    from cinemagraph3d.motion_inputs import build_motion_field

    code = next(b for b in _blocks() if "c3.animate(" in b)
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "lake_labelme.py"), str(tmp_path / "lake")],
        check=True,
        capture_output=True,
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    frames = list(iter_frames(tmp_path / "lake.mp4"))
    project = namespace["project"]
    assert len(frames) == project.frames == 30 and frames[0].shape == (360, 640, 3)
    flow = build_motion_field(project, 360, 640).flow
    water = cv2.resize(cv2.imread(str(tmp_path / "lake" / "water.png"), 0), (640, 360)) > 127
    speed = flow.norm(dim=0).numpy()
    assert speed[water].mean() > 0.3 and speed[~water].max() == 0.0
    assert float(flow[0][water].mean()) < 0  # "flow left"
    assert speed[300, 320] == 0.0  # the anchor (640, 600) at half size


def test_readme_stage_example_names_exist():
    import cinemagraph3d as c3

    code = next(b for b in _blocks() if "c3.render_frames(" in b)
    for name in re.findall(r"c3\.(\w+)", code):
        assert hasattr(c3, name), name
