// CUDA auction: one thread block per cloud runs the whole epsilon-scaling auction, so no host
// synchronisation and no kernel launch per bidding round. Each step, the block's warps take
// the next unassigned persons from the cloud's queue (in queue order) and compute their bids in
// parallel (a warp scans all objects: no N x N matrix); thread 0 then applies them in warp order,
// the highest bid winning each object (ties to the lowest person index), and queues the losers
// and the displaced owners. Every choice is made in a fixed order, so the result is deterministic.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/cuda_check.h"
#include "common/device_workspace.h"
#include "common/dispatch.h"
#include "emd/auction_cuda.cuh"
#include "emd/auction_schedule.h"
#include "emd/emd.h"

namespace pointops {
namespace {

constexpr int kThreads = kAuctionThreads;
constexpr int kWarps = kAuctionWarps;

// Per-cloud scratch, [B, N] each, plus the bid count per cloud. Prices and values are of the
// points' type P (float or double), so float64 clouds get float64 prices.
template <typename P>
struct Scratch {
  P* price;          // object prices
  int32_t* owner;    // person holding each object, -1 if none
  P* pi;             // each person's best value max_j(-c_ij - p_j) at the last gap
  int32_t* queue;    // circular queue of unassigned persons
  long long* bids;   // [B] bids made
};

// The workspace holds [B, N] arrays of up to 8 bytes each (emd_match_cuda_workspace_bytes).
template <typename P>
Scratch<P> carve(void* workspace, int64_t B, int64_t N) {
  char* p = static_cast<char*>(workspace);
  auto take = [&](size_t bytes) { char* out = p; p += align_up(bytes); return out; };
  Scratch<P> s;
  s.price = reinterpret_cast<P*>(take(sizeof(P) * B * N));
  s.owner = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * N));
  s.pi = reinterpret_cast<P*>(take(sizeof(P) * B * N));
  s.queue = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * N));
  s.bids = reinterpret_cast<long long*>(take(sizeof(long long) * B));
  return s;
}

//   a, b: [B, N, D]; lens: [B] (device) or nullptr; assignment: [B, N]; gap: [B].
// With in_shared, the cloud's b points and the prices live in dynamic shared memory
// (N * (D + 1) * sizeof(T) bytes), which every bid scans; otherwise they are read from global memory.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 1) auction_kernel(const T* a_all, const T* b_all, int64_t N,
                                                               const int32_t* lens, bool squared, double rel_tol,
                                                               int64_t max_rounds, bool in_shared,
                                                               int32_t* assignment_all, T* gap_all, Scratch<T> s) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];
  const int64_t cloud = blockIdx.x;
  const int n = lens ? lens[cloud] : int(N);
  const T* a = a_all + cloud * N * D;
  const T* b = b_all + cloud * N * D;
  T* price = s.price + cloud * N;
  if (in_shared) {
    T* b_shared = reinterpret_cast<T*>(dynamic_smem);
    for (int64_t e = threadIdx.x; e < int64_t(n) * D; e += kThreads) b_shared[e] = b[e];
    b = b_shared;
    price = reinterpret_cast<T*>(dynamic_smem + sizeof(T) * N * D);
    __syncthreads();
  }
  int32_t* assign = assignment_all + cloud * N;
  int32_t* owner = s.owner + cloud * N;
  T* pi = s.pi + cloud * N;
  int32_t* queue = s.queue + cloud * N;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  __shared__ double dsum[kThreads];
  __shared__ int scan[kWarps];  // block_exclusive_scan
  __shared__ T bid_value[kWarps];
  __shared__ int32_t bid_object[kWarps], bid_person[kWarps];
  __shared__ int head, size;
  __shared__ long long bids;

  // Setup: padding, prices, and the largest possible cost (from the bounding box).
  double non_finite = 0, span2 = 0;
  for (int k = 0; k < D; ++k) {
    T lo = T(INFINITY), hi = T(-INFINITY);
    for (int i = threadIdx.x; i < n; i += kThreads) {
      const T va = a[int64_t(i) * D + k], vb = b[int64_t(i) * D + k];
      non_finite += !(isfinite(va) && isfinite(vb));
      lo = fmin(lo, fmin(va, vb));
      hi = fmax(hi, fmax(va, vb));
    }
    // dsum holds kThreads doubles: room for kThreads values of T (float or double), one reduction
    // at a time (a min and a max side by side overflowed it for double).
    lo = block_min_or_max(lo, true, reinterpret_cast<T*>(dsum));
    hi = block_min_or_max(hi, false, reinterpret_cast<T*>(dsum));
    span2 += (double(hi) - double(lo)) * (double(hi) - double(lo));
  }
  for (int i = threadIdx.x; i < N; i += kThreads) {
    assign[i] = -1;
    owner[i] = -1;
    price[i] = T(0);
  }
  if (block_sum(non_finite, dsum) > 0) {  // NaN in, NaN out: identity and a NaN gap
    for (int i = threadIdx.x; i < n; i += kThreads) assign[i] = i;
    if (threadIdx.x == 0) gap_all[cloud] = T(NAN), s.bids[cloud] = 0;
    return;
  }
  // Widened a little so that the float rounding of the costs stays under it.
  const double max_cost = (squared ? span2 : sqrt(span2)) * 1.0001;
  if (!cost_fits<T>(max_cost, squared)) {  // pair costs overflow T: identity and an infinite gap
    for (int i = threadIdx.x; i < n; i += kThreads) assign[i] = i;
    if (threadIdx.x == 0) gap_all[cloud] = T(INFINITY), s.bids[cloud] = 0;
    return;
  }
  const int64_t max_steps = saturating_bid_budget(max_rounds, (n + kWarps - 1) / kWarps);
  const double floor = eps_floor(max_cost);
  double eps = initial_eps(max_cost);
  if (threadIdx.x == 0) bids = 0;

  for (bool first = true;; first = false) {
    // Queue the persons to re-auction: all at first, later those out of eps-slackness.
    if (threadIdx.x == 0) head = 0, size = 0;
    __syncthreads();
    for (int base = 0; base < n; base += kThreads) {
      const int i = base + threadIdx.x;
      int requeue = 0;
      if (i < n) {
        const int32_t j = assign[i];
        requeue = first || j < 0 ||
                  -pair_cost<D>(a + int64_t(i) * D, b + int64_t(j) * D, squared) - price[j] < pi[i] - T(eps);
        if (requeue && j >= 0) owner[j] = -1, assign[i] = -1;
      }
      int total;
      const int pos = block_exclusive_scan(requeue, scan, &total);
      if (requeue) queue[size + pos] = i;
      __syncthreads();
      if (threadIdx.x == 0) size += total;
      __syncthreads();
    }
    // Bidding: up to kWarps persons per step, applied in warp order.
    int64_t steps = 0;
    while (size > 0 && steps < max_steps) {
      const int taking = min(size, kWarps);
      if (warp < taking) {
        const int32_t person = queue[(head + warp) % n];
        TopTwo<T> t = warp_top_two<T, D>(a + int64_t(person) * D, b, price, n, squared);
        if (lane == 0) {
          if (t.w2 == T(-INFINITY)) t.w2 = t.w1;  // a single object: raise its price by eps
          bid_value[warp] = price[t.j1] + (t.w1 - t.w2) + T(eps);
          bid_object[warp] = t.j1;
          bid_person[warp] = person;
        }
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        head = (head + taking) % n;
        size -= taking;
        bids += taking;
        for (int w = 0; w < taking; ++w) {
          const int32_t j = bid_object[w], person = bid_person[w];
          bool wins = true;  // the highest bid for j this step, ties to the lowest person
          for (int v = 0; v < taking; ++v)
            if (v != w && bid_object[v] == j &&
                (bid_value[v] > bid_value[w] || (bid_value[v] == bid_value[w] && bid_person[v] < person)))
              wins = false;
          int32_t back = person;  // who goes back to the queue
          if (wins) {
            back = owner[j];
            if (back >= 0) assign[back] = -1;
            owner[j] = person;
            assign[person] = j;
            price[j] = bid_value[w];
          }
          if (back >= 0) queue[(head + size++) % n] = back;
        }
      }
      __syncthreads();
      ++steps;
    }
    const bool aborted = size > 0;
    if (aborted && threadIdx.x == 0) {  // max_rounds: the rest take the free objects in order
      int free_j = 0;
      for (int i = 0; i < n; ++i) {
        if (assign[i] >= 0) continue;
        while (owner[free_j] >= 0) ++free_j;
        owner[free_j] = i;
        assign[i] = free_j;
      }
    }
    __syncthreads();
    // Certified gap: sum_i max_j(-c_ij - p_j) + sum_j p_j + primal, one warp per person.
    double total = 0, primal = 0;
    for (int i = warp; i < n; i += kWarps) {
      const TopTwo<T> t = warp_top_two<T, D>(a + int64_t(i) * D, b, price, n, squared);
      if (lane == 0) {
        const double c = double(pair_cost<D>(a + int64_t(i) * D, b + int64_t(assign[i]) * D, squared));
        pi[i] = t.w1;
        total += double(t.w1) + c;
        primal += c;
      }
    }
    for (int j = threadIdx.x; j < n; j += kThreads) total += double(price[j]);
    total = block_sum(total, dsum);
    primal = block_sum(primal, dsum);
    const double gap_mean = fmax(total / n, 0.0), mean_cost = primal / n;
    if (aborted || phase_done(gap_mean, mean_cost, rel_tol, eps, floor)) {
      if (threadIdx.x == 0) gap_all[cloud] = T(gap_mean), s.bids[cloud] = bids;
      return;
    }
    eps = next_eps(eps, floor);
  }
}

}  // namespace

size_t emd_match_cuda_workspace_bytes(int64_t B, int64_t N) {
  return 4 * align_up(sizeof(double) * B * N) + align_up(sizeof(long long) * B) + align_up(sizeof(int32_t) * B);
}

template <typename T>
CudaStatus emd_match_cuda(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len_host,
                          const EmdOptions& options, int32_t* assignment, T* gap, void* workspace,
                          cudaStream_t stream) {
  if (B == 0) return 0;  // nothing to do (and a grid of 0 blocks is an error)
  const Scratch<T> s = carve<T>(workspace, B, N);
  // The lengths go to the device only for padded batches (a pageable copy waits for the stream).
  int32_t* lens = nullptr;
  for (int64_t i = 0; i < B; ++i)
    if (len_host[i] != N) lens = reinterpret_cast<int32_t*>(reinterpret_cast<char*>(s.bids) + align_up(sizeof(long long) * B));
  if (lens)
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(lens, len_host, sizeof(int32_t) * B, cudaMemcpyHostToDevice, stream));
  const int64_t max_rounds = options.max_rounds;  // 0: the default (saturating_bid_budget)
  POINTOPS_CUDA_RETURN_IF_ERROR(dispatch_dim(D, [&](auto dim) {
    auto kernel = auction_kernel<T, decltype(dim)::value>;
    size_t dynamic = 0;
    POINTOPS_CUDA_RETURN_IF_ERROR(dynamic_shared_bytes(kernel, size_t(N) * (D + 1) * sizeof(T), &dynamic));
    kernel<<<unsigned(B), kThreads, dynamic, stream>>>(a, b, N, lens, options.squared, options.rel_tol, max_rounds,
                                                       dynamic > 0, assignment, gap, s);
    return static_cast<CudaStatus>(cudaGetLastError());
  }));
  if (options.rounds_used) {  // only when asked: it waits for the result
    std::vector<long long> bids(B);
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(bids.data(), s.bids, sizeof(long long) * B, cudaMemcpyDeviceToHost, stream));
    POINTOPS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    long long most = 0;
    for (int64_t i = 0; i < B; ++i) most = std::max(most, (bids[i] + len_host[i] - 1) / len_host[i]);
    *options.rounds_used = most;
  }
  return 0;
}

template CudaStatus emd_match_cuda<float>(const float*, const float*, int64_t, int64_t, int, const int32_t*,
                                          const EmdOptions&, int32_t*, float*, void*, cudaStream_t);
template CudaStatus emd_match_cuda<double>(const double*, const double*, int64_t, int64_t, int, const int32_t*,
                                           const EmdOptions&, int32_t*, double*, void*, cudaStream_t);

}  // namespace pointops
