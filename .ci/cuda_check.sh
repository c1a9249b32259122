#!/usr/bin/env bash
# Compile and link the native extension with its CUDA kernel (csrc/splat/splat_cuda.cu) in a
# temporary build directory, so that the CUDA code cannot rot on machines without a GPU. The
# kernel cannot run here; the script then imports the built module and checks has_cuda.
#
# Environment (all optional):
#   PYTHON                interpreter with torch (default: .venv/bin/python, else python3)
#   CUDA_HOME             CUDA toolkit (default: found from nvcc on PATH or /usr/local/cuda*)
#   TORCH_CUDA_ARCH_LIST  target architectures (default: "8.6")
# Exits 0 with a message when nvcc is not installed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

# shellcheck source=cuda_env.sh
. "$ROOT/.ci/cuda_env.sh"
if [ -n "${CUDA_HOME:-}" ] && ! is_toolkit "$CUDA_HOME"; then
  echo "cuda_check: CUDA_HOME=$CUDA_HOME is not a CUDA toolkit (no bin/nvcc or include/cuda_runtime.h)"
  exit 1
fi
if ! find_cuda_home; then
  echo "cuda_check: nvcc not found; skipping the CUDA compile check"
  exit 0
fi
NVCC="$CUDA_HOME/bin/nvcc"
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-8.6}
add_cuda_wheel_headers "$PYTHON"

BUILD=$(mktemp -d "${TMPDIR:-/tmp}/cg3d_cuda_check.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT

echo "cuda_check: nvcc $("$NVCC" --version | tail -n 1), CUDA_HOME=$CUDA_HOME, TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST"
start=$(date +%s)
(
  cd "$ROOT"
  CINEMAGRAPH3D_CUDA=1 CINEMAGRAPH3D_STRICT_BUILD=1 "$PYTHON" setup.py -q build_ext \
    --build-temp "$BUILD/temp" --build-lib "$BUILD/lib" >"$BUILD/build.log" 2>&1
) || {
  tail -n 60 "$BUILD/build.log"
  echo "cuda_check: FAILED to compile/link the CUDA extension"
  exit 1
}
end=$(date +%s)
if grep -E "csrc/.*(warning|Warning)" "$BUILD/build.log" >/dev/null; then
  echo "cuda_check: compiler warnings in csrc/:"
  grep -E -A3 "csrc/.*(warning|Warning)" "$BUILD/build.log" | head -n 40
fi

# The AVX2 objects (csrc/isa/) must not hand AVX code to the baseline through a COMDAT symbol.
if ls "$BUILD"/temp/csrc/isa/*_avx2.o >/dev/null 2>&1 && command -v objdump >/dev/null && command -v nm >/dev/null; then
  "$ROOT/tools/check_isa_objects.sh" "$BUILD/temp/csrc/isa" | tail -n 1 || {
    echo "cuda_check: FAILED: an AVX2 object exports AVX code through a shared symbol"
    exit 1
  }
fi

SO=$(ls "$BUILD"/lib/cinemagraph3d/_C*.so 2>/dev/null | head -n 1 || true)
if [ -z "$SO" ]; then
  tail -n 60 "$BUILD/build.log"
  echo "cuda_check: FAILED: no extension module was produced"
  exit 1
fi
"$PYTHON" - "$SO" <<'EOF'
import importlib.util
import sys

import torch  # noqa: F401  (loads libtorch before the extension)

spec = importlib.util.spec_from_file_location("cinemagraph3d._C", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
assert mod.has_cuda is True, "module built without CUDA"
# The CPU kernel of the CUDA build still runs here: a small smoke test.
K = torch.tensor([[4.0, 0, 2], [0, 4.0, 2], [0, 0, 1]])
pts = torch.tensor([[0.0, 0.0, 2.0]])
feat, depth, alpha, _, _ = mod.splat_forward(pts, torch.ones(1, 3), torch.ones(1), torch.ones(1), K, 4, 4,
                                             1e-3, 0.02, 4.0, 1e-6)
assert abs(float(alpha.sum()) - 1.0) < 1e-6 and abs(float(depth.max()) - 2.0) < 1e-6
print("cuda_check: module imports, has_cuda =", mod.has_cuda, "; CPU smoke test passed")
EOF
echo "cuda_check: OK, CUDA extension compiled and linked in $((end - start)) s"
