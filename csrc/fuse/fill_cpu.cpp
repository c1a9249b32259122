// Hole filling of a fused frame in one native pass (CPU).
//
// Reference: cinemagraph3d/render/fuse.py, fill_holes (and ops.push_pull / _pull, _upsample_at):
// every pixel with coverage alpha < 1 is composited over a fill, out = lerp(fill, x, alpha). With
// a depth map the fill of a partly covered pixel (or an empty one next to a covered one) is the
// 3x3 mean of the covered neighbours weighted by alpha * exp(-beta z_min / z) (the far side wins
// across an occlusion edge); the other empty pixels take a push-pull pyramid built from half
// resolution. The torch version computes the 3x3 sums and the whole pyramid over the full frame
// with ~40 operations; here the 3x3 sums are taken only at the holes, in the reference's order of
// additions, and the pyramid only when some pixel needs it. exp is the C library's and the
// pyramid's bilinear weights are recomputed, so values agree with the reference within a stated
// tolerance (tests/test_fill_native.py), not bit for bit; fully covered pixels are returned as
// they are.
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
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t c0 = 2 * j, c1 = std::min(2 * j + 2, w);
        T s = T(0);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) s += m ? p[r * w + c] * m[r * w + c] : p[r * w + c];
        dst[(k * oh + i) * ow + j] = s / static_cast<T>((r1 - r0) * (c1 - c0));
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

template <typename T>
void run(const at::Tensor& features, const at::Tensor& alpha, const at::Tensor& depth, double far_bias,
         at::Tensor& result) {
  const int64_t C = features.size(0), H = features.size(1), W = features.size(2), HW = H * W;
  const T* x = features.data_ptr<T>();
  const T* a = alpha.data_ptr<T>();
  const T* z = depth.defined() ? depth.data_ptr<T>() : nullptr;
  T* o = result.data_ptr<T>();
  std::memcpy(o, x, sizeof(T) * C * HW);
  // the holes, row by row (in raster order, so the work splits deterministically)
  std::vector<int64_t> holes;
  for (int64_t q = 0; q < HW; ++q)
    if (a[q] < T(1)) holes.push_back(q);
  const int64_t n = static_cast<int64_t>(holes.size());
  if (n == 0) return;
  std::vector<T> up(static_cast<size_t>(C * n));
  std::vector<uint8_t> need_pyramid(static_cast<size_t>(n), 1);
  bool any_pyramid = true;
  if (z && far_bias != 0.0) {
    T zmin = std::numeric_limits<T>::infinity();
    for (int64_t q = 0; q < HW; ++q)
      if (a[q] > T(0) && z[q] < zmin) zmin = z[q];
    if (std::isfinite(zmin) && zmin > T(0)) {
      // b a = alpha exp(-zr / z) (zr = beta z_min; exp(0) = 1 where nothing landed), as
      // surface_weight(a, normalised_disparity(z, 0, 1 / zr), -1)
      const T zr = static_cast<T>(1.0 / (1.0 / (far_bias * static_cast<double>(zmin))));
      // the weights and the weighted features, summed along each row (box3_sum's first pass:
      // (left + centre) + right), for the whole frame; the second pass only at the holes
      std::vector<T> hs(static_cast<size_t>((C + 1) * HW));
      at::parallel_for(0, H, 8, [&](int64_t b, int64_t e) {
        std::vector<T> row(static_cast<size_t>((C + 1) * W));
        for (int64_t i = b; i < e; ++i) {
          for (int64_t j = 0; j < W; ++j) {
            const int64_t q = i * W + j;
            T w = T(0);
            if (a[q] != T(0)) {
              const T d = z[q] > T(0) ? zr / (z[q] < T(1e-12) ? T(1e-12) : z[q]) : T(0);
              w = a[q] * std::exp(-d);
            }
            row[C * W + j] = w;
            for (int64_t c = 0; c < C; ++c) row[c * W + j] = x[c * HW + q] * w;
          }
          for (int64_t k = 0; k <= C; ++k) {
            const T* r = row.data() + k * W;
            T* dst = hs.data() + k * HW + i * W;
            for (int64_t j = 0; j < W; ++j) {
              T v = j > 0 ? r[j - 1] + r[j] : r[j];
              if (j + 1 < W) v += r[j + 1];
              dst[j] = v;
            }
          }
        }
      });
      std::vector<uint8_t> pyr_flag(static_cast<size_t>(n), 0);
      at::parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
          const int64_t q = holes[k], i = q / W;
          auto col = [&](int64_t plane) {  // (above + middle) + below
            const T* h = hs.data() + plane * HW;
            T v = i > 0 ? h[q - W] + h[q] : h[q];
            if (i + 1 < H) v += h[q + W];
            return v;
          };
          const T den = col(C);
          const T dd = den < T(1e-30) ? T(1e-30) : den;
          for (int64_t c = 0; c < C; ++c) up[c * n + k] = col(c) / dd;
          pyr_flag[k] = den <= T(0);
        }
      });
      need_pyramid = std::move(pyr_flag);
      any_pyramid = std::any_of(need_pyramid.begin(), need_pyramid.end(), [](uint8_t f) { return f != 0; });
    }
  }
  if (any_pyramid) {
    // half resolution of [x a, a], then the push-pull pyramid on it
    Level<T> half = pool<T>(x, C + 1, H, W, a);
    const int64_t hh = half.h, hw = half.w;
    const std::vector<T> coarse = pull<T>(std::move(half), C);
    at::parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        if (!need_pyramid[k]) continue;
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
