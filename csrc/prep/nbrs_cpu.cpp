// The grid neighbours of the lifted points in one pass per stage (CPU).
//
// Reference: cinemagraph3d/render/footprint.py, grid_neighbours: about 60 torch operations over
// the points (per direction and layer a gather from a dense per-layer map of the points, then the
// "joined" rule with two more gathers per direction), each a pass over memory, with (4, P) and
// (L, H, W) int64 temporaries. Here the per-layer map is filled once (in point order: a later
// point at the same pixel and layer wins; a lifted cloud has one point per pixel and layer, and
// where a cloud repeats one, the reference's parallel index_put keeps one of them), then
// each point finds its four neighbours and, in a second pass (it reads the neighbours'
// neighbours), whether it is joined to them. Comparisons and arithmetic follow the reference in
// the depths' dtype, NaN included (torch.minimum and clamp propagate it), so the outputs are
// equal to the reference's (tests/test_prepare_native.py).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "prep/prepare.h"

namespace cg3d {
namespace prep {
namespace {

// torch.minimum(a, b).clamp(min=lo): NaN when either is NaN.
template <typename T>
inline T min_clamp(T a, T b, T lo) {
  if (a != a || b != b) return std::numeric_limits<T>::quiet_NaN();
  const T m = a < b ? a : b;
  return m < lo ? lo : m;
}

template <typename T>
void run(const at::Tensor& pixels, const at::Tensor& layer, const at::Tensor& depth, double max_step,
         at::Tensor& index, at::Tensor& connected) {
  const int64_t P = pixels.size(0);
  const T* px = pixels.data_ptr<T>();
  const int64_t* lay_in = layer.data_ptr<int64_t>();
  const T* dep = depth.data_ptr<T>();
  int64_t* idx = index.data_ptr<int64_t>();
  bool* con = connected.data_ptr<bool>();
  // pixel of each point (floor), shifted so that the map has a free border of one pixel
  // pixel coordinates must be finite and moderate before they are cast to integers (the cast of
  // NaN, inf or a value beyond int64 is undefined); 2^40 bounds the grid below as well
  const double lim = double(int64_t(1) << 40);
  for (int64_t p = 0; p < 2 * P; ++p)
    TORCH_CHECK(std::isfinite(static_cast<double>(px[p])) && std::fabs(static_cast<double>(px[p])) < lim,
                "grid_neighbours: pixels: expected finite coordinates below 2^40 in magnitude, found ",
                static_cast<double>(px[p]), " at point ", p / 2);
  std::vector<int64_t> ii(static_cast<size_t>(P)), jj(static_cast<size_t>(P));
  at::parallel_for(0, P, 16384, [&](int64_t a, int64_t b) {
    for (int64_t p = a; p < b; ++p) {
      jj[p] = static_cast<int64_t>(std::floor(px[2 * p]));
      ii[p] = static_cast<int64_t>(std::floor(px[2 * p + 1]));
    }
  });
  const auto jm = std::minmax_element(jj.begin(), jj.end());
  const auto im = std::minmax_element(ii.begin(), ii.end());
  const int64_t jmin = *jm.first, imin = *im.first;
  const int64_t jmax = *jm.second - jmin + 1, imax = *im.second - imin + 1;
  at::parallel_for(0, P, 16384, [&](int64_t a, int64_t b) {
    for (int64_t p = a; p < b; ++p) {
      jj[p] = jj[p] - jmin + 1;
      ii[p] = ii[p] - imin + 1;
    }
  });
  const int64_t Wx = jmax + 2, Hx = imax + 2;  // each at most 2^41 + 3: the product may not fit
  // the layers' ranks among their sorted distinct values (torch.unique): a table over the range
  // of values when it is small (LDI layers are 0 … L - 1), else a sort
  const auto mm = std::minmax_element(lay_in, lay_in + P);
  const int64_t lmin = *mm.first;
  const uint64_t uspan = static_cast<uint64_t>(*mm.second) - static_cast<uint64_t>(*mm.first);  // no overflow
  const int64_t lspan = uspan < (uint64_t(1) << 16) ? static_cast<int64_t>(uspan) : -1;
  std::vector<int64_t> rank;  // rank[value - lmin] (table), or the sorted distinct values
  std::vector<int64_t> ids;
  const bool table = lspan >= 0;
  int64_t L = 0;
  if (table) {
    rank.assign(static_cast<size_t>(lspan + 1), -1);
    for (int64_t p = 0; p < P; ++p) rank[lay_in[p] - lmin] = 0;
    for (int64_t v = 0; v <= lspan; ++v)
      if (rank[v] == 0) rank[v] = L++;
  } else {
    ids.assign(lay_in, lay_in + P);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    L = static_cast<int64_t>(ids.size());
  }
  // the dense map holds L * Hx * Wx slots: at most 2^32 (checked without overflow)
  const int64_t cells = int64_t(1) << 32;
  TORCH_CHECK(Hx <= cells / Wx && Hx * Wx <= cells / std::max<int64_t>(L, 1),
              "grid_neighbours: pixels: expected coordinates spanning a grid of at most 2^32 cells, found ", Hx,
              " x ", Wx, " x ", L, " layers");
  const int64_t HWx = Hx * Wx;
  std::vector<int64_t> grid(static_cast<size_t>(L * HWx), -1);
  std::vector<int64_t> base(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; ++p) {  // in point order: the last point at a slot wins
    const int64_t q = table ? rank[lay_in[p] - lmin] : std::lower_bound(ids.begin(), ids.end(), lay_in[p]) - ids.begin();
    base[p] = ii[p] * Wx + jj[p];
    grid[q * HWx + base[p]] = p;
  }
  std::vector<T> disp(static_cast<size_t>(P));
  const T tiny = static_cast<T>(1e-12);
  at::parallel_for(0, P, 16384, [&](int64_t a, int64_t b) {
    for (int64_t p = a; p < b; ++p) disp[p] = T(1) / (dep[p] < tiny ? tiny : dep[p]);  // clamp keeps NaN
  });
  std::vector<uint8_t> found(static_cast<size_t>(4 * P));
  const int64_t offs[4] = {1, -1, Wx, -Wx};
  const T inf = std::numeric_limits<T>::infinity();
  // Pass 1: per direction, the neighbour pixel's point nearest in disparity (the first layer on a tie).
  at::parallel_for(0, P, 8192, [&](int64_t a, int64_t b) {
    for (int64_t p = a; p < b; ++p)
      for (int k = 0; k < 4; ++k) {
        T best = inf;
        int64_t pick = p;
        for (int64_t q = 0; q < L; ++q) {
          const int64_t nb = grid[q * HWx + base[p] + offs[k]];
          const T step = nb >= 0 ? std::fabs(disp[nb] - disp[p]) : inf;
          if (step < best) {
            best = step;
            pick = nb;
          }
        }
        idx[k * P + p] = pick;
        found[k * P + p] = std::isfinite(best);
      }
  });
  // Pass 2: joined where the relative step is small or continues the step before or after it.
  const T ms = static_cast<T>(max_step), quarter = static_cast<T>(0.25);
  at::parallel_for(0, P, 8192, [&](int64_t a, int64_t b) {
    for (int64_t p = a; p < b; ++p)
      for (int k = 0; k < 4; ++k) {
        const int64_t nb = idx[k * P + p], back = idx[(k ^ 1) * P + p];
        const T d1 = disp[nb] - disp[p];
        const T rel = std::fabs(d1) / min_clamp(disp[nb], disp[p], tiny);
        const T d0 = found[(k ^ 1) * P + p] ? disp[p] - disp[back] : inf;
        const T d2 = found[k * P + nb] ? disp[idx[k * P + nb]] - disp[nb] : inf;
        const T a1 = quarter * std::fabs(d1);
        const bool alike = (std::fabs(d1 - d0) <= a1) | (std::fabs(d1 - d2) <= a1);
        con[k * P + p] = found[k * P + p] && ((rel <= ms) | alike);
      }
  });
  // Unjoined neighbours point back at the point itself (after pass 2, which reads them all).
  at::parallel_for(0, P, 8192, [&](int64_t a, int64_t b) {
    for (int k = 0; k < 4; ++k)
      for (int64_t p = a; p < b; ++p)
        if (!con[k * P + p]) idx[k * P + p] = p;
  });
}

}  // namespace

std::vector<at::Tensor> grid_neighbours_cpu(const at::Tensor& pixels_, const at::Tensor& layer_,
                                            const at::Tensor& depth_, double max_step) {
  TORCH_CHECK(pixels_.dim() == 2 && pixels_.size(1) == 2,
              "grid_neighbours: pixels: expected shape (P, 2), found ", pixels_.sizes());
  const int64_t P = pixels_.size(0);
  TORCH_CHECK(layer_.dim() == 1 && layer_.size(0) == P, "grid_neighbours: layer: expected shape (", P,
              ",), found ", layer_.sizes());
  TORCH_CHECK(depth_.dim() == 1 && depth_.size(0) == P, "grid_neighbours: depth: expected shape (", P,
              ",), found ", depth_.sizes());
  for (const at::Tensor* t : {&pixels_, &layer_, &depth_})
    TORCH_CHECK(t->device().is_cpu(), "grid_neighbours: expected CPU tensors, found ", t->device());
  const auto dt = depth_.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble, "grid_neighbours: depth: expected float32 or float64, found ",
              dt);
  TORCH_CHECK(pixels_.scalar_type() == dt, "grid_neighbours: pixels: expected dtype ", dt, ", found ",
              pixels_.scalar_type());
  TORCH_CHECK(P >= 1, "grid_neighbours: expected at least one point");
  const at::Tensor pixels = pixels_.contiguous(), depth = depth_.contiguous();
  const at::Tensor layer = layer_.to(at::kLong).contiguous();
  at::Tensor index = at::empty({4, P}, pixels.options().dtype(at::kLong));
  at::Tensor connected = at::empty({4, P}, pixels.options().dtype(at::kBool));
  AT_DISPATCH_FLOATING_TYPES(dt, "grid_neighbours_cpu",
                             [&] { run<scalar_t>(pixels, layer, depth, max_step, index, connected); });
  return {index, connected};
}

}  // namespace prep
}  // namespace cg3d
