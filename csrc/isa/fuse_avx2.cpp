// The AVX2 build of fuse/fuse_cpu.cpp (see csrc/isa.h): its public function is renamed by the
// macro below, the headers are included with the build's own flags, and only the kernel's code
// is compiled for AVX2.
#include "isa.h"

#if CG3D_AVX2_KERNELS
#define fuse_dissolve_cpu fuse_dissolve_cpu_avx2
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fuse/fuse.h"

#pragma GCC push_options
#pragma GCC target("avx2")
#include "fuse/fuse_cpu.cpp"
#pragma GCC pop_options
#endif
