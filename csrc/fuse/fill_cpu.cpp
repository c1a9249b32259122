// Hole filling of a fused frame in one native pass (CPU).
//
// Reference: cinemagraph3d/render/fuse.py, fill_holes (and ops.push_pull / _pull, _upsample_at):
// every pixel with coverage alpha < 1 is composited over a fill, out = lerp(fill, x, alpha). With
// a depth map the fill of a partly covered pixel (or an empty one next to a covered one) is the
// 3x3 mean of the covered neighbours weighted by alpha * exp(-beta z_min / z) (the far side wins
// across an occlusion edge); the other empty pixels take a push-pull pyramid built from half
// resolution. The torch version computes the 3x3 sums and the whole pyramid over the full frame
// with ~40 operations; here, with a depth map, each block of 32 rows is filled in one pass over
// whole rows (the row sums of its rows and one more on each side kept in cache, exp only at the
// pixels a hole's 3x3 sums read, every loop without branches so that it vectorises; the sums in
// the reference's order of additions), and the pyramid is built only when some hole has no
// weighted neighbour (or without a depth map). exp is the C library's and the pyramid's bilinear
// weights are recomputed, so values agree with the reference within a stated tolerance
// (tests/test_fill_native.py), not bit for bit; fully covered pixels are returned as they are.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fuse/fuse.h"

namespace cg3d {
namespace fuse {
namespace {

// One level of the pyramid: K planes of h x w.
template <typename T>
struct Level {
  int64_t h = 0, w = 0;
  std::vector<T> v;  // K * h * w
};

// One output row of 2x2 average pooling over full windows (input rows p0, p1, times m0, m1 when
// given): the window's four values added in raster order, then divided by 4.
template <typename T>
void pool_row(const T* __restrict p0, const T* __restrict p1, const T* __restrict m0, const T* __restrict m1,
              T* __restrict dst, int64_t n) {
  if (m0) {
    for (int64_t j = 0; j < n; ++j) {
      T s = p0[2 * j] * m0[2 * j];
      s += p0[2 * j + 1] * m0[2 * j + 1];
      s += p1[2 * j] * m1[2 * j];
      s += p1[2 * j + 1] * m1[2 * j + 1];
      dst[j] = s / T(4);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) {
      T s = p0[2 * j];
      s += p0[2 * j + 1];
      s += p1[2 * j];
      s += p1[2 * j + 1];
      dst[j] = s / T(4);
    }
  }
}

// 2x2 average pooling with ceil mode (edge windows average their valid pixels), as
// F.avg_pool2d(x, 2, ceil_mode=True).
template <typename T>
Level<T> pool(const T* src, int64_t K, int64_t h, int64_t w, const T* premultiply = nullptr) {
  Level<T> out;
  out.h = (h + 1) / 2;
  out.w = (w + 1) / 2;
  out.v.resize(static_cast<size_t>(K * out.h * out.w));
  const int64_t oh = out.h, ow = out.w;
  T* dst = out.v.data();
  at::parallel_for(0, K * oh, 16, [&](int64_t b, int64_t e) {
    for (int64_t ki = b; ki < e; ++ki) {
      const int64_t k = ki / oh, i = ki % oh;
      // premultiply (alpha): planes 0..K-2 of src times it, plane K-1 the alpha itself
      const T* p = premultiply && k == K - 1 ? premultiply : src + k * h * w;
      const T* m = premultiply && k < K - 1 ? premultiply : nullptr;
      const int64_t r0 = 2 * i, r1 = std::min(2 * i + 2, h);
      T* out_row = dst + (k * oh + i) * ow;
      int64_t j = 0;
      if (r1 - r0 == 2) {  // full windows: all but an odd last column
        j = w / 2;
        pool_row(p + r0 * w, p + (r0 + 1) * w, m ? m + r0 * w : nullptr, m ? m + (r0 + 1) * w : nullptr, out_row, j);
      }
      for (; j < ow; ++j) {
        const int64_t c0 = 2 * j, c1 = std::min(2 * j + 2, w);
        T s = T(0);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) s += m ? p[r * w + c] * m[r * w + c] : p[r * w + c];
        out_row[j] = s / static_cast<T>((r1 - r0) * (c1 - c0));
      }
    }
  });
  return out;
}

// torch.lerp's formula: start + weight (end - start) for weight < 1/2, else end - (end - start)(1 - weight)
template <typename T>
inline T lerp(T start, T end, T weight) {
  return weight < T(0.5) ? start + weight * (end - start) : end - (end - start) * (T(1) - weight);
}

// Source index and weight of bilinear upsampling from n_in to n_out samples (align_corners=False).
template <typename T>
inline void source(int64_t i, int64_t n_in, int64_t n_out, int64_t& i0, int64_t& i1, T& f) {
  const T scale = static_cast<T>(n_in) / static_cast<T>(n_out);
  T s = (static_cast<T>(i) + T(0.5)) * scale - T(0.5);
  s = s < T(0) ? T(0) : s;
  i0 = std::min<int64_t>(static_cast<int64_t>(s), n_in - 1);
  i1 = std::min<int64_t>(i0 + 1, n_in - 1);
  f = s - static_cast<T>(i0);
}

// The push-pull fill of the premultiplied half-resolution level [v w, w] (C + 1 planes): the
// (C, h, w) filled values (ops._pull).
template <typename T>
std::vector<T> pull(Level<T> base, int64_t C) {
  std::vector<Level<T>> pyr;
  pyr.push_back(std::move(base));
  while (std::min(pyr.back().h, pyr.back().w) > 1) {
    const Level<T>& l = pyr.back();
    Level<T> nxt = pool<T>(l.v.data(), C + 1, l.h, l.w);
    pyr.push_back(std::move(nxt));
  }
  std::vector<T> out;
  int64_t oh = 0, ow = 0;
  for (auto it = pyr.rbegin(); it != pyr.rend(); ++it) {
    const int64_t h = it->h, w = it->w, n = h * w;
    const T* v = it->v.data();
    const T* wt = v + C * n;
    std::vector<T> cur(static_cast<size_t>(C * n));
    if (out.empty()) {
      for (int64_t c = 0; c < C; ++c)
        for (int64_t q = 0; q < n; ++q) {
          const T ww = wt[q];
          cur[c * n + q] = ww > T(0) ? v[c * n + q] / (ww < T(1e-12) ? T(1e-12) : ww) : T(0);
        }
    } else {
      const std::vector<T>& up = out;
      at::parallel_for(0, h, 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          int64_t r0, r1;
          T fr;
          source<T>(i, oh, h, r0, r1, fr);
          for (int64_t j = 0; j < w; ++j) {
            const int64_t q = i * w + j;
            const T ww = wt[q];
            int64_t c0 = 0, c1 = 0;
            T fc = T(0);
            if (ww < T(1)) source<T>(j, ow, w, c0, c1, fc);
            for (int64_t c = 0; c < C; ++c) {
              const T val = v[c * n + q] / (ww < T(1e-12) ? T(1e-12) : ww);
              if (ww >= T(1)) {
                cur[c * n + q] = val;
                continue;
              }
              const T* u = up.data() + c * oh * ow;
              const T top = (T(1) - fc) * u[r0 * ow + c0] + fc * u[r0 * ow + c1];
              const T bot = (T(1) - fc) * u[r1 * ow + c0] + fc * u[r1 * ow + c1];
              const T upv = (T(1) - fr) * top + fr * bot;
              cur[c * n + q] = lerp(upv, val, ww > T(1) ? T(1) : ww);
            }
          }
        }
      });
    }
    out = std::move(cur);
    oh = h;
    ow = w;
  }
  return out;
}

// Row kernels of the dense path below (restrict pointers and no branches: they vectorise).

// the far side's weights b a = alpha exp(-zr / z) of one row where `need` (0 elsewhere: those
// pixels feed no hole's 3x3 sums), and the weighted features
template <typename T>
void row_weights(const T* __restrict a, const T* __restrict z, const uint8_t* __restrict need, T* __restrict wt,
                 int64_t W, T zr) {
  for (int64_t j = 0; j < W; ++j) {
    const T zz = z[j];
    const T d = zr / (zz < T(1e-12) ? T(1e-12) : zz);
    wt[j] = zz > T(0) ? d : T(0);  // the disparity; exp below
  }
  for (int64_t j = 0; j < W; ++j)  // exp only where it is read (not vectorised)
    wt[j] = need[j] && a[j] != T(0) ? a[j] * std::exp(-wt[j]) : T(0);
}

template <typename T>
void row_product(const T* __restrict x, const T* __restrict w, T* __restrict out, int64_t W) {
  for (int64_t j = 0; j < W; ++j) out[j] = x[j] * w[j];
}

// box3_sum's first pass along a row: (left + centre) + right
template <typename T>
void row_sum3(const T* __restrict r, T* __restrict dst, int64_t W) {
  if (W == 1) {
    dst[0] = r[0];
    return;
  }
  dst[0] = r[0] + r[1];
  for (int64_t j = 1; j + 1 < W; ++j) dst[j] = (r[j - 1] + r[j]) + r[j + 1];
  dst[W - 1] = r[W - 2] + r[W - 1];
}

// the second pass: (above + middle) + below (either may be missing at the frame's edge)
template <typename T>
void col_sum3(const T* __restrict up, const T* __restrict mid, const T* __restrict down, T* __restrict dst,
              int64_t W) {
  if (up && down)
    for (int64_t j = 0; j < W; ++j) dst[j] = (up[j] + mid[j]) + down[j];
  else if (up)
    for (int64_t j = 0; j < W; ++j) dst[j] = up[j] + mid[j];
  else if (down)
    for (int64_t j = 0; j < W; ++j) dst[j] = mid[j] + down[j];
  else
    for (int64_t j = 0; j < W; ++j) dst[j] = mid[j];
}

// one channel of the output row: lerp(sum / den, x, alpha) at the holes (alpha < 1)
template <typename T>
void row_composite(const T* __restrict sum, const T* __restrict den, const T* __restrict x, const T* __restrict a,
                   T* __restrict o, int64_t W) {
  for (int64_t j = 0; j < W; ++j) {
    const T dd = den[j] < T(1e-30) ? T(1e-30) : den[j];
    const T up = sum[j] / dd;
    const T v = lerp(up, x[j], a[j]);
    o[j] = a[j] < T(1) ? v : x[j];
  }
}

template <typename T>
void run(const at::Tensor& features, const at::Tensor& alpha, const at::Tensor& depth, double far_bias,
         at::Tensor& result) {
  const int64_t C = features.size(0), H = features.size(1), W = features.size(2), HW = H * W;
  const T* x = features.data_ptr<T>();
  const T* a = alpha.data_ptr<T>();
  const T* z = depth.defined() ? depth.data_ptr<T>() : nullptr;
  T* o = result.data_ptr<T>();
  // the nearest covered depth: with a depth map the holes are filled from their 3x3 neighbours,
  // the far side preferred (b a = alpha exp(-zr / z), zr = beta z_min; exp(0) = 1 where nothing
  // landed), as surface_weight(a, normalised_disparity(z, 0, 1 / zr), -1)
  T zmin = std::numeric_limits<T>::infinity();
  if (z && far_bias != 0.0) {  // kL running minima side by side (they vectorise), then their minimum
    constexpr int64_t kL = 16;
    const T inf = std::numeric_limits<T>::infinity();
    T m[kL];
    std::fill(m, m + kL, inf);
    int64_t q = 0;
    for (; q + kL <= HW; q += kL)
      for (int64_t l = 0; l < kL; ++l) {
        const T zq = a[q + l] > T(0) ? z[q + l] : inf;
        m[l] = zq < m[l] ? zq : m[l];
      }
    for (; q < HW; ++q) {
      const T zq = a[q] > T(0) ? z[q] : inf;
      m[0] = zq < m[0] ? zq : m[0];
    }
    for (int64_t l = 0; l < kL; ++l) zmin = m[l] < zmin ? m[l] : zmin;
  }
  std::vector<int64_t> holes;  // the holes that the pyramid fills, in raster order
  if (z && far_bias != 0.0 && std::isfinite(zmin) && zmin > T(0)) {
    // dense rows: every pixel of a row at once, the holes selected at the end; a hole whose 3x3
    // neighbourhood holds no weight (den <= 0) is left to the pyramid
    const T zr = static_cast<T>(1.0 / (1.0 / (far_bias * static_cast<double>(zmin))));
    const int64_t K = C + 1;
    constexpr int64_t kRows = 32;  // rows per block: the block's row sums stay in cache
    const int64_t nblk = (H + kRows - 1) / kRows;
    std::vector<std::vector<int64_t>> pyr(static_cast<size_t>(nblk));
    at::parallel_for(0, nblk, 1, [&](int64_t b, int64_t e) {
      std::vector<uint8_t> hole(static_cast<size_t>(W)), need(static_cast<size_t>(W));
      std::vector<T> wrow(static_cast<size_t>(W)), prod(static_cast<size_t>(W));
      std::vector<T> hs(static_cast<size_t>((kRows + 2) * K * W));  // row sums of rows r0-1 .. r1
      std::vector<T> col(static_cast<size_t>(K * W));
      for (int64_t blk = b; blk < e; ++blk) {
        const int64_t r0 = blk * kRows, r1 = std::min(H, r0 + kRows);
        const int64_t s0 = std::max<int64_t>(0, r0 - 1), s1 = std::min(H, r1 + 1);
        for (int64_t i = s0; i < s1; ++i) {
          // need: within one pixel of a hole (rows i-1 .. i+1, columns j-1 .. j+1)
          uint8_t* hr = hole.data();
          std::fill(hr, hr + W, uint8_t(0));
          for (int64_t ii = std::max<int64_t>(0, i - 1); ii <= std::min(H - 1, i + 1); ++ii) {
            const T* ar = a + ii * W;
            for (int64_t j = 0; j < W; ++j) hr[j] |= static_cast<uint8_t>(ar[j] < T(1));
          }
          for (int64_t j = 0; j < W; ++j)
            need[j] = hr[j] | (j > 0 ? hr[j - 1] : uint8_t(0)) | (j + 1 < W ? hr[j + 1] : uint8_t(0));
          row_weights(a + i * W, z + i * W, need.data(), wrow.data(), W, zr);
          T* h = hs.data() + (i - s0) * K * W;
          for (int64_t c = 0; c < C; ++c) {
            row_product(x + c * HW + i * W, wrow.data(), prod.data(), W);
            row_sum3(prod.data(), h + c * W, W);
          }
          row_sum3(wrow.data(), h + C * W, W);
        }
        for (int64_t i = r0; i < r1; ++i) {
          const T* ar = a + i * W;
          bool any = false;
          for (int64_t j = 0; j < W; ++j) any |= ar[j] < T(1);
          if (!any) {  // no hole: the row as it is
            for (int64_t c = 0; c < C; ++c) std::memcpy(o + c * HW + i * W, x + c * HW + i * W, sizeof(T) * W);
            continue;
          }
          const T* mid = hs.data() + (i - s0) * K * W;
          const T* up = i > 0 ? mid - K * W : nullptr;
          const T* down = i + 1 < H ? mid + K * W : nullptr;
          for (int64_t k = 0; k < K; ++k)
            col_sum3(up ? up + k * W : nullptr, mid + k * W, down ? down + k * W : nullptr, col.data() + k * W, W);
          const T* den = col.data() + C * W;
          for (int64_t c = 0; c < C; ++c)
            row_composite(col.data() + c * W, den, x + c * HW + i * W, ar, o + c * HW + i * W, W);
          for (int64_t j = 0; j < W; ++j)
            if (ar[j] < T(1) && den[j] <= T(0)) pyr[blk].push_back(i * W + j);
        }
      }
    });
    for (auto& v : pyr) holes.insert(holes.end(), v.begin(), v.end());
  } else {
    std::memcpy(o, x, sizeof(T) * C * HW);
    for (int64_t q = 0; q < HW; ++q)
      if (a[q] < T(1)) holes.push_back(q);
  }
  const int64_t n = static_cast<int64_t>(holes.size());
  if (n == 0) return;
  std::vector<T> up(static_cast<size_t>(C * n));
  {
    // half resolution of [x a, a], then the push-pull pyramid on it
    Level<T> half = pool<T>(x, C + 1, H, W, a);
    const int64_t hh = half.h, hw = half.w;
    const std::vector<T> coarse = pull<T>(std::move(half), C);
    at::parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t q = holes[k], i = q / W, j = q % W;
        int64_t r0, r1, c0, c1;
        T fr, fc;
        source<T>(i, hh, H, r0, r1, fr);
        source<T>(j, hw, W, c0, c1, fc);
        for (int64_t c = 0; c < C; ++c) {
          const T* u = coarse.data() + c * hh * hw;
          const T top = u[r0 * hw + c0] * (T(1) - fc) + u[r0 * hw + c1] * fc;
          const T bot = u[r1 * hw + c0] * (T(1) - fc) + u[r1 * hw + c1] * fc;
          up[c * n + k] = top * (T(1) - fr) + bot * fr;
        }
      }
    });
  }
  at::parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t q = holes[k];
      for (int64_t c = 0; c < C; ++c) o[c * HW + q] = lerp(up[c * n + k], x[c * HW + q], a[q]);
    }
  });
}

}  // namespace

at::Tensor fill_holes_cpu(const at::Tensor& features, const at::Tensor& alpha, const c10::optional<at::Tensor>& depth,
                          double far_bias) {
  TORCH_CHECK(features.dim() == 3 && features.device().is_cpu() && features.is_contiguous(),
              "fill_holes: features must be a contiguous (C, H, W) CPU tensor, got ", features.sizes());
  const auto dt = features.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble, "fill_holes: features must be float32 or float64");
  const int64_t C = features.size(0), H = features.size(1), W = features.size(2);
  TORCH_CHECK(C <= 64, "fill_holes: at most 64 channels natively, got ", C);
  check_map(alpha, 1, H, W, dt, "alpha", "fill_holes");
  at::Tensor z = depth.has_value() ? *depth : at::Tensor();
  if (z.defined()) check_map(z, 1, H, W, dt, "depth", "fill_holes");
  TORCH_CHECK(std::isfinite(far_bias) && far_bias >= 0, "fill_holes: far_bias must be finite and >= 0");
  at::Tensor out = at::empty_like(features);
  AT_DISPATCH_FLOATING_TYPES(dt, "fill_holes", [&] { run<scalar_t>(features, alpha, z, far_bias, out); });
  return out;
}

}  // namespace fuse
}  // namespace cg3d
