#pragma once
// Between the two halves of emd_transport_cuda (transport.h): the kernel's launcher
// (transport_cuda.cu) and the host side (transport_cuda_host.cc), which prepares each cloud's
// parameters and turns the holdings the kernel leaves into basic plans.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "emd/emd.h"

namespace pointops {

// Holder slots kept per object on the GPU. An object has at most `demand` holders (each holds at
// least one unit), so a batch whose demands are all <= this cannot run out of slots; only nearly
// equal sizes can (the CPU auction measured 19-29 holders on one object at 1000 vs 999 and 2047 vs
// 2048 points). A cloud that runs out is solved on the CPU instead.
constexpr int kTransportMaxHolders = 64;

// One cloud's auction, prepared by the host. The larger cloud bids (as on the CPU).
struct TransportCloud {
  int32_t persons, objects;  // the bidding side's valid size and the other side's
  int32_t supply, demand;    // units per person (objects / g) and per object (persons / g)
  int32_t persons_are_b;     // 1: the persons are b's points
  int32_t run;               // 0: left to the host (non-finite or overflowing costs)
  double max_cost;           // upper bound on any pair's cost: the scale of the eps schedule
};

enum TransportStatus : int32_t { kTransportSolved = 0, kTransportOutOfSlots = 1 };

// What the kernel leaves, on the host. holders and objects_cap are set by the caller.
struct TransportHolders {
  int holders = 1;                      // slots per object, <= kTransportMaxHolders
  int64_t objects_cap = 0;              // min(N, M): objects per cloud at most
  std::vector<int32_t> person, amount;  // [B, objects_cap, holders]: person -1 marks an empty slot
  std::vector<double> lower_bound;      // [B]: lower bound on the optimal cost, in units x cost
  std::vector<int32_t> status;          // [B]: TransportStatus
  std::vector<long long> bids;          // [B]
};

size_t transport_auction_workspace_bytes(int64_t B, int64_t N, int64_t M, int holders);

// Copies device memory to the host and waits for the stream.
CudaStatus copy_to_host(void* host, const void* device, size_t bytes, cudaStream_t stream);

// a: [B, N, D], b: [B, M, D] on the device; clouds: [B] on the host. Runs every cloud with run != 0
// and fills `out` (waits for the stream).
template <typename T>
CudaStatus transport_auction_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                                  const TransportCloud* clouds, const EmdOptions& options, void* workspace,
                                  cudaStream_t stream, TransportHolders& out);

}  // namespace pointops
