// CUDA splatting kernel: forward and backward, the same per-point math as the CPU kernel
// (splat.h), compiled with --fmad=false so that it rounds like the reference.
//
// Forward:
//   1. one thread per point: project, then atomicMin of the point's depth over its footprint
//      into a z-min buffer of order-preserving integer keys (any sign of depth);
//   2. one thread per point: for every footprint pixel whose depth test passes, atomicAdd of
//      w o, w o z and w o f into the coverage, depth and (C, H, W) feature sums;
//   3. one thread per pixel: normalise in place, alpha = min(1, W), keys back to depths.
// The z-min buffer is exact (min is order-independent), but the float sums of step 2 are added
// in a scheduling-dependent order, so CUDA results may differ from run to run (and from the CPU
// kernel) by float round-off; they are not bit-deterministic.
//
// Backward: per pixel G = dL/dF / W and dL/dW (as on the CPU), then one thread per point sums
// them over its accepted footprint (a gather: no atomics, deterministic).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "splat.h"
#include "splat_ops.h"

namespace cg3d {
namespace splat {
namespace {

constexpr int kThreads = 256;

// Order-preserving integer keys of depths for atomicMin (ordered_key in splat.h).
__device__ __forceinline__ int depth_key(float z) { return ordered_key(static_cast<int32_t>(__float_as_int(z))); }
__device__ __forceinline__ long long depth_key(double z) {
  return ordered_key(static_cast<int64_t>(__double_as_longlong(z)));
}
__device__ __forceinline__ float key_depth(int k, float) { return __int_as_float(ordered_key(static_cast<int32_t>(k))); }
__device__ __forceinline__ double key_depth(long long k, double) {
  return __longlong_as_double(ordered_key(static_cast<int64_t>(k)));
}
template <typename T>
struct KeyType;
template <>
struct KeyType<float> {
  using type = int;  // atomicMin operand
  using bits = int32_t;
};
template <>
struct KeyType<double> {
  using type = long long;
  using bits = int64_t;
};

// Params with the intrinsics read from the (device) K tensor, to avoid a host sync.
template <typename T>
__device__ __forceinline__ Params<T> with_intrinsics(Params<T> p, const T* K) {
  p.fx = K[0];
  p.fy = K[4];
  p.cx = K[2];
  p.cy = K[5];
  return p;
}

int num_blocks(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 ? (b > 0 ? b : 1) : 65535);
}

template <typename Key>
__global__ void init_keys_kernel(Key* keys, Key inf_key, int64_t n) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < n; q += int64_t(gridDim.x) * blockDim.x)
    keys[q] = inf_key;
}

template <typename T, typename Key>
__global__ void zmin_kernel(const T* __restrict__ pts, const T* __restrict__ rad, const T* __restrict__ K,
                            Params<T> prm, int64_t P, Key* __restrict__ keys) {
  const Params<T> p = with_intrinsics(prm, K);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P; i += int64_t(gridDim.x) * blockDim.x) {
    Footprint<T> f;
    if (!project_point(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2], rad[i], p, f)) continue;
    const Key k = depth_key(f.z);
    for (int y = f.ilo; y <= f.ihi; ++y)
      for (int x = f.jlo; x <= f.jhi; ++x) atomicMin(keys + int64_t(y) * p.width + x, k);
  }
}

template <typename T, typename Key>
__global__ void accumulate_kernel(const T* __restrict__ pts, const T* __restrict__ feats,
                                  const T* __restrict__ opac, const T* __restrict__ rad, const T* __restrict__ K,
                                  Params<T> prm, int64_t P, int64_t C, const Key* __restrict__ keys,
                                  T* __restrict__ wsum, T* __restrict__ zsum, T* __restrict__ fsum) {
  const Params<T> p = with_intrinsics(prm, K);
  const int64_t HW = int64_t(p.height) * p.width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P; i += int64_t(gridDim.x) * blockDim.x) {
    Footprint<T> f;
    if (!project_point(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2], rad[i], p, f)) continue;
    const T o = opac[i];
    const T* fr = feats + i * C;
    for (int y = f.ilo; y <= f.ihi; ++y) {
      const T wy = tent_weight(y, f.v, f.r, p.cutoff);
      for (int x = f.jlo; x <= f.jhi; ++x) {
        const int64_t q = int64_t(y) * p.width + x;
        if (!depth_accept(f.z, key_depth(keys[q], T(0)), p.tol_factor)) continue;
        const T wo = (wy * tent_weight(x, f.u, f.r, p.cutoff)) * o;
        atomicAdd(wsum + q, wo);
        atomicAdd(zsum + q, wo * f.z);
        for (int64_t c = 0; c < C; ++c) atomicAdd(fsum + c * HW + q, wo * fr[c]);
      }
    }
  }
}

template <typename T, typename Key>
__global__ void normalise_kernel(int64_t HW, int64_t C, T eps, T* __restrict__ wsum, T* __restrict__ depth, T* __restrict__ feat,
                                 T* __restrict__ alpha, Key* __restrict__ keys) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < HW; q += int64_t(gridDim.x) * blockDim.x) {
    const T w = wsum[q];
    const T den = w < eps ? eps : w;
    const bool covered = w > eps;
    depth[q] = covered ? depth[q] / den : T(0);
    for (int64_t c = 0; c < C; ++c) feat[c * HW + q] = covered ? feat[c * HW + q] / den : T(0);
    alpha[q] = w > T(1) ? T(1) : w;
    // The key buffer aliases the z-min output: turn each key back into a depth in place.
    const T z = key_depth(keys[q], T(0));
    reinterpret_cast<T*>(keys)[q] = z;
  }
}

template <typename T>
__global__ void pixel_grad_kernel(int64_t HW, int64_t C, T eps, const T* __restrict__ grad_feat,
                                  const T* __restrict__ grad_alpha, const T* __restrict__ out_feat,
                                  const T* __restrict__ wsum, T* __restrict__ G, T* __restrict__ gW) {
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < HW; q += int64_t(gridDim.x) * blockDim.x) {
    const T w = wsum[q];
    const bool covered = w > eps;
    T s = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T g = grad_feat[c * HW + q];
      G[q * C + c] = covered ? g / w : T(0);
      if (covered) s -= g * out_feat[c * HW + q];
    }
    T r = covered ? s / w : T(0);
    if (w < T(1)) r += grad_alpha[q];  // d min(1, W)/dW = [W < 1], as torch.clamp's backward
    gW[q] = r;
  }
}

template <typename T>
__global__ void point_grad_kernel(const T* __restrict__ pts, const T* __restrict__ feats,
                                  const T* __restrict__ opac, const T* __restrict__ rad, const T* __restrict__ K,
                                  Params<T> prm, int64_t P, int64_t C, const T* __restrict__ zmin,
                                  const T* __restrict__ G, const T* __restrict__ gW, T* __restrict__ grad_features,
                                  T* __restrict__ grad_opacity) {
  const Params<T> p = with_intrinsics(prm, K);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < P; i += int64_t(gridDim.x) * blockDim.x) {
    T* gf = grad_features != nullptr ? grad_features + i * C : nullptr;
    if (gf != nullptr)
      for (int64_t c = 0; c < C; ++c) gf[c] = T(0);
    T dop = 0;
    Footprint<T> f;
    if (project_point(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2], rad[i], p, f)) {
      const T o = opac[i];
      const T* fr = feats + i * C;
      for (int y = f.ilo; y <= f.ihi; ++y) {
        const T wy = tent_weight(y, f.v, f.r, p.cutoff);
        for (int x = f.jlo; x <= f.jhi; ++x) {
          const int64_t q = int64_t(y) * p.width + x;
          if (!depth_accept(f.z, zmin[q], p.tol_factor)) continue;
          const T w = wy * tent_weight(x, f.u, f.r, p.cutoff);
          const T wo = w * o;
          const T* g = G + q * C;
          T dot = 0;
          for (int64_t c = 0; c < C; ++c) {
            if (gf != nullptr) gf[c] += wo * g[c];
            dot += fr[c] * g[c];
          }
          dop += w * (dot + gW[q]);
        }
      }
    }
    if (grad_opacity != nullptr) grad_opacity[i] = dop;
  }
}

}  // namespace

std::vector<at::Tensor> splat_forward_cuda(const at::Tensor& points_, const at::Tensor& features_,
                                           const at::Tensor& opacity_, const at::Tensor& radius_,
                                           const at::Tensor& K_, int64_t height, int64_t width, double znear,
                                           double depth_tolerance, double max_radius, double eps,
                                           bool save_for_backward) {
  // inputs checked by the binding (check_forward_inputs)
  const at::cuda::OptionalCUDAGuard guard(features_.device());
  const at::Tensor points = points_.contiguous(), features = features_.contiguous();
  const at::Tensor opacity = opacity_.contiguous(), radius = radius_.contiguous(), K = K_.contiguous();
  const int64_t P = points.size(0), C = features.size(1), HW = height * width;
  const auto opts = features.options();
  at::Tensor feat = at::zeros({C, height, width}, opts);
  at::Tensor depth = at::zeros({1, height, width}, opts);
  at::Tensor alpha = at::zeros({1, height, width}, opts);
  at::Tensor wsum = at::zeros({height, width}, opts);
  at::Tensor zmin = at::empty({height, width}, opts);  // holds depth keys until normalisation
  (void)save_for_backward;  // the buffers are needed as scratch on the GPU anyway
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(features.scalar_type(), "splat_forward_cuda", [&] {
    using Key = typename KeyType<scalar_t>::type;
    static_assert(sizeof(Key) == sizeof(scalar_t), "depth keys alias the z-min buffer");
    const Params<scalar_t> prm = scalar_params<scalar_t>(height, width, znear, depth_tolerance, max_radius, eps);
    Key* keys = reinterpret_cast<Key*>(zmin.data_ptr<scalar_t>());
    // Key of +inf, computed on the host.
    const scalar_t inf = std::numeric_limits<scalar_t>::infinity();
    typename KeyType<scalar_t>::bits inf_bits;
    std::memcpy(&inf_bits, &inf, sizeof(inf_bits));
    init_keys_kernel<Key><<<num_blocks(HW), kThreads, 0, stream>>>(keys, static_cast<Key>(ordered_key(inf_bits)), HW);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (P > 0) {
      zmin_kernel<scalar_t, Key><<<num_blocks(P), kThreads, 0, stream>>>(
          points.data_ptr<scalar_t>(), radius.data_ptr<scalar_t>(), K.data_ptr<scalar_t>(), prm, P, keys);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      accumulate_kernel<scalar_t, Key><<<num_blocks(P), kThreads, 0, stream>>>(
          points.data_ptr<scalar_t>(), features.data_ptr<scalar_t>(), opacity.data_ptr<scalar_t>(),
          radius.data_ptr<scalar_t>(), K.data_ptr<scalar_t>(), prm, P, C, keys, wsum.data_ptr<scalar_t>(),
          depth.data_ptr<scalar_t>(), feat.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    normalise_kernel<scalar_t, Key><<<num_blocks(HW), kThreads, 0, stream>>>(
        HW, C, prm.eps, wsum.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(), feat.data_ptr<scalar_t>(),
        alpha.data_ptr<scalar_t>(), keys);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {feat, depth, alpha, wsum, zmin};
}

void splat_backward_cuda(BackwardArgs& a, int64_t height, int64_t width, double znear, double depth_tolerance,
                         double max_radius, double eps) {
  const int64_t P = a.P, C = a.C, HW = height * width;
  const at::Tensor &points = a.points, &features = a.features, &opacity = a.opacity, &radius = a.radius;
  const at::Tensor &K = a.K, &grad_feat = a.grad_feat, &grad_alpha = a.grad_alpha;
  const at::Tensor &out_feat = a.out_feat, &wsum = a.wsum, &zmin = a.zmin;
  at::Tensor &gfeat = a.grad_features, &gopac = a.grad_opacity;
  const bool need_features = gfeat.defined(), need_opacity = gopac.defined();
  const at::cuda::OptionalCUDAGuard guard(features.device());
  at::Tensor G = at::empty({HW, C}, features.options());
  at::Tensor gW = at::empty({HW}, features.options());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(features.scalar_type(), "splat_backward_cuda", [&] {
    const Params<scalar_t> prm = scalar_params<scalar_t>(height, width, znear, depth_tolerance, max_radius, eps);
    pixel_grad_kernel<scalar_t><<<num_blocks(HW), kThreads, 0, stream>>>(
        HW, C, prm.eps, grad_feat.data_ptr<scalar_t>(), grad_alpha.data_ptr<scalar_t>(), out_feat.data_ptr<scalar_t>(),
        wsum.data_ptr<scalar_t>(), G.data_ptr<scalar_t>(), gW.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    point_grad_kernel<scalar_t><<<num_blocks(P), kThreads, 0, stream>>>(
        points.data_ptr<scalar_t>(), features.data_ptr<scalar_t>(), opacity.data_ptr<scalar_t>(),
        radius.data_ptr<scalar_t>(), K.data_ptr<scalar_t>(), prm, P, C, zmin.data_ptr<scalar_t>(),
        G.data_ptr<scalar_t>(), gW.data_ptr<scalar_t>(), need_features ? gfeat.data_ptr<scalar_t>() : nullptr,
        need_opacity ? gopac.data_ptr<scalar_t>() : nullptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace splat
}  // namespace cg3d
