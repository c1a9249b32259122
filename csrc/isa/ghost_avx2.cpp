// The AVX2 build of prep/ghost_cpu.cpp (see csrc/isa.h): only the kernel's own code is compiled for
// AVX2 (avx2_begin.h includes the headers first); its public function becomes ghost_keep_cpu_avx2.
#include "isa.h"

#if CG3D_AVX2_KERNELS
#define ghost_keep_cpu ghost_keep_cpu_avx2
#include "isa/avx2_begin.h"
#include "prep/ghost_cpu.cpp"
#include "isa/avx2_end.h"
#endif
