"""Fallback when the native extension cinemagraph3d._C is missing.

At run time the splatting op warns once and runs the pure-PyTorch reference; at build time a
failed compile prints one warning line and the installation goes on without the extension.
Every test restores the module state it changes (sys.modules, the package attribute, the
warn-once flag, environment variables).
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from pathlib import Path

import pytest
import torch

import cinemagraph3d
import cinemagraph3d.render.splat as splat_mod
from cinemagraph3d.errors import BackendError
from cinemagraph3d.render import active_backend, native_available, splat_points
from cinemagraph3d.render._torch_impl import _splat_forward
from cinemagraph3d.render.splat import SplatSettings

ROOT = Path(__file__).resolve().parents[1]
MISSING = "cinemagraph3d native extension not built"  # start of the runtime warning


def _cloud(P: int = 400, C: int = 3, h: int = 12, w: int = 16):
    g = torch.Generator().manual_seed(0)
    K = torch.tensor([[16.0, 0.0, w / 2], [0.0, 16.0, h / 2], [0.0, 0.0, 1.0]])
    z = 1.0 + 2.0 * torch.rand(P, generator=g)
    u, v = torch.rand(P, generator=g) * w, torch.rand(P, generator=g) * h
    pts = torch.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], 1)
    feats, opac = torch.rand(P, C, generator=g), torch.rand(P, generator=g)
    rad = 0.5 + 1.5 * torch.rand(P, generator=g)
    return pts, feats, opac, rad, K, h, w


def _hide_native(m: pytest.MonkeyPatch) -> None:
    """Make ``from cinemagraph3d import _C`` fail as if the extension had not been built."""
    m.setitem(sys.modules, "cinemagraph3d._C", None)  # a None entry makes the import raise
    m.delattr(cinemagraph3d, "_C", raising=False)  # `from pkg import name` looks here first
    m.setattr(splat_mod, "_warned", False)  # the warn-once flag
    m.delenv("CINEMAGRAPH3D_BACKEND", raising=False)


def test_missing_extension_warns_once_and_runs_the_reference(monkeypatch):
    was_available, was_warned = native_available(), splat_mod._warned
    pts, feats, opac, rad, K, h, w = _cloud()
    st = SplatSettings()
    ref = _splat_forward(pts, feats, opac, rad, K, h, w, st.znear, st.depth_tolerance, st.max_radius, st.eps)
    with monkeypatch.context() as m:
        _hide_native(m)
        assert not native_available()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # overrides the filter in conftest.py: count every warning
            outs = [splat_points(pts, feats, opac, rad, K, h, w) for _ in range(3)]
        for out in outs:
            for got, exp in zip(out, ref):
                assert torch.equal(got, exp)
        ours = [c for c in caught if "native extension" in str(c.message)]
        assert len(ours) == 1, [str(c.message) for c in caught]
        (warning,) = ours
        text = str(warning.message)
        assert issubclass(warning.category, RuntimeWarning)
        assert text.startswith(MISSING) and "pure-PyTorch" in text, text
        assert "from source without build isolation" in text  # says how to build it
        assert warning.filename == __file__  # points at the caller of splat_points
        # Later calls stay silent; the backend name says what runs; forcing native is an error.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert active_backend("cpu") == "torch"
        assert caught == []
        with pytest.raises(BackendError, match="not built"):
            splat_points(pts, feats, opac, rad, K, h, w, backend="native")
    # State restored: the extension (when built) is found again and the flag is back.
    assert native_available() == was_available and splat_mod._warned == was_warned
    if was_available:
        assert active_backend("cpu", backend="auto") == "native-cpu"


def test_forced_torch_backend_does_not_warn(monkeypatch):
    pts, feats, opac, rad, K, h, w = _cloud(P=50)
    with monkeypatch.context() as m:
        _hide_native(m)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            splat_points(pts, feats, opac, rad, K, h, w, backend="torch")
        assert [str(c.message) for c in caught if "native extension" in str(c.message)] == []
        assert splat_mod._warned is False  # the one warning is still owed to an "auto" call


# --- build time --------------------------------------------------------------------------------


def _load_build_ext():
    path = ROOT / "_build_ext.py"
    if not path.exists():
        pytest.skip("_build_ext.py is not next to the tests (installed package)")
    spec = importlib.util.spec_from_file_location("_cg3d_build_ext_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # not registered in sys.modules: nothing to restore
    return mod


class _CompileError(Exception):
    pass


def _failing_cpp_extension(cpp_extension):
    """A stand-in for torch.utils.cpp_extension whose BuildExtension fails to compile."""

    class FailingBuildExtension(cpp_extension.BuildExtension):
        calls: list[str] = []

        def build_extension(self, ext):
            FailingBuildExtension.calls.append(ext.name)
            raise _CompileError("csrc/ext.cpp:1: error: boom\nerror: command 'g++' failed with exit code 1")

    return types.SimpleNamespace(
        BuildExtension=FailingBuildExtension,
        CppExtension=cpp_extension.CppExtension,
        CUDAExtension=cpp_extension.CUDAExtension,
    )


def _build_ext_command(tmp_path, exts, cmdclass):
    setuptools = pytest.importorskip("setuptools")
    dist = setuptools.Distribution({"name": "cinemagraph3d", "ext_modules": exts, "cmdclass": cmdclass})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(tmp_path / "lib")
    cmd.build_temp = str(tmp_path / "temp")
    cmd.ensure_finalized()
    return cmd


def _warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "WARNING" in line or "cinemagraph3d._C" in line]


def test_failed_build_warns_once_and_installs_without_extension(monkeypatch, tmp_path, capsys):
    cpp_extension = pytest.importorskip("torch.utils.cpp_extension")
    build_ext = _load_build_ext()
    monkeypatch.delenv("CINEMAGRAPH3D_STRICT_BUILD", raising=False)
    monkeypatch.delenv("CINEMAGRAPH3D_CUDA", raising=False)
    fake = _failing_cpp_extension(cpp_extension)
    exts, cmdclass = build_ext.make_extensions(str(ROOT), fake)
    assert [e.name for e in exts] == ["cinemagraph3d._C"]
    cmd = _build_ext_command(tmp_path, exts, cmdclass)
    capsys.readouterr()
    cmd.run()  # does not raise: installation continues
    out, err = capsys.readouterr()
    assert fake.BuildExtension.calls == ["cinemagraph3d._C"]  # setuptools reached the compile step
    lines = _warning_lines(out + err)
    assert len(lines) == 1, out + err
    assert lines[0].startswith(
        "WARNING: cinemagraph3d: the native extension cinemagraph3d._C failed to build"
    )
    assert "exit code 1" in lines[0] and "pure-PyTorch" in lines[0]
    assert cmd.get_outputs() == []  # nothing for an editable install to copy


def test_failed_build_warns_once_for_several_failures(monkeypatch, capsys):
    build_ext = _load_build_ext()
    monkeypatch.delenv("CINEMAGRAPH3D_STRICT_BUILD", raising=False)

    class Base:
        def run(self):
            for ext in ("a", "b"):
                self.build_extension(ext)
            raise OSError("linker exploded")  # a second failure after the compile errors

        def build_extension(self, ext):
            raise _CompileError(f"cannot compile {ext}")

    cmd = build_ext._optional_build_ext(Base)()
    cmd.run()
    lines = _warning_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "(cannot compile a)" in lines[0], lines


def test_strict_build_fails(monkeypatch):
    build_ext = _load_build_ext()
    monkeypatch.setenv("CINEMAGRAPH3D_STRICT_BUILD", "1")

    class Base:
        def run(self):
            self.build_extension("a")

        def build_extension(self, ext):
            raise _CompileError("cannot compile")

    with pytest.raises(_CompileError):
        build_ext._optional_build_ext(Base)().run()
