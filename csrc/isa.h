// Run-time choice between two builds of the same CPU kernels (binding in csrc/ext.cpp).
//
// The wheel is compiled for any x86-64 (SSE2). Some kernels' loops run 7-24 % faster with
// 256-bit vectors, so on x86-64 with GCC the kernels listed in csrc/isa/ are compiled a second
// time for AVX2 (a wrapper file per kernel renames its public function `<name>_avx2` by a macro;
// csrc/isa/avx2_begin.h includes the headers first, with the build's flags, then opens
// `#pragma GCC target("avx2")` for the kernel's own code only). ext.cpp calls the AVX2 build where the CPU (and
// the OS) support it, unless CINEMAGRAPH3D_CPU_KERNELS=baseline or set_cpu_kernels("baseline").
//
// Both builds compute the same values bit for bit: contraction into FMAs is off in both
// (-ffp-contract=off, and `avx2` does not enable FMA), no fast-math, and every operation the
// wider vectors take is an IEEE operation on each element (tests/test_cpu_kernels.py compares
// the two builds' outputs with torch.equal).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(_WIN32)
#define CG3D_AVX2_KERNELS 1
#else
#define CG3D_AVX2_KERNELS 0
#endif

namespace cg3d {
namespace isa {

// Whether the AVX2 build is in use (a relaxed atomic read).
bool use_avx2();
// "avx2" or "baseline": the build in use.
const char* current();
// Choose "avx2" (only where it is compiled in and the CPU supports it) or "baseline"; returns
// the previous choice. Anything else is refused (std::invalid_argument).
const char* choose(const char* name);
// Whether this module holds an AVX2 build and the CPU can run it.
bool avx2_available();

}  // namespace isa
}  // namespace cg3d
