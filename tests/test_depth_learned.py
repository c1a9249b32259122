"""Learned depth back-end on a tiny randomly initialised DPT model saved by the test itself.

``transformers`` is optional: without it these tests skip, except under CI (``CI`` set), where a
missing package is a failure (``pip install -e '.[dev]'`` installs it).
"""

from __future__ import annotations

import importlib
import sys

import pytest
import torch
from _optional import require

from cinemagraph3d.depth.learned import HFDepthEstimator, estimate_depth_hf
from cinemagraph3d.errors import BackendError, InputError, WeightsError


@pytest.fixture(scope="module")
def tiny_dpt(tmp_path_factory):
    transformers = require("transformers")
    config = transformers.DPTConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        reassemble_factors=[4, 2, 1, 0.5],
    )
    torch.manual_seed(0)
    model = transformers.DPTForDepthEstimation(config)
    processor = transformers.DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False)
    path = tmp_path_factory.mktemp("tiny-dpt")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def loads(monkeypatch):
    """Records the keyword arguments of every ``from_pretrained`` call the code makes (model and
    image processor), and never lets a test download: the real loader runs with
    ``local_files_only=True`` whatever was asked. Tests assert on what the code *asked* for."""
    calls: list[tuple[str, str, dict]] = []
    try:
        transformers = importlib.import_module("transformers")
    except ImportError:
        yield calls
        return
    for cls_name in ("AutoModelForDepthEstimation", "AutoImageProcessor"):
        cls = getattr(transformers, cls_name)
        original = cls.from_pretrained

        def spy(source, *args, _original=original, _name=cls_name, **kwargs):
            calls.append((_name, str(source), dict(kwargs)))
            return _original(source, *args, **{**kwargs, "local_files_only": True})

        monkeypatch.setattr(cls, "from_pretrained", spy)
    yield calls


def test_relative_disparity_shape_range_determinism(tiny_dpt):
    image = torch.rand(3, 40, 56, generator=torch.Generator().manual_seed(1))
    disp = estimate_depth_hf(image, tiny_dpt)
    assert disp.shape == (1, 40, 56) and disp.dtype == torch.float32
    assert torch.isfinite(disp).all()
    assert disp.min() == 0.0 and disp.max() == 1.0
    est = HFDepthEstimator(tiny_dpt)
    assert not est.metric
    assert torch.equal(est(image), disp)
    assert torch.equal(est(image[None]), disp)
    raw = est(image, normalize=False)
    assert raw.shape == (1, 40, 56)
    torch.testing.assert_close((raw - raw.min()) / (raw.max() - raw.min()), disp)


def test_bad_image_is_refused(tiny_dpt):
    est = HFDepthEstimator(tiny_dpt)
    with pytest.raises(InputError, match="image"):
        est(torch.rand(4, 32, 32))
    with pytest.raises(InputError, match="float"):
        est(torch.zeros(3, 32, 32, dtype=torch.uint8))


def test_loads_local_files_only_by_default(tiny_dpt, loads):
    require("transformers")
    estimate_depth_hf(torch.rand(3, 32, 32), tiny_dpt)
    HFDepthEstimator(tiny_dpt)
    assert [name for name, _, _ in loads] == ["AutoModelForDepthEstimation", "AutoImageProcessor"] * 2
    for _, source, kwargs in loads:
        assert source == str(tiny_dpt)
        assert kwargs.get("local_files_only") is True, kwargs
        assert kwargs.get("trust_remote_code") is False, kwargs


def test_download_only_when_asked(tiny_dpt, loads):
    """The opt-in of the API (``allow_download=True``, also through ``DepthSettings``) asks the
    loader for ``local_files_only=False``."""
    require("transformers")
    from cinemagraph3d.depth import DepthSettings, estimate_depth

    HFDepthEstimator(tiny_dpt, allow_download=True)
    estimate_depth_hf(torch.rand(3, 32, 32), tiny_dpt, allow_download=True)
    estimate_depth(torch.rand(3, 32, 32), DepthSettings("hf", str(tiny_dpt), allow_download=True))
    assert len(loads) == 6
    assert all(kwargs.get("local_files_only") is False for _, _, kwargs in loads), loads
    loads.clear()
    estimate_depth(torch.rand(3, 32, 32), DepthSettings("hf", str(tiny_dpt)))
    assert len(loads) == 2 and all(kwargs.get("local_files_only") is True for _, _, kwargs in loads)


def test_missing_model_is_not_downloaded(tmp_path, loads):
    require("transformers")
    with pytest.raises(WeightsError, match="allow_download=True"):
        estimate_depth_hf(torch.rand(3, 32, 32), tmp_path / "no-such-model")
    with pytest.raises(WeightsError, match="allow_download=True"):
        estimate_depth_hf(torch.rand(3, 32, 32), "someone/not-in-the-local-cache")
    assert len(loads) == 2
    assert all(kwargs.get("local_files_only") is True for _, _, kwargs in loads), loads


def test_missing_processor_is_named(tiny_dpt, tmp_path):
    transformers = require("transformers")
    model = transformers.AutoModelForDepthEstimation.from_pretrained(tiny_dpt, local_files_only=True)
    model.save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match="preprocessor_config.json"):
        HFDepthEstimator(tmp_path)


def test_missing_transformers_raises_backend_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(BackendError, match="pip install transformers"):
        estimate_depth_hf(torch.rand(3, 32, 32), tmp_path)


# ----------------------------------------------------------------------------------------------
# through the CLI


@pytest.fixture
def photo(tmp_path):
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    write_png(tmp_path / "photo.png", demo_scene(48, 32).image)
    return tmp_path / "photo.png"


def animate_argv(photo, model, out, *extra):
    return [
        "animate",
        str(photo),
        "--depth-backend",
        "hf",
        "--depth-model",
        str(model),
        "--frames",
        "2",
        "--camera",
        "swing",
        "--no-auto-sky",
        *extra,
        "-o",
        str(out),
    ]


def test_cli_hf_depth_backend_renders(tiny_dpt, photo, tmp_path, loads, capsys):
    import cv2

    from cinemagraph3d.cli import main

    require("transformers")
    out = tmp_path / "frames"
    code = main(animate_argv(photo, tiny_dpt, out))
    assert code == 0, capsys.readouterr().err
    frames = [cv2.imread(str(p)) for p in sorted(out.glob("*.png"))]
    assert len(frames) == 2 and all(f.shape == (32, 48, 3) for f in frames)
    assert [(name, source) for name, source, _ in loads] == [
        ("AutoModelForDepthEstimation", str(tiny_dpt)),
        ("AutoImageProcessor", str(tiny_dpt)),
    ]
    assert all(kwargs.get("local_files_only") is True for _, _, kwargs in loads), loads


def test_cli_allow_download_is_the_only_way_to_download(tiny_dpt, photo, tmp_path, loads, capsys):
    from cinemagraph3d.cli import main

    require("transformers")
    code = main(animate_argv(photo, tiny_dpt, tmp_path / "a", "--allow-download"))
    assert code == 0, capsys.readouterr().err
    # loaded once (model and processor), with downloading allowed
    asked = [kwargs.get("local_files_only") for _, _, kwargs in loads]
    assert asked == [False, False], loads
    # refused where it would mean nothing
    code = main(["animate", str(photo), "--allow-download", "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "--allow-download" in err and "--depth-backend hf" in err
    assert not (tmp_path / "b").exists()


def test_cli_help_documents_allow_download(capsys):
    from cinemagraph3d.cli import main

    with pytest.raises(SystemExit) as info:
        main(["animate", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--allow-download" in text and "Hugging Face Hub" in text


class _Payload:
    """An object whose unpickling would run code: must never happen."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_depth_model_folder_holding_a_pickle_is_refused_as_a_typed_error(tiny_dpt, tmp_path, capsys):
    """A model folder whose weights are a pickle (pytorch_model.bin of arbitrary objects) is
    refused with one WeightsError (torch's weights_only load blocks it), never unpickled."""
    import pickle
    import shutil

    for f in tiny_dpt.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, tmp_path / f.name)
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": _Payload()}))
    with pytest.raises(WeightsError):
        HFDepthEstimator(tmp_path)
    assert "unpickled!" not in capsys.readouterr().out
