// The "dissolve" fusion of the forward and backward splats in one native pass (CPU).
//
// Reference: cinemagraph3d/render/fuse.py, fuse_bidirectional (method "dissolve") and
// _restore_detail: ~60 element-wise torch operations over the bounding box of the pixels where
// the two splats differ, each a pass over memory. Here the per-pixel weights are computed once,
// the two coverage-normalised low passes and the three detail statistics are box sums by running
// sums along each axis, and every output pixel is written once. The multi-band blend's coarser
// low passes are box sums on a grid band_decimation times coarser (block sums aligned to the
// frame, read beyond the moving box), interpolated bilinearly at the box's pixels.
//
// The per-pixel arithmetic follows the reference's order of operations in the splats' precision;
// the box sums accumulate in double (the reference's float32 cumulative sums drift by ~1e-7 of
// the running total, which at 1280 columns is a few 1e-5 of a pixel's value), and exp / sqrt are
// the C library's (torch's vectorised ones may differ by one unit in the last place). The outputs
// therefore agree with the reference within a stated tolerance (tests/test_fuse_native.py), not
// bit for bit; pixels where the two splats are identical are the forward splat's, bit for bit,
// and so are all pixels outside the box.
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

// Scratch memory kept between calls (one frame after another needs the same sizes): fresh buffers
// of ~100 MB per 720p frame would cost tens of thousands of page faults and a zeroing pass each.
template <typename T>
T* scratch(std::vector<T>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) {
    buf.clear();
    buf.shrink_to_fit();
    buf.resize(static_cast<size_t>(n));
  }
  return buf.data();
}

template <typename T>
struct Scratch {
  std::vector<T> tmp, nf, nb, pre, stats, bands, acc, blk, btmp, blo, tapx;
  std::vector<int64_t> tapi;
  std::vector<uint8_t> same;
};

// (K, h, w) planes at stride `stride` (a plane's pixel (y, x) at y * stride + x) -> (K, h, w)
// box sums of radius r, zero outside the h x w window, written densely into out (K * h * w; it
// may be the planes themselves when they lie densely in one buffer: the second pass reads tmp).
template <typename T>
void box_sums(const std::vector<const T*>& planes, int64_t stride, int64_t h, int64_t w, int r, T* tmp, T* out) {
  const int64_t K = static_cast<int64_t>(planes.size());
  // along rows
  at::parallel_for(0, K * h, 64, [&](int64_t b, int64_t e) {
    for (int64_t ky = b; ky < e; ++ky) {
      const int64_t k = ky / h, y = ky % h;
      const T* src = planes[k] + y * stride;
      T* dst = tmp + ky * w;
      double s = 0.0;
      for (int64_t x = 0; x <= std::min<int64_t>(r, w - 1); ++x) s += src[x];
      for (int64_t x = 0; x < w; ++x) {
        dst[x] = static_cast<T>(s);
        if (x + r + 1 < w) s += src[x + r + 1];
        if (x - r >= 0) s -= src[x - r];
      }
    }
  });
  // along columns, one accumulator row per (plane, column block)
  const int64_t block = 256;
  const int64_t nblk = (w + block - 1) / block;
  at::parallel_for(0, K * nblk, 1, [&](int64_t b, int64_t e) {
    std::vector<double> acc(block);
    for (int64_t kb = b; kb < e; ++kb) {
      const int64_t k = kb / nblk, x0 = (kb % nblk) * block, x1 = std::min(w, x0 + block), n = x1 - x0;
      const T* src = tmp + k * h * w;
      T* dst = out + k * h * w;
      std::fill(acc.begin(), acc.begin() + n, 0.0);
      for (int64_t y = 0; y <= std::min<int64_t>(r, h - 1); ++y)
        for (int64_t x = 0; x < n; ++x) acc[x] += src[y * w + x0 + x];
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < n; ++x) dst[y * w + x0 + x] = static_cast<T>(acc[x]);
        if (y + r + 1 < h)
          for (int64_t x = 0; x < n; ++x) acc[x] += src[(y + r + 1) * w + x0 + x];
        if (y - r >= 0)
          for (int64_t x = 0; x < n; ++x) acc[x] -= src[(y - r) * w + x0 + x];
      }
    }
  });
}

template <typename T>
void run(const at::Tensor& fF, const at::Tensor& fD, const at::Tensor& fA, const at::Tensor& bF,
         const at::Tensor& bD, const at::Tensor& bA, const at::Tensor& pf, const at::Tensor& pb, const Params& prm,
         at::Tensor& oF, at::Tensor& oD, at::Tensor& oA) {
  const int64_t C = fF.size(0), H = fF.size(1), W = fF.size(2), HW = H * W;
  const T* xf = fF.data_ptr<T>();
  const T* xb = bF.data_ptr<T>();
  const T* zf = fD.data_ptr<T>();
  const T* zb = bD.data_ptr<T>();
  const T* af = fA.data_ptr<T>();
  const T* ab = bA.data_ptr<T>();
  const T* phf = pf.data_ptr<T>();
  const T* phb = pb.defined() ? pb.data_ptr<T>() : nullptr;
  T* of = oF.data_ptr<T>();
  T* od = oD.data_ptr<T>();
  T* oa = oA.data_ptr<T>();
  std::memcpy(of, xf, sizeof(T) * C * HW);
  std::memcpy(od, zf, sizeof(T) * HW);
  std::memcpy(oa, af, sizeof(T) * HW);
  // 1. where the splats differ, and the bounding box of those pixels
  static thread_local Scratch<T> mem;
  uint8_t* same = scratch(mem.same, HW);
  const int nt = std::max(1, at::get_num_threads());
  std::vector<int64_t> lo_i(nt, H), hi_i(nt, -1), lo_j(nt, W), hi_j(nt, -1);
  at::parallel_for(0, H, 16, [&](int64_t b, int64_t e) {
    const int tid = at::get_thread_num();
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < W; ++j) {
        const int64_t q = i * W + j;
        bool s = zf[q] == zb[q] && af[q] == ab[q];
        for (int64_t c = 0; c < C && s; ++c) s = xf[c * HW + q] == xb[c * HW + q];
        same[q] = s;
        if (!s) {
          lo_i[tid] = std::min(lo_i[tid], i);
          hi_i[tid] = std::max(hi_i[tid], i);
          lo_j[tid] = std::min(lo_j[tid], j);
          hi_j[tid] = std::max(hi_j[tid], j);
        }
      }
  });
  int64_t mi = H, Mi = -1, mj = W, Mj = -1;
  for (int t = 0; t < nt; ++t) {
    mi = std::min(mi, lo_i[t]);
    Mi = std::max(Mi, hi_i[t]);
    mj = std::min(mj, lo_j[t]);
    Mj = std::max(Mj, hi_j[t]);
  }
  if (Mi < 0) return;  // identical splats: the forward one
  const int64_t L = static_cast<int64_t>(prm.band_radii.size());
  const int64_t NB = prm.band_widths.empty() ? 0 : L + 1;  // coarser bands (multi-band blend)
  // the coarser bands' low passes read the frame beyond the box themselves (2b)
  const int64_t pad = prm.detail_radius + prm.stats_radius + 1;
  const int64_t i0 = std::max<int64_t>(0, mi - pad), j0 = std::max<int64_t>(0, mj - pad);
  const int64_t i1 = std::min<int64_t>(H, Mi + pad + 1), j1 = std::min<int64_t>(W, Mj + pad + 1);
  const int64_t h = i1 - i0, w = j1 - j0, n = h * w;
  const int64_t off = i0 * W + j0;  // the box's first pixel in the full frame
  // 2. per pixel of the box: the normalised weights nf, nb and the premultiplied planes
  T* nfw = scratch(mem.nf, n);
  T* nbw = scratch(mem.nb, n);
  T* pre = scratch(mem.pre, 2 * (C + 1) * n);
  // the coarser bands' normalised weights: band j's (nf, nb) at planes 2j, 2j + 1
  T* bw = NB ? scratch(mem.bands, 2 * NB * n) : nullptr;
  const T d0 = static_cast<T>(prm.width);
  const T tau = static_cast<T>(prm.tau), width = static_cast<T>(prm.width), a = static_cast<T>(prm.depth_weight);
  const T zref = static_cast<T>(prm.zref), eps = static_cast<T>(prm.eps);
  const T r0 = static_cast<T>(prm.occlusion_ratio), ramp = static_cast<T>(prm.ramp);
  const bool occl = std::isfinite(prm.occlusion_ratio);
  auto disp = [&](T z) {
    T d = z > T(0) ? zref / (z < T(1e-12) ? T(1e-12) : z) : T(0);
    return d > T(4) ? T(4) : d;
  };
  auto clamp01 = [](T v) { return v < T(0) ? T(0) : (v > T(1) ? T(1) : v); };
  at::parallel_for(0, h, 16, [&](int64_t b, int64_t e) {
    for (int64_t y = b; y < e; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t q = off + y * W + x, k = y * w + x;
        const T Af = af[q], Ab = ab[q];
        for (int64_t c = 0; c < C; ++c) {
          pre[c * n + k] = xf[c * HW + q] * Af;
          pre[(C + 1 + c) * n + k] = xb[c * HW + q] * Ab;
        }
        pre[C * n + k] = Af;
        pre[(2 * C + 1) * n + k] = Ab;
        if (same[q]) continue;  // the forward splat's pixel: only its low-pass planes are needed
        T ph = phf[q];
        if (phb) {
          const T cov = Af + Ab;
          if (cov > T(0)) ph = (Af * phf[q] + Ab * phb[q]) / (cov < T(1e-12) ? T(1e-12) : cov);
        }
        const T u = clamp01((tau - ph) / width + T(0.5));
        T s = u * u * (T(3) - T(2) * u);
        const T df = disp(zf[q]), db = disp(zb[q]);
        T near_f = T(0), near_b = T(0);
        if (occl) {
          if (Af > T(0) && Ab > T(0)) {
            near_f = clamp01((df / (db < T(1e-12) ? T(1e-12) : db) - r0) / ramp);
            near_b = clamp01((db / (df < T(1e-12) ? T(1e-12) : df) - r0) / ramp);
          }
          s = s * (T(1) - near_f) + (T(1) - s) * near_b;
        }
        const T ef = Af * std::exp(a * df), eb = Ab * std::exp(a * db);
        const T wf = ef * (T(1) - s + s * (T(1) - Ab));
        const T wb = eb * (s + (T(1) - s) * (T(1) - Af));
        const T wsum = wf + wb;
        const T den = wsum < eps ? eps : wsum;
        const T nf = wf / den, nb = wb / den;
        nfw[k] = nf;
        nbw[k] = nb;
        if (NB) {  // the same switch with a band's width (times mapped onto [w/2, 1 - w/2])
          const T rank = d0 < T(1) ? clamp01((ph - d0 / T(2)) / (T(1) - d0)) : T(0.5);
          for (int64_t j = 0; j < NB; ++j) {
            const T bwid = static_cast<T>(prm.band_widths[j]);
            const T v = clamp01((tau - (bwid / T(2) + (T(1) - bwid) * rank)) / bwid + T(0.5));
            T sj = v * v * (T(3) - T(2) * v);
            if (occl) sj = sj * (T(1) - near_f) + (T(1) - sj) * near_b;
            const T wfj = ef * (T(1) - sj + sj * (T(1) - Ab));
            const T wbj = eb * (sj + (T(1) - sj) * (T(1) - Af));
            const T sumj = wfj + wbj;
            const T denj = sumj < eps ? eps : sumj;
            bw[2 * j * n + k] = wfj / denj;
            bw[(2 * j + 1) * n + k] = wbj / denj;
          }
        }
        od[q] = nf * zf[q] + nb * zb[q];
        oa[q] = wsum > eps ? nf * Af + nb * Ab : T(0);
      }
  });
  const int64_t K1 = 2 * (C + 1);
  T* tmp = scratch(mem.tmp, K1 * n);
  // 2b. multi-band blend: the coarser bands' contributions beyond the first one's, telescoped:
  // sum_j n_j (L_{j-1} - L_j) + n_L' L_L = n_0' L_0 + sum_{i>=1} (n_i' - n_{i-1}') L_i with L_i
  // the coverage-normalised low pass of radius band_radii[i-1] (L_0: detail_radius, added in 5).
  // L_i is computed on a grid k times coarser (band_decimation): sums over k x k blocks aligned
  // to the frame, a box of rc = round(r / k) blocks, bilinear between block centres (clamped at
  // the frame's edge) at the box's pixels; k = 1 is the (2r+1)^2 box at full resolution.
  T* acc = NB ? scratch(mem.acc, C * n) : nullptr;
  if (NB) {
    std::fill(acc, acc + C * n, T(0));
    // band i's decimation k and its box radius in blocks, round(r / k) (r itself when k = 1)
    auto dec = [&](int64_t j) { return prm.band_decimation.empty() ? int64_t(1) : prm.band_decimation[j - 1]; };
    auto box_radius = [&](int64_t j) {
      const int64_t kj = dec(j), rj = prm.band_radii[j - 1];
      return kj > 1 ? (rj + kj / 2) / kj : rj;
    };
    for (int64_t i = 1; i <= L; ++i) {
      const int64_t k = dec(i), rc = box_radius(i);
      // bands with the same decimation share the block sums: the window of the last (widest)
      int64_t last = i;
      while (last < L && dec(last + 1) == k) ++last;
      const int64_t rw = box_radius(last);
      const int64_t HB = (H + k - 1) / k, WB = (W + k - 1) / k;
      // the blocks that the box's pixels interpolate between, widened by the box radius
      const int64_t bi0 = std::max<int64_t>(0, i0 / k - 1 - rw), bi1 = std::min<int64_t>(HB, (i1 - 1) / k + 2 + rw);
      const int64_t bj0 = std::max<int64_t>(0, j0 / k - 1 - rw), bj1 = std::min<int64_t>(WB, (j1 - 1) / k + 2 + rw);
      const int64_t hb = bi1 - bi0, wb = bj1 - bj0, nbk = hb * wb;
      T* blk = scratch(mem.blk, K1 * nbk);
      T* btmp = scratch(mem.btmp, K1 * nbk);
      T* blo = scratch(mem.blo, K1 * nbk);
      // block sums of the premultiplied planes (partial blocks at the frame's far edges), once
      // per run of bands with the same decimation
      if (i == 1 || dec(i - 1) != k) {
        at::parallel_for(0, hb, 4, [&](int64_t b, int64_t e) {
          std::vector<double> sums(K1);
          for (int64_t by = b; by < e; ++by)
            for (int64_t bx = 0; bx < wb; ++bx) {
              std::fill(sums.begin(), sums.end(), 0.0);
              const int64_t y0 = (bi0 + by) * k, y1 = std::min(H, y0 + k);
              const int64_t x0 = (bj0 + bx) * k, x1 = std::min(W, x0 + k);
              for (int64_t yy = y0; yy < y1; ++yy)
                for (int64_t xx = x0; xx < x1; ++xx) {
                  const int64_t q = yy * W + xx;
                  const T Af = af[q], Ab = ab[q];
                  for (int64_t c = 0; c < C; ++c) {
                    sums[c] += xf[c * HW + q] * Af;
                    sums[C + 1 + c] += xb[c * HW + q] * Ab;
                  }
                  sums[C] += Af;
                  sums[2 * C + 1] += Ab;
                }
              for (int64_t p = 0; p < K1; ++p) blk[p * nbk + by * wb + bx] = static_cast<T>(sums[p]);
            }
        });
      }
      {
        std::vector<const T*> planes;
        for (int64_t p = 0; p < K1; ++p) planes.push_back(blk + p * nbk);
        box_sums<T>(planes, wb, hb, wb, static_cast<int>(rc), btmp, blo);
      }
      // bilinear taps of the box's columns (rows are computed per row)
      int64_t* tj = scratch(mem.tapi, 2 * w);
      T* fxw = scratch(mem.tapx, w);
      const T kk = static_cast<T>(k);
      auto taps = [&](int64_t g, int64_t nblocks, int64_t first, int64_t& t0, int64_t& t1, T& fr) {
        T u = (static_cast<T>(g) + T(0.5)) / kk - T(0.5);
        u = u < T(0) ? T(0) : u;
        int64_t b0 = static_cast<int64_t>(std::floor(u));
        b0 = std::min(b0, nblocks - 1);
        fr = u - static_cast<T>(b0);
        fr = fr > T(1) ? T(1) : fr;
        t0 = b0 - first;
        t1 = std::min(b0 + 1, nblocks - 1) - first;
      };
      for (int64_t x = 0; x < w; ++x) taps(j0 + x, WB, bj0, tj[x], tj[w + x], fxw[x]);
      const T* nf0 = bw + 2 * (i - 1) * n;
      const T* nb0 = bw + (2 * (i - 1) + 1) * n;
      const T* nf1 = bw + 2 * i * n;
      const T* nb1 = bw + (2 * i + 1) * n;
      at::parallel_for(0, h, 16, [&](int64_t b, int64_t e) {
        std::vector<T> rows(K1 * wb);  // the row's blocks, interpolated between block rows
        std::vector<T> v(K1);
        for (int64_t y = b; y < e; ++y) {
          int64_t r0, r1;
          T fr;
          taps(i0 + y, HB, bi0, r0, r1, fr);
          bool any = false;
          for (int64_t x = 0; x < w && !any; ++x) any = !same[off + y * W + x];
          if (!any) continue;
          for (int64_t p = 0; p < K1; ++p) {
            const T* P0 = blo + p * nbk + r0 * wb;
            const T* P1 = blo + p * nbk + r1 * wb;
            T* R = rows.data() + p * wb;
            for (int64_t bx = 0; bx < wb; ++bx) R[bx] = P0[bx] * (T(1) - fr) + P1[bx] * fr;
          }
          for (int64_t x = 0; x < w; ++x) {
            const int64_t q = off + y * W + x, kq = y * w + x;
            if (same[q]) continue;
            const int64_t c0 = tj[x], c1 = tj[w + x];
            const T fc = fxw[x];
            for (int64_t p = 0; p < K1; ++p) {
              const T* R = rows.data() + p * wb;
              v[p] = R[c0] * (T(1) - fc) + R[c1] * fc;
            }
            T lfc = v[C], lbc = v[2 * C + 1];
            lfc = lfc < T(1e-6) ? T(1e-6) : lfc;
            lbc = lbc < T(1e-6) ? T(1e-6) : lbc;
            // the coverage divides the weight, not each channel (the reference divides the
            // channels: one rounding apart, within the parity tolerance)
            const T gf = (nf1[kq] - nf0[kq]) / lfc, gb = (nb1[kq] - nb0[kq]) / lbc;
            for (int64_t c = 0; c < C; ++c) acc[c * n + kq] += gf * v[c] + gb * v[C + 1 + c];
          }
        }
      });
    }
  }
  // 3. coverage-normalised low passes (box of radius detail_radius) of both splats
  T* low = pre;  // the box sums replace the planes (the vertical pass reads only tmp)
  {
    std::vector<const T*> planes;
    for (int64_t k = 0; k < K1; ++k) planes.push_back(pre + k * n);
    box_sums<T>(planes, w, h, w, prm.detail_radius, tmp, low);
  }
  // 4. detail bands hf = xf - low_f, hb likewise (each written over its own low-pass value) and
  // their statistics
  T* stats = scratch(mem.stats, 3 * n);
  at::parallel_for(0, h, 16, [&](int64_t b, int64_t e) {
    for (int64_t y = b; y < e; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t q = off + y * W + x, k = y * w + x;
        T lfc = low[C * n + k], lbc = low[(2 * C + 1) * n + k];
        lfc = lfc < T(1e-6) ? T(1e-6) : lfc;
        lbc = lbc < T(1e-6) ? T(1e-6) : lbc;
        T s0 = T(0), s1 = T(0), s2 = T(0);
        for (int64_t c = 0; c < C; ++c) {
          const T hf = xf[c * HW + q] - low[c * n + k] / lfc;
          const T hb = xb[c * HW + q] - low[(C + 1 + c) * n + k] / lbc;
          pre[c * n + k] = hf;
          pre[(C + 1 + c) * n + k] = hb;
          s0 += hf * hf;
          s1 += hb * hb;
          s2 += hf * hb;
        }
        stats[k] = s0;
        stats[n + k] = s1;
        stats[2 * n + k] = s2;
      }
  });
  T* sbox = stats;
  {
    std::vector<const T*> planes = {stats, stats + n, stats + 2 * n};
    box_sums<T>(planes, w, h, w, prm.stats_radius, tmp, sbox);
  }
  // 5. the blend with the detail band's variance restored
  at::parallel_for(0, h, 16, [&](int64_t b, int64_t e) {
    for (int64_t y = b; y < e; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t q = off + y * W + x, k = y * w + x;
        if (same[q]) continue;
        const T nf = nfw[k], nb = nbw[k];
        const T vf = sbox[k], vb = sbox[n + k], cfb = sbox[2 * n + k];
        const T want = nf * vf + nb * vb;
        const T have = nf * nf * vf + nb * nb * vb + T(2) * nf * nb * cfb;
        T q2 = nf * nf + nb * nb;
        q2 = q2 < T(0.5) ? T(0.5) : q2;
        const T cap = T(1) / std::sqrt(q2);
        T g = std::sqrt((want < T(0) ? T(0) : want) / (have < T(1e-12) ? T(1e-12) : have));
        g = g < cap ? g : cap;
        g = g < T(1) ? T(1) : g;
        if (!(have > T(1e-10))) g = T(1);
        if (NB) {  // detail band switched sharply, the low band L_0 = x - h by the coarser bands
          const T mf = bw[k], mb = bw[n + k];
          for (int64_t c = 0; c < C; ++c) {
            const T hf = pre[c * n + k], hb = pre[(C + 1 + c) * n + k];
            const T fx = nf * xf[c * HW + q] + nb * xb[c * HW + q] + (g - T(1)) * (nf * hf + nb * hb);
            of[c * HW + q] = fx - (nf * (xf[c * HW + q] - hf) + nb * (xb[c * HW + q] - hb)) +
                             (mf * (xf[c * HW + q] - hf) + mb * (xb[c * HW + q] - hb)) + acc[c * n + k];
          }
          continue;
        }
        for (int64_t c = 0; c < C; ++c)
          of[c * HW + q] =
              nf * xf[c * HW + q] + nb * xb[c * HW + q] + (g - T(1)) * (nf * pre[c * n + k] + nb * pre[(C + 1 + c) * n + k]);
      }
  });
}

}  // namespace

std::vector<at::Tensor> fuse_dissolve_cpu(const at::Tensor& f_features, const at::Tensor& f_depth,
                                          const at::Tensor& f_alpha, const at::Tensor& b_features,
                                          const at::Tensor& b_depth, const at::Tensor& b_alpha,
                                          const at::Tensor& phase_f, const c10::optional<at::Tensor>& phase_b,
                                          double tau, double width, double depth_weight, double eps, double zref,
                                          double occlusion_ratio, double ramp, int64_t detail_radius,
                                          int64_t stats_radius, const std::vector<int64_t>& band_radii,
                                          const std::vector<double>& band_widths,
                                          const std::vector<int64_t>& band_decimation) {
  TORCH_CHECK(f_features.dim() == 3, "fuse_dissolve: features must be (C, H, W), got ", f_features.sizes());
  const auto dt = f_features.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble, "fuse_dissolve: features must be float32 or float64");
  const int64_t C = f_features.size(0), H = f_features.size(1), W = f_features.size(2);
  check_map(f_features, C, H, W, dt, "forward features", "fuse_dissolve");
  check_map(b_features, C, H, W, dt, "backward features", "fuse_dissolve");
  check_map(f_depth, 1, H, W, dt, "forward depth", "fuse_dissolve");
  check_map(b_depth, 1, H, W, dt, "backward depth", "fuse_dissolve");
  check_map(f_alpha, 1, H, W, dt, "forward alpha", "fuse_dissolve");
  check_map(b_alpha, 1, H, W, dt, "backward alpha", "fuse_dissolve");
  check_map(phase_f, 1, H, W, dt, "phase", "fuse_dissolve");
  at::Tensor pb = phase_b.has_value() ? *phase_b : at::Tensor();
  if (pb.defined()) check_map(pb, 1, H, W, dt, "backward phase", "fuse_dissolve");
  TORCH_CHECK(width > 0 && ramp > 0 && detail_radius >= 1 && stats_radius >= 1 && eps > 0,
              "fuse_dissolve: width, ramp, eps must be > 0 and the radii >= 1");
  TORCH_CHECK(band_widths.empty() || band_widths.size() == band_radii.size() + 1,
              "fuse_dissolve: band_widths must have one more entry than band_radii (or none), got ",
              band_widths.size(), " and ", band_radii.size());
  TORCH_CHECK(!band_widths.empty() || band_radii.empty(), "fuse_dissolve: band_radii without band_widths");
  for (size_t i = 0; i < band_radii.size(); ++i)
    TORCH_CHECK(band_radii[i] > (i ? band_radii[i - 1] : detail_radius),
                "fuse_dissolve: band_radii must increase from above detail_radius, got ", band_radii);
  for (double bw : band_widths)
    TORCH_CHECK(bw > 0 && bw <= 1, "fuse_dissolve: band widths must be in (0, 1], got ", bw);
  TORCH_CHECK(band_decimation.empty() || band_decimation.size() == band_radii.size(),
              "fuse_dissolve: band_decimation must have one entry per band radius (or none), got ",
              band_decimation.size(), " and ", band_radii.size());
  for (int64_t k : band_decimation) TORCH_CHECK(k >= 1, "fuse_dissolve: band decimations must be >= 1, got ", k);
  at::Tensor oF = at::empty_like(f_features), oD = at::empty_like(f_depth), oA = at::empty_like(f_alpha);
  Params prm{tau,
             width,
             depth_weight,
             eps,
             zref,
             occlusion_ratio,
             ramp,
             static_cast<int>(detail_radius),
             static_cast<int>(stats_radius),
             band_radii,
             band_widths,
             band_decimation};
  AT_DISPATCH_FLOATING_TYPES(dt, "fuse_dissolve", [&] {
    run<scalar_t>(f_features, f_depth, f_alpha, b_features, b_depth, b_alpha, phase_f, pb, prm, oF, oD, oA);
  });
  return {oF, oD, oA};
}

}  // namespace fuse
}  // namespace cg3d
