// The "dissolve" fusion of two splats (csrc/fuse/fuse_cpu.cpp; binding in csrc/ext.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace cg3d {
namespace fuse {

struct Params {
  double tau, width, depth_weight, eps, zref, occlusion_ratio, ramp;
  int detail_radius, stats_radius;
};

// [features (C, H, W), depth (1, H, W), alpha (1, H, W)] of the forward and backward splats
// fused at loop fraction tau with the per-pixel switch times phase_f (and phase_b: the two
// splats' maps, mixed by coverage), as cinemagraph3d.render.fuse.fuse_bidirectional does with
// method "dissolve": dissolve width, depth weight a, denominator floor eps, disparity reference
// depth zref, occlusion ratio (infinite: off) and its ramp, detail and statistics box radii.
std::vector<at::Tensor> fuse_dissolve_cpu(const at::Tensor& f_features, const at::Tensor& f_depth,
                                          const at::Tensor& f_alpha, const at::Tensor& b_features,
                                          const at::Tensor& b_depth, const at::Tensor& b_alpha,
                                          const at::Tensor& phase_f, const c10::optional<at::Tensor>& phase_b,
                                          double tau, double width, double depth_weight, double eps, double zref,
                                          double occlusion_ratio, double ramp, int64_t detail_radius,
                                          int64_t stats_radius);

}  // namespace fuse
}  // namespace cg3d
