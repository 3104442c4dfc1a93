// CUDA auction (Jacobi: every unassigned person bids at once). Each object takes the highest
// bid, ties to the lowest person index, through one 64-bit atomicMax of (bid bits, ~person):
// the outcome does not depend on the order of the atomics, so the result is deterministic.
// No N x N matrix: costs are recomputed on the fly. The host reads the per-cloud progress
// counters every kRoundsPerCheck rounds and the gaps once per epsilon phase.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "common/cuda_check.h"
#include "common/dispatch.h"
#include "emd/auction_schedule.h"
#include "emd/emd.h"

namespace pointops {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kRoundsPerCheck = 16;

// Per-cloud and per-point state, carved from the workspace.
struct State {
  float* price;              // [B, N]
  int32_t* owner;            // [B, N] person holding object j, -1 if none
  unsigned long long* bids;  // [B, N] best bid this round, 0 if none
  double* contrib;           // [B, N] per person: max_j(-c_ij - p_j) + c_i,assigned
  float* pi;                 // [B, N] per person: max_j(-c_ij - p_j), for the warm start
  int32_t* lens;             // [B]
  int32_t* unassigned;       // [B]
  int32_t* active;           // [B] cloud still bidding
  float* eps;                // [B]
  float* max_cost;           // [B] upper bound on any pair's cost; NaN if non-finite input
  double* sums;              // [B, 2]: (dual + primal) and primal, summed over the cloud
};

size_t align_up(size_t bytes) { return (bytes + 255) / 256 * 256; }

State carve(void* workspace, int64_t B, int64_t N) {
  char* p = static_cast<char*>(workspace);
  auto take = [&](size_t bytes) { char* out = p; p += align_up(bytes); return out; };
  State s;
  s.price = reinterpret_cast<float*>(take(sizeof(float) * B * N));
  s.owner = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * N));
  s.bids = reinterpret_cast<unsigned long long*>(take(sizeof(unsigned long long) * B * N));
  s.contrib = reinterpret_cast<double*>(take(sizeof(double) * B * N));
  s.pi = reinterpret_cast<float*>(take(sizeof(float) * B * N));
  s.lens = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B));
  s.unassigned = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B));
  s.active = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B));
  s.eps = reinterpret_cast<float*>(take(sizeof(float) * B));
  s.max_cost = reinterpret_cast<float*>(take(sizeof(float) * B));
  s.sums = reinterpret_cast<double*>(take(sizeof(double) * 2 * B));
  return s;
}

// One block per cloud: prices to 0; max_cost from the bounding box (NaN if any coordinate is
// not finite).
template <typename T, int D>
__global__ void setup_kernel(const T* a, const T* b, int64_t N, bool squared, State s) {
  const int64_t cloud = blockIdx.x;
  const int n = s.lens[cloud];
  __shared__ float lo[D][256], hi[D][256];
  __shared__ int finite[256];
  float l[D], h[D];
  int ok = 1;
  for (int k = 0; k < D; ++k) l[k] = FLT_MAX, h[k] = -FLT_MAX;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    s.price[cloud * N + i] = 0.f;
    for (int k = 0; k < D; ++k) {
      const float va = float(a[(cloud * N + i) * D + k]), vb = float(b[(cloud * N + i) * D + k]);
      ok &= isfinite(va) && isfinite(vb);
      l[k] = fminf(l[k], fminf(va, vb));
      h[k] = fmaxf(h[k], fmaxf(va, vb));
    }
  }
  for (int k = 0; k < D; ++k) lo[k][threadIdx.x] = l[k], hi[k][threadIdx.x] = h[k];
  finite[threadIdx.x] = ok;
  __syncthreads();
  if (threadIdx.x == 0) {
    double span2 = 0;
    for (int k = 0; k < D; ++k) {
      float mn = FLT_MAX, mx = -FLT_MAX;
      for (int t = 0; t < blockDim.x; ++t) mn = fminf(mn, lo[k][t]), mx = fmaxf(mx, hi[k][t]);
      span2 += double(mx - mn) * double(mx - mn);
    }
    for (int t = 0; t < blockDim.x; ++t) ok &= finite[t];
    // Widened a little so that float rounding of the costs stays under it.
    s.max_cost[cloud] = ok ? float((squared ? span2 : sqrt(span2)) * 1.0001) : NAN;
  }
}

// Starts a phase: the first with everyone unassigned, later ones keeping the pairs whose value
// is still within eps of the person's best (s.pi, from the last gap); counts the unassigned
// (s.unassigned must be zero on entry).
template <typename T, int D>
__global__ void phase_init_kernel(const T* a, const T* b, int64_t B, int64_t N, bool squared, bool first,
                                  int32_t* assignment, State s) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= B * N) return;
  const int64_t cloud = p / N, i = p % N;
  if (!s.active[cloud]) return;
  s.bids[p] = 0ull;
  if (first) s.owner[p] = -1;
  if (i >= s.lens[cloud]) return;
  const int32_t j = first ? -1 : assignment[p];
  if (j >= 0) {
    const float w = -float(pair_cost<D>(a + p * D, b + (cloud * N + j) * D, squared)) - s.price[cloud * N + j];
    if (w >= s.pi[p] - s.eps[cloud]) return;
    s.owner[cloud * N + j] = -1;
  }
  assignment[p] = -1;
  atomicAdd(&s.unassigned[cloud], 1);
}

// Best and second-best value (-cost - price) of one person over objects [0, n), one warp.
struct TopTwo {
  float w1, w2;
  int32_t j1;
};

__device__ void consider(TopTwo& t, float w, int32_t j) {
  if (w > t.w1 || (w == t.w1 && j < t.j1)) {
    t.w2 = t.w1;
    t.w1 = w;
    t.j1 = j;
  } else {
    t.w2 = fmaxf(t.w2, w);
  }
}

template <typename T, int D>
__device__ TopTwo warp_top_two(const T* a_i, const T* b_cloud, const float* price, int n, bool squared) {
  T q[D];
#pragma unroll
  for (int k = 0; k < D; ++k) q[k] = a_i[k];
  TopTwo t{-INFINITY, -INFINITY, INT32_MAX};
  const int lane = threadIdx.x % 32;
  for (int j = lane; j < n; j += 32) consider(t, -float(pair_cost<D>(q, b_cloud + int64_t(j) * D, squared)) - price[j], j);
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const float ow1 = __shfl_xor_sync(0xffffffffu, t.w1, offset);
    const float ow2 = __shfl_xor_sync(0xffffffffu, t.w2, offset);
    const int32_t oj1 = __shfl_xor_sync(0xffffffffu, t.j1, offset);
    if (ow1 > t.w1 || (ow1 == t.w1 && oj1 < t.j1)) {
      t.w2 = fmaxf(t.w1, ow2);
      t.w1 = ow1;
      t.j1 = oj1;
    } else {
      t.w2 = fmaxf(t.w2, ow1);
    }
  }
  return t;
}

// One warp per person: unassigned persons of active clouds bid for their best object.
template <typename T, int D>
__global__ void bid_kernel(const T* a, const T* b, int64_t N, bool squared, const int32_t* assignment, State s) {
  const int64_t cloud = blockIdx.y;
  const int64_t i = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int n = s.lens[cloud];
  if (!s.active[cloud] || i >= n || assignment[cloud * N + i] >= 0) return;
  const float* price = s.price + cloud * N;
  TopTwo t = warp_top_two<T, D>(a + (cloud * N + i) * D, b + cloud * N * D, price, n, squared);
  if (threadIdx.x % 32 != 0) return;
  if (t.w2 == -INFINITY) t.w2 = t.w1;  // a single object: raise its price by eps
  const float bid = price[t.j1] + (t.w1 - t.w2) + s.eps[cloud];
  const unsigned long long packed =
      (static_cast<unsigned long long>(__float_as_uint(bid)) << 32) | (0xffffffffu - uint32_t(i));
  atomicMax(&s.bids[cloud * N + t.j1], packed);
}

// One thread per object: the highest bid wins; its previous owner becomes unassigned.
__global__ void assign_kernel(int64_t B, int64_t N, int32_t* assignment, State s) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= B * N) return;
  const unsigned long long packed = s.bids[p];
  if (packed == 0ull) return;
  const int64_t cloud = p / N, j = p % N;
  s.bids[p] = 0ull;
  const int32_t winner = int32_t(0xffffffffu - uint32_t(packed & 0xffffffffu));
  s.price[p] = __uint_as_float(uint32_t(packed >> 32));
  const int32_t previous = s.owner[p];
  if (previous >= 0) assignment[cloud * N + previous] = -1;
  else atomicSub(&s.unassigned[cloud], 1);
  s.owner[p] = winner;
  assignment[cloud * N + winner] = int32_t(j);
}

// After an aborted phase (max_rounds): the unassigned persons take the free objects in order.
__global__ void complete_kernel(int64_t B, int64_t N, int32_t* assignment, State s) {
  const int64_t cloud = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (cloud >= B || !s.active[cloud]) return;
  const int n = s.lens[cloud];
  int free_j = 0;
  for (int i = 0; i < n; ++i) {
    if (assignment[cloud * N + i] >= 0) continue;
    while (s.owner[cloud * N + free_j] >= 0) ++free_j;
    s.owner[cloud * N + free_j] = i;
    assignment[cloud * N + i] = free_j;
  }
  s.unassigned[cloud] = 0;
}

// One warp per person: max_j(-c_ij - p_j) + c_i,assigned, for the duality gap.
template <typename T, int D>
__global__ void gap_terms_kernel(const T* a, const T* b, int64_t N, bool squared, const int32_t* assignment, State s) {
  const int64_t cloud = blockIdx.y;
  const int64_t i = int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int n = s.lens[cloud];
  if (!s.active[cloud] || i >= n) return;
  const T* a_i = a + (cloud * N + i) * D;
  const TopTwo t = warp_top_two<T, D>(a_i, b + cloud * N * D, s.price + cloud * N, n, squared);
  if (threadIdx.x % 32 == 0) {
    const int32_t j = assignment[cloud * N + i];
    s.pi[cloud * N + i] = t.w1;
    s.contrib[cloud * N + i] = double(t.w1) + double(pair_cost<D>(a_i, b + (cloud * N + j) * D, squared));
  }
}

// One block per cloud, fixed-order sums (deterministic): (dual + primal), primal.
template <typename T, int D>
__global__ void gap_sum_kernel(const T* a, const T* b, int64_t N, bool squared, const int32_t* assignment, State s) {
  const int64_t cloud = blockIdx.x;
  if (!s.active[cloud]) return;
  const int n = s.lens[cloud];
  __shared__ double total[256], primal[256];
  double t = 0, pr = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const int32_t j = assignment[cloud * N + i];
    t += s.contrib[cloud * N + i] + double(s.price[cloud * N + i]);
    pr += double(pair_cost<D>(a + (cloud * N + i) * D, b + (cloud * N + j) * D, squared));
  }
  total[threadIdx.x] = t;
  primal[threadIdx.x] = pr;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      total[threadIdx.x] += total[threadIdx.x + stride];
      primal[threadIdx.x] += primal[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) s.sums[2 * cloud] = total[0], s.sums[2 * cloud + 1] = primal[0];
}

// Padding gets -1; a non-finite cloud gets the identity.
__global__ void finalize_kernel(int64_t B, int64_t N, int32_t* assignment, State s) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= B * N) return;
  const int64_t cloud = p / N, i = p % N;
  if (i >= s.lens[cloud]) assignment[p] = -1;
  else if (isnan(s.max_cost[cloud])) assignment[p] = int32_t(i);
}

int blocks_for(int64_t count, int threads) { return int((count + threads - 1) / threads); }

template <typename T, int D>
CudaStatus run_auction(const T* a, const T* b, int64_t B, int64_t N, const int32_t* len_host,
                       const EmdOptions& options, int32_t* assignment, T* gap, State s, cudaStream_t stream) {
  const bool sq = options.squared;
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.lens, len_host, sizeof(int32_t) * B, cudaMemcpyHostToDevice, stream));
  setup_kernel<T, D><<<unsigned(B), 256, 0, stream>>>(a, b, N, sq, s);
  POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
  std::vector<float> max_cost(B), eps_f(B);
  std::vector<double> eps(B), floor(B), sums(2 * B), gap_h(B, NAN);
  std::vector<int32_t> active(B), unassigned(B);
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(max_cost.data(), s.max_cost, sizeof(float) * B, cudaMemcpyDeviceToHost, stream));
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  for (int64_t c = 0; c < B; ++c) {
    active[c] = !std::isnan(max_cost[c]);
    eps[c] = initial_eps(max_cost[c]);
    floor[c] = eps_floor(max_cost[c]);
  }
  const int64_t max_rounds = options.max_rounds > 0 ? options.max_rounds : kDefaultMaxRounds;
  const dim3 warp_grid(blocks_for(N, kWarpsPerBlock), unsigned(B));
  int64_t rounds = 0;
  for (bool first = true; std::count(active.begin(), active.end(), 1) > 0; first = false) {
    for (int64_t c = 0; c < B; ++c) eps_f[c] = float(eps[c]);
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.eps, eps_f.data(), sizeof(float) * B, cudaMemcpyHostToDevice, stream));
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.active, active.data(), sizeof(int32_t) * B, cudaMemcpyHostToDevice, stream));
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(s.unassigned, 0, sizeof(int32_t) * B, stream));
    phase_init_kernel<T, D><<<blocks_for(B * N, 256), 256, 0, stream>>>(a, b, B, N, sq, first, assignment, s);
    POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
    bool aborted = false;
    for (int64_t phase_rounds = 0;;) {
      for (int r = 0; r < kRoundsPerCheck; ++r) {
        bid_kernel<T, D><<<warp_grid, 32 * kWarpsPerBlock, 0, stream>>>(a, b, N, sq, assignment, s);
        assign_kernel<<<blocks_for(B * N, 256), 256, 0, stream>>>(B, N, assignment, s);
      }
      POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
      rounds += kRoundsPerCheck;
      phase_rounds += kRoundsPerCheck;
      POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(unassigned.data(), s.unassigned, sizeof(int32_t) * B, cudaMemcpyDeviceToHost, stream));
      POINTOPS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
      bool left = false;
      for (int64_t c = 0; c < B; ++c) left |= active[c] && unassigned[c] > 0;
      if (!left) break;
      if (phase_rounds >= max_rounds) {
        aborted = true;
        complete_kernel<<<blocks_for(B, 64), 64, 0, stream>>>(B, N, assignment, s);
        POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
        break;
      }
    }
    gap_terms_kernel<T, D><<<warp_grid, 32 * kWarpsPerBlock, 0, stream>>>(a, b, N, sq, assignment, s);
    gap_sum_kernel<T, D><<<unsigned(B), 256, 0, stream>>>(a, b, N, sq, assignment, s);
    POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(sums.data(), s.sums, sizeof(double) * 2 * B, cudaMemcpyDeviceToHost, stream));
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    for (int64_t c = 0; c < B; ++c) {
      if (!active[c]) continue;
      const double n = len_host[c];
      const double gap_mean = std::max(0.0, sums[2 * c] / n), mean_cost = sums[2 * c + 1] / n;
      if (aborted || phase_done(gap_mean, mean_cost, options.rel_tol, eps[c], floor[c])) {
        active[c] = 0;
        gap_h[c] = gap_mean;
      } else {
        eps[c] = next_eps(eps[c], floor[c]);
      }
    }
  }
  if (options.rounds_used) *options.rounds_used = rounds;
  finalize_kernel<<<blocks_for(B * N, 256), 256, 0, stream>>>(B, N, assignment, s);
  POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED();
  std::vector<T> gap_t(gap_h.begin(), gap_h.end());
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(gap, gap_t.data(), sizeof(T) * B, cudaMemcpyHostToDevice, stream));
  // gap_t is pageable host memory: the copy is complete when cudaMemcpyAsync returns it staged;
  // synchronise so that no later reader can race with it.
  return static_cast<CudaStatus>(cudaStreamSynchronize(stream));
}

}  // namespace

size_t emd_match_cuda_workspace_bytes(int64_t B, int64_t N) {
  const int64_t BN = B * N;
  return align_up(4 * BN) * 3 + align_up(8 * BN) * 2 + align_up(4 * B) * 5 + align_up(16 * B);
}

template <typename T>
CudaStatus emd_match_cuda(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len_host,
                          const EmdOptions& options, int32_t* assignment, T* gap, void* workspace,
                          cudaStream_t stream) {
  const State s = carve(workspace, B, N);
  return dispatch_dim(D, [&](auto dim) {
    return run_auction<T, decltype(dim)::value>(a, b, B, N, len_host, options, assignment, gap, s, stream);
  });
}

template CudaStatus emd_match_cuda<float>(const float*, const float*, int64_t, int64_t, int, const int32_t*,
                                          const EmdOptions&, int32_t*, float*, void*, cudaStream_t);
template CudaStatus emd_match_cuda<double>(const double*, const double*, int64_t, int64_t, int, const int32_t*,
                                           const EmdOptions&, int32_t*, double*, void*, cudaStream_t);

}  // namespace pointops
