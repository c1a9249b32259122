"""Project files: version 2 (nested by stage) and the migration of version-1 files.

``tests/data/project_v1/`` holds two projects and their frames written by the code before the
sections existed (commit fc9943f, ``animate ... --save-project``): rendering them now must give
the same frames bit for bit.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from cinemagraph3d.cli import main
from cinemagraph3d.errors import InputError
from cinemagraph3d.project import (
    V1_FIELDS,
    CameraSpec,
    MotionSpec,
    Project,
    load_project,
    nest_flat,
    save_project,
)

DATA = Path(__file__).parent / "data" / "project_v1"


@pytest.fixture
def v1(tmp_path):
    d = tmp_path / "v1"
    shutil.copytree(DATA, d)
    return d


def _frames(d: Path) -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(d.glob("*.png"))]


@pytest.mark.parametrize("name, frames", [("project_v1", "frames"), ("project_v1_regions", "frames_regions")])
def test_version_1_project_renders_the_frames_of_its_version_2_form(v1, name, frames, capsys):
    """A v1 file and the same project saved as v2 render the same frames bit for bit; the stored
    frames are this renderer's (saved again when the renderer changes on purpose: issue 13's
    depth edges, gap-closing footprints, resampling compensation, dissolve width and the
    nearer-surface rule of the fusion, the switch-time sign fix, the multi-band dissolve with
    κ = 0.6)."""
    assert json.loads((v1 / f"{name}.json").read_text())["version"] == 1
    assert main(["render", str(v1 / f"{name}.json"), "-o", str(v1 / "out")]) == 0, capsys.readouterr().err
    save_project(load_project(v1 / f"{name}.json"), v1 / "v2.json", base=v1)
    assert json.loads((v1 / "v2.json").read_text())["version"] == 2
    assert main(["render", str(v1 / "v2.json"), "-o", str(v1 / "out2")]) == 0, capsys.readouterr().err
    old, new, again = _frames(v1 / frames), _frames(v1 / "out"), _frames(v1 / "out2")
    assert len(old) == len(new) == len(again) == 3
    assert all(np.array_equal(a, b) for a, b in zip(new, again))
    assert all(np.array_equal(a, b) for a, b in zip(old, new))


def test_version_1_fields_land_in_their_sections(v1):
    p = load_project(v1 / "project_v1.json")
    assert p.depth.file.endswith("depth.npy") and p.depth.kind == "depth"
    assert p.motion.masks[0].endswith("water.png") and p.motion.region_speeds == [1.5]
    assert p.motion.arrows == [[10.0, 50.0, 40.0, 50.0]] and p.motion.anchors == [[80.0, 55.0]]
    assert p.motion.speed == 1.2 and p.motion.loop_steps == 6 and p.motion.freeze[0].endswith("freeze.png")
    assert p.camera == CameraSpec("swing", 0.03, 3, None, True)
    assert p.output.fps == 30.0 and p.render.preset == "classic"
    r = load_project(v1 / "project_v1_regions.json").motion.regions
    assert [x.sky for x in r] == [True, False] and r[0].speed == 0.5
    assert r[1].prompts[0].text == "flow right" and r[1].prompts[0].magnitude == "slow"


def test_version_2_round_trip_keeps_every_field(v1):
    p = load_project(v1 / "project_v1_regions.json")
    save_project(p, v1 / "v2.json")
    data = json.loads((v1 / "v2.json").read_text())
    assert data["version"] == 2 and set(data) == {"version", "image", "max_side", "seed", "depth", "motion",
                                                   "camera", "render", "output"}  # fmt: skip
    assert data["motion"]["regions"][1]["mask"] == "water.png"  # relative to the file
    assert load_project(v1 / "v2.json") == p


def test_every_version_1_field_has_a_home():
    flat = Project("x.png").to_dict()
    names = {k for k in flat if not isinstance(flat[k], dict)} | {
        f"{s}.{k}" for s, sec in flat.items() if isinstance(sec, dict) for k in sec
    }
    homes = {name if section is None else f"{section}.{name}" for section, name in V1_FIELDS.values()}
    assert homes == names  # one-to-one: nothing lost, nothing invented
    assert nest_flat({"frames": 5, "masks": ["m.png"]}) == {
        "camera": {"frames": 5},
        "motion": {"masks": ["m.png"]},
    }


@pytest.mark.parametrize(
    "data, match",
    [
        ({"version": 2, "image": "photo.png", "colour": 1}, r"unknown keys \['colour'\]"),
        (
            {"version": 2, "image": "photo.png", "camera": {"frame": 3}},
            r"camera: expected only the keys .*'frame'",
        ),
        (
            {"version": 2, "image": "photo.png", "motion": {"speed": "fast"}},
            r"motion\.speed: expected a finite number",
        ),
        ({"version": 1, "image": "photo.png", "colour": 1}, r"unknown key 'colour'"),
        ({"version": 1, "image": "photo.png", "extra": {"a": 1}}, r"extra: expected an empty object"),
        ({"version": 3, "image": "photo.png"}, r"version: expected 1 or 2, found 3"),
        ({"version": 2, "camera": {"frames": 3}}, r"image: expected an image path string"),
    ],
)
def test_bad_project_files_name_the_key(v1, data, match):
    (v1 / "bad.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=match):
        load_project(v1 / "bad.json")


def test_sections_replace_and_validate():
    p = Project("x.png", motion=MotionSpec(masks=["m.png"]))
    q = p.replace(camera={"frames": 24}, seed=3)
    assert q.camera.frames == 24 and q.camera.path == "circle" and q.seed == 3 and q.motion == p.motion
    with pytest.raises(InputError, match=r"camera\.frames: expected an integer in \[1, 10000\], found 0"):
        p.replace(camera={"frames": 0}).validate()
    with pytest.raises(InputError, match=r"motion\.regions\[0\]\.speed"):
        Project.from_dict({"image": "x.png", "motion": {"regions": [{"sky": True, "speed": -1}]}}).validate()
