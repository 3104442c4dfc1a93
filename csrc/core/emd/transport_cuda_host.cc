// The host side of emd_transport_cuda (transport.h): prepares each cloud's auction from a host copy
// of the points (bounding box, finiteness: the same decisions as the CPU), runs the kernel
// (transport_cuda.cu), then turns each cloud's holdings into a basic plan with its certified gap
// (basic_plan.h), as transport_cpu.cc does. Compiled once (baseline) into the core library, and only
// with CUDA.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "common/pair_scale.h"
#include "emd/basic_plan.h"
#include "emd/cpu_auction.h"
#include "emd/transport.h"
#include "emd/transport_cuda.h"

namespace pointops {
namespace {

// Slots per object: the largest demand (an object's holders are at most its units), capped.
int holder_slots(int64_t B, const int32_t* a_len, const int32_t* b_len) {
  int64_t most = 1;
  for (int64_t c = 0; c < B; ++c) {
    const int64_t n = a_len[c], m = b_len[c];
    most = std::max(most, std::min<int64_t>(std::max(n, m) / std::gcd(n, m), kTransportMaxHolders));
  }
  return int(most);
}

}  // namespace

size_t emd_transport_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M, const int32_t* a_len,
                                          const int32_t* b_len) {
  return transport_auction_workspace_bytes(B, N, M, holder_slots(B, a_len, b_len));
}

size_t emd_transport_cuda_workspace_bytes_any_lengths(int64_t B, int64_t N, int64_t M) {
  // holder_slots: max(n, m) / gcd(n, m) <= max(N, M), capped.
  return transport_auction_workspace_bytes(B, N, M, int(std::min<int64_t>(std::max(N, M), kTransportMaxHolders)));
}

template <typename T>
CudaStatus emd_transport_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, const int32_t* a_len,
                              const int32_t* b_len, const EmdOptions& options, int32_t* plan_i, int32_t* plan_j,
                              T* plan_mass, T* gap, const ParallelFor& pfor, void* workspace, cudaStream_t stream) {
  const int64_t K = N + M - 1;
  std::vector<T> a_host(B * N * D), b_host(B * M * D);
  if (const CudaStatus status = copy_to_host(a_host.data(), a, sizeof(T) * a_host.size(), stream)) return status;
  if (const CudaStatus status = copy_to_host(b_host.data(), b, sizeof(T) * b_host.size(), stream)) return status;
  return dispatch_dim(D, [&](auto dim) -> CudaStatus {
    constexpr int kD = decltype(dim)::value;
    std::vector<TransportCloud> clouds(B);
    std::vector<char> finite(B);
    for (int64_t c = 0; c < B; ++c) {
      const int64_t n = a_len[c], m = b_len[c], g = std::gcd(n, m);
      const T* ac = a_host.data() + c * N * kD;
      const T* bc = b_host.data() + c * M * kD;
      TransportCloud& cloud = clouds[c];
      cloud.persons_are_b = m > n;  // the larger cloud bids
      cloud.persons = int32_t(std::max(n, m));
      cloud.objects = int32_t(std::min(n, m));
      cloud.supply = int32_t(cloud.objects / g);
      cloud.demand = int32_t(cloud.persons / g);
      cloud.max_cost = max_pair_cost<T, kD>(ac, n, bc, m, options.squared);
      finite[c] = Magnitude<T>().add(ac, n * kD).add(bc, m * kD).finite();
      cloud.run = finite[c] && cost_fits<T>(cloud.max_cost, options.squared);
    }
    TransportHolders holders;
    holders.holders = holder_slots(B, a_len, b_len);
    if (const CudaStatus status =
            transport_auction_cuda<T>(a, b, B, N, M, kD, clouds.data(), options, workspace, stream, holders))
      return status;
    std::vector<int64_t> rounds(B, 0);
    pfor(B, 100 * (N + M), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t n = a_len[c], m = b_len[c], g = std::gcd(n, m), units = n * m / g;
        const T* ac = a_host.data() + c * N * kD;
        const T* bc = b_host.data() + c * M * kD;
        const TransportCloud& cloud = clouds[c];
        if (cloud.run && holders.status[c] == kTransportOutOfSlots) {  // the CPU kernel solves it
          EmdOptions one = options;
          one.rounds_used = &rounds[c];
          cpu_kernels_of<T>().emd_transport(ac, bc, 1, N, M, kD, a_len + c, b_len + c, one, plan_i + c * K,
                                            plan_j + c * K, plan_mass + c * K, gap + c,
                                            [](int64_t total, int64_t, const RangeFn& fn) { fn(0, total); });
          continue;
        }
        std::vector<PlanArc> arcs;
        if (!cloud.run) {  // as the CPU: north-west corner, NaN gap (non-finite) or infinite (overflow)
          arcs = north_west_corner(n, m, m / g, n / g);
          gap[c] = finite[c] ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
        } else {
          const int H = holders.holders;
          for (int64_t o = 0; o < cloud.objects; ++o) {
            for (int k = 0; k < H; ++k) {
              const int64_t slot = (c * holders.objects_cap + o) * H + k;
              const int32_t p = holders.person[slot];
              if (p < 0) continue;
              arcs.push_back(cloud.persons_are_b ? PlanArc{int32_t(o), p, holders.amount[slot]}
                                                 : PlanArc{p, int32_t(o), holders.amount[slot]});
            }
          }
          std::sort(arcs.begin(), arcs.end(), arc_before);
          const auto cost = [&](int32_t i, int32_t j) {
            return double(pair_cost<kD>(ac + int64_t(i) * kD, bc + int64_t(j) * kD, options.squared));
          };
          gap[c] = T(basic_plan_gap(arcs, n, m, cost, holders.lower_bound[c], units));
          rounds[c] = (holders.bids[c] + cloud.persons - 1) / cloud.persons;
        }
        write_plan_entries(arcs, units, K, plan_i + c * K, plan_j + c * K, plan_mass + c * K);
      }
    });
    if (options.rounds_used) *options.rounds_used = B > 0 ? *std::max_element(rounds.begin(), rounds.end()) : 0;
    return CudaStatus(0);
  });
}

template CudaStatus emd_transport_cuda<float>(const float*, const float*, int64_t, int64_t, int64_t, int,
                                              const int32_t*, const int32_t*, const EmdOptions&, int32_t*, int32_t*,
                                              float*, float*, const ParallelFor&, void*, cudaStream_t);
template CudaStatus emd_transport_cuda<double>(const double*, const double*, int64_t, int64_t, int64_t, int,
                                               const int32_t*, const int32_t*, const EmdOptions&, int32_t*, int32_t*,
                                               double*, double*, const ParallelFor&, void*, cudaStream_t);

}  // namespace pointops
