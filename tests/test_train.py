"""Training both stages at tiny scale: dataset builder, stage 1 and 2 improve on their initial
weights, torchrun DDP equals one process, resume is exact, the weights render through the CLI.

Synthetic clips come from the analytic scenes (exact flow), 64×64, 12 frames = one loop.
Networks are the real classes at small widths (motion estimator base_filters=2, spade_hidden=4;
encoder on timm resnet18; decoder base_channels=8).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from train_helpers.synthetic import write_clips, write_static_clip

from cinemagraph3d.cli import main

HELPERS = Path(__file__).parent / "train_helpers"
FRAMES = 12
MOTION = ["--base-filters", "2", "--spade-hidden", "4", "--disc-channels", "8", "--lr-g", "1e-3",
          "--device", "cpu", "--no-progress"]  # fmt: skip
RENDER = ["--encoder-backbone", "resnet18", "--decoder-channels", "8", "--decoder-group-size", "8",
          "--disc-channels", "8", "--lr-g", "1e-3", "--device", "cpu", "--no-progress"]  # fmt: skip


def run(capsys, argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    good = write_clips(root, 64, FRAMES)
    bad = {
        "still": write_static_clip(root),
        "short": root / "short",
        "broken.mp4": root / "broken.mp4",
        "missing.mp4": root / "missing.mp4",
    }
    bad["short"].mkdir()
    for k in range(3):
        cv2.imwrite(str(bad["short"] / f"{k}.png"), np.full((64, 64, 3), 40 * k, np.uint8))
    bad["broken.mp4"].write_bytes(b"this is not a video" * 10)
    return root, good, bad


@pytest.fixture(scope="module")
def data(clips, tmp_path_factory):
    """The dataset, built through the CLI (`dataset build`)."""
    _, good, bad = clips
    out = tmp_path_factory.mktemp("data") / "data"
    argv = ["dataset", "build", *[p for p, _ in good], *bad.values(), "-o", out, "--size", "64"]
    assert main([str(a) for a in argv]) == 0
    return out


def _masked_epe(pred, flow, mask):
    e = torch.linalg.vector_norm(pred - flow, dim=1)[:, None]
    return float((e * mask).sum() / mask.sum())


def _val_epe(net, data_dir) -> float:
    """Validation EPE computed here, independently of the trainer: the estimator's inference
    function on each held-out clip's first frame and mask, no hints."""
    from cinemagraph3d.train.dataset import TrainData

    d = TrainData(data_dir)
    errs = []
    with torch.no_grad():
        for c in d.clips(d.val):
            pred = net.eval().estimate(c.frames[:1], c.mask[None], torch.zeros(1, 2, 64, 64))
            errs.append(_masked_epe(pred, c.flow[None], c.mask[None]))
    return float(np.mean(errs))


@pytest.fixture(scope="module")
def motion_runs(data, tmp_path_factory):
    """Stage 1 through the CLI: 20 uninterrupted steps, and 10 + resumed 10."""
    root = tmp_path_factory.mktemp("motion")
    common = ["train", "motion", "--data", data, "--steps", 20, "--batch-size", 1, "--checkpoint-every", 5,
              "--validate-every", 10, *MOTION]  # fmt: skip
    assert main([str(a) for a in common + ["-o", root / "full"]]) == 0
    assert main([str(a) for a in common + ["-o", root / "part", "--stop-at", 10]]) == 0
    stopped = sorted(p.name for p in (root / "part").iterdir())
    assert main([str(a) for a in common + ["-o", root / "part", "--resume"]]) == 0
    return root, stopped


# --------------------------------------------------------------------------- dataset
def test_dataset_teacher_flow_and_mask_match_the_known_flow(clips, data):
    from cinemagraph3d.train.dataset import TrainData

    _, good, _ = clips
    d = TrainData(data)
    assert len(d.index["clips"]) == len(good)
    ious = []
    for entry, (src, truth) in zip(d.index["clips"], good):
        assert entry["source"] == str(src) and entry["flow_source"] == "dis"
        c = d.clip(entry["name"])
        assert c.frames.shape == (FRAMES, 3, 64, 64) and c.depth.shape == (1, 64, 64)
        m, tm = c.mask[0] > 0.5, truth.abs().sum(0) > 0
        iou = float((m & tm).sum() / (m | tm).sum())
        ious.append(iou)
        # stated error: mask IoU >= 0.4 on every clip (0.6 on average); inside both masks the
        # teacher flow is within 0.5 px/frame of the true flow (true speeds 0.8-1.7 px/frame)
        assert iou >= 0.4, (entry["name"], iou)
        epe = float(torch.linalg.vector_norm(c.flow - truth, dim=0)[m & tm].mean())
        assert epe <= 0.5, (entry["name"], epe)
        assert bool((c.flow[:, ~m] == 0).all())
        # hints: inside the mask, carrying the stored flow of their pixel
        assert 1 <= c.hints.shape[0] <= 5
        for x, y, dx, dy in c.hints.tolist():
            i, j = int(y), int(x)
            assert m[i, j] and torch.allclose(c.flow[:, i, j], torch.tensor([dx, dy]))
    assert np.mean(ious) >= 0.6, ious
    # split by clip, both sides non-empty
    assert d.train and d.val and not set(d.train) & set(d.val)


def test_dataset_reports_bad_clips_and_is_deterministic(clips, data, tmp_path):
    from cinemagraph3d.train import DatasetSettings, build_dataset

    root, good, bad = clips
    index = json.loads((data / "index.json").read_text())
    reasons = {Path(s["source"]).name: s["reason"] for s in index["skipped"]}
    assert set(reasons) == set(bad)
    assert reasons["still"].startswith("static")
    assert reasons["short"].startswith("too short (3 frame(s)")
    assert reasons["broken.mp4"].startswith("unreadable")
    assert reasons["missing.mp4"] == "no such file or folder"
    rep = build_dataset(
        [p for p, _ in good], tmp_path / "again", DatasetSettings(size=(64, 64)), progress=False
    )
    assert rep.skipped == []
    for c in index["clips"]:
        a, b = load_file(str(data / c["file"])), load_file(str(tmp_path / "again" / c["file"]))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_dataset_reads_video_files(clips, data, tmp_path):
    import imageio.v3 as iio

    from cinemagraph3d.train import DatasetSettings, TrainData, build_dataset

    _, good, _ = clips
    folder = good[0][0]
    frames = np.stack([iio.imread(f) for f in sorted(folder.glob("*.png"))])
    iio.imwrite(tmp_path / "lake.mp4", frames, fps=12, codec="libx264", macro_block_size=16)
    rep = build_dataset([tmp_path / "lake.mp4"], tmp_path / "d", DatasetSettings(size=(64, 64), val_fraction=0),
                        progress=False)  # fmt: skip
    assert rep.train == ["0000_lake"] and rep.skipped == []
    got = TrainData(tmp_path / "d").clip("0000_lake")
    ref = TrainData(data).clip(TrainData(data).index["clips"][0]["name"])
    assert got.frames.shape == ref.frames.shape
    mse = float(((got.frames - ref.frames) ** 2).mean())
    assert 10 * np.log10(1 / mse) > 25  # H.264 round trip of the same frames


def test_dataset_uses_a_user_flow_file(clips, tmp_path):
    import shutil

    from cinemagraph3d.train import DatasetSettings, TrainData, build_dataset

    _, good, _ = clips
    folder, truth = good[1]
    clip = tmp_path / "falls"
    shutil.copytree(folder, clip)
    np.save(clip / "flow.npy", truth.numpy().transpose(1, 2, 0))  # (h, w, 2) px/frame
    build_dataset([clip], tmp_path / "d", DatasetSettings(size=(64, 64), val_fraction=0), progress=False)
    d = TrainData(tmp_path / "d")
    assert d.index["clips"][0]["flow_source"] == "file"
    c = d.clip(d.train[0])
    m = c.mask[0] > 0.5
    assert torch.allclose(c.flow[:, m], truth[:, m]) and bool((c.flow[:, ~m] == 0).all())
    tm = truth.abs().sum(0) > 0
    assert float((m & tm).sum() / (m | tm).sum()) > 0.9  # the mask follows the given flow


def test_dataset_cli_refuses_bad_inputs(clips, data, capsys, tmp_path):
    _, _, bad = clips
    code, _, err = run(capsys, ["dataset", "build", bad["still"], "-o", tmp_path / "d", "--size", "64"])
    last = err.strip().splitlines()[-1]  # after the progress bar and the skipped clip's line
    assert code == 2 and last.startswith("cinemagraph3d: error: videos: expected at least one usable clip")
    assert not (tmp_path / "d").exists() and not list(tmp_path.iterdir())
    code, _, err = run(capsys, ["dataset", "build", bad["still"], "-o", data, "--size", "64"])
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(
        capsys, ["dataset", "build", bad["still"], "-o", tmp_path / "e", "--mask-fraction", "-1"]
    )
    assert code == 2 and err.startswith("cinemagraph3d: error: --mask-fraction: expected a number")


# --------------------------------------------------------------------------- stage 1
def test_stage1_lowers_validation_epe_against_its_initial_weights(data, motion_runs):
    from cinemagraph3d.train import MotionTrainSettings
    from cinemagraph3d.train.motion import build_motion_estimator
    from cinemagraph3d.weights import load_model

    root, _ = motion_runs
    torch.manual_seed(0)  # the run's seed: its initial weights
    initial = build_motion_estimator(MotionTrainSettings(base_filters=2, spade_hidden=4))
    trained = load_model(root / "full", "motion_estimator", expected_architecture="motion_estimator")
    e0, e1 = _val_epe(initial, data), _val_epe(trained, data)
    print(f"stage 1 validation EPE: initial {e0:.4f}, trained {e1:.4f} px/frame")
    assert e1 <= 0.7 * e0, (e0, e1)  # stated margin: at least 30 % lower after 20 steps
    log = (root / "full" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,lr_g,loss_d,loss_g,gan,fm,epe,val_epe") and len(log) == 22
    assert abs(float(log[1].split(",")[-1]) - e0) < 1e-4  # the run's own step-0 validation agrees
    assert (root / "full" / "loss.png").stat().st_size > 1000


def test_resume_after_step_10_of_20_is_bit_identical(motion_runs):
    root, stopped = motion_runs
    assert "motion_estimator.safetensors" not in stopped and "checkpoints" in stopped
    a = load_file(str(root / "full" / "motion_estimator.safetensors"))
    b = load_file(str(root / "part" / "motion_estimator.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ck = sorted((root / "full" / "checkpoints").glob("step_*"))
    assert [p.name for p in ck] == ["step_00000010", "step_00000015", "step_00000020"]
    state = torch.load(ck[-1] / "state.pt", weights_only=True)
    assert state["step"] == 20 and set(state["optimizers"]) == {"G", "D"}
    w1 = load_file(str(ck[-1] / "weights.safetensors"))
    w2 = load_file(str(root / "part" / "checkpoints" / "step_00000020" / "weights.safetensors"))
    assert all(torch.equal(w1[k], w2[k]) for k in w1)  # discriminator too
    assert (root / "part" / "log.csv").read_text() == (root / "full" / "log.csv").read_text()


def test_resume_refuses_changed_settings(data, motion_runs, capsys):
    root, _ = motion_runs
    argv = ["train", "motion", "--data", data, "-o", root / "part", "--resume", "--steps", 20, "--batch-size", 2,
            *MOTION]  # fmt: skip
    code, _, err = run(capsys, argv)
    assert (
        code == 2
        and "--resume: expected the settings of the run being resumed" in err
        and "batch_size" in err
    )


def test_train_cli_refuses_taken_outputs(data, motion_runs, capsys):
    root, _ = motion_runs
    before = sorted(p.name for p in (root / "full").iterdir())
    code, _, err = run(capsys, ["train", "motion", "--data", data, "-o", root / "full", *MOTION])
    assert code == 2 and err.startswith(
        "cinemagraph3d: error: -o/--output: expected a path that does not exist"
    )
    code, _, err = run(capsys, ["train", "motion", "--data", data, "-o", data, "--force", *MOTION])
    assert code == 2 and "is input" in err
    assert sorted(p.name for p in (root / "full").iterdir()) == before and (data / "index.json").is_file()


def test_stage1_weights_drive_the_learned_motion_stage(motion_runs, data):
    from cinemagraph3d.motion.learned import estimate_motion
    from cinemagraph3d.train.dataset import TrainData
    from cinemagraph3d.weights import load_model

    root, _ = motion_runs
    net = load_model(root / "full", "motion_estimator")
    c = TrainData(data).clip(TrainData(data).val[0])
    field = estimate_motion(net, c.frames[0], c.mask[0] > 0.5)
    assert field.flow.shape == (2, 64, 64) and bool((field.flow[:, c.mask[0] < 0.5] == 0).all())
    assert float(field.flow.abs().max()) > 0


# --------------------------------------------------------------------------- DDP
def test_torchrun_two_ranks_equal_one_process(data, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HELPERS.parent.parent)}
    entry = str(HELPERS / "ddp_entry.py")
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", entry,
           str(data), str(tmp_path / "run2"), str(tmp_path / "two"), "4", "2"]  # fmt: skip
    p = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    cmd = [sys.executable, entry, str(data), str(tmp_path / "run1"), str(tmp_path / "one"), "4", "2"]
    p = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    r0 = load_file(str(tmp_path / "two" / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "two" / "rank1.safetensors"))
    single = load_file(str(tmp_path / "one" / "rank0.safetensors"))
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # the ranks are identical, bit for bit
    # equal to the single process with the same global batch up to float reduction order:
    # the difference of the parameter displacements is < 2 % of the displacement (Adam turns
    # round-off in near-zero gradients into ±lr steps, so element-wise equality is not expected)
    from cinemagraph3d.train import MotionTrainSettings
    from cinemagraph3d.train.motion import build_motion_estimator

    torch.manual_seed(0)
    init = {f"G.{k}": v for k, v in build_motion_estimator(MotionTrainSettings(base_filters=2, spade_hidden=4))
            .state_dict().items()}  # fmt: skip
    keys = [k for k in init if init[k].is_floating_point()]
    diff = sum(float(((r0[k] - single[k]) ** 2).sum()) for k in keys) ** 0.5
    moved = sum(float(((single[k] - init[k]) ** 2).sum()) for k in keys) ** 0.5
    print(f"DDP vs one process: |diff| {diff:.3g}, |displacement| {moved:.3g}")
    assert moved > 0.1 and diff < 0.02 * moved, (diff, moved)
    log2 = (tmp_path / "run2" / "log.csv").read_text().splitlines()
    log1 = (tmp_path / "run1" / "log.csv").read_text().splitlines()
    assert log1[1] == log2[1]  # the same validation of the same initial weights


# --------------------------------------------------------------------------- stage 2
@pytest.fixture(scope="module")
def render_run(data, motion_runs, tmp_path_factory):
    root, _ = motion_runs
    out = tmp_path_factory.mktemp("render") / "render"
    argv = ["train", "render", "--data", data, "--motion", root / "full", "-o", out, "--steps", 12,
            "--batch-size", 2, "--checkpoint-every", 12, "--validate-every", 12, *RENDER]  # fmt: skip
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        assert main([str(a) for a in argv]) == 0
    # the warning reaches the user once, as a warning or as the CLI's one-line note
    said = [w for w in caught if "perceptual loss disabled" in str(w.message)]
    said += [line for line in err.getvalue().splitlines() if "perceptual loss disabled" in line]
    return out, len(said)


def _animate(capsys, data, weights, out):
    """Render the first validation clip's first frame through the CLI (--preset neural,
    static camera, one frame per motion step) and return the frames and the clip."""
    from cinemagraph3d.io import write_png
    from cinemagraph3d.train.dataset import TrainData

    d = TrainData(data)
    c = d.clip(d.val[0])
    src = out.parent / f"{out.name}_in"
    src.mkdir()
    write_png(src / "photo.png", c.frames[0])
    np.save(src / "depth.npy", c.depth[0].numpy())
    cv2.imwrite(str(src / "mask.png"), (c.mask[0].numpy() > 0.5).astype(np.uint8) * 255)
    argv = ["animate", src / "photo.png", "--depth", src / "depth.npy", "--mask", src / "mask.png",
            "--preset", "neural", "--weights", weights, "--camera", "static", "--frames", FRAMES,
            "--loop-steps", FRAMES, "-o", out]  # fmt: skip
    code, _, err = run(capsys, argv)
    assert code == 0, err
    frames = [cv2.imread(str(p))[..., ::-1] / 255.0 for p in sorted(out.glob("*.png"))]
    return np.stack(frames), c.frames.permute(0, 2, 3, 1).numpy()


def test_stage2_trained_weights_render_through_the_cli_and_beat_the_initial_ones(data, render_run, motion_runs,
                                                                                  capsys, tmp_path):  # fmt: skip
    from cinemagraph3d.train import RenderTrainSettings
    from cinemagraph3d.train.render import build_render_nets
    from cinemagraph3d.weights import save_model

    out, n_warn = render_run
    assert n_warn == 1  # no perceptual weights given: one warning, the term is off
    names = sorted(p.name for p in out.glob("*.safetensors"))
    assert names == [
        "feature_encoder.safetensors",
        "image_decoder.safetensors",
        "motion_estimator.safetensors",
    ]
    # the same seed's initial weights, saved in the same layout
    torch.manual_seed(0)
    nets = build_render_nets(RenderTrainSettings(encoder_backbone="resnet18", decoder_channels=8,
                                                 decoder_group_size=8))  # fmt: skip
    init = tmp_path / "init"
    save_model(nets["encoder"], init)
    save_model(nets["decoder"], init)
    root, _ = motion_runs
    for f in ("motion_estimator.safetensors", "motion_estimator.json"):
        (init / f).write_bytes((root / "full" / f).read_bytes())
    got, truth = _animate(capsys, data, out, tmp_path / "trained")
    base, _ = _animate(capsys, data, init, tmp_path / "initial")
    assert got.shape == truth.shape == (FRAMES, 64, 64, 3)
    l1_trained = float(np.abs(got[1:] - truth[1:]).mean())
    l1_initial = float(np.abs(base[1:] - truth[1:]).mean())
    print(f"stage 2 CLI-render L1: initial {l1_initial:.4f}, trained {l1_trained:.4f}")
    assert l1_trained <= 0.9 * l1_initial, (l1_initial, l1_trained)  # stated margin: 10 % lower
    log = (out / "log.csv").read_text().splitlines()
    first, last = log[1].split(","), log[-1].split(",")
    assert float(last[-1]) < float(first[-1])  # the run's own validation L1 went down too


def test_render_cli_refuses_missing_motion_weights(data, capsys, tmp_path):
    argv = ["train", "render", "--data", data, "--motion", tmp_path, "-o", tmp_path / "r", *RENDER]
    code, _, err = run(capsys, argv)
    assert code == 2 and err.startswith(
        "cinemagraph3d: error: --motion: expected a directory with motion_estimator"
    )
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- perceptual
def test_perceptual_loss_loads_local_weights_and_never_downloads(tmp_path, monkeypatch):
    from cinemagraph3d.train.losses import load_perceptual

    def no_download(*a, **k):
        raise AssertionError("download attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    with pytest.warns(UserWarning, match="perceptual loss disabled"):
        assert load_perceptual(None) is None
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])  # VGG16's convolutional part, random weights
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, tmp_path / "vgg16.pth")
    loss = load_perceptual(tmp_path / "vgg16.pth")
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    y = torch.rand(2, 3, 32, 32)
    assert float(loss(y, y)) == 0.0
    value = loss(x, y)
    value.backward()
    assert float(value.detach()) > 0 and float(x.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in loss.parameters())
    # the same value with the features taken straight from torchvision's module
    feats = features.eval()
    norm = (torch.cat([x, y]) - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    ref, h = 0.0, norm
    for i in range(23):  # relu1_2 (3), relu2_2 (8), relu3_3 (15), relu4_3 (22)
        h = feats[i](h)
        if i in (3, 8, 15, 22):
            ref += float((h[:2] - h[2:]).abs().mean().detach())
    assert abs(float(value.detach()) - ref) < 1e-5 * max(1.0, ref)
    with pytest.raises(Exception, match="perceptual weights"):
        torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
        load_perceptual(tmp_path / "bad.pth")
