// The footprint widening that closes a view's gaps, in one pass (CPU).
//
// The pipeline's reference (cinemagraph3d/pipeline.py: _GapClosing.__call__, with
// cinemagraph3d/render/footprint.py: camera_footprints) runs ~20 torch operations per frame over
// the slanted nodes and their joined pairs: the view transform, the depth-scale radius, the
// projections, two gathers per axis, two scatter-max passes, and an index_copy into a vector of
// ones. Here the nodes are transformed and projected once, each pair is read once and every node's
// largest gap is kept in one buffer. The arithmetic follows the reference's order of operations in
// the points' precision, so given the same camera coordinates the result is bit-identical; the
// camera coordinates are summed in double and rounded once (prepare_cpu.cpp does the same; torch's
// `linear` uses BLAS), so they may differ from the reference by a unit in the last place
// (tests/test_prepare_native.py states the tolerance).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

template <typename T>
void run(const at::Tensor& points, const at::Tensor& T44, const at::Tensor& K, double fx, const at::Tensor& nodes,
         const at::Tensor& pairs, double znear, double max_gap, at::Tensor& widen) {
  const int64_t N = points.size(0), E = pairs.size(1);
  const at::Tensor Td = T44.to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor Kt = K.to(at::kCPU, points.scalar_type()).contiguous();
  const double* tm = Td.data_ptr<double>();
  const T* kp = Kt.data_ptr<T>();
  const T kfx = kp[0], kfy = kp[4];
  const T fx_t = static_cast<T>(fx), zn = static_cast<T>(znear), mg = static_cast<T>(max_gap);
  const T rel = static_cast<T>(1.0 + 1e-4);
  const T* pw = points.data_ptr<T>();
  std::vector<T> u(static_cast<size_t>(N)), v(static_cast<size_t>(N)), base(static_cast<size_t>(N));
  std::vector<T> gap(static_cast<size_t>(N), T(0));
  at::parallel_for(0, N, 16384, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) {
      const double x = pw[3 * i], y = pw[3 * i + 1], z = pw[3 * i + 2];
      const T cx = static_cast<T>(tm[0] * x + tm[1] * y + tm[2] * z + tm[3]);
      const T cy = static_cast<T>(tm[4] * x + tm[5] * y + tm[6] * z + tm[7]);
      const T cz = static_cast<T>(tm[8] * x + tm[9] * y + tm[10] * z + tm[11]);
      // _depth_scale_radius: ((K00 z0) / (fx z.clamp(min=1e-6))).clamp(min=1), z0 the world depth
      const T zc = cz < T(1e-6) ? T(1e-6) : cz;
      T r = (kfx * pw[3 * i + 2]) / (fx_t * zc);
      r = (r >= T(1)) | (r != r) ? r : T(1);
      base[i] = r;
      // camera_footprints: iz = 1 / z.clamp(min=znear), u = x iz, v = y iz
      const T iz = T(1) / (cz < zn ? zn : cz);
      u[i] = cx * iz;
      v[i] = cy * iz;
    }
  });
  // Every pair's gap max(|du| K00, |dv| K11) (0 beyond max_gap) raises both ends' largest gap.
  // The maximum does not depend on the order, so one serial pass (pairs join grid neighbours:
  // their nodes are close in memory) gives the reference's scatter-max exactly.
  // Indices are checked where they are read: the pipeline passes the same nodes and pairs for
  // every view, and a separate pass of min / max reductions over them would cost a third of the call.
  const int64_t* src = pairs.data_ptr<int64_t>();
  const int64_t* dst = src + E;
  for (int64_t e = 0; e < E; ++e) {
    const int64_t s = src[e], d = dst[e];
    TORCH_CHECK(s >= 0 && s < N && d >= 0 && d < N, "gap_widen: pairs must index the ", N, " nodes, got ", s,
                " and ", d);
    const T gu = std::fabs(u[d] - u[s]) * kfx;
    const T gv = std::fabs(v[d] - v[s]) * kfy;
    T g = gu < gv ? gv : gu;
    // torch.where(g <= max_gap, g, 0), where g = torch.maximum(...) is NaN when either is
    g = (g <= mg) & (gu == gu) & (gv == gv) ? g : T(0);
    gap[s] = gap[s] < g ? g : gap[s];  // scatter_reduce "amax" onto 0: g >= 0 and never NaN
    gap[d] = gap[d] < g ? g : gap[d];
  }
  T* w = widen.data_ptr<T>();
  const int64_t* nd = nodes.data_ptr<int64_t>();
  const int64_t num_points = widen.size(0);
  for (int64_t i = 0; i < N; ++i) {
    TORCH_CHECK(nd[i] >= 0 && nd[i] < num_points, "gap_widen: nodes must index the ", num_points, " points, got ",
                nd[i]);
    const T r = gap[i] > base[i] * rel ? gap[i] : base[i];
    w[nd[i]] = r / base[i];
  }
}

}  // namespace

at::Tensor gap_widen_cpu(const at::Tensor& points, const at::Tensor& cam_from_world, const at::Tensor& K, double fx,
                         const at::Tensor& nodes, const at::Tensor& pairs, int64_t num_points, double znear,
                         double max_gap) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3 && points.device().is_cpu() && points.is_contiguous(),
              "gap_widen: points must be a contiguous (N, 3) CPU tensor, got ", points.sizes());
  TORCH_CHECK(points.scalar_type() == at::kFloat || points.scalar_type() == at::kDouble,
              "gap_widen: points must be float32 or float64, got ", points.scalar_type());
  const int64_t N = points.size(0);
  TORCH_CHECK(cam_from_world.numel() == 16 && K.numel() == 9, "gap_widen: T must be (4, 4) and K (3, 3)");
  TORCH_CHECK(nodes.dim() == 1 && nodes.size(0) == N && nodes.scalar_type() == at::kLong && nodes.is_contiguous() &&
                  nodes.device().is_cpu(),
              "gap_widen: nodes must be a contiguous (", N, ",) int64 CPU tensor, got ", nodes.sizes());
  TORCH_CHECK(pairs.dim() == 2 && pairs.size(0) == 2 && pairs.scalar_type() == at::kLong && pairs.is_contiguous() &&
                  pairs.device().is_cpu(),
              "gap_widen: pairs must be a contiguous (2, E) int64 CPU tensor, got ", pairs.sizes());
  TORCH_CHECK(num_points >= 0, "gap_widen: num_points must be >= 0, got ", num_points);
  at::Tensor widen = at::ones({num_points}, points.options());
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "gap_widen", [&] {
    run<scalar_t>(points, cam_from_world, K, fx, nodes, pairs, znear, max_gap, widen);
  });
  return widen;
}

}  // namespace prep
}  // namespace cg3d
