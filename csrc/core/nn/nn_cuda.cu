// CUDA nearest neighbour: tiled brute force (reference tiles in shared memory, D fixed at
// compile time), and a deterministic gradient (scatter sums in ascending index order, found
// with a stable radix sort instead of float atomics).
#include <cub/device/device_radix_sort.cuh>

#include "common/cuda_check.h"
#include "common/device_workspace.h"
#include "common/dispatch.h"
#include "nn/nn.h"

namespace pointops {
namespace {

constexpr int kThreads = 128;           // threads per block
constexpr int kTile = 256;              // reference points per shared-memory tile
int blocks_for(int64_t count, int threads);
constexpr int kQueriesPerThread = 2;   // queries in registers: each shared-memory load serves two
// Small batches have too few queries to fill the GPU with that many per thread, so the reference
// points are then split into up to kMaxSplits ranges searched by different blocks, and a second
// kernel keeps the best of the partial answers. kTargetWarps: enough warps for an H100's 132 SMs.
constexpr int kMaxSplits = 8;
constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y
constexpr int64_t kTargetWarps = 132 * 48;

int split_count(int64_t B, int64_t N, int64_t M) {
  const int64_t warps = B * (N + M) / (32 * kQueriesPerThread);
  int splits = 1;
  while (splits < kMaxSplits && warps * splits < kTargetWarps && std::min(N, M) >= 2 * splits * kTile) splits *= 2;
  return splits;
}

// A reference point as stored in shared memory: padded to PaddedDim coordinates so that one
// thread reads it with one or two vector loads (LDS.64/128) instead of D scalar loads.
constexpr int padded_dim(int D) { return D <= 2 ? 2 : (D <= 4 ? 4 : 8); }

template <typename T, int D>
struct alignas(sizeof(T) * padded_dim(D)) TilePoint {
  T c[padded_dim(D)];
};

// Compares the thread's queries with the tile's points t0 + [0, count). kFinite: the tile and the
// queries hold no NaN or inf, so a plain '<' implements nn_better() for later indices; otherwise
// the NaN-propagating form (a NaN distance wins once and stays).
template <bool kFinite, typename T, int D>
__device__ __forceinline__ void scan_tile(const TilePoint<T, D>* tile, int count, int64_t t0,
                                          const T (&q)[kQueriesPerThread][D], T (&best)[kQueriesPerThread],
                                          int32_t (&best_i)[kQueriesPerThread]) {
#pragma unroll 4
  for (int t = 0; t < count; ++t) {
    const TilePoint<T, D> r = tile[t];
#pragma unroll
    for (int s = 0; s < kQueriesPerThread; ++s) {
      T diff = q[s][0] - r.c[0];
      T d = mul_rn(diff, diff);
#pragma unroll
      for (int k = 1; k < D; ++k) {
        diff = q[s][k] - r.c[k];
        d = add_rn(d, mul_rn(diff, diff));
      }
      const bool better = kFinite ? d < best[s] : (best[s] == best[s] && !(d >= best[s]));
      if (better) best[s] = d, best_i[s] = int32_t(t0 + t);
    }
  }
}

// Both directions in one launch: blockIdx.z = 0 searches a's points in b, 1 the reverse;
// blockIdx.x = query block * splits + reference range.
//   a: [B, N, D], b: [B, M, D], lens: [2, B] (a lengths then b lengths) on the device, or
//   nullptr when every point is valid. With splits == 1 the answers go to dist_ab/idx_ab
//   ([B, N]) and dist_ba/idx_ba ([B, M]); otherwise range r's partial answers go to
//   part_dist/part_idx [splits, B * (N + M)] (a's points first) for nn_merge_kernel.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) nn_forward_kernel(
    const T* __restrict__ a, const T* __restrict__ b, int64_t N, int64_t M, int64_t B,
    const int32_t* __restrict__ lens, int splits, T* __restrict__ dist_ab, int32_t* __restrict__ idx_ab,
    T* __restrict__ dist_ba, int32_t* __restrict__ idx_ba, T* __restrict__ part_dist,
    int32_t* __restrict__ part_idx) {
  const int dir = blockIdx.z, range = blockIdx.x % splits;
  const int64_t n_pad = dir == 0 ? N : M, m_pad = dir == 0 ? M : N;
  constexpr int kQueriesPerBlock = kThreads * kQueriesPerThread;
  const int64_t block_start = int64_t(blockIdx.x / splits) * kQueriesPerBlock;
  if (block_start >= n_pad) return;
  // gridDim.y is at most 65535: each block row serves every gridDim.y-th cloud.
  for (int64_t batch = blockIdx.y; batch < B; batch += gridDim.y) {
  const T* query = (dir == 0 ? a : b) + batch * n_pad * D;
  const T* ref = (dir == 0 ? b : a) + batch * m_pad * D;
  const int64_t out_offset = splits == 1 ? batch * n_pad : range * B * (N + M) + dir * B * N + batch * n_pad;
  T* dist = splits == 1 ? (dir == 0 ? dist_ab : dist_ba) + out_offset : part_dist + out_offset;
  int32_t* idx = splits == 1 ? (dir == 0 ? idx_ab : idx_ba) + out_offset : part_idx + out_offset;
  const int64_t n = lens ? lens[dir * B + batch] : n_pad, m_all = lens ? lens[(1 - dir) * B + batch] : m_pad;
  const int64_t range_size = (m_all + splits - 1) / splits;
  const int64_t ref_begin = std::min(m_all, range * range_size), m = std::min(m_all, ref_begin + range_size);

  __shared__ TilePoint<T, D> tile[kTile];
  T q[kQueriesPerThread][D], best[kQueriesPerThread];
  int32_t best_i[kQueriesPerThread];
  bool queries_finite = true;
#pragma unroll
  for (int s = 0; s < kQueriesPerThread; ++s) {
    const int64_t i = block_start + s * kThreads + threadIdx.x;
#pragma unroll
    for (int k = 0; k < D; ++k) {
      q[s][k] = i < n ? query[i * D + k] : T(0);
      queries_finite &= isfinite(q[s][k]);
    }
    best[s] = T(INFINITY);
    best_i[s] = ref_begin < m ? int32_t(ref_begin) : INT32_MAX;  // an empty range never wins a merge
  }
  for (int64_t t0 = ref_begin; t0 < m; t0 += kTile) {
    const int count = int(min(int64_t(kTile), m - t0));
    __syncthreads();
    int non_finite = 0;
    for (int e = threadIdx.x; e < count * D; e += kThreads) {
      const T v = ref[t0 * D + e];
      tile[e / D].c[e % D] = v;
      non_finite |= !isfinite(v);
    }
    const bool tile_finite = !__syncthreads_or(non_finite);
    if (tile_finite && queries_finite) scan_tile<true>(tile, count, t0, q, best, best_i);
    else scan_tile<false>(tile, count, t0, q, best, best_i);
  }
#pragma unroll
  for (int s = 0; s < kQueriesPerThread; ++s) {
    const int64_t i = block_start + s * kThreads + threadIdx.x;
    if (i >= n_pad) continue;
    dist[i] = i < n ? best[s] : T(0);
    idx[i] = i < n ? best_i[s] : -1;
  }
  }  // batch
}

// The best of the splits' partial answers for each point (both directions), by nn_better().
template <typename T>
__global__ void nn_merge_kernel(int64_t B, int64_t N, int64_t M, const int32_t* __restrict__ lens, int splits,
                                const T* __restrict__ part_dist, const int32_t* __restrict__ part_idx,
                                T* __restrict__ dist_ab, int32_t* __restrict__ idx_ab, T* __restrict__ dist_ba,
                                int32_t* __restrict__ idx_ba) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t total = B * (N + M);
  if (p >= total) return;
  const bool from_a = p < B * N;
  const int64_t q = from_a ? p : p - B * N, n_pad = from_a ? N : M;
  const int64_t batch = q / n_pad, i = q % n_pad;
  const int64_t n = lens ? lens[(from_a ? 0 : B) + batch] : n_pad;
  T best = part_dist[p];
  int32_t best_i = part_idx[p];
  for (int r = 1; r < splits; ++r) {
    const T d = part_dist[r * total + p];
    const int32_t j = part_idx[r * total + p];
    if (nn_better(d, j, best, best_i)) best = d, best_i = j;
  }
  (from_a ? dist_ab : dist_ba)[q] = i < n ? best : T(0);
  (from_a ? idx_ab : idx_ba)[q] = i < n ? best_i : -1;
}

// The whole gradient of one cloud's targets in one block, for clouds small enough for shared
// memory: block (batch, 0) computes grad_b, block (batch, 1) grad_a. The sources pointing at each
// target are found by a counting sort in shared memory whose placement keeps source order (ranks
// within a warp from __match_any_sync, warps taken one after another), so every target sums
// its direct term, then its scatter terms in ascending source order, as the CPU does.
constexpr int kSmallGradThreads = 512;

template <typename T, int D>
__global__ void __launch_bounds__(kSmallGradThreads) nn_grad_small_kernel(
    const T* __restrict__ a, const T* __restrict__ b, int64_t N, int64_t M, const int32_t* __restrict__ idx_ab,
    const int32_t* __restrict__ idx_ba, const T* __restrict__ g_ab, const T* __restrict__ g_ba,
    T* __restrict__ grad_a, T* __restrict__ grad_b) {
  extern __shared__ int32_t smem[];
  const int64_t batch = blockIdx.x;
  const bool into_b = blockIdx.y == 0;
  // Sources: the points whose neighbours are the targets; targets: the points receiving.
  const int64_t n = into_b ? N : M, m = into_b ? M : N;
  const T* src = (into_b ? a : b) + batch * n * D;
  const T* tgt = (into_b ? b : a) + batch * m * D;
  const int32_t* src_idx = (into_b ? idx_ab : idx_ba) + batch * n;
  const T* src_g = (into_b ? g_ab : g_ba) + batch * n;
  const int32_t* tgt_idx = (into_b ? idx_ba : idx_ab) + batch * m;  // for the direct term
  const T* tgt_g = (into_b ? g_ba : g_ab) + batch * m;
  const T* tgt_nn = (into_b ? a : b) + batch * n * D;
  T* grad = (into_b ? grad_b : grad_a) + batch * m * D;
  int32_t* start = smem;          // [m + 1]: counts, then offsets, then cursors
  int32_t* order = smem + m + 1;  // [n]: sources grouped by target, in source order
  int32_t* cursor = order + n;    // [m]
  int32_t* partial = cursor + m;  // [kSmallGradThreads]: per-thread sums for the scan
  for (int64_t j = threadIdx.x; j <= m; j += blockDim.x) start[j] = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const int32_t j = src_idx[i];
    if (j >= 0 && j < m) atomicAdd(&start[j + 1], 1);  // integer counts: order-independent
  }
  __syncthreads();
  {  // counts -> offsets: each thread scans a run of targets, the runs' sums are scanned across the block
    const int64_t per = (m + blockDim.x - 1) / blockDim.x, lo = min(m, threadIdx.x * per), hi = min(m, lo + per);
    int32_t local = 0;
    for (int64_t j = lo; j < hi; ++j) local += start[j + 1];
    partial[threadIdx.x] = local;
    __syncthreads();
    for (int offset = 1; offset < kSmallGradThreads; offset *= 2) {
      const int32_t add = threadIdx.x >= offset ? partial[threadIdx.x - offset] : 0;
      __syncthreads();
      partial[threadIdx.x] += add;
      __syncthreads();
    }
    int32_t running = partial[threadIdx.x] - local;
    for (int64_t j = lo; j < hi; ++j) start[j + 1] = running += start[j + 1];
  }
  __syncthreads();
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) cursor[j] = start[j];
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int64_t base = 0; base < n; base += blockDim.x) {
    const int64_t i = base + threadIdx.x;
    const int32_t j = i < n ? src_idx[i] : -1;
    const bool valid = j >= 0 && j < m;
    const unsigned same = __match_any_sync(0xffffffffu, valid ? j : -1);
    const int rank = __popc(same & ((1u << lane) - 1));
    for (int w = 0; w < kSmallGradThreads / 32; ++w) {
      if (w == warp && valid) {
        order[cursor[j] + rank] = int32_t(i);
        __syncwarp(same);
        if (rank == 0) cursor[j] += __popc(same);
      }
      __syncthreads();
    }
  }
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
    T acc[D];
    const int32_t k = tgt_idx[j];
    const T scale = T(2) * tgt_g[j];
#pragma unroll
    for (int d = 0; d < D; ++d)
      acc[d] = (k < 0 || k >= n) ? T(0) : mul_rn(tgt[j * D + d] - tgt_nn[int64_t(k) * D + d], scale);
    for (int32_t e = start[j]; e < start[j + 1]; ++e) {
      const int64_t i = order[e];
      const T s2 = T(2) * src_g[i];
#pragma unroll
      for (int d = 0; d < D; ++d) acc[d] = add_rn(acc[d], mul_rn(tgt[j * D + d] - src[i * D + d], s2));
    }
#pragma unroll
    for (int d = 0; d < D; ++d) grad[j * D + d] = acc[d];
  }
}

size_t small_grad_shared_bytes(int64_t N, int64_t M) {
  return sizeof(int32_t) * (3 * std::max(N, M) + 1 + kSmallGradThreads);
}
constexpr size_t kSmallGradMaxShared = 96 * 1024;

// grad_x[i] = 2 g[i] (x_i - y_idx[i]) for each point of x: [B, n, D]; y: [B, m, D].
template <typename T, int D>
__global__ void nn_direct_grad_kernel(const T* __restrict__ x, const T* __restrict__ y,
                                      int64_t B, int64_t n, int64_t m,
                                      const int32_t* __restrict__ idx, const T* __restrict__ g,
                                      T* __restrict__ grad_x) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= B * n) return;
  const int64_t batch = p / n;
  const int32_t j = idx[p];
  const T scale = T(2) * g[p];
#pragma unroll
  for (int k = 0; k < D; ++k)
    grad_x[p * D + k] = (j < 0 || j >= m) ? T(0)
                                          : mul_rn(x[p * D + k] - y[(batch * m + j) * D + k], scale);
}

// The scatter halves of both directions are sorted together. Source p in [0, B*N) is a point of
// a whose neighbour in b gets its term, p in [B*N, B*N + B*M) a point of b whose neighbour in a
// does. Key: the flat index of the target among [B*M points of b, then B*N points of a], or
// B*M + B*N for an index out of range. Value: p.
__global__ void nn_scatter_keys_kernel(const int32_t* __restrict__ idx_ab, const int32_t* __restrict__ idx_ba,
                                       int64_t B, int64_t N, int64_t M, uint32_t* __restrict__ keys,
                                       uint32_t* __restrict__ values) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= B * (N + M)) return;
  const bool from_a = p < B * N;
  const int64_t src = from_a ? p : p - B * N;
  const int64_t n = from_a ? N : M, m = from_a ? M : N;
  const int32_t j = from_a ? idx_ab[src] : idx_ba[src];
  const int64_t target_base = from_a ? 0 : B * M;
  keys[p] = (j < 0 || j >= m) ? uint32_t(B * (N + M)) : uint32_t(target_base + (src / n) * m + j);
  values[p] = uint32_t(p);
}

__device__ int64_t lower_bound(const uint32_t* keys, int64_t count, uint32_t key) {
  int64_t lo = 0, hi = count;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (keys[mid] < key) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// For each target point t (b's points, then a's): grad[t] += sum over the sources whose
// neighbour is t, in ascending order, of 2 g[s] (t - s). sorted_*: the keys above, stably sorted.
template <typename T, int D>
__global__ void nn_scatter_grad_kernel(const T* __restrict__ a, const T* __restrict__ b, int64_t B, int64_t N,
                                       int64_t M, const uint32_t* __restrict__ sorted_keys,
                                       const uint32_t* __restrict__ sorted_values, const T* __restrict__ g_ab,
                                       const T* __restrict__ g_ba, T* __restrict__ grad_a, T* __restrict__ grad_b) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= B * (M + N)) return;
  const bool into_b = t < B * M;
  const T* target = into_b ? b + t * D : a + (t - B * M) * D;
  T* grad = into_b ? grad_b + t * D : grad_a + (t - B * M) * D;
  int64_t s = lower_bound(sorted_keys, B * (N + M), uint32_t(t));
  T acc[D];
#pragma unroll
  for (int k = 0; k < D; ++k) acc[k] = grad[k];
  for (; s < B * (N + M) && sorted_keys[s] == t; ++s) {
    const int64_t p = sorted_values[s];
    const T* source = into_b ? a + p * D : b + (p - B * N) * D;
    const T scale = T(2) * (into_b ? g_ab[p] : g_ba[p - B * N]);
#pragma unroll
    for (int k = 0; k < D; ++k) acc[k] = add_rn(acc[k], mul_rn(target[k] - source[k], scale));
  }
#pragma unroll
  for (int k = 0; k < D; ++k) grad[k] = acc[k];
}

int blocks_for(int64_t count, int threads) { return int((count + threads - 1) / threads); }

int sort_bits(int64_t max_key) {
  int bits = 1;
  while ((int64_t(1) << bits) <= max_key) ++bits;
  return bits;
}

size_t cub_sort_bytes(int64_t count) {
  size_t bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const uint32_t*>(nullptr),
                                  static_cast<uint32_t*>(nullptr),
                                  static_cast<const uint32_t*>(nullptr),
                                  static_cast<uint32_t*>(nullptr), count);
  return bytes;
}

}  // namespace

size_t nn_distance_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M) {
  const int splits = split_count(B, N, M);
  const size_t parts = splits == 1 ? 0 : size_t(splits) * B * (N + M) * (sizeof(double) + sizeof(int32_t));
  return align_up(sizeof(int32_t) * 2 * B) + parts;
}

template <typename T>
CudaStatus nn_distance_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                             const int32_t* a_len_host, const int32_t* b_len_host, T* dist_ab,
                             int32_t* idx_ab, T* dist_ba, int32_t* idx_ba, void* workspace,
                             cudaStream_t stream) {
  if (B == 0) return 0;  // nothing to do (and a grid of 0 blocks is an error)
  // Copy the lengths only for padded batches: a copy from pageable host memory waits for the
  // stream, which would serialise every call.
  int32_t* lens = nullptr;
  for (int64_t i = 0; i < B; ++i) {
    if (a_len_host[i] != N || b_len_host[i] != M) lens = static_cast<int32_t*>(workspace);
  }
  if (lens) {
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(lens, a_len_host, sizeof(int32_t) * B,
                                                  cudaMemcpyHostToDevice, stream));
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(lens + B, b_len_host, sizeof(int32_t) * B,
                                                  cudaMemcpyHostToDevice, stream));
  }
  const int splits = split_count(B, N, M);
  const int64_t total = B * (N + M);
  T* part_dist = reinterpret_cast<T*>(static_cast<char*>(workspace) + align_up(sizeof(int32_t) * 2 * B));
  int32_t* part_idx = reinterpret_cast<int32_t*>(part_dist + splits * total);
  POINTOPS_CUDA_RETURN_IF_ERROR(dispatch_dim(D, [&](auto dim) {
    const dim3 grid(blocks_for(std::max(N, M), kQueriesPerThread * kThreads) * splits,
                    unsigned(std::min<int64_t>(B, kMaxGridY)), 2);
    nn_forward_kernel<T, decltype(dim)::value><<<grid, kThreads, 0, stream>>>(
        a, b, N, M, B, lens, splits, dist_ab, idx_ab, dist_ba, idx_ba, part_dist, part_idx);
    return static_cast<CudaStatus>(cudaGetLastError());
  }));
  if (splits > 1) {
    nn_merge_kernel<T><<<blocks_for(total, 256), 256, 0, stream>>>(B, N, M, lens, splits, part_dist, part_idx,
                                                                  dist_ab, idx_ab, dist_ba, idx_ba);
    POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
  }
  return 0;
}

size_t nn_distance_grad_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M) {
  return 4 * align_up(sizeof(int32_t) * B * (N + M)) + cub_sort_bytes(B * (N + M));
}

template <typename T>
CudaStatus nn_distance_grad_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                                  const int32_t* idx_ab, const int32_t* idx_ba, const T* g_ab,
                                  const T* g_ba, T* grad_a, T* grad_b, void* workspace,
                                  cudaStream_t stream) {
  if (B == 0) return 0;  // nothing to do (and a grid of 0 blocks is an error)
  // Keys and values are uint32: B * (N + M) < 2^32 since the doors keep B * max(N, M) < 2^31.
  const int64_t count = B * (N + M);
  const size_t array_bytes = align_up(sizeof(uint32_t) * count);
  char* ws = static_cast<char*>(workspace);
  uint32_t* keys_in = reinterpret_cast<uint32_t*>(ws);
  uint32_t* values_in = reinterpret_cast<uint32_t*>(ws + array_bytes);
  uint32_t* keys_out = reinterpret_cast<uint32_t*>(ws + 2 * array_bytes);
  uint32_t* values_out = reinterpret_cast<uint32_t*>(ws + 3 * array_bytes);
  size_t temp_bytes = cub_sort_bytes(count);
  // The one-kernel path needs its shared memory: up to 96 KB where the device allows that much
  // (sm_75 allows 64 KB); larger clouds, and devices with less, take the sorting path.
  int device = 0, optin = 0;
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const size_t shared_limit = std::min(kSmallGradMaxShared, size_t(optin));
  return dispatch_dim(D, [&](auto dim) -> CudaStatus {
    constexpr int kD = decltype(dim)::value;
    const size_t shared = small_grad_shared_bytes(N, M);
    if (shared <= shared_limit) {  // one kernel, no device-wide sort
      auto kernel = nn_grad_small_kernel<T, kD>;
      POINTOPS_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)));
      kernel<<<dim3(unsigned(B), 2), kSmallGradThreads, shared, stream>>>(a, b, N, M, idx_ab, idx_ba, g_ab, g_ba,
                                                                          grad_a, grad_b);
      POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
      return 0;
    }
    // The same order as the CPU: each point's direct term, then its scatter terms in ascending order.
    nn_direct_grad_kernel<T, kD><<<blocks_for(B * N, 256), 256, 0, stream>>>(a, b, B, N, M, idx_ab, g_ab, grad_a);
    nn_direct_grad_kernel<T, kD><<<blocks_for(B * M, 256), 256, 0, stream>>>(b, a, B, M, N, idx_ba, g_ba, grad_b);
    nn_scatter_keys_kernel<<<blocks_for(count, 256), 256, 0, stream>>>(idx_ab, idx_ba, B, N, M, keys_in, values_in);
    POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
    POINTOPS_CUDA_RETURN_IF_ERROR(cub::DeviceRadixSort::SortPairs(ws + 4 * array_bytes, temp_bytes, keys_in, keys_out,
                                                                  values_in, values_out, count, 0, sort_bits(count),
                                                                  stream));
    nn_scatter_grad_kernel<T, kD><<<blocks_for(count, 256), 256, 0, stream>>>(a, b, B, N, M, keys_out, values_out,
                                                                              g_ab, g_ba, grad_a, grad_b);
    POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
    return 0;
  });
}

#define POINTOPS_INSTANTIATE(T)                                                                  \
  template CudaStatus nn_distance_cuda<T>(const T*, const T*, int64_t, int64_t, int64_t, int,   \
                                           const int32_t*, const int32_t*, T*, int32_t*, T*,     \
                                           int32_t*, void*, cudaStream_t);                       \
  template CudaStatus nn_distance_grad_cuda<T>(const T*, const T*, int64_t, int64_t, int64_t,   \
                                                int, const int32_t*, const int32_t*, const T*,   \
                                                const T*, T*, T*, void*, cudaStream_t);
POINTOPS_INSTANTIATE(float)
POINTOPS_INSTANTIATE(double)
#undef POINTOPS_INSTANTIATE

}  // namespace pointops
