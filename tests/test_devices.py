"""The render device: names checked before torch loads, CUDA refused where there is none, and
every tensor of a prepared project moved by ``to_device``."""

import gc

import pytest
import torch

import cinemagraph3d as c3
from cinemagraph3d.api import Prepared, prepare_project
from cinemagraph3d.devices import parse_device, resolve_device, to_device
from cinemagraph3d.errors import InputError

NO_GPU = not torch.cuda.is_available()


@pytest.mark.parametrize(("spec", "name"), [(None, "cpu"), ("CPU", "cpu"), (" cuda ", "cuda"), ("cuda:1", "cuda:1"),
                                            ("auto", "auto")])  # fmt: skip
def test_parse_device_accepts(spec, name):
    assert parse_device(spec) == name


@pytest.mark.parametrize(
    "spec", ["gpu", "cuda:", "cuda:x", "mps", "", "cpu:0", "cuda:01", "cuda:99999999999999999999"]
)
def test_parse_device_refuses(spec):
    with pytest.raises(InputError, match="device") as e:
        parse_device(spec)
    assert repr(spec) in str(e.value)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="device"):
        resolve_device(torch.device("meta"))


@pytest.mark.skipif(not NO_GPU, reason="a GPU is visible")
def test_cuda_without_a_gpu_is_refused_before_any_work(tmp_path):
    with pytest.raises(InputError, match="expected a CUDA GPU, found cuda:0 requested"):
        resolve_device("cuda:0")
    out = tmp_path / "v.mp4"
    with pytest.raises(InputError, match="CUDA GPU"):  # before the photo is even read
        c3.animate(str(tmp_path / "missing.jpg"), out, device="cuda")
    assert not out.exists()


def test_bad_device_is_refused_before_torch_loads():
    from conftest import run_cli_fresh

    rc, torch_loaded, err = run_cli_fresh(["animate", "x.jpg", "-o", "v.mp4", "--device", "gpu"])
    assert (rc, torch_loaded) == (2, False), err
    assert err.strip().splitlines() == [
        "cinemagraph3d: error: --device: expected cpu (default), cuda, cuda:N (the N-th GPU) or auto (a GPU "
        "when PyTorch sees one), found 'gpu'"
    ]


def _tensors(root) -> list[torch.Tensor]:
    """Every tensor reachable from ``root`` through containers and this package's objects
    (gc referents: also slots and other storage ``to_device`` does not walk by name)."""
    seen, out, todo = set(), [], [root]
    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, torch.Tensor):
            out.append(o)
            continue
        if isinstance(o, (dict, list, tuple, set, frozenset)) or type(o).__module__.startswith(
            "cinemagraph3d"
        ):
            todo.extend(r for r in gc.get_referents(o) if not isinstance(r, type))
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    d = demo_scene(48, 32)
    tmp = tmp_path_factory.mktemp("dev")
    write_png(tmp / "photo.png", d.image)
    write_png(tmp / "water.png", (d.water.numpy() * 255).astype("uint8"))
    project = c3.Project.from_flat(image=str(tmp / "photo.png"), camera="swing", frames=3,
                                   masks=[str(tmp / "water.png")], arrows=[[10, 20, 20, 20]])  # fmt: skip
    return prepare_project(project.validate())


def test_to_device_moves_every_tensor(prepared):
    # a dtype instead of a device (there is no second device here): every tensor of the copy must
    # have gone through `.to(...)`, none of the original's may have
    before = _tensors(prepared)
    dtypes = [t.dtype for t in before]
    assert len(before) > 20
    moved = to_device(prepared, torch.float64)
    after = _tensors(moved)
    assert len(after) == len(before)
    assert all(t.dtype == torch.float64 for t in after)
    assert [t.dtype for t in _tensors(prepared)] == dtypes  # the original is left as it was
    assert moved.scene is not prepared.scene and moved.motion is not prepared.motion
    assert moved.project is prepared.project  # nothing in it to move
    # a tensor shared by two objects stays shared
    assert moved.motion.index is moved.motion._stepper.index


def test_frames_on_the_cpu_device_are_the_default_frames(prepared):
    a = list(c3.api.project_frames(prepared))
    b = list(c3.api.project_frames(to_device(prepared, torch.device("cpu"))))
    assert len(a) == 3 and all(torch.equal(x, y) for x, y in zip(a, b))


def test_moved_motion_declines_the_native_cpu_pass(prepared):
    # the stepper's "native pass available" flag is decided on the CPU and copied as it is; the
    # pass must still be refused once the field lives elsewhere (meta: a device without data)
    step = prepared.motion._stepper
    moved = to_device(prepared.motion, torch.device("meta"))._stepper
    assert moved.flow.device.type == "meta" and moved.native == step.native
    state = torch.zeros(len(step.index), 2, dtype=step.flow.dtype)
    assert not moved._native_takes(state.to("meta"))
    assert not step._native_takes(state.to("meta"))  # a CPU field with a tensor from elsewhere
    if step.native:
        assert step._native_takes(state)


def test_networks_are_copied_not_moved_in_place():
    from cinemagraph3d.models.bundle import Models

    enc, dec = torch.nn.Conv2d(4, 2, 1), torch.nn.Conv2d(2, 3, 1)
    models = Models(enc, dec)
    moved = to_device(models, torch.float64)
    assert moved.encoder.weight.dtype == torch.float64 and moved.decoder.bias.dtype == torch.float64
    assert enc.weight.dtype == torch.float32 and models.encoder is enc


def test_neural_project_through_to_device(tmp_path):
    # the networks (a FastDecoder wrapping the decoder, the encoder) copied with the scene; the
    # copy's frames equal the original's, and the original's networks stay float32 on the CPU
    import numpy as np

    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png
    from cinemagraph3d.models import create_model
    from cinemagraph3d.weights import save_model

    d = demo_scene(48, 32)
    write_png(tmp_path / "photo.png", d.image)
    write_png(tmp_path / "water.png", (d.water.numpy() * 255).astype("uint8"))
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    torch.manual_seed(0)
    save_model(create_model("feature_encoder"), tmp_path)
    save_model(create_model("image_decoder", base_channels=8, group_size=8), tmp_path)
    project = c3.Project.from_flat(image=str(tmp_path / "photo.png"), depth=str(tmp_path / "depth.npy"),
                                   masks=[str(tmp_path / "water.png")], arrows=[[5, 24, 14, 24]], preset="neural",
                                   weights=str(tmp_path), frames=2)  # fmt: skip
    prepared = prepare_project(project.validate())
    moved = to_device(prepared, torch.device("cpu"))
    assert moved.models.decoder is not prepared.models.decoder
    a = list(c3.api.project_frames(prepared))
    b = list(c3.api.project_frames(moved))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    wide = to_device(prepared, torch.float64)
    assert all(p.dtype == torch.float64 for p in wide.models.decoder.parameters())
    assert all(p.dtype == torch.float32 for p in prepared.models.decoder.parameters())
