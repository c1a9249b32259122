// Python bindings of the native kernels (module cinemagraph3d._C).
//
// prepare_splat (prep/prepare_cpu.cpp) is the per-point pass before a splat, move_cloud
// (prep/move_cpu.cpp) builds one moved cloud of a frame and gap_widen (prep/gap_cpu.cpp) the
// footprint widening of a view, ghost_keep (prep/ghost_cpu.cpp) which border ghosts can be seen, flow_step
// (prep/flow_cpu.cpp) one Euler step of the motion integration; fuse_dissolve (fuse/fuse_cpu.cpp) fuses
// the frame's two splats and fill_holes (fuse/fill_cpu.cpp) fills what they leave uncovered (CPU
// only).
//
// splat_forward / splat_backward dispatch on the device of `features`: CPU tensors run the
// OpenMP kernel (splat/splat_cpu.cpp), CUDA tensors the CUDA kernel (splat/splat_cuda.cu) when
// the module was built with CINEMAGRAPH3D_CUDA=1 (macro CG3D_WITH_CUDA). The autograd wrapper is
// cinemagraph3d/render/_native.py.
//
// gap_widen, ghost_keep, flow_step, fuse_dissolve and fill_holes also have an AVX2 build
// (csrc/isa/, see csrc/isa.h), called where the CPU supports it; cpu_kernels / set_cpu_kernels
// report and choose the build.
#include <torch/extension.h>

#include <vector>

#include "fuse/fuse.h"
#include "isa.h"
#include "prep/prepare.h"
#include "splat/splat_ops.h"

namespace cg3d {
#if CG3D_AVX2_KERNELS
// The AVX2 builds of csrc/isa/: the same signatures, the names the wrappers' macros give them.
namespace prep {
decltype(gap_widen_cpu) gap_widen_cpu_avx2;
decltype(ghost_keep_cpu) ghost_keep_cpu_avx2;
decltype(flow_step_cpu) flow_step_cpu_avx2;
}  // namespace prep
namespace fuse {
decltype(fuse_dissolve_cpu) fuse_dissolve_cpu_avx2;
decltype(fill_holes_cpu) fill_holes_cpu_avx2;
}  // namespace fuse
#endif

namespace {
// Pick<Baseline, Avx2>::call: the AVX2 build when it is in use (isa::use_avx2), else the baseline.
template <auto Baseline, auto Avx2>
struct Pick;
template <typename R, typename... A, R (*Baseline)(A...), R (*Avx2)(A...)>
struct Pick<Baseline, Avx2> {
  static R call(A... a) { return isa::use_avx2() ? Avx2(a...) : Baseline(a...); }
};
}  // namespace
}  // namespace cg3d

#if CG3D_AVX2_KERNELS
#define CG3D_PICK(ns, name) &cg3d::Pick<&cg3d::ns::name, &cg3d::ns::name##_avx2>::call
#else
#define CG3D_PICK(ns, name) &cg3d::ns::name
#endif

namespace cg3d {
namespace splat {
namespace {

// Each call is checked once here (splat_common.cpp), then dispatched on the device of `features`.
std::vector<at::Tensor> splat_forward(const at::Tensor& points, const at::Tensor& features,
                                      const at::Tensor& opacity, const at::Tensor& radius, const at::Tensor& K,
                                      int64_t height, int64_t width, double znear, double depth_tolerance,
                                      double max_radius, double eps, bool save_for_backward, int64_t row_begin,
                                      int64_t row_end, const c10::optional<at::Tensor>& other_features,
                                      const c10::optional<at::Tensor>& other_depth,
                                      const c10::optional<at::Tensor>& other_alpha) {
  check_forward_inputs(points, features, opacity, radius, K, height, width, max_radius);
  check_row_range(height, row_begin, row_end);
  check_other_splat(features, height, width, other_features, other_depth, other_alpha);
  if (features.is_cuda()) {
#ifdef CG3D_WITH_CUDA
    return splat_forward_cuda(points, features, opacity, radius, K, height, width, znear, depth_tolerance,
                              max_radius, eps, save_for_backward);
#else
    TORCH_CHECK(false, "splat: cinemagraph3d._C was built without CUDA (rebuild with CINEMAGRAPH3D_CUDA=1)");
#endif
  }
  return splat_forward_cpu(points, features, opacity, radius, K, height, width, znear, depth_tolerance,
                           max_radius, eps, save_for_backward, row_begin, row_end, other_features, other_depth,
                           other_alpha);
}

std::vector<at::Tensor> splat_backward(const at::Tensor& grad_feat, const at::Tensor& grad_alpha,
                                       const at::Tensor& points, const at::Tensor& features,
                                       const at::Tensor& opacity, const at::Tensor& radius, const at::Tensor& K,
                                       const at::Tensor& out_feat, const at::Tensor& wsum, const at::Tensor& zmin,
                                       int64_t height, int64_t width, double znear, double depth_tolerance,
                                       double max_radius, double eps, bool need_features, bool need_opacity) {
  BackwardArgs args = prepare_backward(grad_feat, grad_alpha, points, features, opacity, radius, K, out_feat, wsum,
                                       zmin, height, width, max_radius, need_features, need_opacity);
  if (!args.empty) {
    if (features.is_cuda()) {
#ifdef CG3D_WITH_CUDA
      splat_backward_cuda(args, height, width, znear, depth_tolerance, max_radius, eps);
#else
      TORCH_CHECK(false, "splat: cinemagraph3d._C was built without CUDA (rebuild with CINEMAGRAPH3D_CUDA=1)");
#endif
    } else {
      splat_backward_cpu(args, height, width, znear, depth_tolerance, max_radius, eps);
    }
  }
  return {args.grad_features, args.grad_opacity};
}

}  // namespace
}  // namespace splat
}  // namespace cg3d

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "cinemagraph3d native kernels (splatting renderer).";
#ifdef CG3D_WITH_CUDA
  m.attr("has_cuda") = true;
#else
  m.attr("has_cuda") = false;
#endif
#ifdef _OPENMP
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  m.def("cpu_kernels", [] { return std::string(cg3d::isa::current()); },
        "The build of the CPU kernels with an AVX2 variant in use: 'avx2' or 'baseline'.");
  m.def(
      "set_cpu_kernels", [](const std::string& name) { return std::string(cg3d::isa::choose(name.c_str())); },
      py::arg("name"),
      "Choose the build of those kernels, 'avx2' (where available) or 'baseline'; returns the previous one. "
      "Both give the same values bit for bit.");
  m.attr("has_avx2_kernels") = cg3d::isa::avx2_available();
  m.def("splat_forward", &cg3d::splat::splat_forward, py::arg("points"), py::arg("features"), py::arg("opacity"),
        py::arg("radius"), py::arg("K"), py::arg("height"), py::arg("width"), py::arg("znear"),
        py::arg("depth_tolerance"), py::arg("max_radius"), py::arg("eps"), py::arg("save_for_backward") = true,
        py::arg("row_begin") = 0, py::arg("row_end") = -1, py::arg("other_features") = py::none(),
        py::arg("other_depth") = py::none(), py::arg("other_alpha") = py::none(),
        "Splat forward. Returns [features (C,H,W), depth (1,H,W), alpha (1,H,W), coverage W (H,W), "
        "z-min buffer (H,W)]; the last two are needed by splat_backward (empty unless "
        "save_for_backward). Only rows [row_begin, row_end) need be computed (row_end -1: all; on the "
        "CPU the row bands outside them are 0, or copied from other_features / other_depth / "
        "other_alpha when given (CPU only); CUDA computes every row).");
  m.def("splat_backward", &cg3d::splat::splat_backward, py::arg("grad_features"), py::arg("grad_alpha"),
        py::arg("points"), py::arg("features"), py::arg("opacity"), py::arg("radius"), py::arg("K"),
        py::arg("out_features"), py::arg("coverage"), py::arg("zmin"), py::arg("height"), py::arg("width"),
        py::arg("znear"), py::arg("depth_tolerance"), py::arg("max_radius"), py::arg("eps"),
        py::arg("need_features"), py::arg("need_opacity"),
        "Splat backward. Returns [grad_features (P,C) or None, grad_opacity (P,) or None].");
  m.def("prepare_splat", &cg3d::prep::prepare_splat_cpu, py::arg("points"), py::arg("cam_from_world"), py::arg("K"),
        py::arg("z0"), py::arg("fx"), py::arg("stretch"), py::arg("widen"), py::arg("features"), py::arg("lap_u"),
        py::arg("lap_v"), py::arg("kappa"), py::arg("moving") = py::none(), py::arg("znear") = 0.0,
        py::arg("max_radius") = 0.0, py::arg("out_points") = py::none(), py::arg("out_radius") = py::none(),
        py::arg("out_features") = py::none(), py::arg("extra") = py::none(),
        "One pass over the points before a splat (CPU): [camera-frame points (P,3), radius (P,), features "
        "(P,C), sharpened when lap_u / lap_v are given, rows (2,) [lo, hi) the moving points' footprints "
        "may touch (empty without moving)]. With out_points / out_radius (/ out_features when sharpening): "
        "an earlier call's outputs for inputs that differ only at the moving points; only the blocks "
        "holding moving points are redone, into them. With extra (P,): the features output is (P, C+1), "
        "the (sharpened) features joined with extra as the last channel.");
  m.def("move_cloud", &cg3d::prep::move_cloud_cpu, py::arg("points"), py::arg("sel"), py::arg("rows"),
        py::arg("disp"), py::arg("nbrs"), py::arg("cap"), py::arg("src_i"), py::arg("src_j"), py::arg("fx"),
        py::arg("fy"), py::arg("max_stretch"), py::arg("ghost_points"), py::arg("ghost_disp"),
        py::arg("out_points") = py::none(), py::arg("out_stretch") = py::none(),
        "One moved cloud (CPU): [points (P+G,3) with the moving rows displaced and the ghosts appended, "
        "footprint stretch (P+G,)]; with out_points / out_stretch (an earlier call's outputs for the same "
        "points, sel and ghosts) only the moving and ghost rows are rewritten, in them.");
  m.def("gap_widen", CG3D_PICK(prep, gap_widen_cpu), py::arg("points"), py::arg("cam_from_world"), py::arg("K"),
        py::arg("fx"), py::arg("nodes"), py::arg("pairs"), py::arg("num_points"), py::arg("znear"),
        py::arg("max_gap"),
        "Footprint widening that closes a view's gaps (CPU): (num_points,) factors, 1 off the nodes.");
  m.def("ghost_keep", CG3D_PICK(prep, ghost_keep_cpu), py::arg("pos"), py::arg("forward_states"),
        py::arg("backward_states"), py::arg("moving"), py::arg("height"), py::arg("width"), py::arg("margin"),
        py::arg("front") = py::none(), py::arg("z_ghost") = py::none(),
        "Which border ghosts may be kept (CPU): (G,) bool (margin < 0: no margin test).");
  m.def("grid_neighbours", &cg3d::prep::grid_neighbours_cpu, py::arg("pixels"), py::arg("layer"), py::arg("depth"),
        py::arg("max_step"),
        "Grid neighbours of lifted points (CPU): [index (4, P) int64, connected (4, P) bool].");
  m.def("flow_step", CG3D_PICK(prep, flow_step_cpu), py::arg("field"), py::arg("positions"), py::arg("state"),
        py::arg("sign"), py::arg("extended"), py::arg("wave") = py::none(), py::arg("cell") = 1.0,
        py::arg("out") = py::none(),
        "One Euler step of the motion integration (CPU): (P, 2) state + sign * v(positions + state) "
        "(v alone when state is None), v the bilinear field with border values and the turbulence.");
  m.def("fuse_dissolve", CG3D_PICK(fuse, fuse_dissolve_cpu), py::arg("f_features"), py::arg("f_depth"),
        py::arg("f_alpha"), py::arg("b_features"), py::arg("b_depth"), py::arg("b_alpha"), py::arg("phase_f"),
        py::arg("phase_b"), py::arg("tau"), py::arg("width"), py::arg("depth_weight"), py::arg("eps"),
        py::arg("zref"), py::arg("occlusion_ratio"), py::arg("ramp"), py::arg("detail_radius"),
        py::arg("stats_radius"), py::arg("band_radii") = std::vector<int64_t>{},
        py::arg("band_widths") = std::vector<double>{}, py::arg("band_decimation") = std::vector<int64_t>{},
        "Dissolve fusion of two splats (CPU): [features (C,H,W), depth (1,H,W), alpha (1,H,W)].");
  m.def("fill_holes", CG3D_PICK(fuse, fill_holes_cpu), py::arg("features"), py::arg("alpha"), py::arg("depth"),
        py::arg("far_bias"), "Hole filling of a fused frame (CPU): features (C,H,W).");
}
