// Per-point preparation of a splat in one pass (CPU): the rigid transform into the view, the
// footprint radius and the resampling compensation of the point colours.
//
// The pipeline's reference (cinemagraph3d/pipeline.py: _splat, _depth_scale_radius,
// _Resampling.__call__) runs these as ~30 element-wise torch operations over the 1-1.5 M points of
// a 1280x720 cloud, each a full pass over memory; here every point is read once and its three
// outputs written once. The arithmetic follows the reference's order of operations in the
// points' own precision, so radius and colours agree with it bit for bit given the same camera
// coordinates; the camera coordinates are a 3-term dot product summed in double and rounded once
// (torch's `linear` calls BLAS, whose summation order is its own), so they may differ from the
// reference by one unit in the last place (tests/test_prepare_native.py states the tolerance).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

template <typename T>
void run(const at::Tensor& points, const at::Tensor& T44, const at::Tensor& K, const at::Tensor& z0, double fx,
         const at::Tensor& stretch, const at::Tensor& widen, const at::Tensor& features, const at::Tensor& lap_u,
         const at::Tensor& lap_v, double kappa, at::Tensor& out_pts, at::Tensor& out_radius, at::Tensor& out_feat) {
  const int64_t P = points.size(0);
  const int64_t C = features.size(1);
  const int64_t n_lap = lap_u.defined() ? lap_u.size(0) : 0;
  const at::Tensor Td = T44.to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor Kt = K.to(at::kCPU, points.scalar_type()).contiguous();
  const double* tm = Td.data_ptr<double>();
  const T* kp = Kt.data_ptr<T>();
  const T kfx = kp[0], kfy = kp[4];
  const T cu = kp[2] - T(0.5), cv = kp[5] - T(0.5);
  const T fx_t = static_cast<T>(fx);
  const T kap = static_cast<T>(kappa);
  const T* pw = points.data_ptr<T>();
  const T* zz = z0.data_ptr<T>();
  const T* st = stretch.defined() ? stretch.data_ptr<T>() : nullptr;
  const T* wd = widen.defined() ? widen.data_ptr<T>() : nullptr;
  const T* fin = features.data_ptr<T>();
  const T* lu = n_lap ? lap_u.data_ptr<T>() : nullptr;
  const T* lv = n_lap ? lap_v.data_ptr<T>() : nullptr;
  T* po = out_pts.data_ptr<T>();
  T* ro = out_radius.data_ptr<T>();
  T* fo = out_feat.defined() ? out_feat.data_ptr<T>() : nullptr;
  at::parallel_for(0, P, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double x = pw[3 * i], y = pw[3 * i + 1], z = pw[3 * i + 2];
      T c[3];
      for (int r = 0; r < 3; ++r)
        c[r] = static_cast<T>(tm[4 * r] * x + tm[4 * r + 1] * y + tm[4 * r + 2] * z + tm[4 * r + 3]);
      po[3 * i] = c[0];
      po[3 * i + 1] = c[1];
      po[3 * i + 2] = c[2];
      const T zc = c[2] < T(1e-6) ? T(1e-6) : c[2];
      // _depth_scale_radius: ((K00 z0) / (fx z)).clamp(min=1), then the stretch and widen factors
      T rad = (kfx * zz[i]) / (fx_t * zc);
      if (!(rad >= T(1))) rad = std::isnan(rad) ? rad : T(1);
      if (st) rad = rad * st[i];
      if (wd) rad = rad * wd[i];
      ro[i] = rad;
      if (!fo) continue;
      const T* f = fin + i * C;
      T* o = fo + i * C;
      for (int64_t k = 0; k < C; ++k) o[k] = f[k];
      if (i >= n_lap) continue;
      // _Resampling: c += kappa f(1 - f) lap / r^2 per axis, f the offset from the pixel grid
      const T iz = T(1) / zc;
      const T rr = rad * rad;
      const T* lap[2] = {lu + 3 * i, lv + 3 * i};
      const T kk[2] = {kfx, kfy};
      const T cc[2] = {cu, cv};
      for (int a = 0; a < 2; ++a) {
        T u = c[a] * iz;
        u = u * kk[a];
        u = u + cc[a];
        u = u - std::floor(u);
        T g = u * (T(1) - u);
        if (g <= T(1e-3)) continue;
        g = g * kap;
        g = g / rr;
        for (int k = 0; k < 3; ++k) o[k] = o[k] + g * lap[a][k];
      }
    }
  });
}

void check_vector(const at::Tensor& t, int64_t P, const at::Tensor& points, const char* name) {
  if (!t.defined()) return;
  TORCH_CHECK(t.dim() == 1 && t.size(0) == P, "prepare_splat: ", name, " must be (", P, ",), got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == points.scalar_type() && t.device().is_cpu() && t.is_contiguous(),
              "prepare_splat: ", name, " must be a contiguous CPU tensor of the points' dtype");
}

}  // namespace

std::vector<at::Tensor> prepare_splat_cpu(const at::Tensor& points, const at::Tensor& cam_from_world,
                                          const at::Tensor& K, const at::Tensor& z0, double fx,
                                          const c10::optional<at::Tensor>& stretch,
                                          const c10::optional<at::Tensor>& widen, const at::Tensor& features,
                                          const c10::optional<at::Tensor>& lap_u,
                                          const c10::optional<at::Tensor>& lap_v, double kappa) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "prepare_splat: points must be (P, 3), got ",
              points.sizes());
  TORCH_CHECK(points.device().is_cpu() && points.is_contiguous(), "prepare_splat: points must be contiguous CPU");
  TORCH_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble,
              "prepare_splat: points must be float32 or float64, got ", points.scalar_type());
  const int64_t P = points.size(0);
  TORCH_CHECK(cam_from_world.numel() == 16 && K.numel() == 9, "prepare_splat: T must be (4, 4) and K (3, 3)");
  check_vector(z0, P, points, "z0");
  const at::Tensor st = stretch.has_value() ? *stretch : at::Tensor();
  const at::Tensor wd = widen.has_value() ? *widen : at::Tensor();
  check_vector(st, P, points, "stretch");
  check_vector(wd, P, points, "widen");
  TORCH_CHECK(features.dim() == 2 && features.size(0) == P && features.scalar_type() == points.scalar_type() &&
                  features.is_contiguous() && features.device().is_cpu(),
              "prepare_splat: features must be a contiguous (", P, ", C) CPU tensor of the points' dtype, got ",
              features.sizes());
  at::Tensor lu = lap_u.has_value() ? *lap_u : at::Tensor();
  at::Tensor lv = lap_v.has_value() ? *lap_v : at::Tensor();
  TORCH_CHECK(lu.defined() == lv.defined(), "prepare_splat: give both lap_u and lap_v or neither");
  if (lu.defined()) {
    TORCH_CHECK(features.size(1) >= 3, "prepare_splat: sharpening needs at least 3 feature channels");
    for (const at::Tensor* l : {&lu, &lv})
      TORCH_CHECK(l->dim() == 2 && l->size(1) == 3 && l->size(0) <= P && l->size(0) == lu.size(0) &&
                      l->scalar_type() == points.scalar_type() && l->is_contiguous() && l->device().is_cpu(),
                  "prepare_splat: lap_u / lap_v must be contiguous (n <= P, 3) CPU tensors, got ", l->sizes());
  }
  at::Tensor out_pts = at::empty({P, 3}, points.options());
  at::Tensor out_radius = at::empty({P}, points.options());
  at::Tensor out_feat = lu.defined() ? at::empty_like(features) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "prepare_splat", [&] {
    run<scalar_t>(points, cam_from_world, K, z0, fx, st, wd, features, lu, lv, kappa, out_pts, out_radius,
                  out_feat);
  });
  return {out_pts, out_radius, lu.defined() ? out_feat : features};
}

}  // namespace prep
}  // namespace cg3d
