#pragma once
// Earth Mover's Distance between clouds of any sizes: the optimal transport with uniform masses,
// 1/n on each of the n valid a points and 1/m on each of the m valid b points, solved exactly (within
// a certified gap) by Bertsekas' auction for the transportation problem. CPU: transport_cpu.cc; CUDA:
// transport_cuda.cu and transport_cuda_host.cc.
//
// The auction works in integer units of mass 1/T, T = n m / gcd(n, m): each a point (a person)
// supplies m / gcd units and each b point (an object) takes n / gcd. It is the assignment auction on
// T copies of each side (the "lcm split") with the copies of one object kept at one price and bought in
// bulk: a person places units at its best object, into free capacity at the object's price, or else by
// displacing the holders least willing to keep theirs (each holding records the price up to which its
// person stays within eps of its best other option). The object's price rises to the willingness of
// the last holder displaced (second price), or to the bidder's own when it cannot get more, so every
// bid either raises a price or moves units to a more willing holder. Bidding copy by copy instead
// raises prices by eps per copy when an object has many (near-equal sizes such as 2047 and 2048 took
// 60x longer that way). Every holding stays within eps of its person's best value (eps-complementary
// slackness), so the epsilon-scaling schedule and the certificate of the assignment auction apply:
// gap is a bound on (plan cost) - (optimal cost) from weak duality with the objects' prices. The
// larger cloud bids (2-3x faster than the smaller one with its larger supplies).
//
// Clouds with n == m are solved by the assignment auction (emd_match), so their plans are today's
// permutations (mass 1/n each). The plan returned is basic (basic_plan.h): at most n + m - 1 entries.
// A cloud with a non-finite coordinate gets the north-west-corner plan and a NaN gap; one whose pair
// costs overflow T, the same plan and an infinite gap (as emd_match, emd.h).
#include <cstdint>

#include "common/parallel.h"
#include "emd/emd.h"

namespace pointops {

// a: [B, N, D], b: [B, M, D]; a_len, b_len: [B] valid sizes (host, >= 1). Outputs, K = N + M - 1
// entries per cloud, sorted by (i, j), then padding: plan_i, plan_j: [B, K] int32 (-1 at padding),
// plan_mass: [B, K] (0 at padding; a cloud's masses sum to 1), gap: [B] in cost units.
// options.rounds_used receives the largest bid count of any cloud over max(n, m).
template <typename T>
void emd_transport_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, const int32_t* a_len,
                       const int32_t* b_len, const EmdOptions& options, int32_t* plan_i, int32_t* plan_j,
                       T* plan_mass, T* gap, const ParallelFor& pfor);

// CUDA: a, b on the device, everything else on the host (the outputs too). One block per cloud runs
// the auction (transport_cuda.cu); the host then makes each plan basic, as the CPU does
// (transport_cuda_host.cc), so the call waits for `stream`. A cloud whose objects would need more
// holders than the kernel keeps (kTransportMaxHolders, only where the sizes are nearly equal) is
// solved by the CPU kernel instead. `workspace`: device memory of
// emd_transport_cuda_workspace_bytes(B, N, M, a_len, b_len) bytes.
size_t emd_transport_cuda_workspace_bytes(int64_t B, int64_t N, int64_t M, const int32_t* a_len,
                                          const int32_t* b_len);
// The most that emd_transport_cuda_workspace_bytes gives for any lengths of these padded sizes (for a
// caller that must size the workspace before it knows the lengths: the XLA lowering).
size_t emd_transport_cuda_workspace_bytes_any_lengths(int64_t B, int64_t N, int64_t M);
template <typename T>
CudaStatus emd_transport_cuda(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, const int32_t* a_len,
                              const int32_t* b_len, const EmdOptions& options, int32_t* plan_i, int32_t* plan_j,
                              T* plan_mass, T* gap, const ParallelFor& pfor, void* workspace, cudaStream_t stream);

}  // namespace pointops
