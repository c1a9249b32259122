"""The command line: happy paths and every bad input → one line, exit 2, no output file."""

import json

import numpy as np
import pytest
from PIL import Image

from cinemagraph3d.cli import main


@pytest.fixture
def photo(tmp_path):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    d = demo_scene(48, 32)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    return tmp_path


def run(capsys, argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_animate_and_render_project(photo, capsys):
    out = photo / "out.mp4"
    code, o, e = run(
        capsys,
        [
            "animate",
            photo / "photo.png",
            "-o",
            out,
            "--frames",
            4,
            "--depth",
            photo / "depth.npy",
            "--save-project",
            photo / "p.json",
        ],
    )
    assert code == 0, e
    assert out.stat().st_size > 0
    data = json.loads((photo / "p.json").read_text())
    assert data["camera"]["frames"] == 4 and data["depth"]["file"].endswith("depth.npy")
    frames_dir = photo / "frames"
    code, o, e = run(capsys, ["render", photo / "p.json", "-o", frames_dir])
    assert code == 0, e
    assert len(list(frames_dir.glob("*.png"))) == 4


def test_loop_seconds_sets_frames(photo, capsys):
    code, _, e = run(
        capsys,
        [
            "animate",
            photo / "photo.png",
            "-o",
            photo / "f",
            "--fps",
            4,
            "--loop-seconds",
            1.5,
            "--camera",
            "static",
        ],
    )
    assert code == 0, e
    assert len(list((photo / "f").glob("*.png"))) == 6


def test_demo(tmp_path, capsys):
    code, o, e = run(capsys, ["demo", "-o", tmp_path / "d.gif", "--size", "48x32", "--frames", 3])
    assert code == 0, e
    assert (tmp_path / "d.gif").exists()


def _bad_cases(d):
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(d / "one.png")
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8garbage")
    (d / "text.png").write_text("hello")
    np.save(d / "nan.npy", np.full((32, 48), np.nan))
    np.save(d / "inf.npy", np.full((32, 48), np.inf))
    np.save(d / "neg.npy", -np.ones((32, 48)))
    np.save(d / "size.npy", np.ones((10, 10)))
    (d / "traj_bad.json").write_text("{not json")
    (d / "traj_shape.json").write_text(
        json.dumps({"K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "cam_from_world": [[[1, 0], [0, 1]]]})
    )
    p = d / "photo.png"
    return {
        "missing": ["animate", d / "nope.png"],
        "corrupt": ["animate", d / "corrupt.jpg"],
        "not-image": ["animate", d / "text.png"],
        "one-pixel": ["animate", d / "one.png"],
        "depth-nan": ["animate", p, "--depth", d / "nan.npy"],
        "depth-inf": ["animate", p, "--depth", d / "inf.npy"],
        "depth-neg": ["animate", p, "--depth", d / "neg.npy"],
        "depth-size": ["animate", p, "--depth", d / "size.npy"],
        "camera": ["animate", p, "--camera", "spiral"],
        "traj-json": ["animate", p, "--camera", d / "traj_bad.json"],
        "traj-shape": ["animate", p, "--camera", d / "traj_shape.json"],
        "frames": ["animate", p, "--frames", 0],
        "fps": ["animate", p, "--fps", 0],
        "fps-neg": ["animate", p, "--fps", -3],
        "max-side": ["animate", p, "--max-side", 1],
        "amplitude": ["animate", p, "--amplitude", "nan"],
        "fov": ["animate", p, "--fov", 200],
        "project": ["render", d / "missing.json"],
    }


CASES = [
    "missing",
    "corrupt",
    "not-image",
    "one-pixel",
    "depth-nan",
    "depth-inf",
    "depth-neg",
    "depth-size",
    "camera",
    "traj-json",
    "traj-shape",
    "frames",
    "fps",
    "fps-neg",
    "max-side",
    "amplitude",
    "fov",
    "project",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exit_2_one_line_no_output(photo, capsys, case):
    argv = _bad_cases(photo)[case]
    out = photo / "out.mp4"
    code, o, e = run(capsys, argv + ["-o", out])
    assert code == 2
    lines = [x for x in e.strip().splitlines() if not x.startswith("rendering")]
    assert len(lines) == 1 and lines[0].startswith("cinemagraph3d: error:"), e
    assert not out.exists()
    assert not [f for f in photo.iterdir() if f.name.startswith(".out")]


def test_unwritable_output(photo, capsys):
    code, _, e = run(capsys, ["animate", photo / "photo.png", "-o", photo / "no" / "such" / "out.mp4"])
    assert code == 2 and "directory" in e
    code, _, e = run(capsys, ["animate", photo / "photo.png", "-o", photo / "out.avi"])
    assert code == 2


def test_os_error_while_writing_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    """A system error during the run (e.g. a full disk while writing) is one line and exit 2,
    and the temporary output is removed."""
    from cinemagraph3d import io as c3io

    def full_disk(self, frame):
        raise OSError(28, "No space left on device", str(self._tmp))

    monkeypatch.setattr(c3io.VideoWriter, "write", full_disk)
    code = main(["demo", "-o", str(tmp_path / "d.mp4"), "--size", "32x18", "--frames", "2"])
    # what a terminal shows: the progress bar is erased by '\r', the error is one line
    shown = [ln.split("\r")[-1].strip() for ln in capsys.readouterr().err.split("\n")]
    shown = [ln for ln in shown if ln]
    assert code == 2
    assert len(shown) == 1 and "No space left on device" in shown[0], shown
    assert list(tmp_path.iterdir()) == []


def test_docs_cli_md_shows_the_current_help(monkeypatch, capsys):
    """Every ``usage: cinemagraph3d CMD`` block in docs/cli.md is CMD's current --help (at 100
    columns), so the documentation cannot drift from the options."""
    import re
    from pathlib import Path

    monkeypatch.setenv("COLUMNS", "100")
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    blocks = re.findall(r"```\n(usage: cinemagraph3d (\S+).*?)\n```", text, flags=re.S)
    assert len(blocks) >= 6
    for block, cmd in blocks:
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert capsys.readouterr().out.rstrip("\n") == block, f"docs/cli.md: `{cmd} --help` is out of date"


def test_library_errors_name_fields_that_the_cli_prints_as_flags(tmp_path):
    """The library names its arguments and fields (never a flag); each name the commands can meet
    reads as the user's flag through the one translation table of the CLI."""
    import torch

    from cinemagraph3d.batch import check_batch_output
    from cinemagraph3d.cli.parser import flag_name
    from cinemagraph3d.controls import parse_prompt, segment_clicks
    from cinemagraph3d.depth import load_depth_file
    from cinemagraph3d.errors import InputError
    from cinemagraph3d.geometry import PinholeCamera, load_trajectory
    from cinemagraph3d.io import DepthWriter, VideoWriter, check_codec, read_image, write_ply
    from cinemagraph3d.project import PromptSpec

    (tmp_path / "t.json").write_text("[")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "x.txt").write_text("the user's")
    Image.new("RGB", (8, 6)).save(tmp_path / "p.png")
    cam = PinholeCamera.default(8, 6)
    cases = [
        (lambda: load_depth_file(tmp_path / "none.npy", 6, 8), "depth.file", "--depth"),
        (lambda: load_depth_file(tmp_path / "none.npy", 6, 8, "z"), "depth.kind", "--depth-kind"),
        (lambda: check_codec(".mp4", "av2"), "output.codec", "--codec"),
        (lambda: check_codec(".gif", None, 5), "output.quality", "--quality"),
        (lambda: check_codec(".mp4", None, None, "fast"), "output.bitrate", "--bitrate"),
        (lambda: check_codec(".avi"), "output", "-o/--output"),
        (lambda: VideoWriter(tmp_path / "v.mp4", 0), "output.fps", "--fps"),
        (lambda: VideoWriter(tmp_path / "v.mp4", 10, loops=0), "output.loops", "--loops"),
        (lambda: VideoWriter(tmp_path / "v.mp4", 10, live_photo=True), "output.live_photo", "--live-photo"),
        (lambda: VideoWriter(tmp_path / "d", 10, codec="h264"), "output.codec/quality/bitrate",
         "--codec/--quality/--bitrate"),
        (lambda: DepthWriter(tmp_path / "d.png", 10), "depth_output", "--depth-out"),
        (lambda: write_ply(tmp_path / "c.txt", None), "ply_output", "--ply"),
        (lambda: read_image(tmp_path / "p.png", 1), "max_side", "--max-side"),
        (lambda: PinholeCamera.default(8, 6, 180.0), "fov_deg", "--fov"),
        (lambda: load_trajectory(tmp_path / "t.json", cam), "camera.path t.json", "--camera t.json"),
        (lambda: segment_clicks(torch.zeros(3, 6, 8), []), "clicks", "--click"),
        (lambda: segment_clicks(torch.zeros(3, 6, 8), [[1, 1]], [[99, 1]]), "unclicks", "--unclick"),
        (lambda: parse_prompt("dance", name="motion.regions[1].prompts[0]"), "motion.regions[1].prompts[0]",
         "--prompt (region 2)"),
        (lambda: PromptSpec("flow left", "zoom").validate("motion.regions[0].prompts[0]"),
         "motion.regions[0].prompts[0].magnitude", "--magnitude (region 1)"),
        (lambda: check_batch_output(tmp_path / "mine", name="output"), "output", "-o/--output"),
    ]  # fmt: skip
    for call, field, flag in cases:
        with pytest.raises(InputError) as exc:
            call()
        assert exc.value.name == field, (field, str(exc.value))
        assert "--" not in exc.value.name and flag_name(exc.value.name) == flag, (field, flag)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "p.png", "t.json"]  # nothing written
