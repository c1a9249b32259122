#!/usr/bin/env bash
# The GPU checks of issue 15 in one call, for a machine with an NVIDIA GPU (the `device` tool's:
# there python3 holds PyTorch, nvcc and ninja): build the extension with its CUDA kernel in place,
# run the native splat parity tests (their CUDA cases run wherever a GPU is visible), then the
# splat benchmark on the GPU and, for the ratio in the same run, on the CPU; then the frame loop
# end to end on the GPU against the CPU (benchmarks/bench_device.py: the README lake, 90 frames,
# and neural frames) and the command line with --device cuda. Logs and tables go to $OUT (the
# device tool's folder that comes back) or ./gpu_check_out.
#
#   tools/gpu_check.sh            # on the GPU machine, from the repository root
#   PYTHON=.venv/bin/python tools/gpu_check.sh   # here: the CUDA build and the CPU cases only
#
# Environment: PYTHON (default python3), TORCH_CUDA_ARCH_LIST (default: the visible GPU's
# capability, else 9.0), CUDA_HOME (default: from nvcc), MAX_JOBS (default: nproc).
#
# The device tool's machines hold PyTorch, NumPy, SciPy, OpenCV, imageio, tqdm and safetensors
# but not imageio-ffmpeg (the video writer), and cannot download: carry it as a wheel for their
# Python 3.12 in .whl (ignored by git; name `.whl` in the call's carry), fetched here with
#   echo /.whl/ >>.git/info/exclude; python3 -m pip download --no-deps --only-binary=:all: \
#     --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 -d .whl imageio-ffmpeg==0.6.0
# (0.6.0: 29 MB; later releases' wheels exceed the call's 64 MiB). Wheels in .whl are installed
# into /tmp/site first.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
DEST=${OUT:-gpu_check_out}
mkdir -p "$DEST"
export PYTHONUNBUFFERED=1
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
step "machine"
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
GPU=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))")
"$PY" -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'gpu', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  if [ "$GPU" = 1 ]; then
    TORCH_CUDA_ARCH_LIST=$("$PY" -c "import torch; c = torch.cuda.get_device_capability(); print(f'{c[0]}.{c[1]}')")
  else
    TORCH_CUDA_ARCH_LIST=9.0
  fi
fi
export TORCH_CUDA_ARCH_LIST
"$PY" - <<'PYEOF'
import importlib.util
need = ["torch", "numpy", "scipy", "cv2", "imageio", "imageio_ffmpeg", "tqdm", "safetensors", "pytest"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
print("python modules missing:", ", ".join(missing) if missing else "none")
PYEOF
# shellcheck source=../.ci/cuda_env.sh
. .ci/cuda_env.sh
find_cuda_home || echo "gpu_check: no CUDA toolkit found (set CUDA_HOME)"
add_cuda_wheel_headers "$PY"
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

step "build with CUDA (TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST, CUDA_HOME=${CUDA_HOME:-unset}, $MAX_JOBS jobs)"
start=$(date +%s)
if ! CINEMAGRAPH3D_CUDA=1 CINEMAGRAPH3D_STRICT_BUILD=1 "$PY" setup.py build_ext --inplace >"$DEST/build.log" 2>&1; then
  tail -n 40 "$DEST/build.log"
  echo "gpu_check: the CUDA build failed (whole log: $DEST/build.log)"
  exit 1
fi
echo "built in $(($(date +%s) - start)) s"
"$PY" -c "import torch; from cinemagraph3d import _C; from cinemagraph3d.render import active_backend as b; print('has_cuda', _C.has_cuda, '| cpu:', b('cpu'), '| cuda:', b('cuda'))"

step "native splat parity (CPU and, with a GPU, CUDA cases)"
"$PY" -m pytest tests/test_splat_native.py -p no:cacheprovider -v -rs >"$DEST/parity.log" 2>&1
tail -n 15 "$DEST/parity.log"
# a failed CUDA build would only skip the CUDA cases: count them
echo "CUDA cases: $(grep -c 'cuda.*PASSED' "$DEST/parity.log") passed, $(grep -c 'cuda.*FAILED' "$DEST/parity.log") failed"

if [ "$GPU" = 1 ]; then
  step "splat benchmark on the GPU"
  "$PY" benchmarks/bench_splat.py --device cuda --repeats 20 --ref-repeats 3 2>&1 | tee "$DEST/bench_splat_cuda.md"
else
  echo "gpu_check: no GPU visible: the CUDA benchmark is skipped"
fi
step "splat benchmark on the CPU (same run, for the ratio)"
"$PY" benchmarks/bench_splat.py --sizes 1280x720 --channels 3,37 --repeats 3 --ref-repeats 1 2>&1 | tee "$DEST/bench_splat_cpu.md"
if [ "$GPU" = 1 ]; then
  step "frame loop on the GPU against the CPU (the README lake, neural frames)"
  "$PY" benchmarks/bench_device.py --device cuda --frames 90 --neural --neural-frames 4 2>&1 | tee "$DEST/bench_device.md"
  step "command line, --device cuda and --device cpu (the README lake, 90 frames)"
  "$PY" examples/lake_labelme.py "$DEST/lake" >/dev/null
  for d in cuda cpu; do
    start=$EPOCHREALTIME
    "$PY" -m cinemagraph3d animate "$DEST/lake/photo.jpg" --labelme "$DEST/lake/photo.json" --frames 90 \
      -o "$DEST/lake_$d.mp4" --device "$d" --force 2>"$DEST/cli_$d.log" | tail -n 1
    echo "$d: rc ${PIPESTATUS[0]}, $(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $start }") s wall"
    tr "\r" "\n" <"$DEST/cli_$d.log" | grep -v "^rendering" | tail -n 2
  done
else
  step "no GPU: bench_device.py's CPU sanity run only"
  "$PY" benchmarks/bench_device.py --device cpu --frames 4 --size 320x180 2>&1 | tail -n 4
fi
step "done"
