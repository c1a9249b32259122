# Sourced by .ci/cuda_check.sh and tools/gpu_check.sh: where the CUDA toolkit and the headers of
# torch's CUDA wheels are.

# A toolkit directory has bin/nvcc and include/cuda_runtime.h (nvcc on PATH may be a wrapper
# script outside the toolkit, so the usual install locations are tried before its parent).
is_toolkit() { [ -x "$1/bin/nvcc" ] && [ -f "$1/include/cuda_runtime.h" ]; }

# Sets and exports CUDA_HOME when it is unset and a toolkit is found (returns 1 when none is),
# and puts its bin/ first on PATH.
find_cuda_home() {
  if [ -z "${CUDA_HOME:-}" ]; then
    local cands=(/usr/local/cuda /usr/local/cuda-*) cand
    if command -v nvcc >/dev/null 2>&1; then
      cands+=("$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")")
    fi
    for cand in "${cands[@]}"; do
      if is_toolkit "$cand"; then CUDA_HOME="$cand"; break; fi
    done
  fi
  [ -n "${CUDA_HOME:-}" ] || return 1
  export CUDA_HOME
  export PATH="$CUDA_HOME/bin:$PATH"
}

# Adds the include folders of torch's CUDA wheels (cusparse.h, cublas_v2.h, ... in
# site-packages/nvidia/*/include) of interpreter $1 to CPATH, and exports it.
add_cuda_wheel_headers() {
  local site inc
  site=$("$1" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  for inc in "$site"/nvidia/*/include "$site"/nvidia/*/*/include; do
    if [ -d "$inc" ]; then CPATH="$inc${CPATH:+:$CPATH}"; fi
  done
  export CPATH=${CPATH:-}
}
