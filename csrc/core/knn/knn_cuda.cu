// CUDA k nearest neighbours: one thread per query against tiles of references in shared memory. The
// thread's sorted list lives in its own output row (global memory, cached): any k works, and after
// the first k candidates a point is inserted only when it beats the k-th best, which the thread
// keeps in registers. Same distances (point_distance) and order (nn_better) as the CPU.
#include <algorithm>

#include "common/cuda_check.h"
#include "common/dispatch.h"
#include "knn/knn.h"

namespace pointops {
namespace {

constexpr int kThreads = 128;      // queries per block
constexpr int kTile = 256;         // reference points per shared-memory tile
constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y

//   a: [B, N, D], b: [B, M, D]; lens: [2, B] (a lengths then b lengths) on the device, or nullptr
//   when every point is valid; dist, idx: [B, N, K].
template <typename T, int D, Metric kMetric>
__global__ void __launch_bounds__(kThreads) knn_kernel(const T* __restrict__ a, const T* __restrict__ b, int64_t B,
                                                       int64_t N, int64_t M, int K, const int32_t* __restrict__ lens,
                                                       T* __restrict__ dist, int32_t* __restrict__ idx) {
  __shared__ T tile[kTile * D];
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  // gridDim.y is at most 65535: each block row serves every gridDim.y-th cloud.
  for (int64_t batch = blockIdx.y; batch < B; batch += gridDim.y) {
    const int64_t n = lens ? lens[batch] : N, m = lens ? lens[B + batch] : M;
    const bool active = i < n;
    T* row_d = dist + (batch * N + min(i, N - 1)) * K;
    int32_t* row_i = idx + (batch * N + min(i, N - 1)) * K;
    T q[D];
#pragma unroll
    for (int d = 0; d < D; ++d) q[d] = active ? a[(batch * N + i) * D + d] : T(0);
    if (active) clear_list(row_d, row_i, K);
    T limit_d = T(INFINITY);  // the list's last entry
    int32_t limit_i = INT32_MAX;
    const T* ref = b + batch * M * D;
    for (int64_t t0 = 0; t0 < m; t0 += kTile) {
      const int count = int(min(int64_t(kTile), m - t0));
      __syncthreads();
      for (int e = threadIdx.x; e < count * D; e += kThreads) tile[e] = ref[t0 * D + e];
      __syncthreads();
      if (!active) continue;
      for (int t = 0; t < count; ++t) {
        const T d = point_distance<kMetric, D>(q, &tile[t * D]);
        const int32_t j = int32_t(t0 + t);
        if (!nn_better(d, j, limit_d, limit_i)) continue;  // the list's last entry, from registers
        insert_sorted(row_d, row_i, K, d, j);
        limit_d = row_d[K - 1];
        limit_i = row_i[K - 1];
      }
    }
    if (i < N) {
      // Entries past the cloud's points, and every entry of a padded query: 0 and -1.
      const int64_t valid = active ? min(int64_t(K), m) : 0;
      for (int64_t k = valid; k < K; ++k) row_d[k] = T(0), row_i[k] = -1;
    }
  }
}

}  // namespace

size_t knn_cuda_workspace_bytes(int64_t B) { return sizeof(int32_t) * 2 * size_t(B); }

template <typename T>
CudaStatus knn_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, int K, Metric metric,
                    const int32_t* a_len_host, const int32_t* b_len_host, T* dist, int32_t* idx, void* workspace,
                    cudaStream_t stream) {
  if (B == 0 || N == 0) return 0;  // nothing to do (and a grid of 0 blocks is an error)
  // Copy the lengths only for padded batches: a copy from pageable host memory waits for the stream.
  int32_t* lens = nullptr;
  for (int64_t c = 0; c < B; ++c) {
    if (a_len_host[c] != N || b_len_host[c] != M) lens = static_cast<int32_t*>(workspace);
  }
  if (lens) {
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(lens, a_len_host, sizeof(int32_t) * B, cudaMemcpyHostToDevice, stream));
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(lens + B, b_len_host, sizeof(int32_t) * B, cudaMemcpyHostToDevice, stream));
  }
  const dim3 grid(unsigned((N + kThreads - 1) / kThreads), unsigned(std::min<int64_t>(B, kMaxGridY)));
  return dispatch_dim(D, [&](auto dim) {
    constexpr int kD = decltype(dim)::value;
    if (metric == Metric::kL1)
      knn_kernel<T, kD, Metric::kL1><<<grid, kThreads, 0, stream>>>(a, b, B, N, M, K, lens, dist, idx);
    else
      knn_kernel<T, kD, Metric::kSquaredL2><<<grid, kThreads, 0, stream>>>(a, b, B, N, M, K, lens, dist, idx);
    return static_cast<CudaStatus>(cudaGetLastError());
  });
}

template CudaStatus knn_cuda<float>(const float*, const float*, int64_t, int64_t, int64_t, int, int, Metric,
                                    const int32_t*, const int32_t*, float*, int32_t*, void*, cudaStream_t);
template CudaStatus knn_cuda<double>(const double*, const double*, int64_t, int64_t, int64_t, int, int, Metric,
                                     const int32_t*, const int32_t*, double*, int32_t*, void*, cudaStream_t);

}  // namespace pointops
