// One Euler step of the motion integration in one pass over the moving points (CPU).
//
// The reference (cinemagraph3d/motion/integrate.py: _Stepper.sample and step, and
// turbulence.py: Turbulence.sample) runs each step as two grid_sample calls (the mean field with
// its turbulence amplitude, then the turbulence's wave grid) and ~10 element-wise torch operations
// over the P moving points, each a pass over memory, on one thread (grid_sample parallelises over
// the output's rows, and its grid is one row). Here each point is read once, both fields are
// sampled bilinearly at it and its next state written once, on every thread.
//
// The sample position: grid_sample reads the field at (g + 1) W / 2 - 0.5 for the normalised
// g = 2 x / W - 1 of a position x in pixels (align_corners=False), i.e. at x - 0.5; this pass
// computes x - 0.5 directly (exact in floating point for |x| < 2^23) instead of rounding twice
// through g, and the wave grid's x (1 / cell) - 0.5 in double. The results therefore differ from the
// reference by its own rounding (≈ 1e-7 of the position, tests/test_flow_native.py), not by a
// change of rule: border replication (positions clamped to the first and last pixel centre, NaN
// to 0, as grid_sample's border padding), the field set to 0 outside [0, W] x [0, H] unless
// `extended`, and v = M + A * wave with the turbulence.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

// Border-padded bilinear corners of coordinate c (pixel-centre units) on an axis of n samples:
// the first index i0, the step to the next one d (0 at the last sample) and the weight w of the
// next one. Branch-free, so that the block loops below vectorise.
template <typename T>
inline void axis_corners(T c, int32_t n, int32_t& i0, int32_t& d, T& w) {
  c = c > T(0) ? c : T(0);  // NaN -> 0, like grid_sample's clip_coordinates
  const T last = static_cast<T>(n - 1);
  c = c < last ? c : last;
  i0 = static_cast<int32_t>(c);  // c >= 0: truncation is floor
  w = c - static_cast<T>(i0);
  d = i0 + 1 < n ? 1 : 0;
}

// Per block of points: the corner offsets and weights of one field's bilinear sample.
constexpr int kB = 64;
template <typename T>
struct Taps {
  alignas(64) int32_t q[kB], dx[kB], dy[kB];  // offset of the top-left corner, steps right and down
  alignas(64) T wx[kB], wy[kB];
};

// Bilinear values ((f00 s e + f01 s w) + f10 n e) + f11 n w (grid_sample's order) of NP planes
// (plane k at f + k * stride) at the block's taps, for points [0, m): v[k * kB + t].
template <int NP, typename T>
inline void sample_planes(const T* __restrict f, int64_t stride, const Taps<T>& tp, int m, T* __restrict v) {
  alignas(64) T c00[NP][kB], c01[NP][kB], c10[NP][kB], c11[NP][kB];
  for (int t = 0; t < m; ++t) {  // the gathers (scalar loads), the taps' addresses shared by the planes
    const T* r0 = f + tp.q[t];
    const T* r1 = r0 + tp.dy[t];
    const int32_t dx = tp.dx[t];
    for (int k = 0; k < NP; ++k) {
      c00[k][t] = r0[k * stride];
      c01[k][t] = r0[k * stride + dx];
      c10[k][t] = r1[k * stride];
      c11[k][t] = r1[k * stride + dx];
    }
  }
  for (int k = 0; k < NP; ++k) {
#pragma omp simd
    for (int t = 0; t < m; ++t) {
      const T wx = tp.wx[t], wy = tp.wy[t], e = T(1) - wx, s = T(1) - wy;
      v[k * kB + t] = ((c00[k][t] * (s * e) + c01[k][t] * (s * wx)) + c10[k][t] * (wy * e)) + c11[k][t] * (wy * wx);
    }
  }
}

template <typename T>
void run(const T* field, int64_t H, int64_t W, const T* base, const T* state, double sign,
         bool extended, const T* wave, int64_t h, int64_t w, double cell, T* out, int64_t P) {
  const int64_t HW = H * W, hw = h * w;
  const T sg = static_cast<T>(sign);
  const T fw = static_cast<T>(W), fh = static_cast<T>(H);
  const double inv_cell = 1.0 / cell;
  const int32_t W32 = static_cast<int32_t>(W), H32 = static_cast<int32_t>(H);
  const int32_t w32 = static_cast<int32_t>(w), h32 = static_cast<int32_t>(h);
  at::parallel_for(0, (P + kB - 1) / kB, 128, [&](int64_t b0, int64_t b1) {
    Taps<T> tf, tw;
    alignas(64) T px[kB], py[kB], keep[kB], fv[3 * kB], ov[2 * kB];
    T *vx = fv, *vy = fv + kB, *amp = fv + 2 * kB, *ox = ov, *oy = ov + kB;
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t p0 = blk * kB;
      const int m = static_cast<int>(std::min<int64_t>(kB, P - p0));
      const T* bp = base + 2 * p0;
      const T* sp = state ? state + 2 * p0 : nullptr;
      for (int t = 0; t < m; ++t) {
        px[t] = sp ? bp[2 * t] + sp[2 * t] : bp[2 * t];
        py[t] = sp ? bp[2 * t + 1] + sp[2 * t + 1] : bp[2 * t + 1];
      }
#pragma omp simd
      for (int t = 0; t < m; ++t) {
        const bool in = extended | ((px[t] >= T(0)) & (px[t] <= fw) & (py[t] >= T(0)) & (py[t] <= fh));
        keep[t] = in ? T(1) : T(0);
        int32_t x0, y0;
        axis_corners(px[t] - T(0.5), W32, x0, tf.dx[t], tf.wx[t]);
        axis_corners(py[t] - T(0.5), H32, y0, tf.dy[t], tf.wy[t]);
        tf.q[t] = y0 * W32 + x0;
        tf.dy[t] *= W32;
      }
      if (wave != nullptr)
        sample_planes<3>(field, HW, tf, m, fv);
      else
        sample_planes<2>(field, HW, tf, m, fv);
      if (wave != nullptr) {
#pragma omp simd
        for (int t = 0; t < m; ++t) {
          int32_t u0, v0;
          axis_corners(static_cast<T>(static_cast<double>(px[t]) * inv_cell - 0.5), w32, u0, tw.dx[t], tw.wx[t]);
          axis_corners(static_cast<T>(static_cast<double>(py[t]) * inv_cell - 0.5), h32, v0, tw.dy[t], tw.wy[t]);
          tw.q[t] = v0 * w32 + u0;
          tw.dy[t] *= w32;
        }
        sample_planes<2>(wave, hw, tw, m, ov);
#pragma omp simd
        for (int t = 0; t < m; ++t) {
          vx[t] = vx[t] + amp[t] * ox[t];
          vy[t] = vy[t] + amp[t] * oy[t];
        }
      }
      T* o = out + 2 * p0;
      for (int t = 0; t < m; ++t) {  // 0 outside (not a product: an infinite value stays out)
        const T ux = keep[t] != T(0) ? vx[t] : T(0), uy = keep[t] != T(0) ? vy[t] : T(0);
        o[2 * t] = sp ? sp[2 * t] + sg * ux : ux;
        o[2 * t + 1] = sp ? sp[2 * t + 1] + sg * uy : uy;
      }
    }
  });
}

void check_positions(const at::Tensor& t, const at::Tensor& field, const char* name, int64_t P) {
  TORCH_CHECK(t.dim() == 2 && t.size(1) == 2 && (P < 0 || t.size(0) == P), "flow_step: ", name,
              " must be (P, 2)", P >= 0 ? " with the positions' P" : "", ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == field.scalar_type() && t.device().is_cpu() && t.is_contiguous(),
              "flow_step: ", name, " must be a contiguous CPU tensor of the field's dtype (", field.scalar_type(),
              "), got ", t.scalar_type(), t.is_contiguous() ? "" : " (not contiguous)");
}

}  // namespace

at::Tensor flow_step_cpu(const at::Tensor& field, const at::Tensor& positions, const c10::optional<at::Tensor>& state,
                         double sign, bool extended, const c10::optional<at::Tensor>& wave, double cell,
                         const c10::optional<at::Tensor>& out) {
  TORCH_CHECK(field.dim() == 3 && (field.size(0) == 2 || field.size(0) == 3) && field.size(1) > 0 &&
                  field.size(2) > 0,
              "flow_step: field must be (2, H, W) or, with a wave grid, (3, H, W), got ", field.sizes());
  TORCH_CHECK(field.scalar_type() == at::kFloat || field.scalar_type() == at::kDouble,
              "flow_step: field must be float32 or float64, got ", field.scalar_type());
  TORCH_CHECK(field.device().is_cpu() && field.is_contiguous(), "flow_step: field must be a contiguous CPU tensor");
  TORCH_CHECK(field.size(1) * field.size(2) < (int64_t(1) << 31), "flow_step: field must have fewer than 2^31 "
              "pixels, got ", field.size(1), " x ", field.size(2));
  check_positions(positions, field, "positions", -1);
  const int64_t P = positions.size(0);
  const at::Tensor st = state.has_value() ? *state : at::Tensor();
  if (st.defined()) check_positions(st, field, "state", P);
  const at::Tensor wv = wave.has_value() ? *wave : at::Tensor();
  TORCH_CHECK(wv.defined() == (field.size(0) == 3), "flow_step: a (3, H, W) field (mean flow and turbulence "
              "amplitude) needs the wave grid and a (2, H, W) field none; got field ", field.sizes(), " and ",
              wv.defined() ? "a wave grid" : "no wave grid");
  if (wv.defined()) {
    TORCH_CHECK(wv.dim() == 3 && wv.size(0) == 2 && wv.size(1) > 0 && wv.size(2) > 0 &&
                    wv.scalar_type() == field.scalar_type() && wv.device().is_cpu() && wv.is_contiguous(),
                "flow_step: wave must be a contiguous (2, h, w) CPU tensor of the field's dtype, got ", wv.sizes(),
                " ", wv.scalar_type());
    TORCH_CHECK(wv.size(1) * wv.size(2) < (int64_t(1) << 31), "flow_step: wave grid too large: ", wv.sizes());
    TORCH_CHECK(std::isfinite(cell) && cell > 0, "flow_step: cell must be a finite size > 0 in pixels, got ", cell);
  }
  TORCH_CHECK(sign == 1.0 || sign == -1.0, "flow_step: sign must be 1 or -1, got ", sign);
  at::Tensor result = out.has_value() ? *out : at::empty({P, 2}, positions.options());
  if (out.has_value()) check_positions(result, field, "out", P);
  AT_DISPATCH_FLOATING_TYPES(field.scalar_type(), "flow_step", [&] {
    const scalar_t* wp = wv.defined() ? wv.data_ptr<scalar_t>() : nullptr;
    run<scalar_t>(field.data_ptr<scalar_t>(), field.size(1), field.size(2),
                  positions.data_ptr<scalar_t>(), st.defined() ? st.data_ptr<scalar_t>() : nullptr, sign, extended, wp,
                  wv.defined() ? wv.size(1) : 0, wv.defined() ? wv.size(2) : 0, cell, result.data_ptr<scalar_t>(), P);
  });
  return result;
}

}  // namespace prep
}  // namespace cg3d
