// The "dissolve" fusion of two splats (csrc/fuse/fuse_cpu.cpp; binding in csrc/ext.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace cg3d {
namespace fuse {

// A (C, H, W) map of dtype dt, contiguous on the CPU, or an error naming it.
inline void check_map(const at::Tensor& t, int64_t C, int64_t H, int64_t W, at::ScalarType dt, const char* name,
                      const char* who) {
  TORCH_CHECK(t.dim() == 3 && t.size(0) == C && t.size(1) == H && t.size(2) == W && t.device().is_cpu() &&
                  t.is_contiguous() && t.scalar_type() == dt,
              who, ": ", name, " must be a contiguous (", C, ", ", H, ", ", W, ") CPU tensor of ", dt, ", got ",
              t.sizes(), " ", t.scalar_type());
}

struct Params {
  double tau, width, depth_weight, eps, zref, occlusion_ratio, ramp;
  int detail_radius, stats_radius;
  std::vector<int64_t> band_radii;  // coarser bands' box radii in pixels, increasing, > detail_radius
  std::vector<double> band_widths;  // their switch widths (band_radii.size() + 1, or none)
  std::vector<int64_t> band_decimation;  // their low passes' grid decimation (one per radius, or none: 1)
};

// [features (C, H, W), depth (1, H, W), alpha (1, H, W)] of the forward and backward splats
// fused at loop fraction tau with the per-pixel switch times phase_f (and phase_b: the two
// splats' maps, mixed by coverage), as cinemagraph3d.render.fuse.fuse_bidirectional does with
// method "dissolve": dissolve width, depth weight a, denominator floor eps, disparity reference
// depth zref, occlusion ratio (infinite: off) and its ramp, detail and statistics box radii, and
// the multi-band blend's coarser box radii (pixels), switch widths (one more than radii; both
// empty: one band) and grid decimations (one per radius: the low pass is computed on a grid that
// many times coarser; empty: all 1).
std::vector<at::Tensor> fuse_dissolve_cpu(const at::Tensor& f_features, const at::Tensor& f_depth,
                                          const at::Tensor& f_alpha, const at::Tensor& b_features,
                                          const at::Tensor& b_depth, const at::Tensor& b_alpha,
                                          const at::Tensor& phase_f, const c10::optional<at::Tensor>& phase_b,
                                          double tau, double width, double depth_weight, double eps, double zref,
                                          double occlusion_ratio, double ramp, int64_t detail_radius,
                                          int64_t stats_radius, const std::vector<int64_t>& band_radii,
                                          const std::vector<double>& band_widths,
                                          const std::vector<int64_t>& band_decimation);

// features (C, H, W) composited over their fill where alpha (1, H, W) < 1, as
// cinemagraph3d.render.fuse.fill_holes does (depth (1, H, W) optional; far_bias beta >= 0).
at::Tensor fill_holes_cpu(const at::Tensor& features, const at::Tensor& alpha, const c10::optional<at::Tensor>& depth,
                          double far_bias);

}  // namespace fuse
}  // namespace cg3d
