"""Unit tests of the editor's UI logic (pure functions, no browser, no gradio): strokes → masks,
drags → arrows, state → Project (the command line's way), Project → state → Project, labelme
files opened, uploads refused, the preview cache, and a saved project rendering bit-identically
with ``cinemagraph3d render``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _optional import require

from cinemagraph3d.editor.session import (
    PreviewCache,
    Workspace,
    apply_canvas_event,
    check_upload,
    initial_state,
    render,
)
from cinemagraph3d.editor.state import (
    EditorState,
    RegionState,
    apply_stroke,
    drag_to_arrow,
    project_to_state,
    state_to_project,
    stroke_mask,
    working_arrow,
)
from cinemagraph3d.errors import InputError


def _segment_distance(px, py, a, b) -> float:
    """Distance of point p to segment ab, by brute force over 2001 points of the segment."""
    t = np.linspace(0.0, 1.0, 2001)
    xs, ys = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    return float(np.min(np.hypot(xs - px, ys - py)))


def test_stroke_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    h, w = 17, 23
    pts = rng.uniform([-3, -3], [w + 3, h + 3], size=(4, 2)).tolist()
    radius = 3.3
    got = stroke_mask(pts, radius, h, w)
    want = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            d = min(_segment_distance(j + 0.5, i + 0.5, pts[k], pts[k + 1]) for k in range(len(pts) - 1))
            want[i, j] = d <= radius
    # the brute-force distance is sampled, so pixels within 0.01 px of the edge may differ
    assert (got != want).sum() <= 2
    assert got.sum() > 0


def test_single_point_is_a_disc_and_erase_undoes_paint():
    m = stroke_mask([[10.5, 8.5]], 3.0, 20, 30)
    ii, jj = np.nonzero(m)
    assert np.all(np.hypot(jj + 0.5 - 10.5, ii + 0.5 - 8.5) <= 3.0)
    assert m.sum() == 29  # lattice points within radius 3 of a pixel centre
    base = np.zeros((20, 30), bool)
    painted = apply_stroke(base, [[2, 2], [25, 15]], 2.5)
    assert painted.sum() > 0
    assert not apply_stroke(painted, [[2, 2], [25, 15]], 2.5, erase=True).any()
    with pytest.raises(InputError, match="brush radius"):
        stroke_mask([[1, 1]], 0.0, 5, 5)


def test_drag_to_arrow_and_working_coordinates():
    assert drag_to_arrow([[10, 20], [15, 22], [40, 20]], 100, 50) == [10.0, 20.0, 40.0, 20.0]
    assert drag_to_arrow([[90, 10], [130, -5]], 100, 50) == [90.0, 10.0, 100.0, 0.0]  # clamped
    assert drag_to_arrow([[5, 5], [5.5, 5.5]], 100, 50) is None  # a click, not a drag
    from cinemagraph3d.motion import coordinate_scale

    sx, sy = coordinate_scale((1280, 720), 180, 320)
    assert working_arrow([640, 360, 740, 360], (1280, 720), (320, 180)) == [
        640 * sx,
        360 * sy,
        740 * sx,
        360 * sy,
    ]


def _photo(tmp_path, w=48, h=32):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    path = tmp_path / "photo.png"
    write_png(path, demo_scene(w, h).image)
    return path


def _state(ws, photo, w=48, h=32) -> EditorState:
    st = EditorState(image=str(ws.import_file(photo, "photo")), width=w, height=h, camera="static", frames=3)
    st.regions.append(RegionState("water", np.zeros((h, w), bool)))
    st = apply_canvas_event(st, {"points": [[4, 24], [44, 24]]}, "paint", 0, 5.0)
    st = apply_canvas_event(st, {"points": [[8, 24], [20, 24]]}, "arrow", 0, 5.0)
    st = apply_canvas_event(st, {"points": [[30, 26]]}, "anchor", 0, 5.0)
    return st


def test_state_to_project_is_the_command_lines_project(tmp_path):
    from cinemagraph3d.cli.commands import project_from_args
    from cinemagraph3d.cli.parser import build_parser
    from cinemagraph3d.project import load_project

    photo = _photo(tmp_path)
    ws = Workspace(tmp_path / "work")
    st = _state(ws, photo)
    saved = load_project(ws.save(st))
    mask = str(tmp_path / "work" / "masks" / "region-01-water.png")
    args = build_parser().parse_args(
        ["animate", st.image, "-o", str(tmp_path / "o.mp4"), "--mask", mask, "--arrow", "8,24,20,24"]
        + ["--anchor", "30,26", "--camera", "static", "--frames", "3", "--depth-backend", "heuristic"]
    )
    assert project_from_args(args).to_dict() == saved.to_dict()


def test_project_round_trip_through_the_state(tmp_path):
    from cinemagraph3d.project import load_project

    photo = _photo(tmp_path)
    ws = Workspace(tmp_path / "work")
    st = _state(ws, photo)
    st.regions.append(RegionState("sky", st.empty_mask(), 1.5, "drift right", "slow"))
    st = apply_canvas_event(st, {"points": [[5, 3], [40, 3]]}, "paint", 1, 3.0)
    st = apply_canvas_event(st, {"points": [[20, 20]]}, "freeze", 0, 2.0)
    st.camera, st.keyframes = "custom", [[0, 0, 0, 0, 0, 0], [0.1, 0, 0, 2, 0, 0], [0, 0.1, 0, 0, 1, 0]]
    st.amplitude, st.fps, st.seed, st.stereo = 0.05, 24.0, 7, "sbs"
    first = load_project(ws.save(st))
    again = project_to_state(first)
    assert [r.name for r in again.regions] == ["water", "sky"]
    for a, b in zip(again.regions, st.regions):
        assert np.array_equal(a.mask, b.mask) and a.speed == b.speed and a.prompt == b.prompt
    assert np.array_equal(again.freeze, st.freeze)
    assert again.arrows == st.arrows and again.anchors == st.anchors and again.keyframes == st.keyframes
    second, files = state_to_project(again)
    assert second.resolved(ws.folder).to_dict() == first.to_dict()
    assert first.motion.regions[0].prompts[0].magnitude == "slow"
    assert first.camera.path.endswith("trajectory.json")


def test_labelme_file_opens_with_its_polygon_and_hint_lines(tmp_path):
    from cinemagraph3d.motion import load_labelme

    photo = _photo(tmp_path)
    lm = {
        "imagePath": photo.name,
        "imageWidth": 48,
        "imageHeight": 32,
        "shapes": [
            {"label": "motion", "shape_type": "polygon", "points": [[2, 18], [46, 18], [46, 31], [2, 31]]},
            {"label": "hint", "shape_type": "line", "points": [[10, 24], [30, 26]]},
        ],
    }
    path = tmp_path / "photo.json"
    path.write_text(json.dumps(lm))
    st = initial_state(path, Workspace(tmp_path / "work"))
    mask, _ = load_labelme(path, 32, 48)
    assert len(st.regions) == 1 and np.array_equal(st.regions[0].mask, mask.numpy())
    assert np.allclose(st.arrows, [[10, 24, 30, 26]], atol=1e-4)


def test_uploads_and_workdir_are_refused_with_a_message(tmp_path, monkeypatch):
    import cinemagraph3d.editor.session as session

    photo = _photo(tmp_path)
    assert check_upload(photo) == (48, 32)
    monkeypatch.setattr(session, "MAX_UPLOAD_PIXELS", 1000)
    with pytest.raises(InputError, match="megapixels"):
        check_upload(photo)
    monkeypatch.setattr(session, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(InputError, match="MB"):
        check_upload(photo)
    bad = tmp_path / "x.txt"
    bad.write_text("hello")
    with pytest.raises(InputError, match="photo upload"):
        check_upload(bad)
    (tmp_path / "theirs").mkdir()
    with pytest.raises(InputError, match="workdir"):
        Workspace(tmp_path / "theirs")
    Workspace(tmp_path / "mine")
    Workspace(tmp_path / "mine")  # its own folder is reused


def test_click_to_mask_and_region_tools_need_a_region(tmp_path):
    photo = _photo(tmp_path)
    ws = Workspace(tmp_path / "work")
    st = EditorState(image=str(ws.import_file(photo, "photo")), width=48, height=32)
    with pytest.raises(InputError, match="New region"):
        apply_canvas_event(st, {"points": [[10, 10]]}, "paint", 0, 3.0)
    st.regions.append(RegionState("water", st.empty_mask()))
    clicked = apply_canvas_event(st, {"points": [[24.5, 26.5]]}, "click", 0, 3.0)
    assert clicked.regions[0].mask[26, 24] and clicked.regions[0].mask.sum() > 20
    assert not st.regions[0].mask.any()  # the state is not changed in place


def test_preview_cache_reuses_the_scene_when_only_motion_or_camera_change(tmp_path):
    from cinemagraph3d.project import load_project

    photo = _photo(tmp_path, 64, 40)
    ws = Workspace(tmp_path / "work")
    st = EditorState(
        image=str(ws.import_file(photo, "photo")), width=64, height=40, camera="static", loop_steps=6
    )
    st.regions.append(RegionState("water", np.zeros((40, 64), bool)))
    st = apply_canvas_event(st, {"points": [[4, 30], [60, 30]]}, "paint", 0, 6.0)
    st = apply_canvas_event(st, {"points": [[8, 30], [30, 30]]}, "arrow", 0, 6.0)
    st.frames = 2
    cache = PreviewCache(side=32, frames=2)
    frames, field = cache.frames_of(load_project(ws.save(st)))
    assert len(frames) == 2 and frames[0].shape == (3, 20, 32) and field is not None
    st.arrows.append([10, 34, 10, 20])
    st.camera = "swing"
    cache.frames_of(load_project(ws.save(st)))
    assert (cache.misses, cache.hits, cache.motion_hits) == (1, 1, 0)
    st.camera = "circle"  # only the camera: the integrated motion is reused too
    cache.frames_of(load_project(ws.save(st)))
    assert (cache.misses, cache.motion_hits) == (1, 1)
    st.depth_kind = "disparity"
    st.depth = "file"
    np.save(tmp_path / "d.npy", np.linspace(0.1, 1, 64 * 40, dtype=np.float32).reshape(40, 64))
    st.depth_file = str(ws.import_file(tmp_path / "d.npy", "depth"))
    cache.frames_of(load_project(ws.save(st)))
    assert cache.misses == 2


def test_preview_keeps_the_loops_length_and_motion(tmp_path):
    from cinemagraph3d.project import Project

    p = Project(image=str(_photo(tmp_path)), motion={"loop_steps": 60, "speed": 1.5}, camera={"frames": 90})
    q = PreviewCache(side=32, frames=24).preview_project(p.replace(output={"fps": 30.0}))
    assert q.camera.frames == 24 and q.motion.loop_steps == 24
    assert q.output.fps == pytest.approx(24 / 3.0)  # 90 frames at 30 fps: a 3 s loop
    assert q.motion.speed * q.motion.loop_steps == pytest.approx(1.5 * 60)  # the same motion per loop
    assert q.max_side == 32


def test_saved_project_renders_bit_identically_from_the_cli(tmp_path):
    from cinemagraph3d.cli import main

    photo = _photo(tmp_path)
    ws = Workspace(tmp_path / "work")
    st = _state(ws, photo)
    st.fmt = ".gif"
    out, project, sides = render(ws, st, ply=True)
    cli_out = tmp_path / "cli.gif"
    assert main(["render", str(project), "-o", str(cli_out)]) == 0
    assert out.read_bytes() == cli_out.read_bytes()
    assert sides == [out.with_suffix(".ply")] and sides[0].stat().st_size > 0


def test_a_failed_render_leaves_no_file(tmp_path):
    photo = _photo(tmp_path)
    ws = Workspace(tmp_path / "work")
    st = _state(ws, photo)
    st.live_photo = True  # needs a .mov output
    with pytest.raises(InputError, match="live_photo"):
        render(ws, st)
    assert list((ws.folder / "renders").iterdir()) == []


def test_edit_command_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    from cinemagraph3d.cli import main

    assert main(["edit", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cinemagraph3d: error: source")
    assert main(["edit", "--port", "70000"]) == 2


def test_previews_and_renders_queue_one_at_a_time(tmp_path):
    require("gradio")
    from cinemagraph3d.editor.app import build_app

    demo, tmp = build_app(Workspace(tmp_path / "work"))
    try:
        heavy = [f for f in demo.fns.values() if f.name in ("on_preview", "maybe_preview", "on_render")]
        assert {f.name for f in heavy} == {"on_preview", "maybe_preview", "on_render"}
        assert {f.concurrency_id for f in heavy} == {"engine"}  # one queue for the engine
        assert {f.concurrency_limit for f in heavy} == {1}
        assert all(f.queue is not False for f in heavy)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def test_concurrent_previews_wait_their_turn_and_all_succeed(tmp_path):
    """Four previews asked at once (what four browser tabs do behind gradio's one-slot queue):
    each succeeds, none sees another's half-built scene, and the frames equal a lone preview."""
    import threading

    from cinemagraph3d.project import load_project

    photo = _photo(tmp_path)
    ws = Workspace(tmp_path / "work")
    project = load_project(ws.save(_state(ws, photo)))
    lone, _ = PreviewCache(side=32, frames=3).frames_of(project)
    cache = PreviewCache(side=32, frames=3)
    results, errors = [], []

    def ask():
        try:
            results.append(cache.frames_of(project)[0])
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert all(all(torch.equal(a, b) for a, b in zip(r, lone)) for r in results)
    assert cache.misses == 1 and cache.hits == 3  # one scene built, the others waited for it
