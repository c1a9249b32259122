"""Fuzz targets: one function per parser of user input, each taking raw bytes.

Every target feeds the bytes to one parser and returns normally when the parser either accepts
them (and returns a valid object) or refuses them with the project's typed error
(:class:`~cinemagraph3d.errors.Cinemagraph3DError`). Anything else propagates: that is a crash.
Used by the property-based tests (``tests/test_fuzz_parsers.py``) and by the coverage-guided
fuzzer (``tests/fuzz/run_atheris.py``).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from cinemagraph3d.errors import Cinemagraph3DError

H, W = 24, 32
_DIR = Path(tempfile.mkdtemp(prefix="c3d-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))


def _file(name: str, data: bytes) -> Path:
    p = _DIR / name
    p.write_bytes(data)
    return p


def _guard(fn, *args):
    try:
        return fn(*args)
    except Cinemagraph3DError:
        return None


def labelme(data: bytes) -> None:
    from cinemagraph3d.motion import load_labelme

    out = _guard(load_labelme, _file("l.json", data), H, W)
    if out is not None:
        mask, hints = out
        assert tuple(mask.shape) == (H, W) and bool(mask.any())
        assert hints.starts.shape == hints.vectors.shape


def hints(data: bytes) -> None:
    from cinemagraph3d.motion import load_hints

    out = _guard(load_hints, _file("h.json", data), H, W)
    if out is not None:
        assert len(out) > 0 and bool(np.isfinite(out.vectors.numpy()).all())


def project(data: bytes) -> None:
    from cinemagraph3d.project import load_project

    (_DIR / "photo.png").touch()
    out = _guard(load_project, _file("p.json", data))
    if out is not None:
        out.validate()


def trajectory(data: bytes) -> None:
    from cinemagraph3d.geometry import PinholeCamera, load_trajectory

    cam = PinholeCamera.default(W, H)
    for frames in (None, 3):
        out = _guard(load_trajectory, _file("t.json", data), cam, frames)
        if out is not None:
            assert len(out) >= 1 and bool(np.isfinite(out.cam_from_world.numpy()).all())


def depth_npy(data: bytes) -> None:
    from cinemagraph3d.depth import load_depth_file

    for kind in ("depth", "disparity"):
        out = _guard(load_depth_file, _file("d.npy", data), H, W, kind)
        if out is not None:
            d = out.depth.numpy()
            assert d.shape == (1, H, W) and np.isfinite(d).all() and (d > 0).all()


def depth_png(data: bytes) -> None:
    from cinemagraph3d.depth import load_depth_file

    out = _guard(load_depth_file, _file("d.png", data), H, W, "disparity")
    if out is not None:
        assert out.depth.shape == (1, H, W)


def depth_array(data: bytes) -> None:
    """An ``.npy`` built from the bytes (shape, dtype and values drawn from them), so the
    fuzzer reaches the value checks and not only the file-format checks."""
    if len(data) < 3:
        return
    dtypes = [np.float32, np.float64, np.uint8, np.uint16, np.int32, np.complex64, np.bool_, np.float16]
    dt = dtypes[data[0] % len(dtypes)]
    h, w = 1 + data[1] % 30, 1 + data[2] % 40
    raw = data[3:]
    n = h * w * np.dtype(dt).itemsize
    buf = (raw * (n // max(len(raw), 1) + 1))[:n] if raw else bytes(n)
    arr = np.frombuffer(buf, dtype=dt).reshape(h, w)
    f = io.BytesIO()
    np.save(f, arr)
    depth_npy(f.getvalue())


def weights_manifest(data: bytes) -> None:
    from cinemagraph3d.weights import _read_config

    out = _guard(_read_config, _file("m.json", data))
    if out is not None:
        assert isinstance(out["config"], dict)


def cli_values(data: bytes) -> None:
    """The text parsers of command-line values: arrows, points, prompts, magnitudes."""
    from cinemagraph3d.cli.parser import _floats
    from cinemagraph3d.controls import parse_magnitude, parse_prompt
    from cinemagraph3d.motion import parse_arrow, parse_point

    text = data.decode("utf-8", errors="replace")
    _guard(parse_arrow, text, H, W)
    _guard(parse_point, text, H, W)
    _guard(parse_prompt, text)
    _guard(parse_magnitude, text, "--magnitude")
    for n in (2, 4):
        _guard(_floats, text, n, "--x")


def project_fields(data: bytes) -> None:
    """A project JSON whose keys are the real ones and whose values are drawn from the bytes."""
    from cinemagraph3d.project import V1_FIELDS

    try:
        values = json.loads(data.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return
    if not isinstance(values, list):
        values = [values]
    keys = sorted(V1_FIELDS)
    obj = {"version": 1, "image": "photo.png"}
    for k, v in enumerate(values[:8]):
        obj[keys[(k * 7 + len(str(v))) % len(keys)]] = v
    project(json.dumps(obj).encode())


TARGETS = {
    "labelme": labelme,
    "hints": hints,
    "project": project,
    "project_fields": project_fields,
    "trajectory": trajectory,
    "depth_npy": depth_npy,
    "depth_png": depth_png,
    "depth_array": depth_array,
    "weights_manifest": weights_manifest,
    "cli_values": cli_values,
}
