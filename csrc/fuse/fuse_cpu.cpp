// The "dissolve" fusion of the forward and backward splats in one native pass (CPU).
//
// Reference: cinemagraph3d/render/fuse.py, fuse_bidirectional (method "dissolve") and
// _restore_detail: ~60 element-wise torch operations over the bounding box of the pixels where
// the two splats differ, each a pass over memory. Here the box's rows stream through a pipeline
// per chunk of 64 rows: each row's weights and premultiplied planes are computed once, the two
// coverage-normalised low passes and the three detail statistics are box sums by running sums
// along each axis whose intermediate rows live in small rings (the working set stays in cache;
// nothing of the box's size is allocated), and every output pixel is written once. The loops
// are row kernels without branches over restrict pointers, so the compiler vectorises them. The
// multi-band blend's coarser low passes are box sums on a grid band_decimation times coarser
// (block sums aligned to the frame, read beyond the moving box), interpolated bilinearly at the
// box's pixels.
//
// The per-pixel arithmetic follows the reference's order of operations in the splats' precision;
// the box sums accumulate in double (the reference's float32 cumulative sums drift by ~1e-7 of
// the running total, which at 1280 columns is a few 1e-5 of a pixel's value; the column sums
// restart at each chunk, whose rows are fixed, so the result does not depend on the thread
// count), and exp / sqrt are the C library's (torch's vectorised ones may differ by one unit in
// the last place). The outputs therefore agree with the reference within a stated tolerance
// (tests/test_fuse_native.py), not bit for bit; pixels where the two splats are identical are
// the forward splat's, bit for bit, and so are all pixels outside the box.
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

// Scratch memory kept between calls (one frame after another needs the same sizes; fresh buffers
// would cost page faults and a zeroing pass each): the frame's "same" mask and the band grids.
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
  std::vector<T> blk, btmp;                // block sums of the premultiplied planes, and their row pass
  std::vector<std::vector<T>> grids;       // per coarser band: its low pass on the block grid
  std::vector<std::vector<int64_t>> gtaps;  // its bilinear column taps at the box's columns
  std::vector<std::vector<T>> gfrac;       // and their weights
  std::vector<uint8_t> same;
};

// Running box sums of radius r along nr rows of w (src[t] -> dst[t]; zero beyond the row's
// ends), accumulated in double: one chain of dependent additions per row, so up to 8 rows
// advance side by side and their chains overlap (each row's additions in the same order as
// alone).
template <typename T>
void rows_running_box(const T* const* src, T* const* dst, int64_t nr, int64_t w, int r) {
  constexpr int64_t ROWS = 8;
  const int64_t head = std::min<int64_t>(r, w - 1);
  for (int64_t g = 0; g < nr; g += ROWS) {
    const int64_t m = std::min(ROWS, nr - g);
    const T* s_[ROWS];
    T* d_[ROWS];
    double s[ROWS];
    for (int64_t t = 0; t < ROWS; ++t) {
      const int64_t k = g + std::min(t, m - 1);  // a short group repeats its last row
      s_[t] = src[k];
      d_[t] = dst[k];
      s[t] = 0.0;
    }
    for (int64_t x = 0; x <= head; ++x)
      for (int64_t t = 0; t < ROWS; ++t) s[t] += s_[t][x];
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t t = 0; t < ROWS; ++t) d_[t][x] = static_cast<T>(s[t]);
      if (x + r + 1 < w)
        for (int64_t t = 0; t < ROWS; ++t) s[t] += s_[t][x + r + 1];
      if (x - r >= 0)
        for (int64_t t = 0; t < ROWS; ++t) s[t] -= s_[t][x - r];
    }
  }
}

// (K, h, w) planes at stride `stride` (a plane's pixel (y, x) at y * stride + x) -> (K, h, w)
// box sums of radius r, zero outside the h x w window, written densely into out (K * h * w;
// the second pass reads tmp). Sums accumulate in double and are rounded once per axis.
template <typename T>
void box_sums(const std::vector<const T*>& planes, int64_t stride, int64_t h, int64_t w, int r, T* tmp, T* out) {
  const int64_t K = static_cast<int64_t>(planes.size());
  // along rows, 8 rows at a time
  at::parallel_for(0, (K * h + 7) / 8, 8, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      const T* src[8];
      T* dst[8];
      const int64_t m = std::min<int64_t>(8, K * h - 8 * g);
      for (int64_t t = 0; t < m; ++t) {
        const int64_t ky = 8 * g + t;
        src[t] = planes[ky / h] + (ky % h) * stride;
        dst[t] = tmp + ky * w;
      }
      rows_running_box(src, dst, m, w, r);
    }
  });
  // along columns, one accumulator row per (plane, column block)
  const int64_t block = 256;
  const int64_t nblk = (w + block - 1) / block;
  at::parallel_for(0, K * nblk, 1, [&](int64_t b, int64_t e) {
    std::vector<double> acc(block);
    for (int64_t kb = b; kb < e; ++kb) {
      const int64_t k = kb / nblk, x0 = (kb % nblk) * block, x1 = std::min(w, x0 + block), n = x1 - x0;
      const T* src = tmp + k * h * w + x0;
      T* dst = out + k * h * w + x0;
      double* A = acc.data();
      std::fill(A, A + n, 0.0);
      for (int64_t y = 0; y <= std::min<int64_t>(r, h - 1); ++y)
        for (int64_t x = 0; x < n; ++x) A[x] += src[y * w + x];
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < n; ++x) dst[y * w + x] = static_cast<T>(A[x]);
        if (y + r + 1 < h) {
          const T* add = src + (y + r + 1) * w;
          for (int64_t x = 0; x < n; ++x) A[x] += add[x];
        }
        if (y - r >= 0) {
          const T* sub = src + (y - r) * w;
          for (int64_t x = 0; x < n; ++x) A[x] -= sub[x];
        }
      }
    }
  });
}

// Per-thread rows of width w for the row-wise passes below.
template <typename T>
struct Rows {
  std::vector<T> buf;
  int64_t w = 0;
  T* operator()(int64_t i) { return buf.data() + i * w; }
  void reset(int64_t count, int64_t width) {
    w = width;
    if (static_cast<int64_t>(buf.size()) < count * width) buf.assign(static_cast<size_t>(count * width), T(0));
  }
};

// Row kernels of the passes below. Each takes its rows as restrict pointers (no two alias, so
// the compiler vectorises the loop without run-time overlap checks) and evaluates whole rows
// without branches; the results at pixels where the splats are identical are never read.
template <typename T>
__attribute__((noinline)) void row_product(const T* __restrict X, const T* __restrict A, T* __restrict P, int64_t w) {
  for (int64_t x = 0; x < w; ++x) P[x] = X[x] * A[x];
}

template <typename T>
inline T clamp01(T v) {
  return v < T(0) ? T(0) : (v > T(1) ? T(1) : v);
}

// disparity zref / z clamped to [0, 4] (0 where z <= 0)
template <typename T>
inline T disparity(T z, T zref) {
  const T d = zref / (z < T(1e-12) ? T(1e-12) : z);
  const T dd = z > T(0) ? d : T(0);
  return dd > T(4) ? T(4) : dd;
}

// the switch time: the forward one, or both splats' mixed by coverage
template <typename T>
__attribute__((noinline)) void row_phase(const T* __restrict Af, const T* __restrict Ab, const T* __restrict Pf, const T* __restrict Pb,
               T* __restrict PH, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const T cov = Af[x] + Ab[x];
    const T mix = (Af[x] * Pf[x] + Ab[x] * Pb[x]) / (cov < T(1e-12) ? T(1e-12) : cov);
    PH[x] = cov > T(0) ? mix : Pf[x];
  }
}

// the smoothstep switch S at loop fraction tau and both splats' disparities
template <typename T>
__attribute__((noinline)) void row_switch(const T* __restrict PH, const T* __restrict Zf, const T* __restrict Zb, T* __restrict S,
                T* __restrict DF, T* __restrict DB, int64_t w, T tau, T width, T zref) {
  for (int64_t x = 0; x < w; ++x) {
    const T u = clamp01((tau - PH[x]) / width + T(0.5));
    S[x] = u * u * (T(3) - T(2) * u);
    DF[x] = disparity(Zf[x], zref);
    DB[x] = disparity(Zb[x], zref);
  }
}

// how clearly each splat is nearer (NF, NB; 0 unless both cover the pixel), and S with them
template <typename T>
__attribute__((noinline)) void row_occlusion(const T* __restrict DF, const T* __restrict DB, const T* __restrict Af, const T* __restrict Ab,
                   T* __restrict S, T* __restrict NF, T* __restrict NB, int64_t w, T r0, T ramp) {
  for (int64_t x = 0; x < w; ++x) {
    const T df = DF[x], db = DB[x];
    const bool both = (Af[x] > T(0)) & (Ab[x] > T(0));
    const T nf = clamp01((df / (db < T(1e-12) ? T(1e-12) : db) - r0) / ramp);
    const T nb = clamp01((db / (df < T(1e-12) ? T(1e-12) : df) - r0) / ramp);
    NF[x] = both ? nf : T(0);
    NB[x] = both ? nb : T(0);
    S[x] = S[x] * (T(1) - NF[x]) + (T(1) - S[x]) * NB[x];
  }
}

// the normalised weights nf, nb, and the fused depth and alpha where the splats differ
template <typename T>
__attribute__((noinline)) void row_weights(const T* __restrict S, const T* __restrict EF, const T* __restrict EB, const T* __restrict Af,
                 const T* __restrict Ab, const T* __restrict Zf, const T* __restrict Zb,
                 const uint8_t* __restrict same, T* __restrict nfr, T* __restrict nbr, T* __restrict od,
                 T* __restrict oa, int64_t w, T eps) {
  for (int64_t x = 0; x < w; ++x) {
    const T s = S[x], ef = EF[x], eb = EB[x];
    const T wf = ef * (T(1) - s + s * (T(1) - Ab[x]));
    const T wb = eb * (s + (T(1) - s) * (T(1) - Af[x]));
    const T wsum = wf + wb;
    const T den = wsum < eps ? eps : wsum;
    const T nf = wf / den, nb = wb / den;
    nfr[x] = nf;
    nbr[x] = nb;
    const T dz = nf * Zf[x] + nb * Zb[x];
    const T da = wsum > eps ? nf * Af[x] + nb * Ab[x] : T(0);
    const T od0 = od[x], oa0 = oa[x];  // loaded unconditionally: a select, not a branch
    od[x] = same[x] ? od0 : dz;
    oa[x] = same[x] ? oa0 : da;
  }
}

// the switch times' rank in [0, 1] (times mapped from [d0/2, 1 - d0/2]), the same for every band
template <typename T>
__attribute__((noinline)) void row_rank(const T* __restrict PH, T* __restrict RK, int64_t w, T d0) {
  for (int64_t x = 0; x < w; ++x) {
    const T r = clamp01((PH[x] - d0 / T(2)) / (T(1) - d0));
    RK[x] = d0 < T(1) ? r : T(0.5);
  }
}

// a coarser band's weights: the same switch with its width bj (times mapped onto [bj/2, 1 - bj/2])
template <typename T, bool OCCL>
__attribute__((noinline)) void row_band(const T* __restrict RK, const T* __restrict NF, const T* __restrict NB,
                                        const T* __restrict EF, const T* __restrict EB, const T* __restrict Af,
                                        const T* __restrict Ab, T* __restrict mf, T* __restrict mb, int64_t w, T tau,
                                        T bj, T eps) {
  for (int64_t x = 0; x < w; ++x) {
    const T rank = RK[x];
    const T v = clamp01((tau - (bj / T(2) + (T(1) - bj) * rank)) / bj + T(0.5));
    const T s0 = v * v * (T(3) - T(2) * v);
    const T nf = NF[x], nb = NB[x];
    const T sj = OCCL ? s0 * (T(1) - nf) + (T(1) - s0) * nb : s0;
    const T ef = EF[x], eb = EB[x];
    const T wfj = ef * (T(1) - sj + sj * (T(1) - Ab[x]));
    const T wbj = eb * (sj + (T(1) - sj) * (T(1) - Af[x]));
    const T sumj = wfj + wbj;
    const T denj = sumj < eps ? eps : sumj;
    mf[x] = wfj / denj;
    mb[x] = wbj / denj;
  }
}

// a band's coverage-normalised weight changes (the coverage divides the weight, not each
// channel: the reference divides the channels, one rounding apart, within the parity tolerance)
template <typename T>
__attribute__((noinline)) void row_gains(const T* __restrict LF, const T* __restrict LB, const T* __restrict nf1, const T* __restrict nf0,
               const T* __restrict nb1, const T* __restrict nb0, T* __restrict GF, T* __restrict GB, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const T lfc = LF[x] < T(1e-6) ? T(1e-6) : LF[x];
    const T lbc = LB[x] < T(1e-6) ? T(1e-6) : LB[x];
    GF[x] = (nf1[x] - nf0[x]) / lfc;
    GB[x] = (nb1[x] - nb0[x]) / lbc;
  }
}

template <typename T>
__attribute__((noinline)) void row_accumulate(T* __restrict A, const T* __restrict GF, const T* __restrict Vf, const T* __restrict GB,
                    const T* __restrict Vb, int64_t w) {
  for (int64_t x = 0; x < w; ++x) A[x] += GF[x] * Vf[x] + GB[x] * Vb[x];
}

// one channel's detail bands hf = X - P / LFC, hb = Y - Q / LBC (P, Q: the low passes' sums,
// LFC, LBC: their coverages) and their statistics
template <typename T>
__attribute__((noinline)) void row_detail(const T* __restrict X, const T* __restrict Y, const T* __restrict P,
                                          const T* __restrict Q, T* __restrict HF, T* __restrict HB,
                                          const T* __restrict LFC, const T* __restrict LBC, T* __restrict s0,
                                          T* __restrict s1, T* __restrict s2, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const T hf = X[x] - P[x] / LFC[x];
    const T hb = Y[x] - Q[x] / LBC[x];
    HF[x] = hf;
    HB[x] = hb;
    s0[x] += hf * hf;
    s1[x] += hb * hb;
    s2[x] += hf * hb;
  }
}

// where two splats' rows agree: same = (z_f == z_b) & (a_f == a_b), then same &= (x_f == x_b) per
// channel (restrict: a store through a byte pointer may otherwise alias anything)
template <typename T>
__attribute__((noinline)) void row_same(const T* __restrict zf, const T* __restrict zb, const T* __restrict af,
                                        const T* __restrict ab, uint8_t* __restrict same, int64_t w) {
  for (int64_t x = 0; x < w; ++x) same[x] = static_cast<uint8_t>((zf[x] == zb[x]) & (af[x] == ab[x]));
}

template <typename T>
__attribute__((noinline)) void row_same_and(const T* __restrict p, const T* __restrict q, uint8_t* __restrict same,
                                            int64_t w) {
  for (int64_t x = 0; x < w; ++x) same[x] &= static_cast<uint8_t>(p[x] == q[x]);
}

// R = P0 (1 - f) + P1 f
template <typename T>
__attribute__((noinline)) void row_lerp(const T* __restrict P0, const T* __restrict P1, T* __restrict R, int64_t n,
                                        T f) {
  for (int64_t x = 0; x < n; ++x) R[x] = P0[x] * (T(1) - f) + P1[x] * f;
}

// K rows of blocks (at stride rs) interpolated at w pixels: V[p][x] = R[p][c0] (1 - f) + R[p][c1] f
template <typename T>
__attribute__((noinline)) void row_upsample(const T* __restrict R, int64_t rs, int64_t K,
                                            const int64_t* __restrict c0, const int64_t* __restrict c1,
                                            const T* __restrict fc, T* __restrict V, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const int64_t i0 = c0[x], i1 = c1[x];
    const T f = fc[x];
    for (int64_t p = 0; p < K; ++p) V[p * w + x] = R[p * rs + i0] * (T(1) - f) + R[p * rs + i1] * f;
  }
}

// column running sums: acc += row, acc -= row, and the sums rounded to T
template <typename T>
__attribute__((noinline)) void col_add(double* __restrict acc, const T* __restrict r, int64_t w) {
  for (int64_t x = 0; x < w; ++x) acc[x] += static_cast<double>(r[x]);
}

template <typename T>
__attribute__((noinline)) void col_sub(double* __restrict acc, const T* __restrict r, int64_t w) {
  for (int64_t x = 0; x < w; ++x) acc[x] -= static_cast<double>(r[x]);
}

template <typename T>
__attribute__((noinline)) void col_round(const double* __restrict acc, T* __restrict out, int64_t w) {
  for (int64_t x = 0; x < w; ++x) out[x] = static_cast<T>(acc[x]);
}

// the detail band's gain: its variance restored, capped, at least 1
template <typename T>
__attribute__((noinline)) void row_gain(const T* __restrict nfr, const T* __restrict nbr, const T* __restrict vfr, const T* __restrict vbr,
              const T* __restrict cfr, T* __restrict G, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const T nf = nfr[x], nb = nbr[x];
    const T vf = vfr[x], vb = vbr[x], cfb = cfr[x];
    const T want = nf * vf + nb * vb;
    const T have = nf * nf * vf + nb * nb * vb + T(2) * nf * nb * cfb;
    T q2 = nf * nf + nb * nb;
    q2 = q2 < T(0.5) ? T(0.5) : q2;
    const T cap = T(1) / std::sqrt(q2);
    T g = std::sqrt((want < T(0) ? T(0) : want) / (have < T(1e-12) ? T(1e-12) : have));
    g = g < cap ? g : cap;
    g = g < T(1) ? T(1) : g;
    G[x] = have > T(1e-10) ? g : T(1);
  }
}

// one output channel where the splats differ: the blend with the detail restored (one band)
template <typename T>
__attribute__((noinline)) void row_out(const T* __restrict X, const T* __restrict Y, const T* __restrict P, const T* __restrict Q,
             const T* __restrict nfr, const T* __restrict nbr, const T* __restrict G, const uint8_t* __restrict same,
             T* __restrict O, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const T v = nfr[x] * X[x] + nbr[x] * Y[x] + (G[x] - T(1)) * (nfr[x] * P[x] + nbr[x] * Q[x]);
    const T o = O[x];
    O[x] = same[x] ? o : v;
  }
}

// the same with the multi-band blend: the detail band switched sharply, the low band L_0 = x - h
// by the coarser bands (mf, mb) plus their accumulated contributions A
template <typename T>
__attribute__((noinline)) void row_out_bands(const T* __restrict X, const T* __restrict Y, const T* __restrict P, const T* __restrict Q,
                   const T* __restrict nfr, const T* __restrict nbr, const T* __restrict G, const T* __restrict mf,
                   const T* __restrict mb, const T* __restrict A, const uint8_t* __restrict same, T* __restrict O,
                   int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    const T nf = nfr[x], nb = nbr[x], hf = P[x], hb = Q[x];
    const T fx = nf * X[x] + nb * Y[x] + (G[x] - T(1)) * (nf * hf + nb * hb);
    const T v = fx - (nf * (X[x] - hf) + nb * (Y[x] - hb)) + (mf[x] * (X[x] - hf) + mb[x] * (Y[x] - hb)) + A[x];
    const T o = O[x];
    O[x] = same[x] ? o : v;
  }
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
  // 1. where the splats differ (same: 1 where identical), and the bounding box of those pixels
  static thread_local Scratch<T> mem;
  uint8_t* same = scratch(mem.same, HW);
  const int nt = std::max(1, at::get_num_threads());
  std::vector<int64_t> lo_i(nt, H), hi_i(nt, -1), lo_j(nt, W), hi_j(nt, -1);
  at::parallel_for(0, H, 16, [&](int64_t b, int64_t e) {
    const int tid = at::get_thread_num();
    for (int64_t i = b; i < e; ++i) {
      uint8_t* sr = same + i * W;
      const int64_t o = i * W;
      // the forward splat's row as the output's (overwritten below where the splats differ),
      // copied here, row by row in parallel, while the row is in cache
      for (int64_t c = 0; c < C; ++c) std::memcpy(of + c * HW + o, xf + c * HW + o, sizeof(T) * W);
      std::memcpy(od + o, zf + o, sizeof(T) * W);
      std::memcpy(oa + o, af + o, sizeof(T) * W);
      row_same(zf + o, zb + o, af + o, ab + o, sr, W);
      for (int64_t c = 0; c < C; ++c) row_same_and(xf + c * HW + o, xb + c * HW + o, sr, W);
      int64_t first = 0;
      while (first < W && sr[first]) ++first;
      if (first == W) continue;
      int64_t last = W - 1;
      while (sr[last]) --last;
      lo_i[tid] = std::min(lo_i[tid], i);
      hi_i[tid] = std::max(hi_i[tid], i);
      lo_j[tid] = std::min(lo_j[tid], first);
      hi_j[tid] = std::max(hi_j[tid], last);
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
  // the coarser bands' low passes read the frame beyond the box themselves (2)
  const int64_t pad = prm.detail_radius + prm.stats_radius + 1;
  const int64_t i0 = std::max<int64_t>(0, mi - pad), j0 = std::max<int64_t>(0, mj - pad);
  const int64_t i1 = std::min<int64_t>(H, Mi + pad + 1), j1 = std::min<int64_t>(W, Mj + pad + 1);
  const int64_t h = i1 - i0, w = j1 - j0;
  const int64_t off = i0 * W + j0;  // the box's first pixel in the full frame
  // rows of the box with a differing pixel
  std::vector<uint8_t> live(h);
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* sr = same + off + y * W;
    uint8_t all = 1;
    for (int64_t x = 0; x < w; ++x) all &= sr[x];
    live[y] = !all;
  }
  const T d0 = static_cast<T>(prm.width);
  const T tau = static_cast<T>(prm.tau), width = static_cast<T>(prm.width), a = static_cast<T>(prm.depth_weight);
  const T zref = static_cast<T>(prm.zref), eps = static_cast<T>(prm.eps);
  const T r0 = static_cast<T>(prm.occlusion_ratio), ramp = static_cast<T>(prm.ramp);
  const bool occl = std::isfinite(prm.occlusion_ratio);
  std::vector<T> bwid(NB);
  for (int64_t j = 0; j < NB; ++j) bwid[j] = static_cast<T>(prm.band_widths[j]);
  const int64_t K1 = 2 * (C + 1);  // premultiplied planes: [xf af, af, xb ab, ab]
  // 2. multi-band blend: the coarser bands' contributions beyond the first one's, telescoped:
  // sum_j n_j (L_{j-1} - L_j) + n_L' L_L = n_0' L_0 + sum_{i>=1} (n_i' - n_{i-1}') L_i with L_i
  // the coverage-normalised low pass of radius band_radii[i-1] (L_0: detail_radius, added in 4).
  // L_i is computed on a grid k times coarser (band_decimation): sums over k x k blocks aligned
  // to the frame, a box of rc = round(r / k) blocks, bilinear between block centres (clamped at
  // the frame's edge) at the box's pixels; k = 1 is the (2r+1)^2 box at full resolution. Here
  // the grids and their column taps; the rows are interpolated in 4.
  struct Band {
    int64_t HB = 0, bi0 = 0, wb = 0, nbk = 0;
    T kk = T(1);
    const T* lo = nullptr;  // (K1, hb, wb) box sums of the block sums
    const int64_t* c0 = nullptr;
    const int64_t* c1 = nullptr;
    const T* fc = nullptr;
  };
  std::vector<Band> bands(static_cast<size_t>(L));
  if (mem.grids.size() < static_cast<size_t>(L)) mem.grids.resize(static_cast<size_t>(L));
  if (mem.gtaps.size() < static_cast<size_t>(L)) mem.gtaps.resize(static_cast<size_t>(L));
  if (mem.gfrac.size() < static_cast<size_t>(L)) mem.gfrac.resize(static_cast<size_t>(L));
  auto taps = [](int64_t g, int64_t nblocks, int64_t first, T kk, int64_t& t0, int64_t& t1, T& fr) {
    T u = (static_cast<T>(g) + T(0.5)) / kk - T(0.5);
    u = u < T(0) ? T(0) : u;
    int64_t b0 = static_cast<int64_t>(std::floor(u));
    b0 = std::min(b0, nblocks - 1);
    fr = u - static_cast<T>(b0);
    fr = fr > T(1) ? T(1) : fr;
    t0 = b0 - first;
    t1 = std::min(b0 + 1, nblocks - 1) - first;
  };
  if (NB) {
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
      T* blo = scratch(mem.grids[i - 1], K1 * nbk);
      // block sums of the premultiplied planes (partial blocks at the frame's far edges), once
      // per run of bands with the same decimation; a block's pixels are added row by row, each
      // row from left to right, as one sum per plane
      if (i == 1 || dec(i - 1) != k) {
        at::parallel_for(0, hb, 4, [&](int64_t b, int64_t e) {
          std::vector<double> sums(K1 * wb);
          for (int64_t by = b; by < e; ++by) {
            std::fill(sums.begin(), sums.end(), 0.0);
            const int64_t y0 = (bi0 + by) * k, y1 = std::min(H, y0 + k);
            for (int64_t yy = y0; yy < y1; ++yy) {
              const int64_t o = yy * W;
              for (int64_t bx = 0; bx < wb; ++bx) {
                const int64_t x0 = (bj0 + bx) * k, x1 = std::min(W, x0 + k);
                for (int64_t xx = x0; xx < x1; ++xx) {
                  const T Af = af[o + xx], Ab = ab[o + xx];
                  for (int64_t c = 0; c < C; ++c) {
                    sums[c * wb + bx] += xf[c * HW + o + xx] * Af;
                    sums[(C + 1 + c) * wb + bx] += xb[c * HW + o + xx] * Ab;
                  }
                  sums[C * wb + bx] += Af;
                  sums[(2 * C + 1) * wb + bx] += Ab;
                }
              }
            }
            for (int64_t p = 0; p < K1; ++p)
              for (int64_t bx = 0; bx < wb; ++bx) blk[p * nbk + by * wb + bx] = static_cast<T>(sums[p * wb + bx]);
          }
        });
      }
      std::vector<const T*> planes;
      for (int64_t p = 0; p < K1; ++p) planes.push_back(blk + p * nbk);
      box_sums<T>(planes, wb, hb, wb, static_cast<int>(rc), btmp, blo);
      // bilinear taps of the box's columns (rows are computed per row)
      int64_t* tj = scratch(mem.gtaps[i - 1], 2 * w);
      T* fxw = scratch(mem.gfrac[i - 1], w);
      const T kk = static_cast<T>(k);
      for (int64_t x = 0; x < w; ++x) taps(j0 + x, WB, bj0, kk, tj[x], tj[w + x], fxw[x]);
      Band& bd = bands[static_cast<size_t>(i - 1)];
      bd.HB = HB;
      bd.bi0 = bi0;
      bd.wb = wb;
      bd.nbk = nbk;
      bd.kk = kk;
      bd.lo = blo;
      bd.c0 = tj;
      bd.c1 = tj + w;
      bd.fc = fxw;
    }
  }
  // 3-5. The box's rows in chunks of kChunk (fixed, so that the result does not depend on the
  // thread count), each chunk a pipeline over its rows in which every intermediate row lives in
  // a small ring of rows (the chunk's working set stays in cache):
  //   a. row y: the premultiplied planes, their sums along the row (radius rd) -> ring H1; and
  //      at the chunk's own rows the weights nf, nb and the bands' weights -> ring WT.
  //   b. row y - rd: the low passes (H1 summed down the column: a running sum in double, started
  //      afresh at the chunk's first row), the detail bands hf = xf - low_f / cov_f, hb likewise
  //      -> ring DT, and their statistics summed along the row (radius rs) -> ring H2.
  //   c. row y - rd - rs: the statistics' box sums (H2 down the column, likewise), the detail
  //      gain, the coarser bands, the output.
  // The chunk computes (a) on rd + rs rows beyond each of its ends and (b) on rs rows.
  int64_t max_wb = 1;
  for (const Band& bd : bands) max_wb = std::max(max_wb, bd.wb);
  const int64_t rd = prm.detail_radius, rs = prm.stats_radius, A = rd + rs;
  constexpr int64_t kChunk = 64;
  const int64_t nchunks = (h + kChunk - 1) / kChunk;
  const int64_t R1 = 2 * rd + 2, R2 = 2 * rs + 2, RD = rs + 1, RW = A + 1;  // ring lengths in rows
  const int64_t NW = 2 + 2 * NB;  // weight planes: nf, nb, then each band's (nf, nb)
  at::parallel_for(0, nchunks, 1, [&](int64_t cb, int64_t ce) {
    static thread_local Rows<T> rows;
    static thread_local std::vector<double> dacc;
    // row buffers: 8 for the weights, K1 premultiplied, C accumulated bands, K1 + 2 for a band's
    // interpolation, 3 statistics, 2 coverages, 1 gain; then the rings
    const int64_t nrows = 8 + K1 + C + (K1 + 2) + 3 + 2 + 1 + R1 * K1 + RW * NW + RD * 2 * C + R2 * 3;
    rows.reset(nrows, w);
    T* PH = rows(0);
    T* S = rows(1);
    T* DF = rows(2);
    T* DB = rows(3);
    T* NF = rows(4);
    T* NBr = rows(5);
    T* EF = rows(6);
    T* EB = rows(7);
    T* PRE = rows(8);
    T* ACC = rows(8 + K1);
    T* V = rows(8 + K1 + C);
    T* GF = V + K1 * w;
    T* GB = GF + w;
    T* ST = rows(8 + K1 + C + K1 + 2);
    T* LFC = ST + 3 * w;
    T* LBC = LFC + w;
    T* G = LBC + w;
    T* ring1 = G + w;
    T* ringw = ring1 + R1 * K1 * w;
    T* ringd = ringw + RW * NW * w;
    T* ring2 = ringd + RD * 2 * C * w;
    auto h1 = [&](int64_t y) { return ring1 + (y % R1) * K1 * w; };
    auto wt = [&](int64_t y) { return ringw + (y % RW) * NW * w; };
    auto dt = [&](int64_t y) { return ringd + (y % RD) * 2 * C * w; };
    auto h2 = [&](int64_t y) { return ring2 + (y % R2) * 3 * w; };
    if (static_cast<int64_t>(dacc.size()) < (K1 + 3) * w) dacc.assign(static_cast<size_t>((K1 + 3) * w), 0.0);
    double* acc1 = dacc.data();
    double* acc2 = acc1 + K1 * w;
    std::vector<T> brow(static_cast<size_t>(K1 * max_wb));
    std::vector<T*> dsts(static_cast<size_t>(K1));
    std::vector<const T*> srcs(static_cast<size_t>(K1));
    for (int64_t ch = cb; ch < ce; ++ch) {
      const int64_t ya = ch * kChunk, yb = std::min(h, ya + kChunk);
      const int64_t s1a = std::max<int64_t>(0, ya - A), s1b = std::min(h, yb + A);
      const int64_t s3a = std::max<int64_t>(0, ya - rs), s3b = std::min(h, yb + rs);
      int64_t n3 = s3a, n4 = ya;
      // (c) at row y4
      auto stage_c = [&](int64_t y4) {
        // the statistics' box sums: H2 rows [y4 - rs, y4 + rs] down the column
        if (y4 == ya) {
          std::fill(acc2, acc2 + 3 * w, 0.0);
          for (int64_t yy = std::max<int64_t>(0, y4 - rs); yy <= std::min(h - 1, y4 + rs); ++yy)
            for (int64_t p = 0; p < 3; ++p) col_add(acc2 + p * w, h2(yy) + p * w, w);
        } else {
          if (y4 + rs < h)
            for (int64_t p = 0; p < 3; ++p) col_add(acc2 + p * w, h2(y4 + rs) + p * w, w);
          if (y4 - rs - 1 >= 0)
            for (int64_t p = 0; p < 3; ++p) col_sub(acc2 + p * w, h2(y4 - rs - 1) + p * w, w);
        }
        if (!live[y4]) return;  // the forward splat's row, as copied
        for (int64_t p = 0; p < 3; ++p) col_round(acc2 + p * w, ST + p * w, w);
        const T* wr = wt(y4);
        const T* nfr = wr;
        const T* nbr = wr + w;
        row_gain(nfr, nbr, ST, ST + w, ST + 2 * w, G, w);
        const int64_t q0 = off + y4 * W;
        const uint8_t* sr = same + q0;
        if (NB) {
          std::fill(ACC, ACC + C * w, T(0));
          for (int64_t i = 1; i <= L; ++i) {
            const Band& bd = bands[static_cast<size_t>(i - 1)];
            int64_t t0, t1;
            T fr;
            taps(i0 + y4, bd.HB, bd.bi0, bd.kk, t0, t1, fr);
            // the row's blocks, interpolated between block rows, then at the row's pixels
            for (int64_t p = 0; p < K1; ++p)
              row_lerp(bd.lo + p * bd.nbk + t0 * bd.wb, bd.lo + p * bd.nbk + t1 * bd.wb, brow.data() + p * bd.wb,
                       bd.wb, fr);
            row_upsample(brow.data(), bd.wb, K1, bd.c0, bd.c1, bd.fc, V, w);
            // band i's weights (nf1, nb1) less band i-1's (nf0, nb0)
            row_gains(V + C * w, V + (2 * C + 1) * w, wr + (2 + 2 * i) * w, wr + (2 * i) * w, wr + (3 + 2 * i) * w,
                      wr + (1 + 2 * i) * w, GF, GB, w);
            for (int64_t c = 0; c < C; ++c) row_accumulate(ACC + c * w, GF, V + c * w, GB, V + (C + 1 + c) * w, w);
          }
        }
        const T* D = dt(y4);
        for (int64_t c = 0; c < C; ++c) {
          const T* X = xf + c * HW + q0;
          const T* Y = xb + c * HW + q0;
          T* O = of + c * HW + q0;
          if (NB)
            row_out_bands(X, Y, D + c * w, D + (C + c) * w, nfr, nbr, G, wr + 2 * w, wr + 3 * w, ACC + c * w, sr, O,
                          w);
          else
            row_out(X, Y, D + c * w, D + (C + c) * w, nfr, nbr, G, sr, O, w);
        }
      };
      // (b) at row y3
      auto stage_b = [&](int64_t y3) {
        if (y3 == s3a) {
          std::fill(acc1, acc1 + K1 * w, 0.0);
          for (int64_t yy = std::max<int64_t>(0, y3 - rd); yy <= std::min(h - 1, y3 + rd); ++yy)
            for (int64_t p = 0; p < K1; ++p) col_add(acc1 + p * w, h1(yy) + p * w, w);
        } else {
          if (y3 + rd < h)
            for (int64_t p = 0; p < K1; ++p) col_add(acc1 + p * w, h1(y3 + rd) + p * w, w);
          if (y3 - rd - 1 >= 0)
            for (int64_t p = 0; p < K1; ++p) col_sub(acc1 + p * w, h1(y3 - rd - 1) + p * w, w);
        }
        T* low = PRE;  // the low passes of row y3 (PRE is free here)
        for (int64_t p = 0; p < K1; ++p) col_round(acc1 + p * w, low + p * w, w);
        const T* lf = low + C * w;
        const T* lb = low + (2 * C + 1) * w;
        for (int64_t x = 0; x < w; ++x) {
          LFC[x] = lf[x] < T(1e-6) ? T(1e-6) : lf[x];
          LBC[x] = lb[x] < T(1e-6) ? T(1e-6) : lb[x];
        }
        T* s0 = ST;
        T* s1 = ST + w;
        T* s2 = ST + 2 * w;
        std::fill(ST, ST + 3 * w, T(0));
        const int64_t q0 = off + y3 * W;
        T* D = dt(y3);
        for (int64_t c = 0; c < C; ++c)
          row_detail(xf + c * HW + q0, xb + c * HW + q0, low + c * w, low + (C + 1 + c) * w, D + c * w,
                     D + (C + c) * w, LFC, LBC, s0, s1, s2, w);
        const T* st3[3] = {s0, s1, s2};
        T* hd[3] = {h2(y3), h2(y3) + w, h2(y3) + 2 * w};
        rows_running_box(st3, hd, 3, w, static_cast<int>(rs));
      };
      for (int64_t yi = s1a; yi < s1b; ++yi) {
        // (a) at row yi
        const int64_t q0 = off + yi * W;
        const T* Af = af + q0;
        const T* Ab = ab + q0;
        for (int64_t c = 0; c < C; ++c) {
          row_product(xf + c * HW + q0, Af, PRE + c * w, w);
          row_product(xb + c * HW + q0, Ab, PRE + (C + 1 + c) * w, w);
        }
        std::memcpy(PRE + C * w, Af, sizeof(T) * w);
        std::memcpy(PRE + (2 * C + 1) * w, Ab, sizeof(T) * w);
        T* H1 = h1(yi);
        for (int64_t p = 0; p < K1; ++p) {
          srcs[p] = PRE + p * w;
          dsts[p] = H1 + p * w;
        }
        rows_running_box(srcs.data(), dsts.data(), K1, w, static_cast<int>(rd));
        if (yi >= ya && yi < yb && live[yi]) {
          const uint8_t* sr = same + q0;
          if (phb)
            row_phase(Af, Ab, phf + q0, phb + q0, PH, w);
          else
            std::memcpy(PH, phf + q0, sizeof(T) * w);
          row_switch(PH, zf + q0, zb + q0, S, DF, DB, w, tau, width, zref);
          if (occl) row_occlusion(DF, DB, Af, Ab, S, NF, NBr, w, r0, ramp);
          for (int64_t x = 0; x < w; ++x) {  // exp only where the splats differ (not vectorised)
            const bool d = !sr[x];
            EF[x] = d ? Af[x] * std::exp(a * DF[x]) : T(0);
            EB[x] = d ? Ab[x] * std::exp(a * DB[x]) : T(0);
          }
          T* wr = wt(yi);
          row_weights(S, EF, EB, Af, Ab, zf + q0, zb + q0, sr, wr, wr + w, od + q0, oa + q0, w, eps);
          if (NB) row_rank(PH, DF, w, d0);  // DF is free once the exps are taken
          for (int64_t j = 0; j < NB; ++j)
            (occl ? row_band<T, true> : row_band<T, false>)(DF, NF, NBr, EF, EB, Af, Ab, wr + (2 + 2 * j) * w,
                                                             wr + (3 + 2 * j) * w, w, tau, bwid[j], eps);
        }
        // (b) and (c) at the rows now complete
        while (n3 < s3b && (n3 + rd <= yi || yi == h - 1)) {
          stage_b(n3);
          while (n4 < yb && (n4 + rs <= n3 || n3 == h - 1)) stage_c(n4++);
          ++n3;
        }
      }
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
