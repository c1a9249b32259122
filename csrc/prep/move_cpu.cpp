// One moved cloud of a frame in one pass (CPU): the photo's points with the moving ones displaced,
// the border ghosts displaced and appended, and every point's footprint stretch.
//
// The pipeline's reference (cinemagraph3d/pipeline.py: _MovedClouds.__call__ and _stretch_rows)
// builds the same buffers with ~25 torch operations per direction (gathers, a clone, a full copy of
// the cloud, an index_copy, four neighbour gathers with where / abs / maximum, the cap lookup);
// here the still points are copied once and every moving point and ghost is written once. The
// arithmetic is the reference's, operation for operation, in the points' precision: the outputs
// are bit-identical to it (tests/test_prepare_native.py checks that with torch.equal).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

template <typename T>
void run(const at::Tensor& pts0, const at::Tensor& sel, const at::Tensor& rows, const at::Tensor& disp,
         const at::Tensor& nbrs, const at::Tensor& cap, const at::Tensor& src_i, const at::Tensor& src_j, double fx,
         double fy, double max_stretch, const at::Tensor& ghost_pts, const at::Tensor& ghost_disp, at::Tensor& out,
         at::Tensor& stretch, bool reuse, std::atomic<bool>& bad_sel, std::atomic<bool>& bad_nbr) {
  const int64_t P = pts0.size(0), S = sel.size(0), M = disp.size(0);
  const int64_t G = ghost_pts.defined() ? ghost_pts.size(0) : 0;
  const int64_t H = cap.size(0), W = cap.size(1);
  const T* p0 = pts0.data_ptr<T>();
  const int64_t* sl = sel.data_ptr<int64_t>();
  const int64_t* rw = rows.data_ptr<int64_t>();
  const T* d = disp.data_ptr<T>();
  const int64_t* nb = nbrs.data_ptr<int64_t>();
  const T* cp = cap.data_ptr<T>();
  const int64_t* si = src_i.data_ptr<int64_t>();
  const int64_t* sj = src_j.data_ptr<int64_t>();
  const T f[2] = {static_cast<T>(fx), static_cast<T>(fy)};
  const T smax = static_cast<T>(max_stretch);
  T* o = out.data_ptr<T>();
  T* st = stretch.data_ptr<T>();
  // 1. the still cloud and unit stretch
  if (!reuse)  // the still points: copied (a reused buffer holds them from the call that made it)
    at::parallel_for(0, P, 65536, [&](int64_t b, int64_t e) {
      std::memcpy(o + 3 * b, p0 + 3 * b, sizeof(T) * 3 * (e - b));
      for (int64_t i = b; i < e; ++i) st[i] = T(1);
    });
  // 2. the stretch of every moving pixel (_stretch_rows): the gap to each moving neighbour along its
  // axis, |(d_nb - d) + 1| to the right / below and |(d - d_nb) + 1| to the left / above, kept
  // when <= MAX_STRETCH, maximised with 1, then capped where the pixel's point is now.
  std::vector<T> pix(static_cast<size_t>(M));
  at::parallel_for(0, M, 16384, [&](int64_t b, int64_t e) {
    bool bad = false;
    for (int64_t r = b; r < e; ++r) {
      T s = T(1);
      for (int k = 0; k < 4; ++k) {
        int64_t n = nb[k * M + r];
        if (static_cast<uint64_t>(n) > static_cast<uint64_t>(M)) {  // outside [0, M]: refused below
          bad = true;
          n = M;
        }
        const int a = k / 2;
        const T dn = n < M ? d[2 * n + a] : T(0);
        T gap = (k % 2 == 0 ? dn - d[2 * r + a] : d[2 * r + a] - dn) + T(1);
        gap = std::abs(gap);
        if (!(n != M && gap <= smax)) gap = T(1);
        if (std::isnan(gap) || gap > s) s = gap;  // torch.maximum propagates NaN
      }
      // torch.round (half to even) as lrint in the default rounding mode: one instruction, where
      // nearbyint is a library call on SSE2 (the same integers; NaN and overflow clamp to 0 alike)
      int64_t i = std::lrint(static_cast<T>(si[r]) + d[2 * r + 1]);
      int64_t j = std::lrint(static_cast<T>(sj[r]) + d[2 * r]);
      i = i < 0 ? 0 : (i > H - 1 ? H - 1 : i);
      j = j < 0 ? 0 : (j > W - 1 ? W - 1 : j);
      const T c = cp[i * W + j];
      pix[r] = (std::isnan(s) || s < c) ? s : c;  // torch.minimum
    }
    if (bad) bad_nbr = true;
  });
  // 3. the moving points: x/y + d z / f (lift_offsets), z kept
  at::parallel_for(0, S, 16384, [&](int64_t b, int64_t e) {
    bool bad = false;
    for (int64_t k = b; k < e; ++k) {
      const int64_t p = sl[k], r = rw[k];
      if ((static_cast<uint64_t>(p) >= static_cast<uint64_t>(P)) | (static_cast<uint64_t>(r) >= static_cast<uint64_t>(M))) {
        bad = true;  // outside [0, P) / [0, M): nothing written, refused below
        continue;
      }
      const T z = p0[3 * p + 2];
      o[3 * p] = p0[3 * p] + d[2 * r] * z / f[0];
      o[3 * p + 1] = p0[3 * p + 1] + d[2 * r + 1] * z / f[1];
      st[p] = pix[r];
    }
    if (bad) bad_sel = true;
  });
  // 4. the ghosts, appended with unit stretch
  if (G) {
    const T* gp = ghost_pts.data_ptr<T>();
    const T* gd = ghost_disp.data_ptr<T>();
    at::parallel_for(0, G, 16384, [&](int64_t b, int64_t e) {
      for (int64_t g = b; g < e; ++g) {
        const T z = gp[3 * g + 2];
        T* q = o + 3 * (P + g);
        q[0] = gp[3 * g] + gd[2 * g] * z / f[0];
        q[1] = gp[3 * g + 1] + gd[2 * g + 1] * z / f[1];
        q[2] = z;
        st[P + g] = T(1);
      }
    });
  }
}

void check(bool ok, const char* what, const at::Tensor& t) {
  TORCH_CHECK(ok, "move_cloud: ", what, ", got ", t.defined() ? t.sizes() : at::IntArrayRef{}, " ",
              t.defined() ? c10::toString(t.scalar_type()) : "undefined");
}

}  // namespace

std::vector<at::Tensor> move_cloud_cpu(const at::Tensor& points, const at::Tensor& sel, const at::Tensor& rows,
                                       const at::Tensor& disp, const at::Tensor& nbrs, const at::Tensor& cap,
                                       const at::Tensor& src_i, const at::Tensor& src_j, double fx, double fy,
                                       double max_stretch, const c10::optional<at::Tensor>& ghost_points,
                                       const c10::optional<at::Tensor>& ghost_disp,
                                       const c10::optional<at::Tensor>& out_points,
                                       const c10::optional<at::Tensor>& out_stretch) {
  const auto dt = points.scalar_type();
  auto cpu = [](const at::Tensor& t) { return t.device().is_cpu() && t.is_contiguous(); };
  check(points.dim() == 2 && points.size(1) == 3 && cpu(points) && (dt == at::kFloat || dt == at::kDouble),
        "points must be a contiguous (P, 3) float32/float64 CPU tensor", points);
  const int64_t P = points.size(0);
  check(disp.dim() == 2 && disp.size(1) == 2 && cpu(disp) && disp.scalar_type() == dt,
        "disp must be a contiguous (M, 2) CPU tensor of the points' dtype", disp);
  const int64_t M = disp.size(0);
  check(sel.dim() == 1 && cpu(sel) && sel.scalar_type() == at::kLong, "sel must be a contiguous (S,) int64 tensor",
        sel);
  check(rows.dim() == 1 && rows.size(0) == sel.size(0) && cpu(rows) && rows.scalar_type() == at::kLong,
        "rows must be a contiguous (S,) int64 tensor", rows);
  check(nbrs.dim() == 2 && nbrs.size(0) == 4 && nbrs.size(1) == M && cpu(nbrs) && nbrs.scalar_type() == at::kLong,
        "nbrs must be a contiguous (4, M) int64 tensor", nbrs);
  check(cap.dim() == 2 && cpu(cap) && cap.scalar_type() == dt && cap.numel() > 0,
        "cap must be a contiguous (H, W) CPU tensor of the points' dtype", cap);
  for (const at::Tensor* s : {&src_i, &src_j})
    check(s->dim() == 1 && s->size(0) == M && cpu(*s) && s->scalar_type() == at::kLong,
          "src_i / src_j must be contiguous (M,) int64 tensors", *s);
  // Index ranges (sel in [0, P), rows in [0, M), nbrs in [0, M]) are checked as the loops read
  // them, where a bad one is skipped rather than followed, and refused after the pass: separate
  // min / max reductions were four more passes over the index arrays per call.
  at::Tensor gp = ghost_points.has_value() ? *ghost_points : at::Tensor();
  at::Tensor gd = ghost_disp.has_value() ? *ghost_disp : at::Tensor();
  TORCH_CHECK(gp.defined() == gd.defined(), "move_cloud: give both ghost_points and ghost_disp or neither");
  if (gp.defined()) {
    check(gp.dim() == 2 && gp.size(1) == 3 && cpu(gp) && gp.scalar_type() == dt,
          "ghost_points must be a contiguous (G, 3) CPU tensor of the points' dtype", gp);
    check(gd.dim() == 2 && gd.size(1) == 2 && gd.size(0) == gp.size(0) && cpu(gd) && gd.scalar_type() == dt,
          "ghost_disp must be a contiguous (G, 2) CPU tensor of the points' dtype", gd);
  }
  const int64_t G = gp.defined() ? gp.size(0) : 0;
  const bool reuse = out_points.has_value();
  TORCH_CHECK(reuse == out_stretch.has_value(), "move_cloud: give both out_points and out_stretch or neither");
  at::Tensor out = reuse ? *out_points : at::empty({P + G, 3}, points.options());
  at::Tensor stretch = reuse ? *out_stretch : at::empty({P + G}, points.options());
  if (reuse) {
    check(out.dim() == 2 && out.size(0) == P + G && out.size(1) == 3 && cpu(out) && out.scalar_type() == dt,
          "out_points must be a contiguous (P + G, 3) CPU tensor of the points' dtype", out);
    check(stretch.dim() == 1 && stretch.size(0) == P + G && cpu(stretch) && stretch.scalar_type() == dt,
          "out_stretch must be a contiguous (P + G,) CPU tensor of the points' dtype", stretch);
  }
  std::atomic<bool> bad_sel{false}, bad_nbr{false};
  AT_DISPATCH_FLOATING_TYPES(dt, "move_cloud", [&] {
    run<scalar_t>(points, sel, rows, disp, nbrs, cap, src_i, src_j, fx, fy, max_stretch, gp, gd, out, stretch,
                  reuse, bad_sel, bad_nbr);
  });
  TORCH_CHECK(!bad_sel.load(), "move_cloud: sel outside [0, P) or rows outside [0, M)");
  TORCH_CHECK(!bad_nbr.load(), "move_cloud: nbrs outside [0, M]");
  return {out, stretch};
}

}  // namespace prep
}  // namespace cg3d
