"""``cinemagraph3d models fetch depth`` against a local fake hub, and the default depth selection.

Nothing is downloaded: the Hub is replaced by a local directory (``--mirror``), or
``huggingface_hub.hf_hub_download`` by a fake that reads that directory, with
``HF_HUB_OFFLINE=1`` set so that a real download could not happen anyway. The model in the fake
hub is a tiny randomly initialised DPT the test saves itself.
"""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
from _optional import require

from cinemagraph3d.cli import main
from cinemagraph3d.cli.models import fetch_model
from cinemagraph3d.depth import LEARNED_DEPTH_HINT, DepthSettings, estimate_depth, resolve_auto_depth
from cinemagraph3d.errors import BackendError, InputError
from cinemagraph3d.model_cache import MODELS, installed_model, model_dir

REPO = MODELS["depth"].repo_id


@pytest.fixture(scope="module")
def fake_hub(tmp_path_factory):
    """``DIR/<repo_id>/{config.json, model.safetensors, preprocessor_config.json}``."""
    transformers = require("transformers")
    config = transformers.DPTConfig(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=37,
        image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, reassemble_factors=[4, 2, 1, 0.5],
    )  # fmt: skip
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hub")
    repo = root / REPO
    transformers.DPTForDepthEstimation(config).save_pretrained(repo)
    transformers.DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(
        repo
    )
    assert (repo / "model.safetensors").is_file()
    return root


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CINEMAGRAPH3D_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "cache"


def test_auto_without_the_model_runs_popup_and_says_how_to_get_it(caplog, monkeypatch):
    import cinemagraph3d.depth as depth

    monkeypatch.setattr(depth, "_hinted", False)
    img = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(0))
    assert resolve_auto_depth(DepthSettings("auto")).backend == "heuristic"
    with caplog.at_level(logging.WARNING, logger="cinemagraph3d"):
        d = estimate_depth(img, DepthSettings("auto"))
        estimate_depth(img, DepthSettings("auto"))
    assert d.source == "heuristic"
    lines = [r.getMessage() for r in caplog.records if r.name == "cinemagraph3d"]
    assert lines == [LEARNED_DEPTH_HINT]  # one line, once
    assert "models fetch depth" in LEARNED_DEPTH_HINT


def test_fetch_from_a_mirror_then_auto_uses_it(fake_hub, cache, capsys):
    assert main(["models", "fetch", "depth", "--mirror", str(fake_hub)]) == 0
    path = installed_model("depth")
    assert path == model_dir("depth") and path.parent.parent == cache
    meta = json.loads((path / "fetched.json").read_text())
    assert meta["repo_id"] == REPO and meta["licence"] == "Apache-2.0"
    assert not list(cache.glob("models/.*partial*"))
    chosen = resolve_auto_depth(DepthSettings("auto"))
    assert chosen.backend == "hf" and chosen.path == str(path) and not chosen.allow_download
    img = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(1))
    d = estimate_depth(img, DepthSettings("auto"))
    assert d.source == "hf" and d.depth.shape == (1, 32, 48)
    direct = estimate_depth(img, DepthSettings("hf", str(path)))
    assert torch.equal(d.depth, direct.depth)
    assert main(["models", "list"]) == 0
    assert f"in {path}" in capsys.readouterr().out
    # a second fetch keeps the copy
    before = (path / "model.safetensors").stat().st_mtime_ns
    assert main(["models", "fetch", "depth", "--mirror", str(fake_hub)]) == 0
    assert (path / "model.safetensors").stat().st_mtime_ns == before


def test_fetch_through_the_hub_client_asks_for_safetensors_only(fake_hub, monkeypatch):
    hub = require("huggingface_hub")
    asked = []

    def fake_download(repo_id, filename, revision=None, local_dir=None, **kw):
        asked.append((repo_id, filename, revision))
        dst = f"{local_dir}/{filename}"
        shutil.copyfile(fake_hub / repo_id / filename, dst)
        return dst

    monkeypatch.setattr(hub, "hf_hub_download", fake_download)
    path = fetch_model("depth")
    assert [a[1] for a in asked] == ["config.json", "model.safetensors", "preprocessor_config.json"]
    assert {a[0] for a in asked} == {REPO} and {a[2] for a in asked} == {"main"}
    assert installed_model("depth") == path


def test_failed_or_partial_fetch_leaves_no_model(fake_hub, tmp_path, cache, capsys):
    # offline Hub (HF_HUB_OFFLINE=1): one line, exit 2, nothing in the cache
    require("huggingface_hub")
    assert main(["models", "fetch", "depth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and "--mirror" in err[-1]
    assert installed_model("depth") is None and not list(cache.glob("models/*"))
    # a mirror missing the weights
    bad = tmp_path / "bad"
    (bad / REPO).mkdir(parents=True)
    shutil.copyfile(fake_hub / REPO / "config.json", bad / REPO / "config.json")
    with pytest.raises(InputError, match="model.safetensors"):
        fetch_model("depth", mirror=bad)
    # a directory without the marker (an interrupted fetch) is not taken
    d = model_dir("depth")
    shutil.copytree(fake_hub / REPO, d)
    assert installed_model("depth") is None
    assert resolve_auto_depth(DepthSettings("auto")).backend == "heuristic"
    with pytest.raises(InputError):
        fetch_model("nope")


def test_download_errors_are_backend_errors(monkeypatch):
    hub = require("huggingface_hub")

    def boom(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(hub, "hf_hub_download", boom)
    with pytest.raises(BackendError, match="network unreachable"):
        fetch_model("depth")
    assert installed_model("depth") is None


def test_animate_defaults_to_the_fetched_model(fake_hub, tmp_path, monkeypatch, capsys, caplog):
    """``animate`` without depth options: the pop-up depth and the hint line before the fetch,
    the fetched model (other frames, no hint) after it."""
    import cinemagraph3d.depth as depth
    from cinemagraph3d.eval.landscapes import make_landscape
    from cinemagraph3d.io import write_png

    write_png(tmp_path / "photo.png", make_landscape("bay", 64, 48).image)

    def run(out):
        monkeypatch.setattr(depth, "_hinted", False)
        argv = ["animate", str(tmp_path / "photo.png"), "-o", str(tmp_path / out), "--frames", "2",
                "--loop-steps", "2", "--camera", "swing"]  # fmt: skip
        capsys.readouterr()
        assert main(argv) == 0
        # the CLI shows the library's log notes after a successful run, one line each
        err = capsys.readouterr().err.replace("\r", "\n").splitlines()
        hints = [
            ln.removeprefix("cinemagraph3d: note: ") for ln in err if ln.startswith("cinemagraph3d: note: ")
        ]
        return hints, sorted((tmp_path / out).iterdir())

    hint, before = run("a")
    assert hint == [LEARNED_DEPTH_HINT]
    assert main(["models", "fetch", "depth", "--mirror", str(fake_hub)]) == 0
    capsys.readouterr()
    hint, after = run("b")
    assert hint == []
    assert [p.name for p in before] == [p.name for p in after]
    assert any(x.read_bytes() != y.read_bytes() for x, y in zip(before, after))
