#pragma once
// The k nearest neighbours of every point of one set among the points of another (pointops.knn,
// PyTorch3D's knn_points), by squared Euclidean or L1 distance. The gradient is taken in TensorFlow
// from the indices (pointops/knn.py). CPU (knn_cpu.cc) and CUDA (knn_cuda.cu) share these
// declarations and return the same distances and indices. Inputs are checked at the door, not here:
//   1 <= D <= 8, K >= 1, 0 <= a_len[b] <= N, 0 <= b_len[b] <= M, B*N*K and B*M below 2^31.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common/parallel.h"
#include "common/point_math.h"

namespace pointops {

// One query's list of the best k candidates, dist/idx [k], kept in nn_better order by the CPU and the
// CUDA kernel alike. Empty entries come after every real candidate (an infinite distance with the
// largest index), so that any point, even at an infinite distance, takes their place.
template <typename T>
POINTOPS_HD void clear_list(T* dist, int32_t* idx, int k) {
  for (int e = 0; e < k; ++e) dist[e] = T(INFINITY), idx[e] = INT32_MAX;
}

// Inserts (d, id) into the list if it beats the last entry; later entries shift down by one.
template <typename T>
POINTOPS_HD void insert_sorted(T* dist, int32_t* idx, int k, T d, int32_t id) {
  if (!nn_better(d, id, dist[k - 1], idx[k - 1])) return;
  int pos = k - 1;
  for (; pos > 0 && nn_better(d, id, dist[pos - 1], idx[pos - 1]); --pos) {
    dist[pos] = dist[pos - 1];
    idx[pos] = idx[pos - 1];
  }
  dist[pos] = d;
  idx[pos] = id;
}

// a: [B, N, D], b: [B, M, D] row-major; a_len, b_len: [B] int32 valid lengths.
// dist: [B, N, K] the distances (metric: squared Euclidean or L1) from a[b, i] to its K nearest
// points in b[b, :b_len[b]], ascending; idx: [B, N, K] int32 their indices. Order: nn_better
// (common/point_math.h): a NaN distance first, then the smaller distance, then the lower index.
// Entries k >= b_len[b] and every entry of a padded query (i >= a_len[b]) get distance 0, index -1.
// The CPU version is compiled once per CPU level and reached through cpu_kernels_of<T>().
template <typename T>
void knn_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, int K, Metric metric,
             const int32_t* a_len, const int32_t* b_len, T* dist, int32_t* idx, const ParallelFor& pfor);

// CUDA version, same shapes, device pointers except a_len_host/b_len_host ([B] host arrays),
// enqueued on `stream` (no synchronisation, no allocation). `workspace` is device memory of
// knn_cuda_workspace_bytes(B, N, M, K, sizeof(T)) bytes (the lengths, and the partial lists of
// small batches, whose references are split over several blocks).
size_t knn_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M, int K, size_t value_bytes);
template <typename T>
CudaStatus knn_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, int K, Metric metric,
                    const int32_t* a_len_host, const int32_t* b_len_host, T* dist, int32_t* idx,
                    void* workspace, cudaStream_t stream);

}  // namespace pointops
