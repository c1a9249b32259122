// CPU (OpenMP) splatting kernel: forward and backward, bit-deterministic for any thread count.
//
// Forward, in three passes:
//   1. bin: for every point (static chunks, in parallel, in a vectorised loop) the range of
//      horizontal bands of 2^shift rows its footprint may touch; consecutive points with the same
//      range form a run (the points of one LDI row are consecutive, so runs are long), counted
//      per (chunk, band);
//   2. a counting sort (band-major prefix sum over the chunks) turns the counts into one list of
//      runs [p, q) per band, in increasing point order;
//   3. each band is processed by exactly one thread, in its own cache-resident buffers: for
//      blocks of 16 consecutive points of a run, projection and the four candidate tent taps per
//      axis in vectorised loops, then per point an entry with its exact non-zero taps (1..4 per
//      axis, footprint loops unrolled for each tap count) and the z-min pass over them; then an
//      accumulation pass over the entries into one record per pixel [W, depth sum, feature
//      sums], then normalisation into the band's rows of the (C, H, W) outputs.
// Every pixel therefore sums its contributions in point order, whatever the number of threads
// or bands, and no float is ever added atomically: results are identical across runs and
// thread counts. All arithmetic follows the reference's order of operations, so in practice the
// outputs are also bit-identical to it (the reference's index_add sums in point order too).
//
// Backward is a gather: per pixel, the gradient of the normalised outputs is turned into
// dL/d(weighted feature sum) and dL/d(coverage); each point then sums them over its accepted
// footprint. Points write only their own gradient rows, so it is deterministic too.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "splat.h"
#include "splat_ops.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__GNUC__)
#define CG3D_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define CG3D_ALWAYS_INLINE inline
#endif

namespace cg3d {
namespace splat {
namespace {

template <typename T>
Params<T> make_params(const at::Tensor& K, int64_t height, int64_t width, double znear, double tol,
                      double max_radius, double eps) {
  const at::Tensor k = K.to(at::kCPU).contiguous();
  const T* kp = k.data_ptr<T>();
  Params<T> p = scalar_params<T>(height, width, znear, tol, max_radius, eps);
  p.fx = kp[0];
  p.fy = kp[4];
  p.cx = kp[2];
  p.cy = kp[5];
  return p;
}

// Large outputs are fresh anonymous memory that the kernel writes once: ask Linux for huge pages
// before the first touch (512x fewer page faults; the allocator's own THP_MEM_ALLOC_ENABLE does
// the same). Only a hint, and only for the 2 MiB-aligned interior of buffers of 8 MiB or more.
void advise_huge_pages(const at::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (bytes < (size_t(8) << 20)) return;
  const uintptr_t huge = uintptr_t(2) << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(t.data_ptr()) + huge - 1) & ~(huge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(t.data_ptr()) + bytes) & ~(huge - 1);
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)t;
#endif
}

int num_threads() {
#ifdef _OPENMP
  return std::max(1, at::get_num_threads());
#else
  return 1;
#endif
}

// floor() for values well inside the int range, in a form compilers vectorise.
template <typename T>
inline int32_t floor_i32(T a) {
  const int32_t t = static_cast<int32_t>(a);
  return t - static_cast<int32_t>(a < static_cast<T>(t));
}

// Division through a reciprocal that still rounds exactly like a / b. For float operands,
// (float)((double)a * (1.0 / (double)b)) == a / b: the double product is within 2^-52 (relative)
// of the exact quotient, while a quotient of two floats is either a float or at least 2^-49 away
// from every rounding boundary of float (it can never be exactly a midpoint between two floats:
// that would need a 25-bit odd significand in a, which has 24 bits), so both round to the same
// float. One double division per divisor then serves many dividends. float64 keeps the division.
template <typename T>
struct Divisor {
  T b = T(1);
  Divisor() = default;
  explicit Divisor(T b_) : b(b_) {}
  T div(T a) const { return a / b; }
};
template <>
struct Divisor<float> {
  double inv = 1.0;
  Divisor() = default;
  explicit Divisor(float b) : inv(1.0 / static_cast<double>(b)) {}
  float div(float a) const { return static_cast<float>(static_cast<double>(a) * inv); }
};

// Pass 1 of the forward on points [p0, p1): the range of row bands each point may touch
// (first | last << 16, kInvalid when it is discarded). The tests are project_point's own
// branch-free helpers (valid_point, project_uv, clamp_radius, in_view in splat.h), so that the
// loop vectorises; the row range is conservative (a superset).
constexpr uint32_t kInvalid = 0xffffffffu;

template <typename T>
void bin_points(const T* pts, const T* rad, int64_t p0, int64_t p1, const Params<T>& params, int shift,
                uint32_t* pband) {
  const Params<T> prm = params;  // a local copy: the stores to pband cannot alias it
  const T half = static_cast<T>(0.5);
  const int32_t hmax = prm.height - 1;
  constexpr int kB = 64;
  alignas(64) T bx[kB], by[kB], bz[kB];
  for (int64_t q = p0; q < p1; q += kB) {
    const int m = static_cast<int>(std::min<int64_t>(kB, p1 - q));
    for (int t = 0; t < m; ++t) {  // de-interleave (x, y, z) so that the next loop vectorises
      bx[t] = pts[3 * (q + t)];
      by[t] = pts[3 * (q + t) + 1];
      bz[t] = pts[3 * (q + t) + 2];
    }
    const T* rq = rad + q;
    uint32_t* out = pband + q;
#pragma omp simd
    for (int t = 0; t < m; ++t) {
      const T x = bx[t], y = by[t], z = bz[t];
      bool ok = valid_point(x, y, z, prm);
      T u, v;
      project_uv(ok ? x : T(0), ok ? y : T(0), ok ? z : T(1), prm, u, v);
      const T r = clamp_radius(rq[t], prm);
      ok = ok & in_view(u, v, r, prm);
      const T vs = ok ? v : T(0), rs = ok ? r : T(1);
      int32_t lo = floor_i32(vs - half - rs), hi = floor_i32(vs - half + rs) + 1;
      lo = lo < 0 ? 0 : lo;
      hi = hi > hmax ? hmax : hi;
      const uint32_t packed = (static_cast<uint32_t>(lo) >> shift) | ((static_cast<uint32_t>(hi) >> shift) << 16);
      out[t] = ok ? packed : kInvalid;
    }
  }
}

// Exact non-zero taps of one axis for a point at coordinate c with radius r: returns their count
// and sets `first` (pixel index of w[0]); w needs room for 2 * ceil(r) values. Candidates are
// [k0 - n + 1, k0 + n] with k0 = floor(c - 0.5), n = ceil(r) <= R (inside the reference's
// window, and containing every pixel where |k + 0.5 - c| < r); the tent is unimodal, so the
// non-zero taps are consecutive.
template <typename T>
inline int axis_taps(T c, T r, int R, int size, T cutoff, int32_t& first, T* w) {
  const int k0 = floor_i32(c - static_cast<T>(0.5));
  int n = static_cast<int>(r);  // ceil(r) for r > 0
  n += static_cast<T>(n) < r;
  n = n < R ? n : R;
  const int a = std::max(k0 - n + 1, 0), b = std::min(k0 + n, size - 1);
  int cnt = 0;
  first = a;
  for (int k = a; k <= b; ++k) {
    const T wk = tent_weight(k, c, r, cutoff);
    if (wk != T(0)) {
      if (cnt == 0) first = k;
      w[cnt++] = wk;
    }
  }
  return cnt;
}

// Rows per band (a power of two): the band's pixel records and z-min buffer and its points'
// entries should stay in a core's L2 cache. Depends only on the problem size, never on the
// thread count (results do not depend on it anyway: every pixel sums its contributions in point
// order).
int band_shift_for(int64_t height, int64_t width, int64_t CR, int64_t P, int64_t elem_size) {
  const int64_t target_bytes = 2048 * 1024;
  const int64_t row_bytes = width * (CR + 1) * elem_size + (P / height + 1) * (16 + 9 * elem_size);
  int shift = 0;
  while (shift < 5 && (row_bytes << (shift + 1)) <= target_bytes && (int64_t(16) << shift) <= height) ++shift;
  return shift;
}

// A point's footprint inside one band. Fast form (r <= 2): the ny x nx non-zero taps (1..4 each)
// start at band pixel q0 = (row - y0) * W + column, with weights wy[0, ny) and wx[0, nx).
// General form (r > 2, gen >= 0): the taps are described by GenTaps gen[gen].
template <typename T>
struct Entry {
  int32_t p, q0, gen;
  uint8_t ny, nx;
  T z;
  T wy[4], wx[4];
};

// General footprint: ny row taps from row ky, nx column taps from column kx, weights
// wts[woff, +ny) and wts[woff + ny, +nx).
struct GenTaps {
  int32_t ky, kx, ny, nx;
  int64_t woff;
};

constexpr int kBlock = 16;  // points per vectorised projection block

// Candidate taps k0 - 1 .. k0 + 2 (k0 = floor(c - 0.5)) of a block of points on one axis: k[t] = k0 - 1,
// w[s][t] the weight of tap k0 - 1 + s, set to zero outside [lo, hi), and bits[t] the mask of the
// non-zero ones (consecutive: the tent is unimodal). With r <= 2, |k + 0.5 - c| < r only for these
// four candidates.
template <typename T>
inline void block_axis(const T* bc, const T* br, int32_t lo, int32_t hi, T cutoff, int32_t* k, T (*w)[kBlock],
                       int32_t* bits) {
  const T half = static_cast<T>(0.5);
#pragma omp simd
  for (int t = 0; t < kBlock; ++t) {
    k[t] = floor_i32(bc[t] - half) - 1;
    bits[t] = 0;
  }
  for (int s = 0; s < 4; ++s) {
#pragma omp simd
    for (int t = 0; t < kBlock; ++t) {
      const int32_t ks = k[t] + s;
      const T ws = tent_weight(ks, bc[t], br[t], cutoff);
      const bool ok = (ws != T(0)) & (ks >= lo) & (ks < hi);
      w[s][t] = ok ? ws : T(0);
      bits[t] |= static_cast<int32_t>(ok) << s;
    }
  }
}

// First set bit and number of set bits of a mask of 4 consecutive bits (0 for no bit).
constexpr uint8_t kFirstBit[16] = {0, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0};
constexpr uint8_t kBitCount[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

// Calls f(integral_constant<NY>, integral_constant<NX>) for 1 <= ny, nx <= 4 (compile-time tap
// counts, so that the footprint loops unroll completely).
template <typename F>
inline void with_tap_counts(int ny, int nx, F&& f) {
  using std::integral_constant;
  switch ((ny - 1) * 4 + (nx - 1)) {
#define CG3D_TAPS(a, b)                                    \
  case (a - 1) * 4 + (b - 1):                              \
    f(integral_constant<int, a>{}, integral_constant<int, b>{}); \
    return;
    CG3D_TAPS(1, 1)
    CG3D_TAPS(1, 2)
    CG3D_TAPS(1, 3)
    CG3D_TAPS(1, 4)
    CG3D_TAPS(2, 1)
    CG3D_TAPS(2, 2)
    CG3D_TAPS(2, 3)
    CG3D_TAPS(2, 4)
    CG3D_TAPS(3, 1)
    CG3D_TAPS(3, 2)
    CG3D_TAPS(3, 3)
    CG3D_TAPS(3, 4)
    CG3D_TAPS(4, 1)
    CG3D_TAPS(4, 2)
    CG3D_TAPS(4, 3)
    CG3D_TAPS(4, 4)
#undef CG3D_TAPS
    default:
      return;
  }
}

// a[0..n) += wo * g[0..n), with a compile-time length when it is small (n is a multiple of 4).
template <int N, typename T>
CG3D_ALWAYS_INLINE void axpy_fixed(T* __restrict a, T wo, const T* __restrict g) {
  for (int k = 0; k < N; ++k) a[k] += wo * g[k];
}
template <typename T>
CG3D_ALWAYS_INLINE void axpy(T* __restrict a, T wo, const T* __restrict g, int64_t n) {
  switch (n) {
    case 4:
      axpy_fixed<4>(a, wo, g);
      return;
    case 8:
      axpy_fixed<8>(a, wo, g);
      return;
    default:
      for (int64_t k = 0; k < n; k += 4) axpy_fixed<4>(a + k, wo, g + k);
  }
}

// Scratch vectors kept between calls, one set per thread (OpenMP's pool threads persist): the
// frame loop splats clouds of the same size call after call, and fresh buffers cost a zeroing
// pass and page faults each time (the points' band ranges are 4.6 MB at 1280x720, a band's
// records 2 MiB per thread). Every call writes what it reads; they only grow.
template <typename V>
V& scratch(V& v, size_t n) {
  if (v.size() < n) {
    v.clear();
    v.shrink_to_fit();
    v.resize(n);
  }
  return v;
}

template <typename T>
struct ForwardScratch {
  std::vector<uint32_t> pband;  // calling thread
  std::vector<int32_t> runs;
  std::vector<T> acc, zb;  // per band thread
  std::vector<Entry<T>> ent;
  std::vector<GenTaps> gen;
  std::vector<T> wts;
};

template <typename T>
ForwardScratch<T>& forward_scratch() {
  static thread_local ForwardScratch<T> s;
  return s;
}

template <typename T>
void forward_impl(const T* pts, const T* feats, const T* opac, const T* rad, int64_t P, int64_t C,
                  const Params<T>& prm, int64_t row_begin, int64_t row_end, T* out_feat, T* out_depth,
                  T* out_alpha, T* out_wsum, T* out_zmin, const T* other_feat, const T* other_depth,
                  const T* other_alpha) {
  const int64_t H = prm.height, W = prm.width, HW = H * W;
  // Per-pixel record [coverage W, depth sum, feature sums...], padded to a multiple of 4.
  const int64_t CR = (C + 2 + 3) / 4 * 4;
  const int nt = num_threads();
  const int shift = band_shift_for(H, W, CR, P, sizeof(T));
  const int64_t band_rows = int64_t(1) << shift;
  const int64_t nbands = (H + band_rows - 1) >> shift;
  TORCH_CHECK(nbands < 65535, "splat: image too tall (", H, " rows)");
  // Only the bands holding rows [row_begin, row_end) are computed; the other rows are set to 0.
  const uint32_t band_lo = static_cast<uint32_t>(row_begin >> shift);
  const uint32_t band_hi = row_end > row_begin ? static_cast<uint32_t>((row_end - 1) >> shift) : 0;
  const bool none = row_end <= row_begin;
  // Chunks of points for the binning passes (a chunk's points keep their order).
  const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(nt, (P + 4095) / 4096));
  auto chunk_begin = [&](int64_t k) { return P * k / nchunks; };
  std::vector<uint32_t>& pband = scratch(forward_scratch<T>().pband, static_cast<size_t>(P));
  std::vector<int64_t> counts(static_cast<size_t>(nchunks * nbands), 0);

  // Pass 1: band range of every point; count the runs of consecutive points with the same band
  // range per (chunk, band). Points of one LDI row are consecutive, so runs are long.
#pragma omp parallel for schedule(static) num_threads(nt) if (nchunks > 1)
  for (int64_t k = 0; k < nchunks; ++k) {
    const int64_t pa = chunk_begin(k), pb = chunk_begin(k + 1);
    bin_points(pts, rad, pa, pb, prm, shift, pband.data());
    int64_t* cnt = counts.data() + k * nbands;
    for (int64_t p = pa; p < pb;) {
      const uint32_t v = pband[p];
      int64_t q = p + 1;
      while (q < pb && pband[q] == v) ++q;
      if (v != kInvalid && !none)
        for (uint32_t b = std::max(v & 0xffffu, band_lo); b <= std::min(v >> 16, band_hi); ++b) ++cnt[b];
      p = q;
    }
  }

  // Pass 2: band-major exclusive prefix sum, then scatter the runs [p, q) (point order per band).
  std::vector<int64_t> band_start(static_cast<size_t>(nbands + 1), 0);
  std::vector<int64_t> offsets(static_cast<size_t>(nchunks * nbands));
  {
    int64_t acc = 0;
    for (int64_t b = 0; b < nbands; ++b) {
      band_start[b] = acc;
      for (int64_t k = 0; k < nchunks; ++k) {
        offsets[k * nbands + b] = acc;
        acc += counts[k * nbands + b];
      }
    }
    band_start[nbands] = acc;
  }
  std::vector<int32_t>& runs = scratch(forward_scratch<T>().runs, static_cast<size_t>(2 * band_start[nbands]));
#pragma omp parallel for schedule(static) num_threads(nt) if (nchunks > 1)
  for (int64_t k = 0; k < nchunks; ++k) {
    int64_t* off = offsets.data() + k * nbands;
    const int64_t pa = chunk_begin(k), pb = chunk_begin(k + 1);
    for (int64_t p = pa; p < pb;) {
      const uint32_t v = pband[p];
      int64_t q = p + 1;
      while (q < pb && pband[q] == v) ++q;
      if (v != kInvalid && !none) {
        for (uint32_t b = std::max(v & 0xffffu, band_lo); b <= std::min(v >> 16, band_hi); ++b) {
          runs[2 * off[b]] = static_cast<int32_t>(p);
          runs[2 * off[b] + 1] = static_cast<int32_t>(q);
          ++off[b];
        }
      }
      p = q;
    }
  }

  // Pass 3: one thread per band. Band buffers:
  //   zb[y * W + x]          nearest depth of band row y;
  //   acc[(y * W + x) * CR]  pixel record [W, depth sum, feature sums, 0...].
  const T inf = std::numeric_limits<T>::infinity();
  const T eps = prm.eps, cutoff = prm.cutoff, tolf = prm.tol_factor;
  const int64_t max_taps = std::max(2 * prm.R, 4);
#pragma omp parallel num_threads(nt) if (nbands > 1)
  {
    ForwardScratch<T>& mine = forward_scratch<T>();
    std::vector<T>& acc = scratch(mine.acc, static_cast<size_t>(band_rows * W * CR));
    std::vector<T>& zb = scratch(mine.zb, static_cast<size_t>(band_rows * W));
    std::vector<T> g(static_cast<size_t>(CR), T(0));  // its padding must be 0: fresh each call
    std::vector<Entry<T>>& ent = mine.ent;
    std::vector<GenTaps>& gen = mine.gen;
    std::vector<T>& wts = mine.wts;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < nbands; ++b) {
      const int32_t y0 = static_cast<int32_t>(b << shift);
      const int32_t y1 = static_cast<int32_t>(std::min(H, y0 + band_rows));  // rows [y0, y1)
      const int64_t nrows = y1 - y0;
      if (none || b < band_lo || b > band_hi) {  // a band outside the rows asked for: zeros, or
        // the other splat's rows (`other`: the caller knows them to be this splat's there)
        if (other_feat != nullptr) {
          for (int64_t c = 0; c < C; ++c)
            std::copy(other_feat + c * HW + y0 * W, other_feat + c * HW + y1 * W, out_feat + c * HW + y0 * W);
          std::copy(other_depth + y0 * W, other_depth + y1 * W, out_depth + y0 * W);
          std::copy(other_alpha + y0 * W, other_alpha + y1 * W, out_alpha + y0 * W);
          for (T* o : {out_wsum, out_zmin})
            if (o != nullptr) std::fill(o + y0 * W, o + y1 * W, T(0));
          continue;
        }
        for (int64_t c = 0; c < C; ++c) std::fill(out_feat + c * HW + y0 * W, out_feat + c * HW + y1 * W, T(0));
        for (T* o : {out_depth, out_alpha, out_wsum, out_zmin})
          if (o != nullptr) std::fill(o + y0 * W, o + y1 * W, T(0));
        continue;
      }
      std::fill(zb.begin(), zb.begin() + nrows * W, inf);
      std::fill(acc.begin(), acc.begin() + nrows * W * CR, T(0));
      T* const zbp = zb.data();
      T* const accp = acc.data();
      const int32_t* rb = runs.data() + 2 * band_start[b];
      const int64_t nruns = band_start[b + 1] - band_start[b];
      int64_t ne = 0, ng = 0, nw = 0;

      // Footprints and the z-min pass, in blocks of kBlock consecutive points of a run whose
      // projection and candidate taps are computed in vectorisable loops; points with r > 2
      // take axis_taps().
      for (int64_t ri = 0; ri < nruns; ++ri) {
        const int64_t pr0 = rb[2 * ri], pr1 = rb[2 * ri + 1];
        if (static_cast<int64_t>(ent.size()) < ne + (pr1 - pr0))
          ent.resize(static_cast<size_t>(std::max<int64_t>(2 * ent.size(), ne + (pr1 - pr0))));
        for (int64_t e0 = pr0; e0 < pr1; e0 += kBlock) {
          const int m = static_cast<int>(std::min<int64_t>(kBlock, pr1 - e0));
          alignas(64) T bx[kBlock], by[kBlock], bz[kBlock], br[kBlock], bu[kBlock], bv[kBlock];
          alignas(64) T wu[4][kBlock], wv[4][kBlock];
          alignas(64) int32_t ku[kBlock], kv[kBlock], mu[kBlock], mv[kBlock];
          for (int t = 0; t < kBlock; ++t) {
            const int64_t p = e0 + (t < m ? t : 0);
            bx[t] = pts[3 * p];
            by[t] = pts[3 * p + 1];
            bz[t] = pts[3 * p + 2];
            br[t] = rad[p];
          }
          T rmax = T(0);
#pragma omp simd reduction(max : rmax)
          for (int t = 0; t < kBlock; ++t) {
            // Pass 1 (bin_points) already rejected the points that fail valid_point or in_view.
            project_uv(bx[t], by[t], bz[t], prm, bu[t], bv[t]);
            const T r = clamp_radius(br[t], prm);
            br[t] = r;
            rmax = r > rmax ? r : rmax;
          }
          if (rmax > T(2)) {  // general footprints in this block: keep the fast ones valid
#pragma omp simd
            for (int t = 0; t < kBlock; ++t) br[t] = br[t] > T(2) ? T(2) : br[t];
          }
          block_axis(bu, br, 0, prm.width, cutoff, ku, wu, mu);
          block_axis(bv, br, y0, y1, cutoff, kv, wv, mv);
          for (int t = 0; t < m; ++t) {
            const int64_t p = e0 + t;
            const T z = bz[t];
            if (rmax > T(2)) {
              const T r = clamp_radius(rad[p], prm);
              if (r > T(2)) {
                if (static_cast<int64_t>(wts.size()) < nw + 2 * max_taps)
                  wts.resize(static_cast<size_t>(2 * (nw + 2 * max_taps)));
                T* w = wts.data() + nw;
                int32_t ilo, jlo;
                const int ny = axis_taps(bv[t], r, prm.R, prm.height, cutoff, ilo, w);
                if (ny == 0 || ilo >= y1 || ilo + ny <= y0) continue;
                const int nx = axis_taps(bu[t], r, prm.R, prm.width, cutoff, jlo, w + ny);
                if (nx == 0) continue;
                if (static_cast<int64_t>(gen.size()) <= ng) gen.resize(static_cast<size_t>(2 * ng + 16));
                gen[ng] = GenTaps{ilo, jlo, ny, nx, nw};
                nw += ny + nx;
                const int32_t ia = std::max(ilo, y0), ib = std::min(ilo + ny, y1);
                for (int32_t i = ia; i < ib; ++i) {
                  T* zr = zbp + (i - y0) * W + jlo;
                  for (int j = 0; j < nx; ++j) zr[j] = z < zr[j] ? z : zr[j];
                }
                Entry<T>& en = ent[ne++];
                en.p = static_cast<int32_t>(p);
                en.gen = static_cast<int32_t>(ng++);
                en.z = z;
                continue;
              }
            }
            if ((mu[t] == 0) | (mv[t] == 0)) continue;
            Entry<T>& en = ent[ne++];
            const int sy = kFirstBit[mv[t]], sx = kFirstBit[mu[t]];
            en.p = static_cast<int32_t>(p);
            en.gen = -1;
            en.q0 = static_cast<int32_t>((kv[t] + sy - y0) * W + ku[t] + sx);
            en.ny = kBitCount[mv[t]];
            en.nx = kBitCount[mu[t]];
            en.z = z;
            for (int i = 0; i < 4; ++i) {
              en.wy[i] = sy + i < 4 ? wv[sy + i < 4 ? sy + i : 3][t] : T(0);
              en.wx[i] = sx + i < 4 ? wu[sx + i < 4 ? sx + i : 3][t] : T(0);
            }
            T* zq = zbp + en.q0;
            with_tap_counts(en.ny, en.nx, [&](auto NY, auto NX) {
              for (int s = 0; s < decltype(NY)::value; ++s)
                for (int l = 0; l < decltype(NX)::value; ++l) {
                  T& d = zq[s * W + l];
                  d = z < d ? z : d;
                }
            });
          }
        }
      }

      // Accumulation pass, in point order: record += w o [1, z, f].
      for (int64_t e = 0; e < ne; ++e) {
        const Entry<T>& en = ent[e];
        const T z = en.z, o = opac[en.p];
        g[1] = z;
        std::copy(feats + int64_t(en.p) * C, feats + int64_t(en.p + 1) * C, g.begin() + 2);
        g[0] = T(1);
        const T* gp = g.data();
        if (en.gen < 0) {
          const T* zq = zbp + en.q0;
          T* aq = accp + int64_t(en.q0) * CR;
          with_tap_counts(en.ny, en.nx, [&](auto NY, auto NX) {
            for (int s = 0; s < decltype(NY)::value; ++s)
              for (int l = 0; l < decltype(NX)::value; ++l) {
                if (!depth_accept(z, zq[s * W + l], tolf)) continue;
                const T wo = (en.wy[s] * en.wx[l]) * o;
                axpy(aq + (s * W + l) * CR, wo, gp, CR);
              }
          });
          continue;
        }
        const GenTaps& gt = gen[en.gen];
        const T* wy = wts.data() + gt.woff;
        const T* wx = wy + gt.ny;
        const int32_t ia = std::max(gt.ky, y0), ib = std::min(gt.ky + gt.ny, y1);
        for (int32_t i = ia; i < ib; ++i) {
          const T wyi = wy[i - gt.ky];
          const T* zr = zbp + (i - y0) * W + gt.kx;
          T* ar = accp + ((i - y0) * W + gt.kx) * CR;
          for (int j = 0; j < gt.nx; ++j) {
            if (!depth_accept(z, zr[j], tolf)) continue;
            const T wo = (wyi * wx[j]) * o;
            axpy(ar + j * CR, wo, gp, CR);
          }
        }
      }

      // Normalise into the (C, H, W) outputs, 16 pixels at a time (each channel's 16 values are
      // one 64-byte stream segment; the C planes are a multiple of 4 KiB apart).
      constexpr int kTile = 16;
      for (int64_t y = y0; y < y1; ++y) {
        const T* ar = accp + (y - y0) * W * CR;
        const int64_t o0 = y * W;
        for (int64_t x0 = 0; x0 < W; x0 += kTile) {
          const int n = static_cast<int>(std::min<int64_t>(kTile, W - x0));
          Divisor<T> den[kTile];
          bool covered[kTile];
          for (int i = 0; i < n; ++i) {
            const T* rec = ar + (x0 + i) * CR;
            const T w = rec[0];
            den[i] = Divisor<T>(w < eps ? eps : w);
            covered[i] = w > eps;
            const T d = den[i].div(rec[1]);
            out_depth[o0 + x0 + i] = covered[i] ? d : T(0);
            out_alpha[o0 + x0 + i] = w > T(1) ? T(1) : w;
            if (out_wsum != nullptr) out_wsum[o0 + x0 + i] = w;
          }
          for (int64_t c = 0; c < C; ++c) {
            T* dst = out_feat + c * HW + o0 + x0;
            const T* src = ar + x0 * CR + 2 + c;
            for (int i = 0; i < n; ++i) {
              const T v = den[i].div(src[i * CR]);
              dst[i] = covered[i] ? v : T(0);
            }
          }
        }
        if (out_zmin != nullptr) {
          const T* zr = zbp + (y - y0) * W;
          std::copy(zr, zr + W, out_zmin + o0);
        }
      }
    }
  }
}

template <typename T>
void backward_impl(const T* grad_feat, const T* grad_alpha, const T* pts, const T* feats, const T* opac,
                   const T* rad, const T* out_feat, const T* wsum, const T* zmin, int64_t P, int64_t C,
                   const Params<T>& prm, T* grad_features, T* grad_opacity) {
  const int64_t H = prm.height, W = prm.width, HW = H * W;
  const int nt = num_threads();
  // Per pixel: G[q, c] = dL/dfsum = gF[c, q] / W and gW[q] = dL/dW (HWC layout for the gather).
  std::vector<T> G(static_cast<size_t>(HW * C));
  std::vector<T> gW(static_cast<size_t>(HW));
  const T eps = prm.eps;
  const int64_t blk = 256;
  const int64_t nblk = (HW + blk - 1) / blk;
#pragma omp parallel for schedule(static) num_threads(nt) if (nblk > 1)
  for (int64_t bi = 0; bi < nblk; ++bi) {
    const int64_t qa = bi * blk, qb = std::min(HW, qa + blk);
    for (int64_t q = qa; q < qb; ++q) gW[q] = T(0);
    for (int64_t c = 0; c < C; ++c) {
      const T* g = grad_feat + c * HW;
      const T* F = out_feat + c * HW;
      for (int64_t q = qa; q < qb; ++q) {
        const T w = wsum[q];
        const bool covered = w > eps;
        G[q * C + c] = covered ? g[q] / w : T(0);
        if (covered) gW[q] -= g[q] * F[q];
      }
    }
    for (int64_t q = qa; q < qb; ++q) {
      const T w = wsum[q];
      T s = w > eps ? gW[q] / w : T(0);
      if (w < T(1)) s += grad_alpha[q];  // d min(1, W)/dW = [W < 1], as torch.clamp's backward
      gW[q] = s;
    }
  }

  const int64_t chunk = 1024;
  const int64_t nchunk = (P + chunk - 1) / chunk;
#pragma omp parallel num_threads(nt) if (nchunk > 1)
  {
    std::vector<T> wx(static_cast<size_t>(2 * prm.R + 2));
    std::vector<T> df(static_cast<size_t>(C));
#pragma omp for schedule(static)
    for (int64_t ck = 0; ck < nchunk; ++ck) {
      for (int64_t p = ck * chunk; p < std::min(P, (ck + 1) * chunk); ++p) {
        Footprint<T> f;
        std::fill(df.begin(), df.end(), T(0));
        T dop = 0;
        if (project_point(pts[3 * p], pts[3 * p + 1], pts[3 * p + 2], rad[p], prm, f)) {
          const T o = opac[p];
          const T* fr = feats + p * C;
          const int64_t nx = f.jhi - f.jlo + 1;
          for (int64_t j = 0; j < nx; ++j)
            wx[j] = tent_weight(static_cast<int>(f.jlo + j), f.u, f.r, prm.cutoff);
          for (int64_t i = f.ilo; i <= f.ihi; ++i) {
            const T wy = tent_weight(static_cast<int>(i), f.v, f.r, prm.cutoff);
            for (int64_t j = 0; j < nx; ++j) {
              const int64_t q = i * W + f.jlo + j;
              if (!depth_accept(f.z, zmin[q], prm.tol_factor)) continue;
              const T w = wy * wx[j];
              const T wo = w * o;
              const T* g = G.data() + q * C;
              T dot = 0;
              for (int64_t c = 0; c < C; ++c) {
                df[c] += wo * g[c];
                dot += fr[c] * g[c];
              }
              dop += w * (dot + gW[q]);
            }
          }
        }
        if (grad_features != nullptr)
          for (int64_t c = 0; c < C; ++c) grad_features[p * C + c] = df[c];
        if (grad_opacity != nullptr) grad_opacity[p] = dop;
      }
    }
  }
}

}  // namespace

std::vector<at::Tensor> splat_forward_cpu(const at::Tensor& points_, const at::Tensor& features_,
                                          const at::Tensor& opacity_, const at::Tensor& radius_,
                                          const at::Tensor& K, int64_t height, int64_t width, double znear,
                                          double depth_tolerance, double max_radius, double eps,
                                          bool save_for_backward, int64_t row_begin, int64_t row_end,
                                          const c10::optional<at::Tensor>& other_features,
                                          const c10::optional<at::Tensor>& other_depth,
                                          const c10::optional<at::Tensor>& other_alpha) {
  // inputs checked by the binding (check_forward_inputs, check_row_range, check_other_splat)
  const at::Tensor points = points_.contiguous(), features = features_.contiguous();
  const at::Tensor opacity = opacity_.contiguous(), radius = radius_.contiguous();
  const int64_t P = points.size(0), C = features.size(1);
  const auto opts = features.options();
  at::Tensor feat = at::empty({C, height, width}, opts);
  advise_huge_pages(feat);
  at::Tensor depth = at::empty({1, height, width}, opts);
  at::Tensor alpha = at::empty({1, height, width}, opts);
  at::Tensor wsum = save_for_backward ? at::empty({height, width}, opts) : at::empty({0}, opts);
  at::Tensor zmin = save_for_backward ? at::empty({height, width}, opts) : at::empty({0}, opts);
  const bool other = other_features.has_value();
  const at::Tensor of = other ? other_features->contiguous() : at::Tensor();
  const at::Tensor od = other ? other_depth->contiguous() : at::Tensor();
  const at::Tensor oa = other ? other_alpha->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(features.scalar_type(), "splat_forward_cpu", [&] {
    const Params<scalar_t> prm = make_params<scalar_t>(K, height, width, znear, depth_tolerance, max_radius, eps);
    forward_impl<scalar_t>(points.data_ptr<scalar_t>(), features.data_ptr<scalar_t>(),
                           opacity.data_ptr<scalar_t>(), radius.data_ptr<scalar_t>(), P, C, prm, row_begin,
                           row_end,
                           feat.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(), alpha.data_ptr<scalar_t>(),
                           save_for_backward ? wsum.data_ptr<scalar_t>() : nullptr,
                           save_for_backward ? zmin.data_ptr<scalar_t>() : nullptr,
                           other ? of.data_ptr<scalar_t>() : nullptr, other ? od.data_ptr<scalar_t>() : nullptr,
                           other ? oa.data_ptr<scalar_t>() : nullptr);
  });
  return {feat, depth, alpha, wsum, zmin};
}

void splat_backward_cpu(BackwardArgs& a, int64_t height, int64_t width, double znear, double depth_tolerance,
                        double max_radius, double eps) {
  const int64_t P = a.P, C = a.C;
  const at::Tensor &points = a.points, &features = a.features, &opacity = a.opacity, &radius = a.radius;
  const at::Tensor &K = a.K, &grad_feat = a.grad_feat, &grad_alpha = a.grad_alpha;
  const at::Tensor &out_feat = a.out_feat, &wsum = a.wsum, &zmin = a.zmin;
  at::Tensor &gfeat = a.grad_features, &gopac = a.grad_opacity;
  const bool need_features = gfeat.defined(), need_opacity = gopac.defined();
  AT_DISPATCH_FLOATING_TYPES(features.scalar_type(), "splat_backward_cpu", [&] {
    const Params<scalar_t> prm = make_params<scalar_t>(K, height, width, znear, depth_tolerance, max_radius, eps);
    backward_impl<scalar_t>(grad_feat.data_ptr<scalar_t>(), grad_alpha.data_ptr<scalar_t>(),
                            points.data_ptr<scalar_t>(), features.data_ptr<scalar_t>(),
                            opacity.data_ptr<scalar_t>(), radius.data_ptr<scalar_t>(),
                            out_feat.data_ptr<scalar_t>(), wsum.data_ptr<scalar_t>(), zmin.data_ptr<scalar_t>(),
                            P, C, prm, need_features ? gfeat.data_ptr<scalar_t>() : nullptr,
                            need_opacity ? gopac.data_ptr<scalar_t>() : nullptr);
  });
}

}  // namespace splat
}  // namespace cg3d
