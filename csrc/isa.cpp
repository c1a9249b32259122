// The run-time choice of csrc/isa.h.
#include "isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cg3d {
namespace isa {
namespace {

bool cpu_has_avx2() {
#if CG3D_AVX2_KERNELS
  // libgcc's check also requires the OS to save the AVX registers (OSXSAVE and XCR0)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

// The default: the AVX2 build where it can run, unless CINEMAGRAPH3D_CPU_KERNELS=baseline.
bool initial() {
  const char* env = std::getenv("CINEMAGRAPH3D_CPU_KERNELS");
  if (env != nullptr && std::strcmp(env, "baseline") == 0) return false;
  return cpu_has_avx2();
}

std::atomic<bool>& flag() {
  static std::atomic<bool> f{initial()};
  return f;
}

}  // namespace

bool avx2_available() { return cpu_has_avx2(); }

bool use_avx2() { return flag().load(std::memory_order_relaxed); }

const char* current() { return use_avx2() ? "avx2" : "baseline"; }

const char* choose(const char* name) {
  const char* before = current();
  if (std::strcmp(name, "baseline") == 0) {
    flag().store(false);
  } else if (std::strcmp(name, "avx2") == 0) {
    if (!cpu_has_avx2())
      throw std::invalid_argument(
          "cpu kernels: 'avx2' is not available here (this build or this CPU has no AVX2 kernels)");
    flag().store(true);
  } else {
    throw std::invalid_argument(std::string("cpu kernels: expected 'avx2' or 'baseline', got '") + name + "'");
  }
  return before;
}

}  // namespace isa
}  // namespace cg3d
