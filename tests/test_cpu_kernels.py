"""The two builds of the CPU kernels with an AVX2 variant (``csrc/isa.h``: gap_widen, ghost_keep,
flow_step, fuse_dissolve, fill_holes) compute the same values bit for bit.

Truth: the baseline build (SSE2, the reference the other native tests check against the torch
operations). Every call the frame loop makes to those kernels, on a small demo lake with motion,
border ghosts, gap closing, the dissolve fusion and hole filling, is replayed with both builds
and compared with ``torch.equal``; so are float64 and odd-width inputs (vector tails) through the
public functions. Skipped where the module has no AVX2 build or the CPU cannot run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

import pytest
import torch

from cinemagraph3d.render import native_available

if not native_available():
    pytest.skip("native extension cinemagraph3d._C is not built", allow_module_level=True)

from cinemagraph3d import _C  # noqa: E402

if not hasattr(_C, "set_cpu_kernels"):
    pytest.skip("extension built before the AVX2 kernels", allow_module_level=True)

needs_avx2 = pytest.mark.skipif(not _C.has_avx2_kernels, reason="no AVX2 build of the kernels here")

KERNELS = ["gap_widen", "ghost_keep", "flow_step", "fuse_dissolve", "fill_holes"]


@contextmanager
def kernels(name: str):
    before = _C.set_cpu_kernels(name)
    try:
        yield
    finally:
        _C.set_cpu_kernels(before)


def _same(a, b) -> bool:
    """Equal values, NaN where NaN, in lists/tuples of tensors too."""
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0))
    return a == b


def _clone(x):
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, (list, tuple)):
        return type(x)(_clone(v) for v in x)
    return x


def _render_small_lake(monkeypatch, frames: int = 3):
    """Renders the demo lake at 96×64 (motion, ghosts, gaps, dissolve, fill) and returns the frames
    and every call of the five kernels (name, args, kwargs)."""
    import cinemagraph3d as c3
    from cinemagraph3d import pipeline as pl
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field

    calls = []
    for name in KERNELS:
        real = getattr(_C, name)

        def wrapper(*a, _real=real, _name=name, **k):
            calls.append((_name, _clone(a), _clone(k)))
            return _real(*a, **k)

        monkeypatch.setattr(_C, name, wrapper)
    d = demo_scene(96, 64)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"))
    hints = MotionHints(d.hints[:, :2].clone(), d.hints[:, 2:].clone())
    motion = integrate_motion(motion_field(64, 96, [MotionRegion(d.water, hints)]), 12)
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", frames, 0.03), scene.camera, scene.z_near, scene.z_subject
    )
    with torch.no_grad():
        out = list(pl.render_frames(scene, traj, motion, 12, pl.RenderSettings()))
    monkeypatch.undo()
    return out, calls


@needs_avx2
def test_both_builds_render_the_same_frames_and_kernel_calls(monkeypatch):
    with kernels("baseline"):
        base, calls = _render_small_lake(monkeypatch)
    with kernels("avx2"):
        fast, _ = _render_small_lake(monkeypatch)
    assert all(torch.equal(a, b) for a, b in zip(base, fast))
    assert {name for name, _, _ in calls} == set(KERNELS)  # the lake reaches every kernel
    for name, a, k in calls:
        fn = getattr(_C, name)
        with kernels("baseline"):
            want = fn(*_clone(a), **_clone(k))
        with kernels("avx2"):
            got = fn(*_clone(a), **_clone(k))
        assert _same(want, got), name


def _splats(H, W, C, dtype, seed):
    from cinemagraph3d.types import SplatResult

    g = torch.Generator().manual_seed(seed)
    base = torch.rand(C, H, W, generator=g, dtype=dtype)
    depth = 2.0 + torch.rand(1, H, W, generator=g, dtype=dtype)
    alpha = (torch.rand(1, H, W, generator=g, dtype=dtype) * 1.4).clamp(max=1.0)
    bf, bd = base.clone(), depth.clone()
    bf[:, H // 5 : H - 3, 3 : W - 2] = torch.rand(C, H - 3 - H // 5, W - 5, generator=g, dtype=dtype)
    bd[:, H // 3 : H // 2, W // 4 : W // 2] = 1.0  # a nearer surface in one splat only
    ba = alpha.clone()
    ba[:, 2:6, W // 2 : W // 2 + 5] = 0.0
    return SplatResult(base, depth, alpha), SplatResult(bf, bd, ba)


@needs_avx2
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("H", "W"), [(37, 61), (70, 33)])
def test_fusion_and_filling_agree_bit_for_bit(dtype, H, W):
    from cinemagraph3d.render.fuse import FusionSettings, fill_holes, fuse_bidirectional

    f, b = _splats(H, W, 3, dtype, seed=H + W)
    g = torch.Generator().manual_seed(3)
    phase = tuple(0.1 + 0.8 * torch.rand(1, H, W, generator=g, dtype=dtype) for _ in range(2))
    for settings in (FusionSettings(), FusionSettings(band_radii=(), band_widths=())):
        for tau in (0.2, 0.55):
            out = []
            for name in ("baseline", "avx2"):
                with kernels(name):
                    res = fuse_bidirectional(f, b, tau * 12, 12, 1.5, settings, phase=phase, native=True)
                    filled = fill_holes(res.features, res.alpha, res.depth, 2.0, native=True)
                out.append((*res, filled))
            assert _same(out[0], out[1])


@needs_avx2
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_flow_steps_agree_bit_for_bit(dtype):
    g = torch.Generator().manual_seed(5)
    H, W, P = 29, 43, 1001  # odd sizes: vector tails
    for C in (2, 3):
        field = torch.randn(C, H, W, generator=g, dtype=dtype)
        wave = torch.randn(2, 7, 9, generator=g, dtype=dtype) if C == 3 else None
        pos = torch.rand(P, 2, generator=g, dtype=dtype) * torch.tensor([W + 6.0, H + 6.0], dtype=dtype) - 3.0
        state = torch.randn(P, 2, generator=g, dtype=dtype)
        for st in (None, state):
            for extended in (False, True):
                args = (field, pos, st, -1.0, extended, wave, 6.0)
                with kernels("baseline"):
                    want = _C.flow_step(*args)
                with kernels("avx2"):
                    got = _C.flow_step(*args)
                assert _same(want, got)


def test_the_choice_of_build():
    names = ("avx2", "baseline") if _C.has_avx2_kernels else ("baseline",)
    assert _C.cpu_kernels() in names
    for name in names:
        with kernels(name):
            assert _C.cpu_kernels() == name
    with pytest.raises(ValueError, match="expected 'avx2' or 'baseline'"):
        _C.set_cpu_kernels("sse4")
    if not _C.has_avx2_kernels:
        with pytest.raises(ValueError, match="not available"):
            _C.set_cpu_kernels("avx2")


def test_the_environment_variable_picks_the_baseline():
    code = "import torch; from cinemagraph3d import _C; print(_C.cpu_kernels())"
    env = {**os.environ, "CINEMAGRAPH3D_CPU_KERNELS": "baseline"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "baseline"
    env.pop("CINEMAGRAPH3D_CPU_KERNELS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("avx2" if _C.has_avx2_kernels else "baseline")


def test_a_mistyped_environment_variable_is_refused(monkeypatch):
    from cinemagraph3d.errors import InputError
    from cinemagraph3d.render import active_backend

    monkeypatch.setenv("CINEMAGRAPH3D_CPU_KERNELS", "avx")
    with pytest.raises(InputError, match="CINEMAGRAPH3D_CPU_KERNELS"):
        active_backend("cpu")
    monkeypatch.setenv("CINEMAGRAPH3D_CPU_KERNELS", "baseline")
    assert active_backend("cpu") == "native-cpu"


def test_the_command_line_refuses_it_in_one_line(tmp_path):
    out = tmp_path / "x.mp4"
    env = {**os.environ, "CINEMAGRAPH3D_CPU_KERNELS": "sse"}
    res = subprocess.run([sys.executable, "-m", "cinemagraph3d", "demo", "-o", str(out), "--frames", "2"],
                         env=env, capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "CINEMAGRAPH3D_CPU_KERNELS" in lines[0], res.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
