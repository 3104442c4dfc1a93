// The XLA custom-call handlers of the CPU kernels ("Host" platform): XLA's buffers in, the same core
// calls as the TF ops' CPU kernels, "" or an error out. No TensorFlow here (xla_call.h). The shapes
// were checked when the op was lowered (*_lowering.cc); what only the values show (lengths, costs
// that overflow) is checked here, with the messages of the TF kernels.
#include <cmath>
#include <limits>
#include <vector>

#include "checks/input_checks.h"
#include "common/cpu_dispatch.h"
#include "common/thread_pool.h"
#include "emd/matched_cost.h"
#include "tf/xla/xla_call.h"

namespace pointops {
namespace {

// Every core of this machine: XLA hands a custom call no pool of its own.
ParallelFor pool() { return thread_pool_parallel_for(0); }

template <typename T>
const T* in_ptr(const void** in, int k) { return static_cast<const T*>(in[k]); }
template <typename T>
T* out_ptr(void** out, int k) { return static_cast<T*>(out[k]); }

// The assignment auction of PointopsEmdMatch and PointopsEmdMean: in a, b, a_lengths, b_lengths;
// out assignment [B, N], gap [B].
template <typename T>
std::string emd_assignment(const char* op, void** out, const void** in, const XlaCall& c) {
  const int32_t *a_len = in_ptr<int32_t>(in, 2), *b_len = in_ptr<int32_t>(in, 3);
  std::string err = check_both_lengths(op, a_len, b_len, c.B, c.N, c.M);
  if (err.empty()) err = check_equal_lengths(op, a_len, b_len, c.B);
  if (!err.empty()) return err;
  cpu_kernels_of<T>().emd_match(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.D, a_len, c.emd_options(),
                                out_ptr<int32_t>(out, 0), out_ptr<T>(out, 1), pool());
  return check_emd_cost_range(op, in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.N, c.D, a_len, a_len,
                              out_ptr<T>(out, 1));
}

}  // namespace

// PointopsNnDistance. in: a [B, N, D], b [B, M, D], a_lengths, b_lengths [B];
// out: dist_ab [B, N], idx_ab [B, N], dist_ba [B, M], idx_ba [B, M].
std::string nn_distance_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsNnDistance", [&](auto zero) -> std::string {
    using T = decltype(zero);
    const int32_t *a_len = in_ptr<int32_t>(in, 2), *b_len = in_ptr<int32_t>(in, 3);
    std::string err = check_both_lengths("PointopsNnDistance", a_len, b_len, c.B, c.N, c.M);
    if (!err.empty()) return err;
    cpu_kernels_of<T>().nn_distance(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.M, c.D, a_len, b_len,
                                    out_ptr<T>(out, 0), out_ptr<int32_t>(out, 1), out_ptr<T>(out, 2),
                                    out_ptr<int32_t>(out, 3), NnAlgorithm(c.algorithm), c.euclidean == 0, pool());
    return "";
  });
}

// PointopsNnDistanceGrad. in: a, b, idx_ab [B, N], idx_ba [B, M], grad_dist_ab [B, N], grad_dist_ba [B, M];
// out: grad_a [B, N, D], grad_b [B, M, D].
std::string nn_distance_grad_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsNnDistanceGrad", [&](auto zero) -> std::string {
    using T = decltype(zero);
    const int32_t *idx_ab = in_ptr<int32_t>(in, 2), *idx_ba = in_ptr<int32_t>(in, 3);
    std::string err = check_indices("PointopsNnDistanceGrad", "idx_ab", idx_ab, c.B, c.N, c.M);
    if (err.empty()) err = check_indices("PointopsNnDistanceGrad", "idx_ba", idx_ba, c.B, c.M, c.N);
    if (!err.empty()) return err;
    cpu_kernels_of<T>().nn_distance_grad(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.M, c.D, idx_ab, idx_ba,
                                         in_ptr<T>(in, 4),
                                         in_ptr<T>(in, 5), out_ptr<T>(out, 0), out_ptr<T>(out, 1), c.euclidean == 0,
                                         pool());
    return "";
  });
}

// PointopsChamferMean. in: a [B, N, D], b [B, M, D]; out: chamfer [], idx_ab [B, N], idx_ba [B, M], and
// XLA's scratch for the distances, dist_ab [B, N] and dist_ba [B, M]. The sums as the TF kernel's.
std::string chamfer_mean_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsChamferMean", [&](auto zero) -> std::string {
    using T = decltype(zero);
    const std::vector<int32_t> a_len(c.B, int32_t(c.N)), b_len(c.B, int32_t(c.M));
    T* dist_ab = out_ptr<T>(out, 3);
    T* dist_ba = out_ptr<T>(out, 4);
    cpu_kernels_of<T>().nn_distance(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.M, c.D, a_len.data(),
                                    b_len.data(), dist_ab, out_ptr<int32_t>(out, 1), dist_ba,
                                    out_ptr<int32_t>(out, 2), NnAlgorithm::kAuto, true, pool());
    *out_ptr<T>(out, 0) = T(mean_in_double(dist_ab, c.B * c.N) + mean_in_double(dist_ba, c.B * c.M));
    return "";
  });
}

// PointopsKnn. in: a [B, N, D], b [B, M, D], a_lengths, b_lengths [B] (each may be 0);
// out: dist [B, N, k], idx [B, N, k].
std::string knn_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsKnn", [&](auto zero) -> std::string {
    using T = decltype(zero);
    const int32_t *a_len = in_ptr<int32_t>(in, 2), *b_len = in_ptr<int32_t>(in, 3);
    std::string err = check_both_lengths("PointopsKnn", a_len, b_len, c.B, c.N, c.M, 0);
    if (!err.empty()) return err;
    cpu_kernels_of<T>().knn(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.M, c.D, c.k, Metric(c.norm), a_len,
                            b_len, out_ptr<T>(out, 0), out_ptr<int32_t>(out, 1), pool());
    return "";
  });
}

// PointopsEmdMatch. in: a, b [B, N, D], a_lengths, b_lengths [B]; out: assignment [B, N], gap [B].
std::string emd_match_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsEmdMatch", [&](auto zero) {
    return emd_assignment<decltype(zero)>("PointopsEmdMatch", out, in, c);
  });
}

// PointopsEmdMean. As PointopsEmdMatch, and out distance [] (mean_matched_cost, as the TF kernel's).
std::string emd_mean_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsEmdMean", [&](auto zero) -> std::string {
    using T = decltype(zero);
    std::string err = emd_assignment<T>("PointopsEmdMean", out, in, c);
    if (!err.empty()) return err;
    *out_ptr<T>(out, 2) = T(mean_matched_cost(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.D,
                                              in_ptr<int32_t>(in, 2), out_ptr<int32_t>(out, 0), out_ptr<T>(out, 1),
                                              c.squared != 0));
    return "";
  });
}

// PointopsEmdTransport. in: a [B, N, D], b [B, M, D], a_lengths, b_lengths [B];
// out: plan_i, plan_j, plan_mass [B, N + M - 1], gap [B].
std::string emd_transport_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsEmdTransport", [&](auto zero) -> std::string {
    using T = decltype(zero);
    const int32_t *a_len = in_ptr<int32_t>(in, 2), *b_len = in_ptr<int32_t>(in, 3);
    std::string err = check_both_lengths("PointopsEmdTransport", a_len, b_len, c.B, c.N, c.M);
    if (!err.empty()) return err;
    cpu_kernels_of<T>().emd_transport(in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.M, c.D, a_len, b_len,
                                      c.emd_options(),
                                      out_ptr<int32_t>(out, 0), out_ptr<int32_t>(out, 1), out_ptr<T>(out, 2),
                                      out_ptr<T>(out, 3), pool());
    return check_emd_cost_range("PointopsEmdTransport", in_ptr<T>(in, 0), in_ptr<T>(in, 1), c.B, c.N, c.M, c.D,
                                a_len, b_len, out_ptr<T>(out, 3));
  });
}

// PointopsPairwiseChamfer. in: x [B, N, D], y [R, M, D] (x itself with symmetric), x_lengths [B],
// y_lengths [R]; out: chamfer [B, R].
std::string pairwise_chamfer_host(void** out, const void** in, const XlaCall& c) {
  return run_typed(c, "PointopsPairwiseChamfer", [&](auto zero) -> std::string {
    using T = decltype(zero);
    const char* op = "PointopsPairwiseChamfer";
    const int32_t *x_len = in_ptr<int32_t>(in, 2), *y_len = in_ptr<int32_t>(in, 3);
    std::string err = check_lengths(op, "x_lengths", x_len, {c.B}, c.B, c.N);
    if (err.empty()) err = check_lengths(op, "y_lengths", y_len, {c.R}, c.R, c.M);
    if (!err.empty()) return err;
    // With symmetric the core reads x for both sides (its contract: the same pointer).
    const T* x = in_ptr<T>(in, 0);
    cpu_kernels_of<T>().pairwise_chamfer(x, c.symmetric ? x : in_ptr<T>(in, 1), c.B, c.R, c.N, c.M, c.D, x_len,
                                         c.symmetric ? x_len : y_len, c.symmetric != 0, out_ptr<T>(out, 0), pool());
    return "";
  });
}

}  // namespace pointops
