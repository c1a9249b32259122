"""Workflow safety: signals clean up, projects are portable and confined to their folder,
coordinates follow --max-side, and outputs are checked against inputs in the library API too."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cinemagraph3d.cli import main
from cinemagraph3d.errors import InputError


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("output", ["out.mp4", "frames"])
def test_signal_mid_render_leaves_nothing(tmp_path, sig, output):
    cmd = [sys.executable, "-m", "cinemagraph3d", "demo", "--size", "160x96", "--frames", "400", "-o", output]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    assert any(p.name.startswith(".") for p in tmp_path.iterdir()), "the render never started"
    time.sleep(0.5)  # well inside the frame loop
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert list(tmp_path.iterdir()) == [], (sorted(p.name for p in tmp_path.iterdir()), err[-3000:])
    assert "Traceback" not in err


def _scene(d: Path, w: int = 96, h: int = 64) -> None:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256], -1).astype(np.uint8)
    cv2.imwrite(str(d / "photo.png"), img)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 2 :, :] = 255
    cv2.imwrite(str(d / "mask.png"), mask)
    np.save(d / "depth.npy", np.linspace(2.0, 4.0, h * w).reshape(h, w).astype(np.float32))


def test_saved_project_is_portable_and_confined(tmp_path, monkeypatch, capsys):
    """--save-project stores paths relative to the project's folder: moving the folder keeps
    the render identical; a project reaching outside its folder needs --allow-outside-paths."""
    a = tmp_path / "a"
    a.mkdir()
    _scene(a)
    monkeypatch.chdir(tmp_path)
    argv = [
        "animate",
        "a/photo.png",
        "--depth",
        "a/depth.npy",
        "--mask",
        "a/mask.png",
        "--arrow",
        "5,50,25,50",
    ]
    argv += ["--frames", "3", "--loop-steps", "6", "-o", "a/v", "--save-project", "a/p.json"]
    assert main(argv) == 0, capsys.readouterr().err
    data = json.loads((a / "p.json").read_text())
    assert data["version"] == 2 and data["image"] == "photo.png"
    assert data["motion"]["masks"] == ["mask.png"] and data["depth"]["file"] == "depth.npy"
    moved = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, moved)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["render", "b/p.json", "-o", "again"]) == 0, capsys.readouterr().err
    for k in range(3):
        x = cv2.imread(str(a / "v" / f"{k:04d}.png"))
        y = cv2.imread(str(tmp_path / "elsewhere" / "again" / f"{k:04d}.png"))
        assert np.array_equal(x, y)
    # a project whose photo lies outside its folder
    data["image"] = "../../a/photo.png"
    (moved / "q.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["render", "b/q.json", "-o", "x.mp4"]) == 2
    assert "--allow-outside-paths" in capsys.readouterr().err
    assert main(["render", "b/q.json", "-o", "x", "--allow-outside-paths"]) == 0


def test_hub_ids_are_not_paths(tmp_path):
    from cinemagraph3d.project import is_hub_id, load_project

    assert is_hub_id("depth-anything/Depth-Anything-V2-Small-hf")
    assert not is_hub_id("../x/y") and not is_hub_id("/abs/path") and not is_hub_id("just-a-name")
    _scene(tmp_path)
    p = {"version": 1, "image": "photo.png", "depth_backend": "hf", "depth_model": "org/model-name"}
    (tmp_path / "p.json").write_text(json.dumps(p))
    assert load_project(tmp_path / "p.json").depth.model == "org/model-name"


def test_max_side_scales_clicks_arrows_and_anchors(tmp_path):
    """Coordinates are given at the photo's own size: the motion field of a project at
    --max-side S equals the full-size field downscaled (same region, same direction, speed scaled)."""
    import torch

    from cinemagraph3d.motion import build_motion_field, coordinate_scale
    from cinemagraph3d.project import Project

    _scene(tmp_path, 192, 128)
    full = Project.from_flat(
        image=str(tmp_path / "photo.png"),
        masks=[str(tmp_path / "mask.png")],
        arrows=[[20.0, 100.0, 80.0, 100.0]],
        anchors=[[150.0, 110.0]],
    )
    small = full.replace(max_side=96)
    scale = coordinate_scale((192, 128), 64, 96)
    assert scale == (0.5, 0.5)
    f_full = build_motion_field(full.motion, torch.zeros(3, 128, 192)).flow
    f_small = build_motion_field(small.motion, torch.zeros(3, 64, 96), scale).flow
    # the arrow's speed halves with the image; the direction and the anchor's notch stay
    import torch.nn.functional as F

    down = F.interpolate(f_full[None], size=(64, 96), mode="area")[0] * 0.5
    inside = f_small.abs().sum(0) > 0
    assert inside.float().mean() > 0.3
    assert float((f_small - down).abs().mean()) < 0.05 * float(down.abs().mean()) + 1e-3
    assert float(f_small[:, 55, 75].norm()) < 0.2 * float(f_small[:, 50, 20].norm())  # anchor


def test_library_animate_refuses_to_overwrite(tmp_path):
    from cinemagraph3d.api import animate, check_project
    from cinemagraph3d.project import Project

    _scene(tmp_path)
    (tmp_path / "v.mp4").write_bytes(b"keep me")
    p = Project.from_flat(image=str(tmp_path / "photo.png"), depth=str(tmp_path / "depth.npy"), frames=2)
    with pytest.raises(InputError, match="exists"):
        animate(p, tmp_path / "v.mp4")
    with pytest.raises(InputError, match="input"):
        check_project(p, tmp_path / "photo.png", force=True)
    assert (tmp_path / "v.mp4").read_bytes() == b"keep me"
    assert animate(p, tmp_path / "v.mp4", force=True).stat().st_size > 100


def test_own_warnings_are_one_line_after_success(tmp_path, monkeypatch, capsys):
    """Library warnings from torch & co. never reach the terminal; cinemagraph3d's own are
    printed after a successful run, one line each, and none at all when the run fails."""
    import warnings

    from cinemagraph3d import cli

    def fake_run(args, fail=False):
        warnings.warn_explicit("deprecated thing\nsecond line", UserWarning, "/x/site-packages/torch/a.py", 1)
        for _ in range(2):
            warnings.warn_explicit("depth model\n not found", UserWarning, "/x/cinemagraph3d/depth.py", 7)
        if fail:
            raise InputError("--thing", "something", "nothing")
        return 0

    monkeypatch.setattr(cli, "_run", fake_run)
    assert main(["demo", "-o", str(tmp_path / "x.mp4")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["cinemagraph3d: warning: depth model not found"]
    monkeypatch.setattr(cli, "_run", lambda a: fake_run(a, True))
    assert main(["demo", "-o", str(tmp_path / "x.mp4")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "cinemagraph3d: error: --thing: expected something, found nothing"
    ]


def test_signal_arriving_inside_an_ignored_callback_still_stops_the_run(monkeypatch, tmp_path):
    """A signal handled while Python runs a callback whose exceptions it ignores (an at-fork
    hook when the encoder starts, a __del__) used to be printed as "Exception ignored" and the
    render went on to write its output (seen once in CI): it must still stop the run."""
    import cinemagraph3d.cli as cli

    done = tmp_path / "written"
    reached = []

    class _SignalInDel:
        def __del__(self):
            reached.append("del")
            signal.raise_signal(signal.SIGTERM)  # the handler's exception is ignored here

    def fake_run(args):
        obj = _SignalInDel()
        del obj  # the signal is handled inside __del__
        reached.append("after del")  # ... and ignored there: the run went on
        end = time.time() + 5.0
        while time.time() < end:  # the frame loop goes on: the redelivered signal lands here
            time.sleep(0.001)
        done.write_text("a render that should have stopped")
        return 0

    monkeypatch.setattr(cli, "_run", fake_run)
    hook = sys.unraisablehook
    assert main(["demo", "-o", str(tmp_path / "out.mp4")]) == 128 + signal.SIGTERM
    assert reached == ["del", "after del"]  # the signal really was ignored in the callback
    assert not done.exists()
    assert sys.unraisablehook is hook  # restored
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_abort_ends_the_encoder_before_deleting_its_temporary(tmp_path):
    """ffmpeg opens (creates) its output only once it has read a frame; abort() must end and
    reap it before deleting the temporary, or it can create the file again afterwards (a
    left-over '.out.*.mp4' seen once in CI after SIGTERM)."""
    from cinemagraph3d.io import VideoWriter

    w = VideoWriter(tmp_path / "out.mp4", 10)
    w.write(np.zeros((32, 32, 3), np.uint8))
    proc = w._proc
    assert proc is not None and proc.poll() is None  # the encoder is running
    w.abort()
    assert proc.returncode is not None  # ended and reaped
    time.sleep(0.2)
    assert list(tmp_path.iterdir()) == []


def test_signal_while_the_encoder_starts_leaves_no_orphan_encoder(monkeypatch, tmp_path):
    """A stop signal that lands while ffmpeg is being started (inside Popen, after the fork)
    used to unwind before anybody knew the process: it went on alone and created the temporary
    again after abort() had deleted it (the left-over '.out.*.mp4' of CI). The signal now waits
    until the process is known, then stops the run; the encoder is ended and reaped."""
    import imageio_ffmpeg._io as ffio

    import cinemagraph3d.cli as cli
    from cinemagraph3d.io import write_video

    started = []
    real_popen = ffio.subprocess.Popen

    class _PopenThenSignal(real_popen):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)
            signal.raise_signal(signal.SIGTERM)  # as if it arrived just after the fork

    monkeypatch.setattr(ffio.subprocess, "Popen", _PopenThenSignal)
    written = []

    def fake_run(args):
        frames = (np.full((3, 32, 32), i / 10, np.float32) for i in range(5))

        def counted():
            for f in frames:
                written.append(1)
                yield __import__("torch").from_numpy(f)

        write_video(tmp_path / "out.mp4", counted(), 10)
        return 0

    monkeypatch.setattr(cli, "_run", fake_run)
    assert main(["demo", "-o", str(tmp_path / "out.mp4")]) == 128 + signal.SIGTERM
    assert len(started) == 1 and len(written) == 1  # stopped at the first frame, not after
    assert started[0].returncode is not None  # the encoder was ended and reaped
    time.sleep(0.3)
    assert list(tmp_path.iterdir()) == []
