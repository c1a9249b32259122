"""Execution modes of the neural decoder (cinemagraph3d.models.runtime): each equals the float32
decoder within its stated tolerance; the optional OpenVINO runtime skips cleanly when absent."""

import importlib.util

import pytest
import torch

from cinemagraph3d.errors import BackendError, InputError
from cinemagraph3d.models.decoder import ImageDecoder
from cinemagraph3d.models.runtime import PRECISIONS, RUNTIMES, FastDecoder, fast_decoder

#: float32 modes (channels-last, OpenVINO f32) only reorder float32 sums: ~1e-6 on [0, 1]. 1e-5
#: is far below one 8-bit grey level (1/255 ≈ 3.9e-3), which is why channels-last float32 is the
#: pipeline's default instead of the plain NCHW decoder.
FLOAT32_TOL = 1e-5
#: bfloat16 keeps 8 bits of mantissa in the U-Net: ~3e-3 here and 3–5e-3 on 1280×720 frames of
#: the official-size decoder (benchmarks/bench_neural.py), i.e. about one grey level; 1e-2 bounds
#: it with margin for other CPUs' bfloat16 kernels. Not below 1/255 in every case, so opt-in.
BFLOAT16_TOL = 1e-2
TOLERANCES = {"float32": FLOAT32_TOL, "bfloat16": BFLOAT16_TOL}

needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None, reason="optional package openvino not installed"
)


def _decoder(state=None) -> ImageDecoder:
    dec = ImageDecoder(base_channels=8, group_size=4).eval()  # narrow: same layers, fast
    if state is not None:
        dec.load_state_dict(state)
    return dec


@pytest.fixture(scope="module")
def case():
    torch.manual_seed(0)
    dec = _decoder()
    state = {k: v.clone() for k, v in dec.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    x_f, x_b = torch.rand(1, 37, 33, 48, generator=gen), torch.rand(1, 37, 33, 48, generator=gen)
    with torch.inference_mode():
        ref = dec(x_f, x_b, 0.3)
    return state, x_f, x_b, ref


def _check(case, precision, runtime):
    state, x_f, x_b, ref = case
    fast = fast_decoder(_decoder(state), precision, runtime)
    out = fast(x_f, x_b, 0.3)
    assert out.dtype == torch.float32 and out.shape == ref.shape and out.is_contiguous()
    assert float((out - ref).abs().max()) <= TOLERANCES[precision], (precision, runtime)
    assert torch.equal(out, fast(x_f, x_b, 0.3))  # deterministic


@pytest.mark.parametrize("precision", PRECISIONS)
def test_torch_modes_match_float32(case, precision):
    _check(case, precision, "torch")


@needs_openvino
@pytest.mark.parametrize("precision", PRECISIONS)
def test_openvino_matches_float32(case, precision):
    _check(case, precision, "openvino")


def test_rewrapping_and_bad_choices(case):
    state, x_f, x_b, ref = case
    fast = fast_decoder(fast_decoder(_decoder(state), "bfloat16"), "float32")
    assert isinstance(fast.decoder, ImageDecoder) and fast.precision == "float32"
    with pytest.raises(InputError, match="precision"):
        fast_decoder(_decoder(), "float16")
    with pytest.raises(InputError, match="runtime"):
        fast_decoder(_decoder(), "float32", "tensorrt")
    with pytest.raises(InputError, match="decoder"):
        fast_decoder(torch.nn.Identity())
    assert RUNTIMES == ("torch", "openvino")


def test_missing_openvino_is_a_typed_error_naming_the_install(monkeypatch):
    import cinemagraph3d.models.runtime as rt

    real = rt.importlib.import_module

    def no_openvino(name, *a, **k):
        if name == "openvino":
            raise ImportError("No module named 'openvino'")
        return real(name, *a, **k)

    monkeypatch.setattr(rt.importlib, "import_module", no_openvino)
    with pytest.raises(BackendError, match=r"pip install 'cinemagraph3d\[openvino\]'"):
        fast_decoder(_decoder(), "bfloat16", "openvino")


def test_project_and_cli_carry_the_decoder_mode():
    from cinemagraph3d.cli.commands import project_from_args
    from cinemagraph3d.cli.parser import build_parser
    from cinemagraph3d.project import Project, RenderSpec

    args = build_parser().parse_args(
        [
            "animate",
            "photo.png",
            "-o",
            "out.mp4",
            "--decoder-precision",
            "bfloat16",
            "--decoder-runtime",
            "openvino",
        ]
    )
    r = project_from_args(args).render
    assert (r.decoder_precision, r.decoder_runtime) == ("bfloat16", "openvino")
    assert RenderSpec().decoder_precision == "float32" and RenderSpec().decoder_runtime == "torch"
    with pytest.raises(InputError, match="render.decoder_precision"):
        Project.from_dict({"image": "p.png", "render": {"decoder_precision": "float16"}}).validate()
    with pytest.raises(InputError, match="render.decoder_runtime"):
        Project.from_dict({"image": "p.png", "render": {"decoder_runtime": 3}})


def test_prepared_project_wraps_the_decoder(tmp_path):
    """prepare_project hands the renderer a FastDecoder with the project's choices."""
    import numpy as np

    from cinemagraph3d.api import prepare_project
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png
    from cinemagraph3d.models import create_model
    from cinemagraph3d.project import Project
    from cinemagraph3d.weights import save_model

    d = demo_scene(48, 32)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    torch.manual_seed(0)
    save_model(create_model("feature_encoder"), tmp_path)
    save_model(create_model("image_decoder", base_channels=8, group_size=8), tmp_path)
    project = Project.from_flat(
        image=str(tmp_path / "photo.png"),
        depth=str(tmp_path / "depth.npy"),
        preset="neural",
        weights=str(tmp_path),
        decoder_precision="bfloat16",
        frames=1,
    )
    dec = prepare_project(project).models.decoder
    assert isinstance(dec, FastDecoder) and (dec.precision, dec.runtime) == ("bfloat16", "torch")
