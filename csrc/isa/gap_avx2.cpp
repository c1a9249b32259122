// The AVX2 build of prep/gap_cpu.cpp (see csrc/isa.h): its public function is renamed by the
// macro below, the headers are included with the build's own flags, and only the kernel's code
// is compiled for AVX2.
#include "isa.h"

#if CG3D_AVX2_KERNELS
#define gap_widen_cpu gap_widen_cpu_avx2
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "prep/prepare.h"

#pragma GCC push_options
#pragma GCC target("avx2")
#include "prep/gap_cpu.cpp"
#pragma GCC pop_options
#endif
