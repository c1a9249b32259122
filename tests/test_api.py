"""The library call does what the command line does: same frames for the same inputs (the
automatic sky included), the photo read once and the sky detected once, side outputs written all
or none, and the frames returned when no output is given."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.cli import main
from cinemagraph3d.demo import demo_scene
from cinemagraph3d.io import write_png


@pytest.fixture
def sky_photo(tmp_path):
    d = demo_scene(96, 64)  # has a sky the detector finds
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    return tmp_path


def _frames(d):
    return [cv2.imread(str(p)) for p in sorted(d.glob("*.png"))]


def test_python_call_equals_the_cli_with_the_automatic_sky(sky_photo, capsys):
    d = sky_photo
    argv = ["animate", d / "photo.png", "--depth", d / "depth.npy", "--camera", "static", "--frames", 3]
    assert main([str(a) for a in argv + ["-o", d / "cli"]]) == 0, capsys.readouterr().err
    p = c3.Project(str(d / "photo.png"), depth=c3.DepthSpec(str(d / "depth.npy")))
    c3.animate(p, d / "py", camera=c3.CameraSpec("static", frames=3), auto_sky=True)
    cli, py = _frames(d / "cli"), _frames(d / "py")
    assert len(cli) == 3 and all(np.array_equal(a, b) for a, b in zip(cli, py))
    assert not np.array_equal(py[0], py[1])  # the sky drifts


def test_photo_read_once_and_sky_detected_once(sky_photo, monkeypatch):
    import cinemagraph3d.api as api
    import cinemagraph3d.controls as controls
    import cinemagraph3d.io as io

    calls = {"read": 0, "sky": 0}
    real_read, real_sky = io.read_image, controls.detect_sky

    def read(*a, **k):
        calls["read"] += 1
        return real_read(*a, **k)

    def sky(*a, **k):
        calls["sky"] += 1
        return real_sky(*a, **k)

    monkeypatch.setattr(api, "read_image", read)
    monkeypatch.setattr(controls, "detect_sky", sky)
    d = sky_photo
    p = c3.Project(
        str(d / "photo.png"),
        depth=c3.DepthSpec(str(d / "depth.npy")),
        camera=c3.CameraSpec("static", frames=2),
    )
    api.animate(p, d / "v", auto_sky=True, mask_overlay=d / "overlay.png", motion_png=d / "motion.png")
    assert calls == {"read": 1, "sky": 1}
    assert (d / "overlay.png").is_file() and (d / "motion.png").is_file() and len(_frames(d / "v")) == 2


def test_frames_returned_without_output(sky_photo):
    d = sky_photo
    water = np.zeros((64, 96), np.uint8)
    water[40:, :] = 255
    cv2.imwrite(str(d / "water.png"), water)
    motion = c3.MotionSpec(masks=[str(d / "water.png")], arrows=[[10.0, 50.0, 60.0, 50.0]], loop_steps=6)
    frames = c3.animate(
        d / "photo.png", motion=motion, camera="static", depth=c3.DepthSpec(str(d / "depth.npy"))
    )
    assert len(frames) == 60 and frames[0].shape == (3, 64, 96)  # the default 60 frames
    change = (frames[30] - frames[0]).abs().amax(0)  # half a loop (3 of 6 steps)
    assert float(change[48:60, 20:80].mean()) > 0.01 and float(change[:30].max()) == 0.0
    with pytest.raises(c3.InputError, match="output: expected a video path"):
        c3.animate(d / "photo.png", motion=motion, ply_output=d / "x.ply")


def test_a_failing_side_output_removes_every_output(sky_photo, monkeypatch):
    import cinemagraph3d.io as io

    d = sky_photo

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "write_ply", broken)
    p = c3.Project(
        str(d / "photo.png"),
        depth=c3.DepthSpec(str(d / "depth.npy")),
        camera=c3.CameraSpec("static", frames=2),
    )
    with pytest.raises(OSError):
        c3.animate(p, d / "v.mp4", ply_output=d / "c.ply", mask_overlay=d / "o.png", auto_sky=True)
    assert sorted(x.name for x in d.iterdir()) == ["depth.npy", "photo.png"]


def test_stage_errors_name_fields_and_the_cli_names_flags(sky_photo, capsys):
    d = sky_photo
    with pytest.raises(c3.InputError, match=r"^camera\.frames: expected an integer"):
        c3.animate(d / "photo.png", d / "v.mp4", camera=c3.CameraSpec("static", frames=0))
    assert main(["animate", str(d / "photo.png"), "-o", str(d / "v.mp4"), "--frames", "0"]) == 2
    assert capsys.readouterr().err.startswith("cinemagraph3d: error: --frames: expected an integer")
    assert torch.is_tensor(c3.read_image(d / "photo.png"))


def test_layer_count_is_a_project_field(sky_photo, capsys):
    d = sky_photo
    p = c3.Project(str(d / "photo.png"), depth=c3.DepthSpec(str(d / "depth.npy"), layers=1))
    assert c3.prepare_project(p).scene.ldi.num_layers == 1
    assert c3.prepare_project(p.replace(depth={"layers": 3})).scene.ldi.num_layers > 1
    argv = ["animate", str(d / "photo.png"), "-o", str(d / "v.mp4"), "--layers", "6"]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("cinemagraph3d: error: --layers: expected an integer in [1, 5]")


def test_preparation_reports_its_stages_in_order_and_animate_shows_them(sky_photo, monkeypatch):
    d = sky_photo
    p = c3.Project(str(d / "photo.png"), depth=c3.DepthSpec(str(d / "depth.npy")))
    seen = []
    prepared = c3.prepare_project(p, stage=seen.append)
    assert tuple(seen) == c3.api.PREPARE_STAGES == ("motion", "depth", "scene")
    assert prepared.scene is not None
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for tty in (True, False):
        err = Terminal() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        out = d / f"v{tty}.mp4"
        c3.animate(p, out, camera=c3.CameraSpec("static", frames=2), progress=True)
        assert out.is_file()
        text = err.getvalue()
        # the stages on a terminal; not in a log, where a later error must stay one line
        assert ("preparing 3/3: scene" in text) == tty and ("preparing" in text) == tty
