// The AVX2 build of prep/gap_cpu.cpp (see csrc/isa.h): only the kernel's own code is compiled for
// AVX2 (avx2_begin.h includes the headers first); its public function becomes gap_widen_cpu_avx2.
#include "isa.h"

#if CG3D_AVX2_KERNELS
#define gap_widen_cpu gap_widen_cpu_avx2
#include "isa/avx2_begin.h"
#include "prep/gap_cpu.cpp"
#include "isa/avx2_end.h"
#endif
