#pragma once
// Nearest neighbour in both directions between two batched point sets, and its gradient.
// CPU (nn_cpu.cc) and CUDA (nn_cuda.cu) share these declarations and produce bit-identical
// distances and indices (see common/point_math.h). Inputs are checked at the door, not here:
//   1 <= D <= 8, 1 <= a_len[b] <= N, 1 <= b_len[b] <= M, B*N and B*M below 2^31.
#include <cstddef>
#include <cstdint>

#include "common/parallel.h"
#include "common/point_math.h"

namespace pointops {

// How the CPU kernel searches. kAuto picks per cloud from the sizes; every choice gives the
// same bits (ties go to the lowest index on every path).
enum class NnAlgorithm : int { kAuto = 0, kBruteForce = 1, kTree = 2 };

// The CPU versions are compiled once per CPU level and reached through cpu_kernels_of<T>()
// (common/cpu_dispatch.h), never called by name from outside their level.
// Forward, both directions at once (the trees or transposed copies are shared by both).
//   a: [B, N, D], b: [B, M, D] row-major;  a_len, b_len: [B] int32 valid lengths.
//   dist_ab: [B, N] squared distance from a[b,i] to its nearest neighbour in b[b, :b_len[b]] (with
//   squared = false its square root, the Euclidean distance), idx_ab: [B, N] int32 index of that
//   neighbour; dist_ba: [B, M], idx_ba: [B, M] the other way. Padded points (i >= a_len[b]) get
//   distance 0 and index -1. A pair of tiny or huge clouds is searched scaled by a power of two
//   (common/pair_scale.h), so indices are right and distances are out of T's range only where the
//   true ones are; the Euclidean distances then come from the scaled squares (right also where the
//   true squares are not representable).
template <typename T>
void nn_distance_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                     const int32_t* a_len, const int32_t* b_len, T* dist_ab, int32_t* idx_ab,
                     T* dist_ba, int32_t* idx_ba, NnAlgorithm algorithm, bool squared,
                     const ParallelFor& pfor);

// Gradient of sum_i g_ab[i] * dist_ab[i] + sum_j g_ba[j] * dist_ba[j] with the indices held, for the
// squared distances (2 (x - y) per unit of g) or with squared = false the Euclidean ones ((x - y) / |x - y|,
// 0 where the points coincide, the norm taken without overflow or underflow):
//   a: [B, N, D], b: [B, M, D], idx_ab/g_ab: [B, N], idx_ba/g_ba: [B, M].
//   grad_a: [B, N, D], grad_b: [B, M, D] (overwritten). An index outside [0, M) (resp. [0, N)),
//   such as the -1 of a padded point, contributes nothing. Deterministic: every sum into one
//   point is taken in ascending order of the contributing index.
template <typename T>
void nn_distance_grad_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                          const int32_t* idx_ab, const int32_t* idx_ba, const T* g_ab,
                          const T* g_ba, T* grad_a, T* grad_b, bool squared, const ParallelFor& pfor);

// CUDA versions, same shapes (squared distances only, and not scaled yet: squares beyond T's range give
// wrong indices there), all pointers on the device except where noted, enqueued on
// `stream` (no synchronisation, no allocation). a_len_host/b_len_host are host arrays [B];
// `workspace` is device memory of nn_distance_cuda_workspace_bytes(B, N, M) bytes.
size_t nn_distance_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M);
template <typename T>
CudaStatus nn_distance_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                             const int32_t* a_len_host, const int32_t* b_len_host, T* dist_ab,
                             int32_t* idx_ab, T* dist_ba, int32_t* idx_ba, void* workspace,
                             cudaStream_t stream);

// `workspace` is device memory of nn_distance_grad_cuda_workspace_bytes(B, N, M) bytes.
size_t nn_distance_grad_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M);
template <typename T>
CudaStatus nn_distance_grad_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                                  const int32_t* idx_ab, const int32_t* idx_ba, const T* g_ab,
                                  const T* g_ba, T* grad_a, T* grad_b, void* workspace,
                                  cudaStream_t stream);

}  // namespace pointops
