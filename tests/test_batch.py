"""Batch rendering: local and Ray engines give the files `animate` gives, failures are recorded
and do not stop the others, reruns skip finished jobs, a dying worker is retried."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _optional import require  # noqa: E402

from cinemagraph3d.cli import main  # noqa: E402

OPTS = ["--frames", "3", "--loop-steps", "3", "--max-side", "48", "--camera", "swing"]


def _photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = 32, 48
    y = np.linspace(0, 1, h)[:, None, None]
    sky = np.array([230, 180, 120]) * (1 - y) + np.array([90, 120, 60]) * y  # BGR: sky above, ground below
    img = np.broadcast_to(sky, (h, w, 3)).copy()
    img[h // 2 :] = [60 + 10 * seed, 110, 70]
    img += rng.normal(0, 6, img.shape)
    cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))


@pytest.fixture()
def shoot(tmp_path, monkeypatch):
    """Four inputs: three photos (two of them share a name in different folders) and a corrupt one."""
    d = tmp_path / "shoot"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    _photo(d / "a" / "x.png", 1)
    _photo(d / "b" / "x.png", 2)
    _photo(d / "b" / "y.png", 3)
    (d / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a picture")
    monkeypatch.chdir(tmp_path)
    return d


def _batch(argv, capsys):
    code = main(["batch", *argv])
    return code, capsys.readouterr()


def _outputs(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.suffix == ".mp4"}


def test_discovery_names_are_stable_and_distinct(shoot):
    from cinemagraph3d.batch import discover_jobs

    jobs = discover_jobs([shoot], {"frames": 3}, cameras=["circle", "swing"])
    names = [j.name for j in jobs]
    assert names == sorted(names) or len(set(names)) == len(names)
    assert "a__x.circle.mp4" in names and "b__x.swing.mp4" in names and "b__broken.circle.mp4" in names
    assert len(set(names)) == len(names) == 8
    assert names == [j.name for j in discover_jobs([shoot], {"frames": 3}, cameras=["circle", "swing"])]


def test_local_batch_equals_animate_records_failures_and_resumes(shoot, tmp_path, capsys):
    code, cap = _batch([str(shoot), "-o", "out", *OPTS], capsys)
    assert code == 1, cap.err  # one job failed
    out = tmp_path / "out"
    files = _outputs(out)
    assert sorted(files) == ["a__x.mp4", "b__x.mp4", "b__y.mp4"]
    assert "failed b__broken.mp4: image: expected a readable" in cap.out
    # the same outputs as the same `animate` commands, byte for byte
    for name, src in (("a__x.mp4", "a/x.png"), ("b__y.mp4", "b/y.png")):
        assert main(["animate", str(shoot / src), "-o", f"ref-{name}", *OPTS]) == 0
        assert (tmp_path / f"ref-{name}").read_bytes() == files[name], name
    recs = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["name"]: r["status"] for r in recs} == {
        "a__x.mp4": "done",
        "b__x.mp4": "done",
        "b__y.mp4": "done",
        "b__broken.mp4": "failed",
    }
    # rerun: the three finished jobs are skipped, the failed one is tried again
    code, cap = _batch([str(shoot), "-o", "out", *OPTS], capsys)
    assert code == 1
    assert "skipped (finished before)  3" in cap.out and "done                       0" in cap.out
    # a changed input is rendered again, alone
    _photo(shoot / "b" / "y.png", 7)
    (shoot / "b" / "broken.png").unlink()
    code, cap = _batch([str(shoot), "-o", "out", *OPTS], capsys)
    assert code == 0, cap.out
    assert "done                       1" in cap.out and "skipped (finished before)  2" in cap.out
    assert _outputs(out)["a__x.mp4"] == files["a__x.mp4"] and _outputs(out)["b__y.mp4"] != files["b__y.mp4"]


def test_batch_refuses_a_folder_it_did_not_create(shoot, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    code, cap = _batch([str(shoot), "-o", "mine", *OPTS], capsys)
    assert code == 2 and cap.err.count("\n") == 1 and "not created by cinemagraph3d" in cap.err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["keep.txt"]


def test_batch_device_is_checked_before_any_job(shoot, tmp_path, capsys):
    import torch

    code, cap = _batch([str(shoot), "-o", "out1", *OPTS, "--device", "gpu"], capsys)
    assert code == 2 and cap.err.count("\n") == 1 and "--device: expected cpu" in cap.err
    assert not (tmp_path / "out1").exists()
    if not torch.cuda.is_available():  # the local engine renders here: no such GPU, no job
        code, cap = _batch([str(shoot), "-o", "out2", *OPTS, "--device", "cuda"], capsys)
        assert code == 2 and "--device: expected a CUDA GPU" in cap.err
        assert not (tmp_path / "out2").exists()
    code, cap = _batch([str(shoot / "a"), "-o", "out3", *OPTS, "--device", "cpu"], capsys)
    assert code == 0 and sorted(p.name for p in (tmp_path / "out3").glob("*.mp4")) == ["x.mp4"]


@pytest.fixture(scope="module")
def ray_module():
    return require("ray")


def test_ray_batch_gives_the_local_files_and_survives_a_dying_worker(
    shoot, tmp_path, capsys, ray_module, monkeypatch
):
    """Four jobs on a local Ray instance (2 CPUs, no dashboard), one corrupt: the same three files
    as the local engine; the first worker to start a job dies (kill switch) and the job is retried."""
    code, cap = _batch([str(shoot), "-o", "local", *OPTS], capsys)
    assert code == 1
    switch = tmp_path / "killed-once"
    monkeypatch.setenv("CINEMAGRAPH3D_BATCH_KILL_ONCE", str(switch))
    code, cap = _batch([str(shoot), "-o", "viaray", "--ray", "local", "--cpus-per-job", "1", *OPTS], capsys)
    assert code == 1, cap.out + cap.err
    assert switch.exists(), "no worker was killed"
    assert _outputs(tmp_path / "viaray") == _outputs(tmp_path / "local")
    assert "failed b__broken.mp4" in cap.out
    assert not [
        p
        for p in (tmp_path / "viaray").iterdir()
        if p.name.startswith(".") and p.name != ".cinemagraph3d-output"
    ]
    # a rerun on Ray skips the three finished jobs and retries only the failed one
    monkeypatch.delenv("CINEMAGRAPH3D_BATCH_KILL_ONCE")
    code, cap = _batch([str(shoot), "-o", "viaray", "--ray", "local", *OPTS], capsys)
    assert (
        code == 1 and "skipped (finished before)  3" in cap.out and "failed                     1" in cap.out
    )
