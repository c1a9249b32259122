// Which border ghosts may be kept, in one pass over their states (CPU).
//
// The reference is the loop over the integrated states in cinemagraph3d/pipeline.py
// (border_ghosts): ~12 torch operations per state over every ghost, for each of the ~120 states
// of a 60-step loop. Here each block of ghosts runs through all the states while it is in cache.
// Every test is the reference's comparison in the same precision, so the result is the same.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <vector>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

template <typename T>
void run(const at::Tensor& pos, const at::Tensor& fwd, const at::Tensor& bwd, const at::Tensor& moving, int64_t H,
         int64_t W, double margin, const at::Tensor& front, const at::Tensor& zg, at::Tensor& ok) {
  const int64_t G = pos.size(0);
  const T* ps = pos.data_ptr<T>();
  const bool* mv = moving.data_ptr<bool>();
  const T* fr = front.defined() ? front.data_ptr<T>() : nullptr;
  const T* zp = zg.defined() ? zg.data_ptr<T>() : nullptr;
  bool* out = ok.data_ptr<bool>();
  const bool use_margin = margin >= 0;
  const T lo = static_cast<T>(-margin), hx = static_cast<T>(static_cast<double>(W) + margin);
  const T hy = static_cast<T>(static_cast<double>(H) + margin);
  const T w = static_cast<T>(W), h = static_cast<T>(H);
  const at::Tensor* sets[2] = {&fwd, &bwd};
  at::parallel_for(0, G, 4096, [&](int64_t a, int64_t b) {
    for (int64_t g = a; g < b; ++g) out[g] = true;
    std::vector<uint8_t> near(static_cast<size_t>(b - a), 0);
    for (const at::Tensor* set : sets) {
      const int64_t S = set->size(0);
      const T* st = set->data_ptr<T>();
      for (int64_t s = 0; s < S; ++s) {
        const T* d = st + s * G * 2;
        for (int64_t g = a; g < b; ++g) {
          const T qx = ps[2 * g] + d[2 * g], qy = ps[2 * g + 1] + d[2 * g + 1];
          if (use_margin) near[g - a] |= (qx >= lo) & (qx < hx) & (qy >= lo) & (qy < hy);
          const bool inside = (qx >= T(0)) & (qx < w) & (qy >= T(0)) & (qy < h);
          if (!inside) continue;
          // the reference's clamp(0, H - 1).long(): inside the image that is the truncation
          const int64_t q = static_cast<int64_t>(qy) * W + static_cast<int64_t>(qx);
          bool shows = !mv[q];
          if (fr) shows = shows && !(fr[q] < zp[g]);
          if (shows) out[g] = false;
        }
      }
    }
    if (use_margin)
      for (int64_t g = a; g < b; ++g) out[g] = out[g] && near[g - a];
  });
}

}  // namespace

at::Tensor ghost_keep_cpu(const at::Tensor& pos, const at::Tensor& forward_states,
                          const at::Tensor& backward_states, const at::Tensor& moving, int64_t height, int64_t width,
                          double margin, const c10::optional<at::Tensor>& front,
                          const c10::optional<at::Tensor>& z_ghost) {
  const auto dt = pos.scalar_type();
  TORCH_CHECK(pos.dim() == 2 && pos.size(1) == 2 && pos.device().is_cpu() && pos.is_contiguous() &&
                  (dt == at::kFloat || dt == at::kDouble),
              "ghost_keep: pos must be a contiguous (G, 2) float32/float64 CPU tensor, got ", pos.sizes());
  const int64_t G = pos.size(0);
  for (const at::Tensor* s : {&forward_states, &backward_states})
    TORCH_CHECK(s->dim() == 3 && s->size(1) == G && s->size(2) == 2 && s->scalar_type() == dt &&
                    s->device().is_cpu() && s->is_contiguous(),
                "ghost_keep: states must be contiguous (S, ", G, ", 2) CPU tensors of pos' dtype, got ", s->sizes());
  TORCH_CHECK(height >= 1 && width >= 1, "ghost_keep: image size must be positive");
  TORCH_CHECK(moving.dim() == 1 && moving.size(0) == height * width && moving.scalar_type() == at::kBool &&
                  moving.device().is_cpu() && moving.is_contiguous(),
              "ghost_keep: moving must be a contiguous (", height * width, ",) bool CPU tensor, got ", moving.sizes());
  const at::Tensor fr = front.has_value() ? *front : at::Tensor();
  const at::Tensor zg = z_ghost.has_value() ? *z_ghost : at::Tensor();
  TORCH_CHECK(fr.defined() == zg.defined(), "ghost_keep: give both front and z_ghost or neither");
  if (fr.defined()) {
    TORCH_CHECK(fr.dim() == 1 && fr.size(0) == height * width && fr.scalar_type() == dt && fr.is_contiguous() &&
                    fr.device().is_cpu(),
                "ghost_keep: front must be a contiguous (", height * width, ",) CPU tensor of pos' dtype");
    TORCH_CHECK(zg.dim() == 1 && zg.size(0) == G && zg.scalar_type() == dt && zg.is_contiguous() &&
                    zg.device().is_cpu(),
                "ghost_keep: z_ghost must be a contiguous (", G, ",) CPU tensor of pos' dtype");
  }
  at::Tensor ok = at::empty({G}, pos.options().dtype(at::kBool));
  AT_DISPATCH_FLOATING_TYPES(dt, "ghost_keep", [&] {
    run<scalar_t>(pos, forward_states, backward_states, moving, height, width, margin, fr, zg, ok);
  });
  return ok;
}

}  // namespace prep
}  // namespace cg3d
