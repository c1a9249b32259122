// The host-side checks and the backward preamble of the splatting operator, written once for
// the CPU and the CUDA paths (declared in splat_ops.h).
#include "splat_ops.h"

#include <initializer_list>
#include <utility>

namespace cg3d {
namespace splat {

namespace {

void check_same_device(const at::Tensor& ref, std::initializer_list<std::pair<const char*, const at::Tensor*>> ts) {
  for (const auto& nt : ts)
    TORCH_CHECK(nt.second->device() == ref.device(), "splat: ", nt.first, ": expected a tensor on ", ref.device(),
                ", found a tensor on ", nt.second->device());
}

}  // namespace

void check_row_range(int64_t height, int64_t& row_begin, int64_t& row_end) {
  if (row_end < 0) row_end = height;
  TORCH_CHECK(row_begin >= 0 && row_begin <= row_end && row_end <= height,
              "splat: rows: expected 0 <= row_begin <= row_end <= height (", height, "), found [", row_begin, ", ",
              row_end, ")");
}

void check_other_splat(const at::Tensor& features, int64_t height, int64_t width,
                       const c10::optional<at::Tensor>& other_features, const c10::optional<at::Tensor>& other_depth,
                       const c10::optional<at::Tensor>& other_alpha) {
  const int n = int(other_features.has_value()) + int(other_depth.has_value()) + int(other_alpha.has_value());
  TORCH_CHECK(n == 0 || n == 3, "splat: other splat: expected its features, depth and alpha together, found ", n,
              " of them");
  if (n == 0) return;
  TORCH_CHECK(features.device().is_cpu(), "splat: other splat: expected CPU tensors (a rows-only splat is a CPU "
              "pass), found features on ", features.device());
  const int64_t C = features.size(1);
  const std::pair<const char*, const at::Tensor*> planes[] = {
      {"features", &*other_features}, {"depth", &*other_depth}, {"alpha", &*other_alpha}};
  for (const auto& pl : planes) {
    const at::Tensor& t = *pl.second;
    const int64_t c = pl.first[0] == 'f' ? C : 1;
    TORCH_CHECK(t.dim() == 3 && t.size(0) == c && t.size(1) == height && t.size(2) == width, "splat: other splat: ",
                pl.first, ": expected shape (", c, ", ", height, ", ", width, "), found ", t.sizes());
    TORCH_CHECK(t.scalar_type() == features.scalar_type() && t.device().is_cpu(), "splat: other splat: ", pl.first,
                ": expected a CPU tensor of dtype ", features.scalar_type(), ", found ", t.scalar_type(), " on ",
                t.device());
  }
}

void check_forward_inputs(const at::Tensor& points, const at::Tensor& features, const at::Tensor& opacity,
                          const at::Tensor& radius, const at::Tensor& K, int64_t height, int64_t width,
                          double max_radius) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "splat: points: expected shape (P, 3), found ",
              points.sizes());
  const int64_t P = points.size(0);
  TORCH_CHECK(features.dim() == 2 && features.size(0) == P && features.size(1) >= 1,
              "splat: features: expected shape (", P, ", C) with C >= 1, found ", features.sizes());
  TORCH_CHECK(opacity.dim() == 1 && opacity.size(0) == P, "splat: opacity: expected shape (", P,
              ",), found ", opacity.sizes());
  TORCH_CHECK(radius.dim() == 1 && radius.size(0) == P, "splat: radius: expected shape (", P, ",), found ",
              radius.sizes());
  TORCH_CHECK(K.dim() == 2 && K.size(0) == 3 && K.size(1) == 3, "splat: K: expected shape (3, 3), found ",
              K.sizes());
  TORCH_CHECK(height >= 1 && width >= 1 && height * width < (int64_t(1) << 31) && height < (1 << 30) &&
                  width < (1 << 30),
              "splat: image size: expected 1 <= height * width < 2^31, found ", height, "x", width);
  TORCH_CHECK(P < (int64_t(1) << 31), "splat: points: expected fewer than 2^31 points, found ", P);
  TORCH_CHECK(max_radius > 0 && max_radius <= 65536, "splat: max_radius: expected a value in (0, 65536], found ",
              max_radius);
  const auto dt = features.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble, "splat: features: expected float32 or float64, found ",
              dt);
  for (const auto* t : {&points, &opacity, &radius, &K})
    TORCH_CHECK(t->scalar_type() == dt, "splat: expected every tensor to have the dtype of features (", dt,
                "), found ", t->scalar_type());
  check_same_device(features, {{"points", &points}, {"opacity", &opacity}, {"radius", &radius}, {"K", &K}});
  TORCH_CHECK(features.device().is_cpu() || features.device().is_cuda(), "splat: unsupported device ",
              features.device());
}

BackwardArgs prepare_backward(const at::Tensor& grad_feat, const at::Tensor& grad_alpha, const at::Tensor& points,
                              const at::Tensor& features, const at::Tensor& opacity, const at::Tensor& radius,
                              const at::Tensor& K, const at::Tensor& out_feat, const at::Tensor& wsum,
                              const at::Tensor& zmin, int64_t height, int64_t width, double max_radius,
                              bool need_features, bool need_opacity) {
  check_forward_inputs(points, features, opacity, radius, K, height, width, max_radius);
  check_same_device(features, {{"grad_features", &grad_feat},
                               {"grad_alpha", &grad_alpha},
                               {"features output", &out_feat},
                               {"coverage", &wsum},
                               {"z-min buffer", &zmin}});
  BackwardArgs a;
  a.P = points.size(0);
  a.C = features.size(1);
  const auto expect = [&](const at::Tensor& t, at::IntArrayRef shape, const char* name) {
    TORCH_CHECK(t.sizes() == shape, "splat backward: ", name, ": expected shape ", shape, ", found ", t.sizes());
    TORCH_CHECK(t.scalar_type() == features.scalar_type(), "splat backward: ", name, ": expected dtype ",
                features.scalar_type(), ", found ", t.scalar_type());
  };
  expect(grad_feat, {a.C, height, width}, "grad_features");
  expect(grad_alpha, {1, height, width}, "grad_alpha");
  expect(out_feat, {a.C, height, width}, "features output");
  expect(wsum, {height, width}, "coverage");
  expect(zmin, {height, width}, "z-min buffer");
  a.points = points.contiguous();
  a.features = features.contiguous();
  a.opacity = opacity.contiguous();
  a.radius = radius.contiguous();
  a.K = K.contiguous();
  a.grad_feat = grad_feat.contiguous();
  a.grad_alpha = grad_alpha.contiguous();
  a.out_feat = out_feat.contiguous();
  a.wsum = wsum.contiguous();
  a.zmin = zmin.contiguous();
  if (need_features) a.grad_features = at::empty({a.P, a.C}, features.options());
  if (need_opacity) a.grad_opacity = at::empty({a.P}, features.options());
  a.empty = a.P == 0 || !(need_features || need_opacity);
  return a;
}

}  // namespace splat
}  // namespace cg3d
