"""Build script: the package plus an optional native splatting extension (cinemagraph3d._C).

Environment variables:
    CINEMAGRAPH3D_NO_EXT=1     skip the native extension entirely.
    CINEMAGRAPH3D_CUDA=1       also compile the CUDA kernel (needs nvcc, CUDA_HOME and
                               TORCH_CUDA_ARCH_LIST when no GPU is present).

If the extension fails to build, installation still succeeds and the pure-PyTorch renderer runs.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _extensions():
    if os.environ.get("CINEMAGRAPH3D_NO_EXT") == "1":
        return [], {}
    if not os.path.exists(os.path.join(HERE, "csrc", "ext.cpp")) or not os.path.exists(
        os.path.join(HERE, "_build_ext.py")
    ):
        return [], {}
    try:
        from torch.utils import cpp_extension
    except Exception as exc:  # torch missing: package installs without the extension
        print(f"cinemagraph3d: torch not importable ({exc}); skipping native extension", file=sys.stderr)
        return [], {}
    from _build_ext import make_extensions  # noqa: E402  (local helper, see _build_ext.py)

    return make_extensions(HERE, cpp_extension)


sys.path.insert(0, HERE)
ext_modules, cmdclass = _extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
