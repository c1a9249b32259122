"""Build helper for the optional native extension ``cinemagraph3d._C`` (used by setup.py).

Environment variables:
    CINEMAGRAPH3D_CUDA=1          also compile the CUDA kernel (csrc/splat/splat_cuda.cu). Needs
                                  nvcc, ``CUDA_HOME`` and, without a visible GPU,
                                  ``TORCH_CUDA_ARCH_LIST`` (e.g. "8.6"); see .ci/cuda_check.sh.
    CINEMAGRAPH3D_NATIVE_ARCH=1   compile the CPU code with ``-march=native`` (faster, but the
                                  binary only runs on CPUs like the build machine's).
    CINEMAGRAPH3D_STRICT_BUILD=1  let a failed compile or link fail the build (used by CI).

The extension is optional: when compiling or linking fails, the build prints one warning and the
package installs without it (the pure-PyTorch renderer is then used).
"""

from __future__ import annotations

import os
import sys

NAME = "cinemagraph3d._C"
CPU_SOURCES = [
    "csrc/ext.cpp",
    "csrc/splat/splat_common.cpp",
    "csrc/splat/splat_cpu.cpp",
    "csrc/prep/prepare_cpu.cpp",
    "csrc/prep/move_cpu.cpp",
    "csrc/prep/gap_cpu.cpp",
    "csrc/prep/nbrs_cpu.cpp",
    "csrc/prep/ghost_cpu.cpp",
    "csrc/prep/flow_cpu.cpp",
    "csrc/fuse/fuse_cpu.cpp",
    "csrc/fuse/fill_cpu.cpp",
    "csrc/isa.cpp",
    # the AVX2 builds of five kernels (csrc/isa.h; empty files where GCC on x86-64 is not the compiler)
    "csrc/isa/fuse_avx2.cpp",
    "csrc/isa/fill_avx2.cpp",
    "csrc/isa/flow_avx2.cpp",
    "csrc/isa/gap_avx2.cpp",
    "csrc/isa/ghost_avx2.cpp",
]
CUDA_SOURCES = ["csrc/splat/splat_cuda.cu"]


def _cxx_flags() -> tuple[list[str], list[str]]:
    if sys.platform == "win32":
        return ["/O2", "/openmp", "/fp:precise"], []
    # No contraction into FMAs and no fast-math: the kernels must round exactly like the reference.
    # -fno-math-errno changes no value: sqrt no longer sets errno, so loops with it vectorise.
    flags = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno"]
    link: list[str] = []
    if sys.platform != "darwin":  # Apple clang has no OpenMP without libomp: build single-threaded
        flags.append("-fopenmp")
        link.append("-fopenmp")
    if os.environ.get("CINEMAGRAPH3D_NATIVE_ARCH") == "1":
        flags.append("-march=native")
    return flags, link


def make_extensions(here: str, cpp_extension):
    """Return ``(ext_modules, cmdclass)`` for setup(); paths are relative to ``here``."""
    cxx, link = _cxx_flags()
    include_dirs = [os.path.join(here, "csrc")]
    if os.environ.get("CINEMAGRAPH3D_CUDA") == "1":
        ext = cpp_extension.CUDAExtension(
            NAME,
            CPU_SOURCES + CUDA_SOURCES,
            include_dirs=include_dirs,
            define_macros=[("CG3D_WITH_CUDA", None)],
            extra_compile_args={"cxx": cxx, "nvcc": ["-O3", "--fmad=false"]},
            extra_link_args=link,
        )
    else:
        ext = cpp_extension.CppExtension(
            NAME,
            CPU_SOURCES,
            include_dirs=include_dirs,
            extra_compile_args={"cxx": cxx},
            extra_link_args=link,
        )
    return [ext], {"build_ext": _optional_build_ext(cpp_extension.BuildExtension)}


def _optional_build_ext(base):
    class OptionalBuildExt(base):
        """``BuildExtension`` that turns a failed compile or link into one warning."""

        def run(self):
            try:
                super().run()
            except Exception as exc:  # noqa: BLE001 - any build failure leaves the extension out
                self._warn(exc)

        def build_extension(self, ext):
            try:
                super().build_extension(ext)
            except Exception as exc:  # noqa: BLE001
                self._warn(exc)

        def _warn(self, exc):
            if os.environ.get("CINEMAGRAPH3D_STRICT_BUILD") == "1":
                raise exc
            self._warn_once(exc)

        def get_outputs(self):
            # Only report files that were actually built (an editable install copies these).
            return [p for p in super().get_outputs() if os.path.exists(p)]

        def _warn_once(self, exc):
            if getattr(self, "_cg3d_warned", False):
                return
            self._cg3d_warned = True
            msg = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            print(
                f"WARNING: cinemagraph3d: the native extension {NAME} failed to build ({msg[0]}); "
                "installing without it, the pure-PyTorch renderer will be used.",
                file=sys.stderr,
            )

    return OptionalBuildExt
