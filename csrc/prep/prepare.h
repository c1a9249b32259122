// Per-point preparation of a splat (csrc/prep/prepare_cpu.cpp; binding in csrc/ext.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace cg3d {
namespace prep {

// [camera-frame points (P, 3), footprint radius (P,), features (P, C), rows] of a splat: the
// points moved by cam_from_world (4, 4), radius max(1, K00 z0 / (fx z)) times stretch and widen
// (each optional), and, when lap_u / lap_v (n, 3) are given, the first n points' first 3 feature
// channels sharpened by kappa f(1 - f) lap / r^2 per axis (otherwise features is returned as is).
// With moving (P,) bool, rows is (2,) int64: [lo, hi), the image rows (unclipped) that the
// footprints of the moving points with z > znear may touch (radius clamped to [0.5, max_radius],
// the splat kernel's rule); (0, 0) when there are none. Without it, rows is empty.
// With out_points / out_radius (and out_features exactly when lap_u / lap_v are given): the
// outputs of an earlier call whose inputs differ only at the moving points; only the blocks of 64
// points holding a moving point are recomputed, into those buffers, which are returned.
// With extra (P,): the features output is (P, C + 1), the (sharpened) features joined with it as
// the last channel (out_features, when reused, is then that shape).
std::vector<at::Tensor> prepare_splat_cpu(const at::Tensor& points, const at::Tensor& cam_from_world,
                                          const at::Tensor& K, const at::Tensor& z0, double fx,
                                          const c10::optional<at::Tensor>& stretch,
                                          const c10::optional<at::Tensor>& widen, const at::Tensor& features,
                                          const c10::optional<at::Tensor>& lap_u,
                                          const c10::optional<at::Tensor>& lap_v, double kappa,
                                          const c10::optional<at::Tensor>& moving, double znear,
                                          double max_radius, const c10::optional<at::Tensor>& out_points,
                                          const c10::optional<at::Tensor>& out_radius,
                                          const c10::optional<at::Tensor>& out_features,
                                          const c10::optional<at::Tensor>& extra);

// [moved points (P + G, 3), stretch (P + G,)] of one moved cloud (csrc/prep/move_cpu.cpp): the
// points with rows sel displaced by the fronto-parallel lift of disp[rows] (pixels; focal fx, fy),
// the footprint stretch of each moving pixel from its four neighbours' displacements (nbrs
// (4, M): right, left, below, above; M for a still neighbour) capped by cap (H, W) where the pixel
// lands (src_i / src_j its row and column), and the optional ghosts (G, 3) moved by ghost_disp
// (G, 2) appended with stretch 1. With out_points (P + G, 3) and out_stretch (P + G,), the outputs
// of an earlier call with the same points, sel and ghost count, only the rows sel and the ghosts'
// rows are written into them (the still points' rows already hold their values) and they are
// returned.
std::vector<at::Tensor> move_cloud_cpu(const at::Tensor& points, const at::Tensor& sel, const at::Tensor& rows,
                                       const at::Tensor& disp, const at::Tensor& nbrs, const at::Tensor& cap,
                                       const at::Tensor& src_i, const at::Tensor& src_j, double fx, double fy,
                                       double max_stretch, const c10::optional<at::Tensor>& ghost_points,
                                       const c10::optional<at::Tensor>& ghost_disp,
                                       const c10::optional<at::Tensor>& out_points,
                                       const c10::optional<at::Tensor>& out_stretch);

// Per-point footprint widening (P,) that closes the gaps of one view (csrc/prep/gap_cpu.cpp): the
// N slanted nodes' world points (N, 3) seen through cam_from_world (4, 4) and K (3, 3), the joined
// pairs (2, E) of node indices; each node's radius is max(base, largest gap g <= max_gap to a
// joined neighbour, in pixels) with base the depth-scale radius max(1, K00 z0 / (fx z)) (z0 the
// world depth, points at z <= znear never bridge), and its widening that radius / base, written
// at its point index nodes[i]; every other point's is 1.
at::Tensor gap_widen_cpu(const at::Tensor& points, const at::Tensor& cam_from_world, const at::Tensor& K, double fx,
                         const at::Tensor& nodes, const at::Tensor& pairs, int64_t num_points, double znear,
                         double max_gap);

// Which of G border ghosts may be kept (G,) bool (csrc/prep/ghost_cpu.cpp): a ghost at pos (G, 2)
// (pixels) moved by each state of forward_states and backward_states (S, G, 2) is dropped when it
// lands inside the height x width image on a pixel that is not moving (moving (H*W,) bool) and,
// with front (H*W,) and z_ghost (G,), not nearer than the ghost; with margin >= 0 it is dropped
// too unless some state brings it within margin pixels of the image.
at::Tensor ghost_keep_cpu(const at::Tensor& pos, const at::Tensor& forward_states,
                          const at::Tensor& backward_states, const at::Tensor& moving, int64_t height, int64_t width,
                          double margin, const c10::optional<at::Tensor>& front,
                          const c10::optional<at::Tensor>& z_ghost);

// Grid neighbours of lifted points (csrc/prep/nbrs_cpu.cpp; the reference is
// cinemagraph3d/render/footprint.py: grid_neighbours): [index (4, P) int64, connected (4, P) bool],
// the right, left, lower and upper neighbour of each point (pixels (P, 2), layer (P,), depth (P,)),
// the point itself where none is joined.
std::vector<at::Tensor> grid_neighbours_cpu(const at::Tensor& pixels, const at::Tensor& layer,
                                            const at::Tensor& depth, double max_step);

// One Euler step of the motion integration (csrc/prep/flow_cpu.cpp): out (P, 2) = state + sign * v
// (v alone without state), v the field sampled bilinearly at x = positions + state (pixels, centres
// at +0.5; border values replicated, 0 outside [0, W] x [0, H] unless extended). field is (2, H, W)
// px/step, or (3, H, W) with a turbulence amplitude A and wave (2, h, w) the wave grid of cells
// `cell` pixels wide: v = M(x) + A(x) wave(x / cell). out (P, 2) may be given (it may be state).
at::Tensor flow_step_cpu(const at::Tensor& field, const at::Tensor& positions, const c10::optional<at::Tensor>& state,
                         double sign, bool extended, const c10::optional<at::Tensor>& wave, double cell,
                         const c10::optional<at::Tensor>& out);

}  // namespace prep
}  // namespace cg3d
