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

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

constexpr double kNoRows = 1e9;  // row bounds are clamped to +-1e9 (far outside any image)

// floor(u) without a library call, so that loops with it vectorise on any x86-64 (SSE2 has no
// vector floor): the truncation through int32, one less where it rounded up; |u| >= 2^23 (and
// NaN) are returned as they are, which floor leaves unchanged for floats. The same value as
// std::floor, but for the sign of a zero (floor(-0) = -0, here +0).
inline float floor_exact(float u) {
  const float t = static_cast<float>(static_cast<int32_t>(std::fabs(u) < 8388608.0f ? u : 0.0f));
  const float f = t > u ? t - 1.0f : t;
  return std::fabs(u) < 8388608.0f ? f : u;
}
inline double floor_exact(double u) { return std::floor(u); }

// The resampling compensation's per-axis gains kappa f (1 - f) / r^2 of m points (0 where
// f (1 - f) <= 1e-3), f the projection's offset from the pixel grid (restrict pointers and
// floor_exact: the loop vectorises)
template <typename T>
__attribute__((noinline)) void resampling_gains(const T* __restrict cx, const T* __restrict cy,
                                                const T* __restrict cz, const T* __restrict rd, T* __restrict gu,
                                                T* __restrict gv, int m, T kfx, T kfy, T cu, T cv, T kap) {
  for (int t = 0; t < m; ++t) {
    const T zc = cz[t] < T(1e-6) ? T(1e-6) : cz[t];
    const T iz = T(1) / zc;
    const T rr = rd[t] * rd[t];
    T u = cx[t] * iz;
    u = u * kfx;
    u = u + cu;
    u = u - floor_exact(u);
    T g = u * (T(1) - u);
    gu[t] = g <= T(1e-3) ? T(0) : (g * kap) / rr;
    T v = cy[t] * iz;
    v = v * kfy;
    v = v + cv;
    v = v - floor_exact(v);
    g = v * (T(1) - v);
    gv[t] = g <= T(1e-3) ? T(0) : (g * kap) / rr;
  }
}

template <typename T>
void run(const at::Tensor& points, const at::Tensor& T44, const at::Tensor& K, const at::Tensor& z0, double fx,
         const at::Tensor& stretch, const at::Tensor& widen, const at::Tensor& features, const at::Tensor& lap_u,
         const at::Tensor& lap_v, double kappa, const at::Tensor& moving, double znear, double max_radius,
         at::Tensor& out_pts, at::Tensor& out_radius, at::Tensor& out_feat, int64_t* rows, bool reuse,
         const at::Tensor& extra) {
  const int64_t P = points.size(0);
  const int64_t Ci = features.size(1);         // input channels
  const int64_t C = Ci + (extra.defined() ? 1 : 0);  // output channels: the extra one last
  const T* ex = extra.defined() ? extra.data_ptr<T>() : nullptr;
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
  const bool* mv = moving.defined() ? moving.data_ptr<bool>() : nullptr;
  const T zn = static_cast<T>(znear), rmax = static_cast<T>(max_radius), vfy = kp[4], vcy = kp[5];
  std::mutex rows_mutex;
  // Blocks of kB points: each step is a loop over the block without branches, so that it
  // vectorises; the arithmetic per point is the scalar form's, in the same order.
  constexpr int64_t kB = 64;
  const int64_t nblocks = (P + kB - 1) / kB;
  // Reuse: the outputs already hold a block's values unless one of its points moved; the blocks
  // to redo are listed first, so that the threads share them evenly (they cluster in the image).
  std::vector<int64_t> todo;
  if (reuse) {
    todo.reserve(static_cast<size_t>(nblocks));
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t i0 = blk * kB, i1 = std::min<int64_t>(P, i0 + kB);
      if (std::find(mv + i0, mv + i1, true) != mv + i1) todo.push_back(blk);
    }
  }
  const int64_t nwork = reuse ? static_cast<int64_t>(todo.size()) : nblocks;
  at::parallel_for(0, nwork, 256, [&](int64_t w0, int64_t w1) {
    alignas(64) T cx[kB], cy[kB], cz[kB], rd[kB], gu[kB], gv[kB], mvf[kB], va[kB], vb[kB];
    double rows_lo = kNoRows, rows_hi = -kNoRows;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t blk = reuse ? todo[static_cast<size_t>(w)] : w;
      const int64_t i0 = blk * kB;
      const int m = static_cast<int>(std::min<int64_t>(kB, P - i0));
      const T* pb = pw + 3 * i0;
      for (int t = 0; t < m; ++t) {  // the rigid transform, summed in double and rounded once
        const double x = pb[3 * t], y = pb[3 * t + 1], z = pb[3 * t + 2];
        cx[t] = static_cast<T>(tm[0] * x + tm[1] * y + tm[2] * z + tm[3]);
        cy[t] = static_cast<T>(tm[4] * x + tm[5] * y + tm[6] * z + tm[7]);
        cz[t] = static_cast<T>(tm[8] * x + tm[9] * y + tm[10] * z + tm[11]);
      }
      T* pob = po + 3 * i0;
      for (int t = 0; t < m; ++t) {
        pob[3 * t] = cx[t];
        pob[3 * t + 1] = cy[t];
        pob[3 * t + 2] = cz[t];
      }
      const T* zb = zz + i0;
      // _depth_scale_radius: ((K00 z0) / (fx z)).clamp(min=1), then the stretch and widen factors
#pragma omp simd
      for (int t = 0; t < m; ++t) {
        const T zc = cz[t] < T(1e-6) ? T(1e-6) : cz[t];
        T rad = (kfx * zb[t]) / (fx_t * zc);
        rad = (rad >= T(1)) | (rad != rad) ? rad : T(1);  // NaN propagates, like torch.clamp
        rd[t] = rad;
      }
      if (st) {
#pragma omp simd
        for (int t = 0; t < m; ++t) rd[t] = rd[t] * st[i0 + t];
      }
      if (wd) {
#pragma omp simd
        for (int t = 0; t < m; ++t) rd[t] = rd[t] * wd[i0 + t];
      }
      std::copy(rd, rd + m, ro + i0);
      if (mv) {  // rows the moving points' footprints may touch: bin_points' range (splat_cpu.cpp)
        const T inf = std::numeric_limits<T>::infinity();
        const bool* mb = mv + i0;
        for (int t = 0; t < m; ++t) mvf[t] = mb[t] ? T(1) : T(0);
#pragma omp simd
        for (int t = 0; t < m; ++t) {
          const bool ok = (mvf[t] != T(0)) & (cz[t] > zn);
          const T v = vfy * cy[t] / (ok ? cz[t] : T(1)) + vcy;
          T r = rd[t] < T(0.5) ? T(0.5) : rd[t];
          r = r > rmax ? rmax : r;
          const T a = v - T(0.5) - r, b = v - T(0.5) + r;
          va[t] = ok & (a == a) ? a : inf;  // NaN: the kernel discards the point
          vb[t] = ok & (b == b) ? b : -inf;
        }
        T lo = inf, hi = -inf;  // floor is monotonic: the floor of the extreme is the extreme floor
        for (int t = 0; t < m; ++t) {
          lo = va[t] < lo ? va[t] : lo;
          hi = vb[t] > hi ? vb[t] : hi;
        }
        if (lo <= hi) {
          rows_lo = std::min(rows_lo, std::floor(static_cast<double>(lo)));
          rows_hi = std::max(rows_hi, std::floor(static_cast<double>(hi)) + 1.0);
        }
      }
      if (!fo) continue;
      if (ex == nullptr) {
        std::copy(fin + i0 * C, fin + (i0 + m) * C, fo + i0 * C);
      } else {  // joined: the features, then the extra channel
        for (int t = 0; t < m; ++t) {
          std::copy(fin + (i0 + t) * Ci, fin + (i0 + t + 1) * Ci, fo + (i0 + t) * C);
          fo[(i0 + t) * C + Ci] = ex[i0 + t];
        }
      }
      const int ml = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(m, n_lap - i0)));
      if (ml == 0) continue;
      // _Resampling: c += kappa f(1 - f) lap / r^2 per axis, f the offset from the pixel grid
      // (g = 0 marks an axis that adds nothing: the reference skips f(1 - f) <= 1e-3)
      resampling_gains(cx, cy, cz, rd, gu, gv, ml, kfx, kfy, cu, cv, kap);
      const T* lub = lu + 3 * i0;
      const T* lvb = lv + 3 * i0;
      T* ob = fo + i0 * C;
      for (int t = 0; t < ml; ++t) {
        T* o = ob + t * C;
        if (gu[t] != T(0))
          for (int k = 0; k < 3; ++k) o[k] = o[k] + gu[t] * lub[3 * t + k];
        if (gv[t] != T(0))
          for (int k = 0; k < 3; ++k) o[k] = o[k] + gv[t] * lvb[3 * t + k];
      }
    }
    if (mv && rows_hi >= rows_lo) {
      std::lock_guard<std::mutex> lock(rows_mutex);
      rows[0] = std::min(rows[0], static_cast<int64_t>(std::max(rows_lo, -kNoRows)));
      rows[1] = std::max(rows[1], static_cast<int64_t>(std::min(rows_hi, kNoRows)) + 1);
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
                                          const c10::optional<at::Tensor>& lap_v, double kappa,
                                          const c10::optional<at::Tensor>& moving, double znear,
                                          double max_radius, const c10::optional<at::Tensor>& out_points,
                                          const c10::optional<at::Tensor>& out_radius_,
                                          const c10::optional<at::Tensor>& out_features,
                                          const c10::optional<at::Tensor>& extra_) {
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
  const at::Tensor ext = extra_.has_value() ? *extra_ : at::Tensor();
  check_vector(ext, P, points, "extra");
  const bool feat_out = lu.defined() || ext.defined();  // a features output of its own
  const int64_t C_out = features.size(1) + (ext.defined() ? 1 : 0);
  const at::Tensor mv = moving.has_value() ? *moving : at::Tensor();
  if (mv.defined())
    TORCH_CHECK(mv.dim() == 1 && mv.size(0) == P && mv.scalar_type() == at::kBool && mv.is_contiguous() &&
                    mv.device().is_cpu(),
                "prepare_splat: moving must be a contiguous (", P, ",) bool CPU tensor, got ", mv.sizes());
  at::Tensor rows = at::empty({mv.defined() ? 2 : 0}, points.options().dtype(at::kLong));
  int64_t* rp = mv.defined() ? rows.data_ptr<int64_t>() : nullptr;
  if (rp) {  // [lo, hi) of the rows; empty (0, 0) when no moving point can touch a row
    rp[0] = std::numeric_limits<int64_t>::max();
    rp[1] = std::numeric_limits<int64_t>::min();
  }
  // Reuse: an earlier call's outputs for the same points but the moving ones (same still points,
  // stretch, widen, features and camera), where only the blocks holding a moving point are redone.
  const bool reuse = out_points.has_value() || out_radius_.has_value() || out_features.has_value();
  if (reuse) {
    TORCH_CHECK(mv.defined() && out_points.has_value() && out_radius_.has_value() &&
                    out_features.has_value() == feat_out,
                "prepare_splat: reuse needs moving, out_points and out_radius, and out_features exactly when "
                "lap_u / lap_v or extra are given");
    const at::Tensor& op = *out_points;
    TORCH_CHECK(op.dim() == 2 && op.size(0) == P && op.size(1) == 3 && op.scalar_type() == points.scalar_type() &&
                    op.is_contiguous() && op.device().is_cpu() && !op.is_same(points),
                "prepare_splat: out_points must be a contiguous (", P, ", 3) CPU tensor of the points' dtype, "
                "not the points, got ", op.sizes());
    check_vector(*out_radius_, P, points, "out_radius");
    if (out_features.has_value()) {
      const at::Tensor& of = *out_features;
      TORCH_CHECK(of.dim() == 2 && of.size(0) == P && of.size(1) == C_out &&
                      of.scalar_type() == features.scalar_type() && of.is_contiguous() && of.device().is_cpu() &&
                      !of.is_same(features),
                  "prepare_splat: out_features must be a contiguous (", P, ", ", C_out, ") CPU tensor shaped like "
                  "the features output (not features itself), got ", of.sizes());
    }
  }
  at::Tensor out_pts = reuse ? *out_points : at::empty({P, 3}, points.options());
  at::Tensor out_radius = reuse ? *out_radius_ : at::empty({P}, points.options());
  at::Tensor out_feat = feat_out ? (reuse ? *out_features : at::empty({P, C_out}, features.options())) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "prepare_splat", [&] {
    run<scalar_t>(points, cam_from_world, K, z0, fx, st, wd, features, lu, lv, kappa, mv, znear, max_radius,
                  out_pts, out_radius, out_feat, rp, reuse, ext);
  });
  if (rp && rp[0] > rp[1]) rp[0] = rp[1] = 0;
  return {out_pts, out_radius, feat_out ? out_feat : features, rows};
}

}  // namespace prep
}  // namespace cg3d
