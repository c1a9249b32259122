"""Learned depth back-end on a tiny randomly initialised DPT model saved by the test itself."""

from __future__ import annotations

import sys

import pytest
import torch

from cinemagraph3d.depth_learned import HFDepthEstimator, estimate_depth_hf
from cinemagraph3d.errors import BackendError, InputError, WeightsError


@pytest.fixture(scope="module")
def tiny_dpt(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
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
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


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


def test_missing_model_is_not_downloaded(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(WeightsError, match="allow_download=True"):
        estimate_depth_hf(torch.rand(3, 32, 32), tmp_path / "no-such-model")
    with pytest.raises(WeightsError, match="allow_download=True"):
        estimate_depth_hf(torch.rand(3, 32, 32), "someone/not-in-the-local-cache")


def test_missing_processor_is_named(tiny_dpt, tmp_path):
    transformers = pytest.importorskip("transformers")
    model = transformers.AutoModelForDepthEstimation.from_pretrained(tiny_dpt, local_files_only=True)
    model.save_pretrained(tmp_path)
    with pytest.raises(WeightsError, match="preprocessor_config.json"):
        HFDepthEstimator(tmp_path)


def test_missing_transformers_raises_backend_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(BackendError, match="pip install transformers"):
        estimate_depth_hf(torch.rand(3, 32, 32), tmp_path)
