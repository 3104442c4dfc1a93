// CUDA k nearest neighbours: one thread per query against tiles of references in shared memory. The
// thread's sorted list lives in its own output row (global memory, cached): any k works, and after
// the first k candidates a point is inserted only when it beats the k-th best, which the thread
// keeps in registers. Small batches with small K split the references over up to 8 blocks per query
// block (one block per SM hides no latency) and merge the partial lists in a second kernel. Same
// distances (point_distance) and order (nn_better) as the CPU.
#include <algorithm>

#include "common/cuda_check.h"
#include "common/device_workspace.h"
#include "common/dispatch.h"
#include "knn/knn.h"

namespace pointops {
namespace {

constexpr int kThreads = 128;      // queries per block
constexpr int kTile = 256;         // reference points per shared-memory tile
constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y
constexpr int kMaxSplits = 8;      // reference slices per query block (as nn_distance_cuda)
constexpr size_t kMaxPartialBytes = size_t(256) << 20;  // the partial lists' scratch, at most

//   a: [B, N, D], b: [B, M, D]; lens: [2, B] (a lengths then b lengths) on the device, or nullptr
//   when every point is valid. Block z takes references [z * slice, (z + 1) * slice) of each cloud.
//   With one slice the lists go to dist, idx: [B, N, K], finished (0 and -1 past the cloud); with
//   several, slice z's sorted partial lists go to dist, idx + z * B * N * K, with empty entries left
//   as clear_list made them, for knn_merge_kernel.
template <typename T, int D, Metric kMetric>
__global__ void __launch_bounds__(kThreads) knn_kernel(const T* __restrict__ a, const T* __restrict__ b, int64_t B,
                                                       int64_t N, int64_t M, int K, int64_t slice,
                                                       const int32_t* __restrict__ lens, T* __restrict__ dist,
                                                       int32_t* __restrict__ idx) {
  __shared__ T tile[kTile * D];
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  const bool partial = gridDim.z > 1;
  dist += int64_t(blockIdx.z) * B * N * K;
  idx += int64_t(blockIdx.z) * B * N * K;
  // gridDim.y is at most 65535: each block row serves every gridDim.y-th cloud.
  for (int64_t batch = blockIdx.y; batch < B; batch += gridDim.y) {
    const int64_t n = lens ? lens[batch] : N, m = lens ? lens[B + batch] : M;
    const int64_t lo = min(m, int64_t(blockIdx.z) * slice), hi = min(m, lo + slice);
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
    for (int64_t t0 = lo; t0 < hi; t0 += kTile) {
      const int count = int(min(int64_t(kTile), hi - t0));
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
    if (i < N && !partial) {
      // Entries past the cloud's points, and every entry of a padded query: 0 and -1.
      const int64_t valid = active ? min(int64_t(K), m) : 0;
      for (int64_t k = valid; k < K; ++k) row_d[k] = T(0), row_i[k] = -1;
    }
  }
}

// One thread per query: merges the S sorted partial lists (partial_d, partial_i: [S, B, N, K]) in
// nn_better order into dist, idx: [B, N, K], then 0 and -1 past the cloud. Indices differ between
// slices, so the order is total and the result is the single-pass one.
template <typename T>
__global__ void __launch_bounds__(kThreads) knn_merge_kernel(const T* __restrict__ partial_d,
                                                             const int32_t* __restrict__ partial_i, int S, int64_t B,
                                                             int64_t N, int64_t M, int K,
                                                             const int32_t* __restrict__ lens, T* __restrict__ dist,
                                                             int32_t* __restrict__ idx) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  for (int64_t batch = blockIdx.y; batch < B && i < N; batch += gridDim.y) {
    const int64_t n = lens ? lens[batch] : N, m = lens ? lens[B + batch] : M;
    const int64_t row = (batch * N + i) * K, stride = B * N * K;
    const int64_t valid = i < n ? min(int64_t(K), m) : 0;
    int head[kMaxSplits] = {0};
    for (int64_t k = 0; k < valid; ++k) {
      int best = 0;
      for (int s = 1; s < S; ++s) {
        if (nn_better(partial_d[s * stride + row + head[s]], partial_i[s * stride + row + head[s]],
                      partial_d[best * stride + row + head[best]], partial_i[best * stride + row + head[best]]))
          best = s;
      }
      dist[row + k] = partial_d[best * stride + row + head[best]];
      idx[row + k] = partial_i[best * stride + row + head[best]];
      ++head[best];
    }
    for (int64_t k = valid; k < K; ++k) dist[row + k] = T(0), idx[row + k] = -1;
  }
}

// Reference slices per query block. Splitting multiplies the list insertions (each slice fills its
// own list of K), so it pays only where the grid has fewer blocks than SMs and K is small: measured on
// an H100 at N=2048 (GPU_NOTES run v9), 4 slices at B=8 took K=1 from 172 to 66 us and K=8 from 659 to
// 514 us, but K=32 from 3.8 to 5.6 ms, and 2 slices at B=32 made K=8 and K=32 slower. Then enough
// slices for about 4 blocks per SM, each at least one tile, the partial lists within kMaxPartialBytes.
int knn_splits(int64_t B, int64_t N, int64_t M, int K, size_t value_bytes) {
  int device = 0, sms = 132;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();  // a failed query only changes the split: clear it
    sms = 132;
  }
  const int64_t blocks = (N + kThreads - 1) / kThreads * std::min<int64_t>(B, kMaxGridY);
  if (K > 8 || blocks >= sms) return 1;
  int64_t splits = std::min<int64_t>({kMaxSplits, (4 * int64_t(sms) + blocks - 1) / blocks, (M + kTile - 1) / kTile});
  while (splits > 1 && size_t(splits) * B * N * K * (value_bytes + sizeof(int32_t)) > kMaxPartialBytes) --splits;
  return int(std::max<int64_t>(splits, 1));
}

}  // namespace

size_t knn_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M, int K, size_t value_bytes) {
  const int S = knn_splits(B, N, M, K, value_bytes);
  const size_t lists = S > 1 ? align_up(size_t(S) * B * N * K * value_bytes) + align_up(size_t(S) * B * N * K * 4) : 0;
  return align_up(sizeof(int32_t) * 2 * size_t(B)) + lists;
}

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
  const int S = knn_splits(B, N, M, K, sizeof(T));
  // Slices of whole tiles, so that every slice but the last is full.
  const int64_t slice = ((M + S - 1) / S + kTile - 1) / kTile * kTile;
  char* lists = static_cast<char*>(workspace) + align_up(sizeof(int32_t) * 2 * size_t(B));
  T* out_d = S > 1 ? reinterpret_cast<T*>(lists) : dist;
  int32_t* out_i = S > 1 ? reinterpret_cast<int32_t*>(lists + align_up(size_t(S) * B * N * K * sizeof(T))) : idx;
  const dim3 grid(unsigned((N + kThreads - 1) / kThreads), unsigned(std::min<int64_t>(B, kMaxGridY)), unsigned(S));
  POINTOPS_CUDA_RETURN_IF_ERROR(dispatch_dim(D, [&](auto dim) -> CudaStatus {
    constexpr int kD = decltype(dim)::value;
    if (metric == Metric::kL1)
      knn_kernel<T, kD, Metric::kL1><<<grid, kThreads, 0, stream>>>(a, b, B, N, M, K, slice, lens, out_d, out_i);
    else
      knn_kernel<T, kD, Metric::kSquaredL2><<<grid, kThreads, 0, stream>>>(a, b, B, N, M, K, slice, lens, out_d, out_i);
    return static_cast<CudaStatus>(cudaGetLastError());
  }));
  if (S > 1) {
    const dim3 merge_grid(grid.x, grid.y);
    knn_merge_kernel<T><<<merge_grid, kThreads, 0, stream>>>(out_d, out_i, S, B, N, M, K, lens, dist, idx);
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  }
  return 0;
}

template CudaStatus knn_cuda<float>(const float*, const float*, int64_t, int64_t, int64_t, int, int, Metric,
                                    const int32_t*, const int32_t*, float*, int32_t*, void*, cudaStream_t);
template CudaStatus knn_cuda<double>(const double*, const double*, int64_t, int64_t, int64_t, int, int, Metric,
                                     const int32_t*, const int32_t*, double*, int32_t*, void*, cudaStream_t);

}  // namespace pointops
