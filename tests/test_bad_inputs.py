"""The bad-input corpus: every case must exit with status 2, print exactly one line (no
traceback, no usage dump, no warning before it), create nothing and change nothing in the
folder it runs in (the inputs included).

Each case is ``(argv, setup)``: ``argv`` is run from the working folder ``w`` (see the fixture),
``setup(w)`` writes any extra file the case needs *before* the folder is snapshotted.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from cinemagraph3d.cli import main

W, H = 64, 40


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width × height`` pixels (its data is a few bytes): what a
    decompression bomb looks like to a header reader."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _pose(R=None, t=(0.0, 0.0, 0.0)) -> list:
    M = np.eye(4)
    if R is not None:
        M[:3, :3] = R
    M[:3, 3] = t
    return M.tolist()


K = [[64.0, 0, 32.0], [0, 64.0, 20.0], [0, 0, 1]]


def _traj(w: Path, name: str, poses: list) -> None:
    (w / name).write_text(json.dumps({"K": K, "width": W, "height": H, "cam_from_world": poses}))


def _project(w: Path, name: str, **fields) -> None:
    data = {"version": 1, "image": "photo.png", **fields}
    (w / name).write_text(json.dumps(data))


@pytest.fixture(scope="module")
def base_files(tmp_path_factory):
    """The inputs every case may use, written once (copied into each case's folder)."""
    d = tmp_path_factory.mktemp("bad_inputs_base")
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([x * 4 % 256, y * 6 % 256, (x + y) * 3 % 256], -1).astype(np.uint8)
    cv2.imwrite(str(d / "photo.png"), img)
    mask = np.zeros((H, W), np.uint8)
    mask[20:, :] = 255
    cv2.imwrite(str(d / "mask.png"), mask)
    np.save(d / "depth.npy", np.linspace(1.0, 3.0, H * W).reshape(H, W).astype(np.float32))
    (d / "clip.mp4").write_bytes(b"not really a video, but an existing input file")
    (d / "frames").mkdir()
    (d / "frames" / "holiday.jpg").write_bytes(b"the user's own file")
    (d / "out.mp4").write_bytes(b"an earlier video of the user's")
    (d / "notes.txt").write_text("user notes")
    return d


@pytest.fixture()
def w(base_files, tmp_path, monkeypatch):
    import shutil

    d = tmp_path / "work"
    shutil.copytree(base_files, d)
    monkeypatch.chdir(d)
    return d


def _snapshot(d: Path) -> dict:
    out = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = Path(root) / n
            rel = str(p.relative_to(d))
            out[rel] = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


A = ["animate", "photo.png"]  # most cases animate the photo
O = A + ["-o", "v.mp4"]  # noqa: E741


def np_save(name, arr):
    return lambda w: np.save(w / name, arr)


def write(name, text):
    return lambda w: (w / name).write_text(text)


CASES = {
    # --- outputs: never destroy, never overwrite an input, nothing partial ---------------------
    "out-dot": (A + ["-o", "."], None),
    "out-dotdot": (A + ["-o", ".."], None),
    "out-empty": (A + ["-o", ""], None),
    "out-cwd-absolute": (A + ["-o", "{w}"], None),
    "out-dir-with-user-files": (A + ["-o", "frames"], None),
    "out-dir-with-user-files-force": (A + ["-o", "frames", "--force"], None),
    "out-dir-trailing-slash": (A + ["-o", "frames/"], None),
    "out-is-input": (A + ["-o", "photo.png"], None),
    "out-is-input-force": (A + ["-o", "photo.png", "--force", "--frames", "1"], None),
    "out-existing-video": (A + ["-o", "out.mp4"], None),
    "out-avi": (A + ["-o", "out.avi"], None),
    "out-missing-dir": (A + ["-o", "nodir/v.mp4"], None),
    "out-png-many-frames": (A + ["-o", "still.png"], None),
    "out-contains-input": (A + ["-o", "frames", "--force", "--mask", "frames/holiday.jpg"], None),
    "save-project-is-input": (O + ["--save-project", "photo.png"], None),
    "save-project-is-input-force": (O + ["--save-project", "photo.png", "--force"], None),
    "save-project-missing-dir": (O + ["--save-project", "nodir/p.json"], None),
    "save-project-suffix": (O + ["--save-project", "p.txt"], None),
    "save-project-existing": (O + ["--save-project", "notes.json"], write("notes.json", "{}")),
    "overlay-is-input": (O + ["--mask", "mask.png", "--mask-overlay", "photo.png", "--force"], None),
    "motion-png-is-mask": (
        O + ["--mask", "mask.png", "--arrow", "5,30,20,30", "--motion-png", "mask.png", "--force"],
        None,
    ),
    "out-is-motion-video": (
        A + ["-o", "clip.mp4", "--force", "--mask", "mask.png", "--motion-video", "clip.mp4"],
        None,
    ),
    "overlay-then-bad-output": (
        A + ["-o", "out.avi", "--mask", "mask.png", "--mask-overlay", "ov.png"],
        None,
    ),
    "overlay-then-bad-camera": (
        O + ["--mask", "mask.png", "--mask-overlay", "ov.png", "--camera", "bogus"],
        None,
    ),
    "two-outputs-same": (
        O
        + ["--mask", "mask.png", "--arrow", "5,30,20,30", "--mask-overlay", "a.png", "--motion-png", "a.png"],
        None,
    ),
    "layers-ply-missing-dir": (["layers", "photo.png", "-o", "lay", "--ply", "nodir/x.ply"], None),
    "layers-out-is-input": (["layers", "photo.png", "-o", "photo.png"], None),
    "layers-out-user-dir": (["layers", "photo.png", "-o", "frames", "--force"], None),
    "layers-out-dot": (["layers", "photo.png", "-o", "."], None),
    "render-out-is-project": (
        ["render", "p.json", "-o", "p.json", "--force"],
        lambda w: _project(w, "p.json"),
    ),
    "demo-out-dot": (["demo", "-o", "."], None),
    "demo-out-user-dir": (["demo", "-o", "frames", "--force"], None),
    # --- argument values ------------------------------------------------------------------------
    "camera-bogus": (O + ["--camera", "bogus"], None),
    "frames-0": (O + ["--frames", "0"], None),
    "frames-negative": (O + ["--frames", "-3"], None),
    "frames-huge": (O + ["--frames", "1000000000"], None),
    "frames-text": (O + ["--frames", "many"], None),
    "loop-seconds-huge": (O + ["--loop-seconds", "1e9"], None),
    "loop-seconds-negative": (O + ["--loop-seconds", "-1"], None),
    "loop-seconds-nan": (O + ["--loop-seconds", "nan"], None),
    "frames-loop-seconds-disagree": (O + ["--frames", "10", "--loop-seconds", "2"], None),
    "fps-tiny": (O + ["--fps", "1e-9"], None),
    "fps-zero": (O + ["--fps", "0"], None),
    "fps-inf": (O + ["--fps", "inf"], None),
    "fps-huge": (O + ["--fps", "1000"], None),
    "loop-steps-0": (O + ["--loop-steps", "0"], None),
    "loop-steps-huge": (O + ["--loop-steps", "1000000000"], None),
    "amplitude-huge": (O + ["--amplitude", "1e6"], None),
    "amplitude-negative": (O + ["--amplitude", "-1"], None),
    "amplitude-nan": (O + ["--amplitude", "nan"], None),
    "fov-tiny": (O + ["--fov", "1e-9"], None),
    "fov-180": (O + ["--fov", "180"], None),
    "fov-text": (O + ["--fov", "abc"], None),
    "seed-2-64": (O + ["--seed", "18446744073709551616"], None),
    "seed-negative": (O + ["--seed", "-1"], None),
    "seed-float": (O + ["--seed", "1.5"], None),
    "max-side-0": (O + ["--max-side", "0"], None),
    "max-side-1": (O + ["--max-side", "1"], None),
    "speed-0": (O + ["--speed", "0"], None),
    "speed-inf": (O + ["--speed", "inf"], None),
    "arrow-text": (O + ["--mask", "mask.png", "--arrow", "abc"], None),
    "arrow-3-numbers": (O + ["--mask", "mask.png", "--arrow", "1,2,3"], None),
    "arrow-nan": (O + ["--mask", "mask.png", "--arrow", "1,2,3,nan"], None),
    "arrow-outside": (O + ["--mask", "mask.png", "--arrow", "5,30,500,30"], None),
    "anchor-huge": (O + ["--mask", "mask.png", "--arrow", "5,30,20,30", "--anchor", "1e12,5"], None),
    "click-text": (O + ["--click", "abc"], None),
    "unclick-alone": (O + ["--unclick", "1,2"], None),
    "prompt-unknown": (O + ["--mask", "mask.png", "--prompt", "dance"], None),
    "magnitude-alone": (O + ["--mask", "mask.png", "--magnitude", "fast"], None),
    "region-speed-alone": (O + ["--region-speed", "2"], None),
    "region-speed-zero": (O + ["--mask", "mask.png", "--region-speed", "0"], None),
    "preset-bogus": (O + ["--preset", "bogus"], None),
    "preset-neural-no-weights": (O + ["--preset", "neural"], None),
    "weights-missing": (O + ["--preset", "neural", "--weights", "nodir"], None),
    "depth-kind-bogus": (O + ["--depth-kind", "bogus"], None),
    "depth-backend-bogus": (O + ["--depth-backend", "bogus"], None),
    "allow-download-no-hf": (O + ["--allow-download"], None),
    "unknown-option": (O + ["--bogus"], None),
    "no-command": ([], None),
    "unknown-command": (["bogus"], None),
    "animate-no-output": (A, None),
    "convert-weights-dst-taken": (["convert-weights", "frames", "frames"], None),
    "convert-weights-dst-user-dir-force": (["convert-weights", ".", "frames", "--force"], None),
    "batch-out-user-dir": (["batch", "photo.png", "-o", "frames"], None),
    "batch-out-is-input": (["batch", "photo.png", "-o", "photo.png"], None),
    # --- output formats -------------------------------------------------------------------------
    "codec-unknown": (O + ["--codec", "av2"], None),
    "codec-wrong-suffix": (A + ["-o", "v.webm", "--codec", "h264"], None),
    "quality-out-of-range": (O + ["--quality", "99"], None),
    "quality-for-gif": (A + ["-o", "v.gif", "--quality", "5"], None),
    "bitrate-text": (O + ["--bitrate", "fast"], None),
    "bitrate-for-gif": (A + ["-o", "v.gif", "--bitrate", "1M"], None),
    "loops-zero": (O + ["--loops", "0"], None),
    "loops-huge": (O + ["--loops", "100000"], None),
    "live-photo-not-mov": (O + ["--live-photo"], None),
    "live-photo-key-photo-taken": (A + ["-o", "out.mov", "--live-photo"], write("out.jpg", "mine")),
    "stereo-bogus": (O + ["--stereo", "wiggle"], None),
    "stereo-baseline-huge": (O + ["--stereo", "sbs", "--baseline", "5"], None),
    "depth-out-with-stereo": (O + ["--stereo", "sbs", "--depth-out", "d"], None),
    "depth-out-is-input": (O + ["--depth-out", "photo.png", "--force"], None),
    "ply-suffix": (O + ["--ply", "cloud.txt"], None),
    "ply-is-output": (O + ["--ply", "v.mp4"], None),
    # --- input files ----------------------------------------------------------------------------
    "image-missing": (["animate", "nope.jpg", "-o", "v.mp4"], None),
    "image-not-an-image": (["animate", "notes.txt", "-o", "v.mp4"], None),
    "image-is-dir": (["animate", "frames", "-o", "v.mp4"], None),
    "image-huge-header": (
        ["animate", "big.png", "-o", "v.mp4"],
        lambda w: _png_header_only(w / "big.png", 20000, 20000),
    ),
    "image-huge-header-max-side": (
        ["animate", "big.png", "-o", "v.mp4", "--max-side", "640"],
        lambda w: _png_header_only(w / "big.png", 90000, 90000),
    ),
    "depth-missing": (O + ["--depth", "nope.npy"], None),
    "depth-complex": (O + ["--depth", "d.npy"], np_save("d.npy", np.ones((H, W), np.complex64))),
    "depth-0x0": (O + ["--depth", "d.npy"], np_save("d.npy", np.zeros((0, 0), np.float32))),
    "depth-1e-40": (O + ["--depth", "d.npy"], np_save("d.npy", np.full((H, W), 1e-40))),
    "depth-1e300": (O + ["--depth", "d.npy"], np_save("d.npy", np.full((H, W), 1e300))),
    "depth-nan": (O + ["--depth", "d.npy"], np_save("d.npy", np.full((H, W), np.nan))),
    "depth-negative": (O + ["--depth", "d.npy"], np_save("d.npy", -np.ones((H, W)))),
    "depth-zero-disparity": (
        O + ["--depth", "d.npy", "--depth-kind", "disparity"],
        np_save("d.npy", np.zeros((H, W))),
    ),
    "depth-object-pickle": (
        O + ["--depth", "d.npy"],
        lambda w: np.save(w / "d.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True),
    ),
    "depth-wrong-aspect": (O + ["--depth", "d.npy"], np_save("d.npy", np.ones((40, 40)))),
    "depth-3d": (O + ["--depth", "d.npy"], np_save("d.npy", np.ones((2, 3, H, W)))),
    "depth-text": (O + ["--depth", "notes.txt"], None),
    "mask-missing": (O + ["--mask", "nope.png", "--arrow", "5,30,20,30"], None),
    "freeze-missing": (O + ["--mask", "mask.png", "--arrow", "5,30,20,30", "--freeze", "nope.png"], None),
    "labelme-missing": (O + ["--labelme", "nope.json"], None),
    "labelme-not-json": (O + ["--labelme", "l.json"], write("l.json", "{")),
    "labelme-list": (O + ["--labelme", "l.json"], write("l.json", "[1]")),
    "labelme-huge-coords": (
        O + ["--labelme", "l.json"],
        write(
            "l.json",
            json.dumps(
                {
                    "shapes": [
                        {"label": "motion", "shape_type": "polygon", "points": [[0, 0], [1e12, 0], [0, 1e12]]}
                    ]
                }
            ),
        ),
    ),
    "labelme-no-motion": (O + ["--labelme", "l.json"], write("l.json", json.dumps({"shapes": []}))),
    "hints-not-json": (O + ["--mask", "mask.png", "--hints", "h.json"], write("h.json", "{")),
    "hints-wrong-units": (
        O + ["--mask", "mask.png", "--hints", "h.json"],
        write("h.json", json.dumps({"units": "furlongs", "hints": [{"x": 5, "y": 30, "dx": 1, "dy": 0}]})),
    ),
    "hints-nan": (
        O + ["--mask", "mask.png", "--hints", "h.json"],
        write("h.json", '{"units": "pixels_per_frame", "hints": [{"x": 5, "y": 30, "dx": NaN, "dy": 0}]}'),
    ),
    "motion-video-missing": (O + ["--mask", "mask.png", "--motion-video", "nope.mp4"], None),
    "sam-checkpoint-missing": (
        O + ["--click", "5,30", "--prompt", "flow left", "--sam-checkpoint", "nope.pth"],
        None,
    ),
    "camera-json-missing": (O + ["--camera", "nope.json"], None),
    "camera-json-not-json": (O + ["--camera", "t.json"], write("t.json", "[")),
    "camera-poses-zero": (
        O + ["--camera", "t.json"],
        lambda w: _traj(w, "t.json", [np.zeros((4, 4)).tolist()] * 3),
    ),
    "camera-poses-reflecting": (
        O + ["--camera", "t.json"],
        lambda w: _traj(w, "t.json", [_pose(np.diag([-1.0, 1, 1]))] * 3),
    ),
    "camera-poses-scaled": (
        O + ["--camera", "t.json"],
        lambda w: _traj(w, "t.json", [_pose(np.eye(3) * 1e-12)] * 3),
    ),
    "camera-poses-vs-frames": (
        O + ["--camera", "t.json", "--frames", "3"],
        lambda w: _traj(w, "t.json", [_pose()] * 20),
    ),
    "camera-poses-nan": (
        O + ["--camera", "t.json"],
        lambda w: _traj(w, "t.json", [_pose(t=(float("nan"), 0, 0))] * 2),
    ),
    "camera-K-tiny-focal": (
        O + ["--camera", "t.json"],
        write(
            "t.json",
            json.dumps({"K": [[1e-9, 0, 32], [0, 1e-9, 20], [0, 0, 1]], "cam_from_world": [_pose()]}),
        ),
    ),
    "demo-size-huge": (["demo", "-o", "d.mp4", "--size", "100000x100000"], None),
    "demo-size-text": (["demo", "-o", "d.mp4", "--size", "abc"], None),
    "demo-frames-0": (["demo", "-o", "d.mp4", "--frames", "0"], None),
    "demo-camera-bogus": (["demo", "-o", "d.mp4", "--camera", "bogus"], None),
    # --- project files ----------------------------------------------------------------------------
    "project-missing": (["render", "nope.json", "-o", "v.mp4"], None),
    "project-not-json": (["render", "p.json", "-o", "v.mp4"], write("p.json", "{")),
    "project-list": (["render", "p.json", "-o", "v.mp4"], write("p.json", "[]")),
    "project-version": (
        ["render", "p.json", "-o", "v.mp4"],
        write("p.json", json.dumps({"version": 3, "image": "photo.png"})),
    ),
    "project-unknown-key": (["render", "p.json", "-o", "v.mp4"], lambda w: _project(w, "p.json", bogus=1)),
    "project-deep-nesting": (
        ["render", "p.json", "-o", "v.mp4"],
        write("p.json", "[" * 100000 + "]" * 100000),
    ),
}

_PROJECT_FIELDS = {
    "camera-int": {"camera": 123},
    "camera-null": {"camera": None},
    "masks-int": {"masks": 5},
    "depth-int": {"depth": 5},
    "hints-int": {"hints": 5},
    "labelme-list": {"labelme": [1]},
    "weights-int": {"weights": 5},
    "regions-str": {"regions": "x"},
    "region-mask-int": {"regions": [{"mask": 5}]},
    "region-prompts-str": {"regions": [{"mask": "mask.png", "prompts": "flow left"}]},
    "region-video-int": {"regions": [{"mask": "mask.png", "video": 5}]},
    "region-unknown-key": {"regions": [{"mask": "mask.png", "bogus": 1}]},
    "max-side-str": {"max_side": "abc"},
    "seed-str": {"seed": "x"},
    "seed-float": {"seed": 1.5},
    "seed-2-70": {"seed": 2**70},
    "fov-str": {"fov": "x"},
    "arrows-str": {"arrows": "abc"},
    "safe-zoom-str": {"safe_zoom": "no"},
    "frames-bool": {"frames": True},
    "image-absolute-outside": {"image": "/etc/passwd"},
    "image-dotdot": {"image": "../photo.png"},
    "image-int": {"image": 7},
}
for _key, _fields in _PROJECT_FIELDS.items():
    CASES[f"project-{_key}"] = (
        ["render", "p.json", "-o", "v.mp4"],
        (lambda f: lambda w: _project(w, "p.json", **f))(_fields),
    )


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr()


def test_huge_photos_are_measured_from_the_header_and_decoded_reduced():
    from cinemagraph3d.checks import MAX_DECODE_PIXELS, decode_reduction
    from cinemagraph3d.errors import InputError

    assert decode_reduction((12000, 8000), None) == 1  # 96 MP: full size
    with pytest.raises(InputError, match="megapixels"):
        decode_reduction((20000, 20000), None)
    assert decode_reduction((20000, 20000), 640) == 8  # 2500×2500 decoded, still >= 640
    assert decode_reduction((20000, 20000), 9000) == 2  # 10000×10000 = the limit
    with pytest.raises(InputError, match="megapixels"):
        decode_reduction((90000, 90000), 640)
    assert (20000 // 2) ** 2 <= MAX_DECODE_PIXELS


def test_reduced_decoding_keeps_the_picture(tmp_path):
    """A photo over the limit decodes reduced and matches the full decode resized (limit lowered
    for the test so the photo stays small)."""
    import cinemagraph3d.checks as checks
    from cinemagraph3d.io import read_image, resize_image

    y, x = np.mgrid[0:400, 0:600]
    img = np.stack([x % 256, y % 256, (x // 3 + y // 2) % 256], -1).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "p.png"), img)
    full = resize_image(read_image(tmp_path / "p.png"), 150)
    old = checks.MAX_DECODE_PIXELS
    try:
        checks.MAX_DECODE_PIXELS = 100_000
        small = read_image(tmp_path / "p.png", max_side=150)
    finally:
        checks.MAX_DECODE_PIXELS = old
    assert small.shape == full.shape == (3, 100, 150)
    assert float((small - full).abs().mean()) < 0.02


def test_corpus_has_at_least_80_cases():
    assert len(CASES) >= 80, len(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line_and_touches_nothing(case, w, capsys):
    argv, setup = CASES[case]
    if setup is not None:
        setup(w)
    argv = [a.replace("{w}", str(w)) for a in argv]
    before = _snapshot(w)
    parent_before = sorted(p.name for p in w.parent.iterdir())
    code, cap = _run(argv, capsys)
    lines = [ln for ln in cap.err.replace("\r", "\n").splitlines() if ln.strip()]
    assert code == 2, (code, cap.err)
    assert len(lines) == 1 and lines[0].startswith("cinemagraph3d: error: "), cap.err
    assert "Traceback" not in cap.err and cap.out == ""
    assert _snapshot(w) == before, "the working folder changed"
    assert sorted(p.name for p in w.parent.iterdir()) == parent_before


def test_existing_outputs_are_replaced_only_with_force_and_only_when_ours(w, capsys):
    """--force replaces a file, and a frames directory cinemagraph3d created (it carries the
    marker); never a directory of the user's."""
    argv = ["demo", "--size", "32x24", "--frames", "2", "-o", "frames_out"]
    code, cap = _run(argv, capsys)
    assert code == 0, cap.err
    first = _snapshot(w / "frames_out")
    assert ".cinemagraph3d-output" in first and "0001.png" in first
    code, cap = _run(argv, capsys)
    assert code == 2 and "exists" in cap.err  # no --force: refused
    code, cap = _run(argv + ["--force", "--frames", "3"], capsys)
    assert code == 0, cap.err
    assert "0002.png" in _snapshot(w / "frames_out")
    # a file is replaced with --force
    code, cap = _run(["demo", "--size", "32x24", "--frames", "2", "-o", "out.mp4", "--force"], capsys)
    assert code == 0, cap.err
    assert (w / "out.mp4").read_bytes()[4:8] == b"ftyp"
    # leftovers: none
    assert not [p for p in w.iterdir() if p.name.startswith(".")]


def test_png_still_with_one_frame(w, capsys):
    code, cap = _run(["demo", "--size", "32x24", "--frames", "1", "-o", "still.png"], capsys)
    assert code == 0, cap.err
    img = cv2.imread(str(w / "still.png"))
    assert img.shape == (24, 32, 3)


def test_version_and_python_m(capsys):
    import subprocess
    import sys

    from cinemagraph3d import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"cinemagraph3d {__version__}"
    out = subprocess.run([sys.executable, "-m", "cinemagraph3d", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"cinemagraph3d {__version__}"


def test_wrong_camera_is_refused_before_torch_loads():
    """The argument checks come before any heavy import: a wrong --camera costs no torch import."""
    from conftest import run_cli_fresh

    rc, torch_loaded, err = run_cli_fresh(["animate", "x.jpg", "-o", "v.mp4", "--camera", "bogus"])
    assert (rc, torch_loaded) == (2, False), err
