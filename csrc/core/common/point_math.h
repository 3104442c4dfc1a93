#pragma once
// Arithmetic shared by every backend, so that the CPU brute force, the CPU k-d tree and
// the CUDA kernels produce bit-identical distances: the squared distance is summed over
// d = 0..D-1 with separately rounded multiplies and adds (no FMA contraction; the CPU
// files build with -ffp-contract=off and the CUDA code uses __fmul_rn/__fadd_rn).
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define POINTOPS_HD __host__ __device__ __forceinline__
#else
#define POINTOPS_HD inline
#endif

typedef struct CUstream_st* cudaStream_t;  // same declaration as CUDA's driver_types.h

namespace pointops {
// What the CUDA entry points return: a cudaError_t value (0 is success), as an int so that
// their declarations need no CUDA header (the TF door must not mix TF's CUDA headers in).
using CudaStatus = int;
// cudaGetErrorString for a CudaStatus (defined in common/cuda_status.cu).
const char* cuda_status_string(CudaStatus status);
}  // namespace pointops

namespace pointops {

template <typename T>
POINTOPS_HD T mul_rn(T x, T y) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fmul_rn(x, y); else return __dmul_rn(x, y);
#else
  return x * y;
#endif
}

template <typename T>
POINTOPS_HD T add_rn(T x, T y) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fadd_rn(x, y); else return __dadd_rn(x, y);
#else
  return x + y;
#endif
}

// The mean of x: [n] in double, over 16 partial sums (independent chains; a fixed order, so the same
// bits every run). NaN for n = 0, as the mean of nothing.
template <typename T>
inline double mean_in_double(const T* x, int64_t n) {
  double partial[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) partial[k] += double(x[i + k]);
  for (; i < n; ++i) partial[i % 16] += double(x[i]);
  double total = 0;
  for (double p : partial) total += p;
  return total / double(n);
}

// Squared Euclidean distance between p[0..D) and q[0..D) (strided by `stride` in q).
template <int D, typename T>
POINTOPS_HD T squared_distance(const T* p, const T* q, int64_t q_stride = 1) {
  T diff = p[0] - q[0];
  T acc = mul_rn(diff, diff);
#pragma unroll
  for (int k = 1; k < D; ++k) {
    diff = p[k] - q[k * q_stride];
    acc = add_rn(acc, mul_rn(diff, diff));
  }
  return acc;
}

// The distances a k-nearest search ranks by: squared Euclidean (nn_distance's; PyTorch3D's norm=2)
// or L1 (PyTorch3D's norm=1). The values are each norm's number, used as attributes and arguments.
enum class Metric : int { kL1 = 1, kSquaredL2 = 2 };

// The distance of metric M between p[0..D) and q[0..D), summed over d = 0..D-1 like squared_distance.
template <Metric M, int D, typename T>
POINTOPS_HD T point_distance(const T* p, const T* q) {
  if constexpr (M == Metric::kSquaredL2) {
    return squared_distance<D>(p, q);
  } else {
    T acc = p[0] < q[0] ? q[0] - p[0] : p[0] - q[0];
#pragma unroll
    for (int k = 1; k < D; ++k) acc = add_rn(acc, p[k] < q[k] ? q[k] - p[k] : p[k] - q[k]);
    return acc;
  }
}

// The EMD ground cost from a squared distance: itself when `squared`, else its square root.
// Monotone in d2, so a lower bound of d2 maps to a lower bound of the cost (emd/price_tree.h).
template <typename T>
POINTOPS_HD T cost_from_squared(T d2, bool squared) {
#if defined(__CUDA_ARCH__)
  return squared ? d2 : sqrt(d2);
#else
  return squared ? d2 : std::sqrt(d2);
#endif
}

// The EMD ground cost: Euclidean distance, or its square when `squared`.
template <int D, typename T>
POINTOPS_HD T pair_cost(const T* p, const T* q, bool squared) {
  return cost_from_squared(squared_distance<D>(p, q), squared);
}

// The order in which nearest-neighbour candidates win: a NaN distance beats everything
// (NaN input gives NaN output, as numpy's min does), then the smaller distance, then the
// lower index. Every backend breaks ties with this one rule, so every path agrees.
template <typename T>
POINTOPS_HD bool nn_better(T d, int32_t i, T best_d, int32_t best_i) {
  const bool d_nan = d != d, best_nan = best_d != best_d;
  if (d_nan != best_nan) return d_nan;
  if (d_nan || d == best_d) return i < best_i;
  return d < best_d;
}

}  // namespace pointops
