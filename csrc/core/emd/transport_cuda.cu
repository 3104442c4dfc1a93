// CUDA transportation auction (transport.h, transport_cuda.h): one block per cloud runs the whole
// epsilon-scaling auction, Jacobi style. Each step, the block's warps take the next persons from
// the cloud's queue and find their best and second-best objects at the step's prices (a warp scans
// all objects); the highest bid for an object wins it (ties to the lowest person) and the losers
// go back to the queue. Each winning warp then applies its bid to its own object as
// transport_cpu.cc does: free units first, then the units of the holders least willing to keep
// them, at the willingness of the last one displaced (second price). An object's holders live in a
// fixed row of slots, one lane per slot (two per lane). Losers and persons displaced into having
// units left rejoin the queue in (warp, slot) order, so the result is deterministic.
#include <algorithm>
#include <cmath>

#include "common/cuda_check.h"
#include "common/device_workspace.h"
#include "common/dispatch.h"
#include "emd/auction_cuda.cuh"
#include "emd/auction_schedule.h"
#include "emd/transport_cuda.h"

namespace pointops {
namespace {

constexpr int kThreads = kAuctionThreads;
constexpr int kWarps = kAuctionWarps;
constexpr int kSlotsPerLane = kTransportMaxHolders / 32;
static_assert(kSlotsPerLane * 32 == kTransportMaxHolders, "slots are spread over a warp's lanes");
constexpr int kCandidates = kTransportMaxHolders + 1;  // per warp: the holders it displaced, then its bidder
static_assert(kWarps * kCandidates < 4096, "a candidate's position fits the low 12 bits of its claim key");
constexpr unsigned kFullMask = 0xffffffffu;

// Per-cloud device state; Mo = min(N, M) objects and No = max(N, M) persons at most, H slots per
// object. Prices and willingness are of the points' type P, as in the assignment kernel.
template <typename P>
struct Scratch {
  TransportCloud* clouds;     // [B]
  int32_t* slot_person;       // [B, Mo, H]: the holder, -1 for an empty slot
  int32_t* slot_amount;       // [B, Mo, H]: its units
  P* slot_willing;            // [B, Mo, H]: the price up to which it keeps them
  int32_t* free_units;        // [B, Mo]: units an object can still take
  P* price;                   // [B, Mo]
  int32_t* remaining;         // [B, No]: units a person has still to place
  P* pi;                      // [B, No]: a person's best value at the last gap
  int32_t* queue;             // [B, No]: circular, each person at most once
  int32_t* queued;            // [B, No]: 1 while in the queue
  unsigned long long* claim;  // [B, No]: the candidate that re-queues a person this step
  double* lower_bound;        // [B]
  int32_t* status;            // [B]
  long long* bids;            // [B]
};

// The layout of transport_auction_workspace_bytes (8 bytes for every P-sized entry).
template <typename P>
Scratch<P> carve(void* workspace, int64_t B, int64_t Mo, int64_t No, int H) {
  char* p = static_cast<char*>(workspace);
  auto take = [&](size_t bytes) { char* out = p; p += align_up(bytes); return out; };
  Scratch<P> s;
  s.clouds = reinterpret_cast<TransportCloud*>(take(sizeof(TransportCloud) * B));
  s.slot_person = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * Mo * H));
  s.slot_amount = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * Mo * H));
  s.slot_willing = reinterpret_cast<P*>(take(sizeof(double) * B * Mo * H));
  s.free_units = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * Mo));
  s.price = reinterpret_cast<P*>(take(sizeof(double) * B * Mo));
  s.remaining = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * No));
  s.pi = reinterpret_cast<P*>(take(sizeof(double) * B * No));
  s.queue = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * No));
  s.queued = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B * No));
  s.claim = reinterpret_cast<unsigned long long*>(take(sizeof(unsigned long long) * B * No));
  s.lower_bound = reinterpret_cast<double*>(take(sizeof(double) * B));
  s.status = reinterpret_cast<int32_t*>(take(sizeof(int32_t) * B));
  s.bids = reinterpret_cast<long long*>(take(sizeof(long long) * B));
  return s;
}

// a: [B, N, D], b: [B, M, D]; the cloud's persons and objects are one of them each (TransportCloud).
// With in_shared, the objects and their prices live in dynamic shared memory (Mo * (D + 1) values).
template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 1)
    transport_kernel(const T* a_all, const T* b_all, int64_t N, int64_t M, int64_t Mo, int64_t No, int H,
                     bool squared, double rel_tol, int64_t max_rounds, bool in_shared, Scratch<T> s) {
  extern __shared__ __align__(16) unsigned char dynamic_smem[];
  const int64_t cloud = blockIdx.x;
  const TransportCloud cl = s.clouds[cloud];
  if (!cl.run) return;
  const int n = cl.persons, m = cl.objects;
  const T* persons = cl.persons_are_b ? b_all + cloud * M * D : a_all + cloud * N * D;
  const T* objects = cl.persons_are_b ? a_all + cloud * N * D : b_all + cloud * M * D;
  int32_t* slot_person = s.slot_person + cloud * Mo * H;
  int32_t* slot_amount = s.slot_amount + cloud * Mo * H;
  T* slot_willing = s.slot_willing + cloud * Mo * H;
  int32_t* free_units = s.free_units + cloud * Mo;
  T* price = s.price + cloud * Mo;
  int32_t* remaining = s.remaining + cloud * No;
  T* pi = s.pi + cloud * No;
  int32_t* queue = s.queue + cloud * No;
  int32_t* queued = s.queued + cloud * No;
  unsigned long long* claim = s.claim + cloud * No;
  if (in_shared) {
    T* objects_shared = reinterpret_cast<T*>(dynamic_smem);
    for (int64_t e = threadIdx.x; e < int64_t(m) * D; e += kThreads) objects_shared[e] = objects[e];
    objects = objects_shared;
    price = reinterpret_cast<T*>(dynamic_smem + sizeof(T) * Mo * D);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  auto cost_of = [&](int32_t i, int j) { return pair_cost<D>(persons + int64_t(i) * D, objects + int64_t(j) * D, squared); };

  __shared__ double dsum[kThreads];
  __shared__ int scan[kWarps];  // block_exclusive_scan
  __shared__ T bid_willing[kWarps];
  __shared__ int32_t bid_object[kWarps], bid_person[kWarps], bid_units[kWarps];
  __shared__ int32_t candidate[kWarps][kCandidates];
  __shared__ int candidates[kWarps];
  __shared__ int32_t ranked[kWarps][kTransportMaxHolders];  // a warp's eligible holders by rank: units, then units before
  __shared__ long long head, tail, bids;
  __shared__ unsigned long long step;
  __shared__ int out_of_slots;

  for (int64_t e = threadIdx.x; e < int64_t(m) * H; e += kThreads) slot_person[e] = -1, slot_amount[e] = 0;
  for (int j = threadIdx.x; j < m; j += kThreads) free_units[j] = cl.demand, price[j] = T(0);
  for (int i = threadIdx.x; i < n; i += kThreads) remaining[i] = cl.supply, queued[i] = 0, claim[i] = 0;
  if (threadIdx.x == 0) bids = 0, step = 0, out_of_slots = 0;
  __syncthreads();

  const int64_t max_bids = saturating_bid_budget(max_rounds, n);
  const double floor = eps_floor(cl.max_cost);
  double eps = initial_eps(cl.max_cost);
  for (bool first = true;; first = false) {
    if (!first) {  // release the holdings no longer within eps of their person's best value
      for (int64_t e = threadIdx.x; e < int64_t(m) * H; e += kThreads) {
        const int32_t p = slot_person[e];
        const int j = int(e / H);
        if (p >= 0 && -cost_of(p, j) - price[j] < pi[p] - T(eps)) {
          atomicAdd(&remaining[p], slot_amount[e]);
          atomicAdd(&free_units[j], slot_amount[e]);
          slot_person[e] = -1;
          slot_amount[e] = 0;
        }
      }
    }
    if (threadIdx.x == 0) head = 0, tail = 0;
    __syncthreads();
    for (int base = 0; base < n; base += kThreads) {  // the queue: persons with units left, in index order
      const int i = base + threadIdx.x;
      const int flag = i < n && remaining[i] > 0;
      int total;
      const int pos = block_exclusive_scan(flag, scan, &total);
      if (flag) queue[tail + pos] = i, queued[i] = 1;
      __syncthreads();
      if (threadIdx.x == 0) tail += total;
      __syncthreads();
    }

    for (int64_t phase_bids = 0;;) {
      const long long waiting = tail - head;
      if (waiting == 0 || out_of_slots || phase_bids >= max_bids) break;
      const int taking = int(min(waiting, (long long)kWarps));
      if (warp < taking) {  // the bids, at this step's prices
        const int32_t person = queue[(head + warp) % n];
        TopTwo<T> t = warp_top_two<T, D>(persons + int64_t(person) * D, objects, price, m, squared);
        if (lane == 0) {
          if (t.w2 == T(-INFINITY)) t.w2 = t.w1;  // a single object: raise its price by eps
          bid_object[warp] = t.j1;
          bid_person[warp] = person;
          bid_willing[warp] = price[t.j1] + (t.w1 - t.w2) + T(eps);
          bid_units[warp] = remaining[person];
          queued[person] = 0;
        }
      }
      phase_bids += taking;
      __syncthreads();
      if (threadIdx.x == 0) head += taking, bids += taking, ++step;

      if (warp < taking) {  // each warp applies its own bid if it won its object
        const int32_t j = bid_object[warp], person = bid_person[warp], units = bid_units[warp];
        const T willing = bid_willing[warp];
        bool wins = true;
        for (int v = 0; v < taking; ++v)
          if (v != warp && bid_object[v] == j &&
              (bid_willing[v] > willing || (bid_willing[v] == willing && bid_person[v] < person)))
            wins = false;
        int pushed = 0;  // candidates for the queue recorded so far (warp-uniform)
        if (wins) {
          int32_t* sp = slot_person + int64_t(j) * H;
          int32_t* sa = slot_amount + int64_t(j) * H;
          T* sw = slot_willing + int64_t(j) * H;
          const int32_t free_now = free_units[j];
          const T old_price = price[j];
          const int32_t from_free = min(units, free_now);
          const int32_t need = units - from_free;
          int32_t holder[kSlotsPerLane], amount[kSlotsPerLane], rank[kSlotsPerLane];
          T keeps[kSlotsPerLane];
          bool eligible[kSlotsPerLane], took[kSlotsPerLane];
#pragma unroll
          for (int q = 0; q < kSlotsPerLane; ++q) {
            const int slot = lane + 32 * q;
            holder[q] = slot < H ? sp[slot] : -1;
            amount[q] = holder[q] >= 0 ? sa[slot] : 0;
            keeps[q] = holder[q] >= 0 ? sw[slot] : T(0);
            eligible[q] = need > 0 && holder[q] >= 0 && holder[q] != person && keeps[q] < willing;
            rank[q] = 0;
            took[q] = false;
          }
          // Rank of each eligible holder in (willingness, slot) order (over the H slots only).
          for (int src = 0; src < min(H, 32); ++src) {
#pragma unroll
            for (int q2 = 0; q2 < kSlotsPerLane; ++q2) {
              if (src + 32 * q2 >= H) continue;  // uniform over the warp
              const T other = __shfl_sync(kFullMask, keeps[q2], src);
              const bool other_eligible = __shfl_sync(kFullMask, int(eligible[q2]), src);
              const int other_slot = src + 32 * q2;
#pragma unroll
              for (int q = 0; q < kSlotsPerLane; ++q)
                if (eligible[q] && other_eligible &&
                    (other < keeps[q] || (other == keeps[q] && other_slot < lane + 32 * q)))
                  ++rank[q];
            }
          }
          int count = 0;
#pragma unroll
          for (int q = 0; q < kSlotsPerLane; ++q) {
            if (eligible[q]) ranked[warp][rank[q]] = amount[q];
            count += __popc(__ballot_sync(kFullMask, eligible[q]));
          }
          __syncwarp();
          // Units offered before each rank: lane l sums ranks 2l and 2l + 1, then a warp scan.
          const int32_t x0 = 2 * lane < count ? ranked[warp][2 * lane] : 0;
          const int32_t x1 = 2 * lane + 1 < count ? ranked[warp][2 * lane + 1] : 0;
          int32_t inclusive = x0 + x1;
#pragma unroll
          for (int offset = 1; offset < 32; offset *= 2) {
            const int32_t up = __shfl_up_sync(kFullMask, inclusive, offset);
            if (lane >= offset) inclusive += up;
          }
          const int32_t offered = __shfl_sync(kFullMask, inclusive, 31);
          __syncwarp();
          if (2 * lane < count) ranked[warp][2 * lane] = inclusive - x0 - x1;
          if (2 * lane + 1 < count) ranked[warp][2 * lane + 1] = inclusive - x1;
          __syncwarp();
          // Take from the least willing first; the holder that completes the need sets the price.
          T last_keeps = T(-INFINITY);
#pragma unroll
          for (int q = 0; q < kSlotsPerLane; ++q) {
            if (!eligible[q]) continue;
            const int32_t before = ranked[warp][rank[q]];
            if (before < need && before + amount[q] >= need) last_keeps = keeps[q];
            const int32_t take = min(max(need - before, 0), amount[q]);
            if (take == 0) continue;
            const int slot = lane + 32 * q;
            atomicAdd(&remaining[holder[q]], take);
            amount[q] -= take;
            sa[slot] = amount[q];
            if (amount[q] == 0) sp[slot] = -1;
            took[q] = true;
          }
#pragma unroll
          for (int offset = 16; offset > 0; offset /= 2)
            last_keeps = fmax(last_keeps, __shfl_xor_sync(kFullMask, last_keeps, offset));
          // Every remaining holder accepts the last displaced one's price; if the bidder cannot get
          // all it needs, the price rises to its own willingness (its next bid goes elsewhere).
          T new_price = old_price;
          if (need > 0) new_price = offered < need ? willing : fmax(old_price, last_keeps);
          const int32_t placed = from_free + min(need, offered);
#pragma unroll
          for (int q = 0; q < kSlotsPerLane; ++q) {  // the displaced, in slot order
            const unsigned mask = __ballot_sync(kFullMask, took[q]);
            if (took[q]) candidate[warp][pushed + __popc(mask & ((1u << lane) - 1))] = holder[q];
            pushed += __popc(mask);
          }
          if (placed > 0) {  // into the bidder's own slot at j, else the first free one
            bool done = false;
#pragma unroll
            for (int q = 0; q < kSlotsPerLane && !done; ++q) {
              const unsigned mask = __ballot_sync(kFullMask, holder[q] == person);
              if (mask == 0) continue;
              if (lane == __ffs(mask) - 1) sa[lane + 32 * q] += placed, sw[lane + 32 * q] = willing;
              done = true;
            }
#pragma unroll
            for (int q = 0; q < kSlotsPerLane && !done; ++q) {
              const bool empty = lane + 32 * q < H && (holder[q] < 0 || amount[q] == 0);
              const unsigned mask = __ballot_sync(kFullMask, empty);
              if (mask == 0) continue;
              if (lane == __ffs(mask) - 1) {
                const int slot = lane + 32 * q;
                sp[slot] = person, sa[slot] = placed, sw[slot] = willing;
              }
              done = true;
            }
            if (!done && lane == 0) out_of_slots = 1;  // the host solves this cloud on the CPU
          }
          if (lane == 0) {
            free_units[j] = free_now - from_free;
            price[j] = new_price;
            atomicSub(&remaining[person], placed);
          }
        }
        if (lane == 0) candidate[warp][pushed] = person, candidates[warp] = pushed + 1;
      }
      __syncthreads();

      // Back to the queue, in (warp, candidate) order and once each: the candidates with units left
      // that are not queued. A person displaced by several warps is claimed by its first candidate.
      // A warp has at most H displaced holders and its bidder: positions f = w (H + 1) + k.
      const int flat = taking * (H + 1);
      for (int f = threadIdx.x; f < flat; f += kThreads) {
        const int w = f / (H + 1), k = f % (H + 1);
        if (k < candidates[w]) atomicMax(&claim[candidate[w][k]], (step << 12) | (4095 - f));
      }
      __syncthreads();
      for (int base = 0; base < flat; base += kThreads) {
        const int f = base + threadIdx.x, w = f / (H + 1), k = f % (H + 1);
        int32_t p = -1;
        int flag = 0;
        if (f < flat && k < candidates[w]) {
          p = candidate[w][k];
          flag = claim[p] == ((step << 12) | (4095 - f)) && remaining[p] > 0 && !queued[p];
        }
        int total;
        const int pos = block_exclusive_scan(flag, scan, &total);
        if (flag) queue[(tail + pos) % n] = p, queued[p] = 1;
        __syncthreads();
        if (threadIdx.x == 0) tail += total;
        __syncthreads();
      }
    }

    const bool aborted = tail != head;
    if (aborted && !out_of_slots && threadIdx.x == 0) {  // max_rounds: the units left fill the free capacity
      int i = 0;
      for (int j = 0; j < m && !out_of_slots; ++j) {
        int32_t* sp = slot_person + int64_t(j) * H;
        while (free_units[j] > 0) {
          while (i < n && remaining[i] == 0) ++i;
          if (i == n) {  // cannot happen (the units left equal the free capacity); the CPU then solves it
            out_of_slots = 1;
            break;
          }
          int slot = -1;
          for (int k = 0; k < H && slot < 0; ++k)
            if (sp[k] == i) slot = k;
          for (int k = 0; k < H && slot < 0; ++k)
            if (sp[k] < 0) slot = k, sp[k] = i, slot_amount[int64_t(j) * H + k] = 0;
          if (slot < 0) {
            out_of_slots = 1;
            break;
          }
          const int32_t amount = min(remaining[i], free_units[j]);
          slot_amount[int64_t(j) * H + slot] += amount;
          remaining[i] -= amount;
          free_units[j] -= amount;
        }
      }
    }
    __syncthreads();
    if (out_of_slots) {
      if (threadIdx.x == 0) s.status[cloud] = kTransportOutOfSlots, s.bids[cloud] = bids;
      return;
    }

    // Certified gap in units x cost: sum_j demand p_j + sum_i supply max_j(-c_ij - p_j) + primal.
    double dual = 0, primal = 0;
    for (int i = warp; i < n; i += kWarps) {
      const TopTwo<T> t = warp_top_two<T, D>(persons + int64_t(i) * D, objects, price, m, squared);
      if (lane == 0) pi[i] = t.w1, dual += double(cl.supply) * double(t.w1);
    }
    for (int j = threadIdx.x; j < m; j += kThreads) dual += double(cl.demand) * double(price[j]);
    for (int64_t e = threadIdx.x; e < int64_t(m) * H; e += kThreads) {
      const int32_t p = slot_person[e];
      if (p >= 0) primal += double(slot_amount[e]) * double(cost_of(p, int(e / H)));
    }
    dual = block_sum(dual, dsum);
    primal = block_sum(primal, dsum);
    const double gap_units = fmax(dual + primal, 0.0), units = double(n) * double(cl.supply);
    if (aborted || phase_done(gap_units / units, primal / units, rel_tol, eps, floor)) {
      if (threadIdx.x == 0)
        s.lower_bound[cloud] = primal - gap_units, s.status[cloud] = kTransportSolved, s.bids[cloud] = bids;
      return;
    }
    eps = next_eps(eps, floor);
  }
}

}  // namespace

size_t transport_auction_workspace_bytes(int64_t B, int64_t N, int64_t M, int H) {
  const int64_t Mo = std::min(N, M), No = std::max(N, M);
  return align_up(sizeof(TransportCloud) * B) + 2 * align_up(sizeof(int32_t) * B * Mo * H) +
         align_up(sizeof(double) * B * Mo * H) + align_up(sizeof(int32_t) * B * Mo) + align_up(sizeof(double) * B * Mo) +
         3 * align_up(sizeof(int32_t) * B * No) + align_up(sizeof(double) * B * No) +
         align_up(sizeof(unsigned long long) * B * No) + align_up(sizeof(double) * B) +
         align_up(sizeof(int32_t) * B) + align_up(sizeof(long long) * B);
}

CudaStatus copy_to_host(void* host, const void* device, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return 0;
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream));
  return static_cast<CudaStatus>(cudaStreamSynchronize(stream));
}

template <typename T>
CudaStatus transport_auction_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                                  const TransportCloud* clouds, const EmdOptions& options, void* workspace,
                                  cudaStream_t stream, TransportHolders& out) {
  const int64_t Mo = std::min(N, M), No = std::max(N, M);
  const int H = out.holders;
  out.objects_cap = Mo;
  out.person.assign(B * Mo * H, -1);
  out.amount.assign(B * Mo * H, 0);
  out.lower_bound.assign(B, 0.0);
  out.status.assign(B, kTransportSolved);
  out.bids.assign(B, 0);
  if (B == 0) return 0;  // a grid of 0 blocks is an error
  const Scratch<T> s = carve<T>(workspace, B, Mo, No, H);
  POINTOPS_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(s.clouds, clouds, sizeof(TransportCloud) * B, cudaMemcpyHostToDevice, stream));
  POINTOPS_CUDA_RETURN_IF_ERROR(dispatch_dim(D, [&](auto dim) {
    auto kernel = transport_kernel<T, decltype(dim)::value>;
    size_t dynamic = 0;
    POINTOPS_CUDA_RETURN_IF_ERROR(dynamic_shared_bytes(kernel, size_t(Mo) * (D + 1) * sizeof(T), &dynamic));
    kernel<<<unsigned(B), kThreads, dynamic, stream>>>(a, b, N, M, Mo, No, H, options.squared, options.rel_tol,
                                                       options.max_rounds, dynamic > 0, s);
    return static_cast<CudaStatus>(cudaGetLastError());
  }));
  const auto back = [&](void* host, const void* device, size_t bytes) {
    return cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream);
  };
  POINTOPS_CUDA_RETURN_IF_ERROR(back(out.person.data(), s.slot_person, sizeof(int32_t) * B * Mo * H));
  POINTOPS_CUDA_RETURN_IF_ERROR(back(out.amount.data(), s.slot_amount, sizeof(int32_t) * B * Mo * H));
  POINTOPS_CUDA_RETURN_IF_ERROR(back(out.lower_bound.data(), s.lower_bound, sizeof(double) * B));
  POINTOPS_CUDA_RETURN_IF_ERROR(back(out.status.data(), s.status, sizeof(int32_t) * B));
  POINTOPS_CUDA_RETURN_IF_ERROR(back(out.bids.data(), s.bids, sizeof(long long) * B));
  return static_cast<CudaStatus>(cudaStreamSynchronize(stream));
}

template CudaStatus transport_auction_cuda<float>(const float*, const float*, int64_t, int64_t, int64_t, int,
                                                  const TransportCloud*, const EmdOptions&, void*, cudaStream_t,
                                                  TransportHolders&);
template CudaStatus transport_auction_cuda<double>(const double*, const double*, int64_t, int64_t, int64_t, int,
                                                   const TransportCloud*, const EmdOptions&, void*, cudaStream_t,
                                                   TransportHolders&);

}  // namespace pointops
