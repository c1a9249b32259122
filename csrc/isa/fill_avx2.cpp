// The AVX2 build of fuse/fill_cpu.cpp (see csrc/isa.h): only the kernel's own code is compiled for
// AVX2 (avx2_begin.h includes the headers first); its public function becomes fill_holes_cpu_avx2.
#include "isa.h"

#if CG3D_AVX2_KERNELS
#define fill_holes_cpu fill_holes_cpu_avx2
#include "isa/avx2_begin.h"
#include "fuse/fill_cpu.cpp"
#include "isa/avx2_end.h"
#endif
