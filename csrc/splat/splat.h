// Per-point math of the splatting renderer, shared by the CPU (splat_cpu.cpp) and CUDA
// (splat_cuda.cu) kernels so that the logic tested on the CPU is the logic that runs on the GPU.
//
// The contract is the pure-PyTorch reference cinemagraph3d/render/_torch_impl.py (see
// docs/renderer.md). Every expression below is evaluated in the tensor dtype T, in the same
// order as the reference, so that float round-off matches it: e.g. u = (fx * x) / z + cx, and
// Python scalars (znear, eps, 1 + depth_tolerance, the weight cut-off) are first rounded to T,
// as PyTorch does when it combines a tensor with a Python number. Both builds must keep
// floating-point contraction off (-ffp-contract=off, nvcc --fmad=false).
//
// This header has no dependency on PyTorch.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define CG3D_HD __host__ __device__ __forceinline__
#else
#define CG3D_HD inline
#endif

namespace cg3d {
namespace splat {

// Per-axis tent weights below this value count as zero (WEIGHT_CUTOFF in _torch_impl.py).
constexpr double kWeightCutoff = 1e-3;

// Scalar settings of one splat call, already rounded to the tensor dtype T.
template <typename T>
struct Params {
  T fx, fy, cx, cy;  // intrinsics K[0,0], K[1,1], K[0,2], K[1,2] (skew is ignored, as in the reference)
  T znear;           // points with z <= znear are discarded
  T max_radius;      // footprint radius upper clamp (pixels)
  T tol_factor;      // (T)(1 + depth_tolerance)
  T eps;             // coverage threshold
  T cutoff;          // (T)kWeightCutoff
  int height, width;
  int R;  // ceil(max_radius): the reference's candidate window is [floor(u - 0.5) - R + 1, ... + R]
};

// Params of one call with the Python scalars rounded to T as PyTorch rounds them (host code;
// the intrinsics are set by the caller: the CUDA kernels read them from the device K tensor).
template <typename T>
inline Params<T> scalar_params(int64_t height, int64_t width, double znear, double tol, double max_radius,
                               double eps) {
  Params<T> p;
  p.fx = p.fy = p.cx = p.cy = T(0);
  p.znear = static_cast<T>(znear);
  p.max_radius = static_cast<T>(max_radius);
  p.tol_factor = static_cast<T>(1.0 + tol);
  p.eps = static_cast<T>(eps);
  p.cutoff = static_cast<T>(kWeightCutoff);
  p.height = static_cast<int>(height);
  p.width = static_cast<int>(width);
  p.R = static_cast<int>(std::ceil(max_radius));
  return p;
}

// A projected point and the exact pixel rectangle where its weight is non-zero
// (rows ilo..ihi, columns jlo..jhi, inclusive, clipped to the image).
template <typename T>
struct Footprint {
  T u, v, r, z;
  int32_t ilo, ihi, jlo, jhi;
};

template <typename T>
CG3D_HD T floor_t(T a) {
#if defined(__CUDA_ARCH__)
  return floor(a);
#else
  return std::floor(a);
#endif
}

template <typename T>
CG3D_HD T abs_t(T a) {
#if defined(__CUDA_ARCH__)
  return fabs(a);
#else
  return std::fabs(a);
#endif
}

// Tent weight of pixel index k (centre k + 0.5) for a point at coordinate c with radius r along
// one axis: max(0, 1 - |(k + 0.5) - c| / r), set to zero below the cut-off.
template <typename T>
CG3D_HD T tent_weight(int k, T c, T r, T cutoff) {
  const T d = abs_t((static_cast<T>(k) + static_cast<T>(0.5)) - c);
  const T w = T(1) - d / r;
  return w >= cutoff ? w : T(0);
}

// Range [lo, hi] of pixel indices in [0, size) where the tent weight is non-zero; returns false
// when it is empty. The candidate set is the reference's window intersected with a conservative
// bound from r; the weights are then evaluated exactly, so the range equals the reference's set
// (the tent is unimodal, so the non-zero set is an interval).
template <typename T>
CG3D_HD bool axis_range(T c, T r, int R, int size, T cutoff, int32_t& lo, int32_t& hi) {
  const int k0 = static_cast<int>(floor_t(c - static_cast<T>(0.5)));
  int a = k0 - R + 1, b = k0 + R;
  // Weight > 0 needs |k + 0.5 - c| < r, i.e. k in (c - 0.5 - r, c - 0.5 + r).
  const int a2 = static_cast<int>(floor_t(c - static_cast<T>(0.5) - r));
  const int b2 = static_cast<int>(floor_t(c - static_cast<T>(0.5) + r)) + 1;
  a = a > a2 ? a : a2;
  b = b < b2 ? b : b2;
  a = a > 0 ? a : 0;
  b = b < size - 1 ? b : size - 1;
  while (a <= b && tent_weight(a, c, r, cutoff) == T(0)) ++a;
  while (b >= a && tent_weight(b, c, r, cutoff) == T(0)) --b;
  lo = a;
  hi = b;
  return a <= b;
}

// Branch-free per-point steps of project_point, also called by the CPU kernel's vectorised
// loops (under `#pragma omp simd`): no early exits, and `&` rather than `&&` so that every test
// is evaluated. Keep the evaluation order: it is the reference's (see the top of this file).

// True when x, y, z are finite and z > znear (x - x == 0 is false exactly for inf and NaN).
template <typename T>
CG3D_HD bool valid_point(T x, T y, T z, const Params<T>& p) {
  return (x - x == T(0)) & (y - y == T(0)) & (z - z == T(0)) & (z > p.znear);
}

// Pinhole projection u = (fx * x) / z + cx, v = (fy * y) / z + cy.
template <typename T>
CG3D_HD void project_uv(T x, T y, T z, const Params<T>& p, T& u, T& v) {
  u = p.fx * x / z + p.cx;
  v = p.fy * y / z + p.cy;
}

// Footprint radius clamp(radius, 0.5, max_radius), NaN propagating like torch.clamp.
template <typename T>
CG3D_HD T clamp_radius(T radius, const Params<T>& p) {
  const T r = radius < static_cast<T>(0.5) ? static_cast<T>(0.5) : radius;
  return r > p.max_radius ? p.max_radius : r;
}

// True when the footprint of radius r around (u, v) may touch the image (the reference's
// -r < u < W + r and -r < v < H + r). Comparisons are false for NaN, so this also rejects
// non-finite u, v and r.
template <typename T>
CG3D_HD bool in_view(T u, T v, T r, const Params<T>& p) {
  return (u > -r) & (u < static_cast<T>(p.width) + r) & (v > -r) & (v < static_cast<T>(p.height) + r);
}

// Projects one point and computes its footprint. Returns false when the point is discarded:
// non-finite position, z <= znear, non-finite projection, or a footprint that cannot touch the
// image (or touches it only with zero weights).
template <typename T>
CG3D_HD bool project_point(T x, T y, T z, T radius, const Params<T>& p, Footprint<T>& out) {
  if (!valid_point(x, y, z, p)) return false;
  T u, v;
  project_uv(x, y, z, p, u, v);
  const T r = clamp_radius(radius, p);
  if (!in_view(u, v, r, p)) return false;
  out.u = u;
  out.v = v;
  out.r = r;
  out.z = z;
  if (!axis_range(u, r, p.R, p.width, p.cutoff, out.jlo, out.jhi)) return false;
  if (!axis_range(v, r, p.R, p.height, p.cutoff, out.ilo, out.ihi)) return false;
  return true;
}

// Soft z-buffer acceptance: a point at depth z is accepted at a pixel whose nearest depth is zmin.
template <typename T>
CG3D_HD bool depth_accept(T z, T zmin, T tol_factor) {
  return z <= zmin * tol_factor;
}

// Bijection from floats to signed integers that preserves order (for atomicMin on depths of any
// sign); it is its own inverse.
CG3D_HD int32_t ordered_key(int32_t bits) { return bits >= 0 ? bits : (bits ^ 0x7fffffff); }
CG3D_HD int64_t ordered_key(int64_t bits) { return bits >= 0 ? bits : (bits ^ 0x7fffffffffffffffLL); }

}  // namespace splat
}  // namespace cg3d
