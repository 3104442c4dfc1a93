#pragma once
// Input checks shared by the two compiled doors (the TF kernels and the pybind11 module).
// Each returns "" when the input is fine, else a message that names the argument and shapes.
// Core code never validates: it relies on these having passed. Messages are built with plain
// std::string: std::ostringstream crashed in the pybind11 module under a python-build-standalone
// interpreter (its locale setup), seen on the GPU machine.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace pointops {

inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t k = 0; k < shape.size(); ++k) out += (k ? ", " : "") + std::to_string(shape[k]);
  return out + "]";
}

// The CUDA nearest-neighbour kernels compute squared distances only (pointops' Python asks them for
// nothing else): the GPU doors of PointopsNnDistance and its gradient refuse squared = false.
inline std::string check_gpu_squared(const char* op, bool squared) {
  return squared ? "" : std::string(op) + ": squared=false has no GPU kernel";
}

// a: [B, N, D], b: [B, M, D]; equal_sizes requires N == M (EMD).
inline std::string check_point_sets(const char* op, const std::vector<int64_t>& a,
                                    const std::vector<int64_t>& b, bool equal_sizes) {
  const std::string shapes = ", got a " + shape_string(a) + " and b " + shape_string(b);
  const std::string name = op;
  if (a.size() != 3) return name + ": a must have rank 3 [B, N, D]" + shapes;
  if (b.size() != 3) return name + ": b must have rank 3 [B, M, D]" + shapes;
  if (a[0] != b[0]) return name + ": a and b must have the same batch size" + shapes;
  if (a[2] != b[2]) return name + ": a and b must have the same point dimension D" + shapes;
  if (a[2] < 1 || a[2] > 8) return name + ": point dimension D must be in [1, 8]" + shapes;
  if (a[1] < 1 || b[1] < 1) return name + ": point sets must not be empty" + shapes;
  if (equal_sizes && a[1] != b[1]) return name + ": EMD here needs equal sizes N == M (a one-to-one assignment)" + shapes;
  // Indices are int32 (with room for SIMD padding past the last point); sizes and products are 64-bit.
  if (a[0] * std::max(a[1], b[1]) > std::numeric_limits<int32_t>::max() - 1024)
    return name + ": B * N and B * M must be below 2^31 - 1024" + shapes;
  return "";
}

// x: [S, N, D], y: [R, M, D] (pairwise ops: every cloud of x against every cloud of y, so S and R
// may differ and may be 0); symmetric: y must be x itself.
inline std::string check_cloud_sets(const char* op, const std::vector<int64_t>& x,
                                    const std::vector<int64_t>& y, bool symmetric = false) {
  const std::string shapes = ", got x " + shape_string(x) + " and y " + shape_string(y);
  const std::string name = op;
  if (x.size() != 3) return name + ": x must have rank 3 [S, N, D]" + shapes;
  if (y.size() != 3) return name + ": y must have rank 3 [R, M, D]" + shapes;
  if (x[2] != y[2]) return name + ": x and y must have the same point dimension D" + shapes;
  if (x[2] < 1 || x[2] > 8) return name + ": point dimension D must be in [1, 8]" + shapes;
  if (x[1] < 1 || y[1] < 1) return name + ": point sets must not be empty" + shapes;
  if (x[0] * x[1] > std::numeric_limits<int32_t>::max() - 1024 ||
      y[0] * y[1] > std::numeric_limits<int32_t>::max() - 1024)
    return name + ": S * N and R * M must be below 2^31 - 1024" + shapes;
  if (symmetric && x != y) return name + ": symmetric needs y to be x" + shapes;
  return "";
}

// An input whose shape is fully determined by the point sets (indices, per-point gradients).
inline std::string check_shape(const char* op, const char* name, const std::vector<int64_t>& got,
                               const std::vector<int64_t>& want) {
  if (got == want) return "";
  return std::string(op) + ": " + name + " must have shape " + shape_string(want) + ", got " + shape_string(got);
}

// nn_distance's gradient: a [B, N, D], b [B, M, D]; idx_ab and grad_dist_ab [B, N], idx_ba and
// grad_dist_ba [B, M].
inline std::string check_nn_grad_shapes(const char* op, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                        const std::vector<int64_t>& idx_ab, const std::vector<int64_t>& idx_ba,
                                        const std::vector<int64_t>& g_ab, const std::vector<int64_t>& g_ba) {
  std::string err = check_point_sets(op, a, b, false);
  const std::vector<int64_t> ab = {a.size() == 3 ? a[0] : 0, a.size() == 3 ? a[1] : 0};
  const std::vector<int64_t> ba = {b.size() == 3 ? b[0] : 0, b.size() == 3 ? b[1] : 0};
  if (err.empty()) err = check_shape(op, "idx_ab", idx_ab, ab);
  if (err.empty()) err = check_shape(op, "idx_ba", idx_ba, ba);
  if (err.empty()) err = check_shape(op, "grad_dist_ab", g_ab, ab);
  if (err.empty()) err = check_shape(op, "grad_dist_ba", g_ba, ba);
  return err;
}

// lengths: [B] integers (int32, or int64 before narrowing) with min_len <= lengths[i] <= max_len
// (min_len 1, except for knn, whose clouds may be empty as PyTorch3D's may).
template <typename Int>
std::string check_lengths(const char* op, const char* name, const Int* lengths,
                          const std::vector<int64_t>& shape, int64_t B, int64_t max_len, int64_t min_len = 1) {
  const std::string prefix = std::string(op) + ": " + name;
  if (shape.size() != 1 || shape[0] != B)
    return prefix + " must have shape [" + std::to_string(B) + "], got " + shape_string(shape);
  for (int64_t i = 0; i < B; ++i) {
    if (lengths[i] < min_len || lengths[i] > max_len)
      return prefix + "[" + std::to_string(i) + "] = " + std::to_string(lengths[i]) + " is outside [" +
             std::to_string(min_len) + ", " + std::to_string(max_len) + "] (the padded size)";
  }
  return "";
}

// Neighbour indices idx [B, K] (nn_distance's, for its gradient) into clouds of `limit` points: each in
// [0, limit), or -1 (a padded point's). An index outside would silently contribute nothing.
inline std::string check_indices(const char* op, const char* name, const int32_t* idx, int64_t B, int64_t K,
                                 int64_t limit) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < K; ++i) {
      const int32_t v = idx[b * K + i];
      if (v < -1 || v >= limit)
        return std::string(op) + ": " + name + "[" + std::to_string(b) + ", " + std::to_string(i) + "] = " +
               std::to_string(v) + " is outside [0, " + std::to_string(limit) + ") (-1 marks a padded point)";
    }
  }
  return "";
}

// Both sides' lengths: a_len [B] in [min_len, N], b_len [B] in [min_len, M].
inline std::string check_both_lengths(const char* op, const int32_t* a_len, const int32_t* b_len, int64_t B,
                                      int64_t N, int64_t M, int64_t min_len = 1) {
  std::string err = check_lengths(op, "a_lengths", a_len, {B}, B, N, min_len);
  return err.empty() ? check_lengths(op, "b_lengths", b_len, {B}, B, M, min_len) : err;
}

// EMD between equal sizes: a_len [B] must equal b_len [B] cloud by cloud.
inline std::string check_equal_lengths(const char* op, const int32_t* a_len, const int32_t* b_len, int64_t B) {
  for (int64_t i = 0; i < B; ++i) {
    if (a_len[i] != b_len[i])
      return std::string(op) + ": EMD here needs equal sizes; a_lengths[" + std::to_string(i) + "] = " +
             std::to_string(a_len[i]) + " but b_lengths[" + std::to_string(i) + "] = " + std::to_string(b_len[i]);
  }
  return "";
}

// knn's k and norm for a: [B, N, D]: k >= 1, B * N * k below 2^31 (the outputs' int32 indices are
// addressed per entry), norm 1 (L1) or 2 (squared Euclidean).
inline std::string check_knn_args(const char* op, int64_t k, int64_t norm, const std::vector<int64_t>& a) {
  const std::string name = op;
  if (k < 1) return name + ": k must be at least 1, got " + std::to_string(k);
  if (norm != 1 && norm != 2) return name + ": norm must be 1 (L1) or 2 (squared Euclidean), got " + std::to_string(norm);
  if (a.size() == 3 && a[0] * a[1] > (int64_t(std::numeric_limits<int32_t>::max()) - 1024) / k)
    return name + ": B * N * k must be below 2^31 - 1024, got a " + shape_string(a) + " and k = " + std::to_string(k);
  return "";
}

// After the auction: "" unless a cloud got an infinite gap, which the kernels give a cloud whose
// pair costs overflow T (emd/auction_schedule.h cost_fits); then a message naming the cloud and
// the magnitude. a: [B, N, D] with a_len, b: [B, M, D] with b_len; gap: [B].
template <typename T>
std::string check_emd_cost_range(const char* op, const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                                 const int32_t* a_len, const int32_t* b_len, const T* gap) {
  for (int64_t c = 0; c < B; ++c) {
    if (!(gap[c] == std::numeric_limits<T>::infinity())) continue;
    // The extent of the bounding box, scaled by its widest side so that it cannot overflow itself.
    std::vector<double> extent(D);
    double widest = 0;
    for (int k = 0; k < D; ++k) {
      double lo = a[c * N * D + k], hi = lo;
      for (int64_t i = 0; i < a_len[c]; ++i) lo = std::min(lo, double(a[(c * N + i) * D + k])), hi = std::max(hi, double(a[(c * N + i) * D + k]));
      for (int64_t j = 0; j < b_len[c]; ++j) lo = std::min(lo, double(b[(c * M + j) * D + k])), hi = std::max(hi, double(b[(c * M + j) * D + k]));
      extent[k] = hi - lo;
      widest = std::max(widest, extent[k]);
    }
    double sum = 0;
    for (double e : extent) sum += (e / widest) * (e / widest);
    const char* type = sizeof(T) == 4 ? "float32" : "float64";
    char span[32];
    std::snprintf(span, sizeof span, "%.3g", widest * std::sqrt(sum));
    return std::string(op) + ": the pair costs of cloud " + std::to_string(c) + " overflow " + type +
           ": its points span " + span + ", whose square exceeds " + type + "'s largest value (" +
           (sizeof(T) == 4 ? "3.4e+38" : "1.8e+308") + "); scale the clouds down" +
           (sizeof(T) == 4 ? " or use float64" : "");
  }
  return "";
}

}  // namespace pointops
