// The splatting operator's host-side interface: the one declaration of the CPU and CUDA entry
// points (bindings in csrc/ext.cpp, definitions in splat_cpu.cpp and splat_cuda.cu) and the checks
// every call goes through once, in ext.cpp, before it dispatches on the device (pytorch3d's
// layout: one header declares the CPU and CUDA functions, the binding dispatches on is_cuda()).
//
// The per-point math shared by the kernels is in splat.h (no PyTorch dependency).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace cg3d {
namespace splat {

// Shapes, dtypes, sizes and devices of a forward call's inputs (TORCH_CHECK with the expected and
// the found value). Called once per call by the binding; the device functions trust it.
void check_forward_inputs(const at::Tensor& points, const at::Tensor& features, const at::Tensor& opacity,
                          const at::Tensor& radius, const at::Tensor& K, int64_t height, int64_t width,
                          double max_radius);

// The inputs of a backward call, checked and made contiguous once, with the gradient buffers it
// returns allocated (undefined where not needed). `empty` is true when there is nothing to
// compute (no point, or neither gradient requested): the device function then returns at once.
struct BackwardArgs {
  at::Tensor grad_feat, grad_alpha, points, features, opacity, radius, K, out_feat, wsum, zmin;
  at::Tensor grad_features, grad_opacity;  // outputs: (P, C) and (P,)
  int64_t P = 0, C = 0;
  bool empty = true;
};

BackwardArgs prepare_backward(const at::Tensor& grad_feat, const at::Tensor& grad_alpha, const at::Tensor& points,
                              const at::Tensor& features, const at::Tensor& opacity, const at::Tensor& radius,
                              const at::Tensor& K, const at::Tensor& out_feat, const at::Tensor& wsum,
                              const at::Tensor& zmin, int64_t height, int64_t width, double max_radius,
                              bool need_features, bool need_opacity);

// The rows [row_begin, row_end) of a forward call (row_end = -1: to the last row), checked and
// resolved: 0 <= row_begin <= row_end <= height.
void check_row_range(int64_t height, int64_t& row_begin, int64_t& row_end);

// Forward: [features (C,H,W), depth (1,H,W), alpha (1,H,W), coverage (H,W), z-min (H,W)]. Only
// rows [row_begin, row_end) need be computed: the CPU kernel computes the row bands holding them
// and sets the others to 0, or, given another splat's three planes (other_*: all or none, checked
// by check_other_splat), copies its rows there (a caller that knows both splats to be the same
// outside those rows). It is a speed hint: a caller must not rely on which rows are computed.
std::vector<at::Tensor> splat_forward_cpu(const at::Tensor& points, const at::Tensor& features,
                                          const at::Tensor& opacity, const at::Tensor& radius,
                                          const at::Tensor& K, int64_t height, int64_t width, double znear,
                                          double depth_tolerance, double max_radius, double eps,
                                          bool save_for_backward, int64_t row_begin, int64_t row_end,
                                          const c10::optional<at::Tensor>& other_features,
                                          const c10::optional<at::Tensor>& other_depth,
                                          const c10::optional<at::Tensor>& other_alpha);

// The other splat's planes of a rows-only forward: all three or none, CPU, the features' dtype,
// shapes (C, H, W), (1, H, W), (1, H, W).
void check_other_splat(const at::Tensor& features, int64_t height, int64_t width,
                       const c10::optional<at::Tensor>& other_features, const c10::optional<at::Tensor>& other_depth,
                       const c10::optional<at::Tensor>& other_alpha);

// Backward: fills args.grad_features / args.grad_opacity.
void splat_backward_cpu(BackwardArgs& args, int64_t height, int64_t width, double znear, double depth_tolerance,
                        double max_radius, double eps);

#ifdef CG3D_WITH_CUDA
std::vector<at::Tensor> splat_forward_cuda(const at::Tensor& points, const at::Tensor& features,
                                           const at::Tensor& opacity, const at::Tensor& radius,
                                           const at::Tensor& K, int64_t height, int64_t width, double znear,
                                           double depth_tolerance, double max_radius, double eps,
                                           bool save_for_backward);

void splat_backward_cuda(BackwardArgs& args, int64_t height, int64_t width, double znear, double depth_tolerance,
                         double max_radius, double eps);
#endif

}  // namespace splat
}  // namespace cg3d
