#pragma once
// Earth Mover's Distance between equal-size point sets through a one-to-one assignment found by
// Bertsekas' auction algorithm with epsilon scaling. CPU (emd_cpu.cc) and CUDA (emd_cuda.cu).
// The door checks: 1 <= D <= 8, 1 <= len[b] <= N, B*N below 2^31.
//
// What the result means: assignment[b] is a permutation of 0..len[b]-1 (padding gets -1), and
// gap[b] is a certified upper bound on (mean cost of that assignment) - (optimal mean cost),
// from weak duality with the final prices: sum_i max_j(-c_ij - p_j) + sum_j p_j bounds the best
// benefit from above. A cloud stops once gap <= rel_tol * its mean cost (or at max_rounds).
// Each phase after the first keeps the assigned pairs that still satisfy eps-complementary
// slackness under the new eps (value within eps of the person's best) and re-auctions the rest.
// A cloud with a non-finite coordinate gets the identity assignment and a NaN gap; a cloud whose
// pair costs overflow the float type the identity and an infinite gap, which the doors turn into an
// error. The CPU auction runs on clouds scaled by a power of two where their magnitude needs it
// (common/pair_scale.h), so it refuses only costs that overflow at the clouds' own scale
// (auction_schedule.h costs_fit_unscaled); the CUDA auction works at the clouds' scale and also
// refuses squared distances that overflow (cost_fits).
// Prices and values are double on the CPU and of the points' type on the GPU.
#include <cstddef>
#include <cstdint>

#include "common/parallel.h"
#include "common/point_math.h"

namespace pointops {

struct EmdOptions {
  bool squared = false;      // cost |a_i - b_j|^2 instead of |a_i - b_j|
  double rel_tol = 1e-3;     // target: gap <= rel_tol * mean cost of the assignment
  int64_t max_rounds = 0;    // bidding rounds per epsilon phase before giving up on the target
                             // (0: 10000); the assignment is then completed greedily and its gap
                             // still reported. On the CPU a round is N bids.
  int64_t* rounds_used = nullptr;  // if set (host memory): receives the largest round count of any
                                   // cloud, summed over its phases
};

// CPU version: compiled once per CPU level, reached through cpu_kernels_of<T>() (common/cpu_dispatch.h).
// a, b: [B, N, D]; len: [B] valid sizes (host). assignment: [B, N] int32 (b index for each a
// point), gap: [B] in cost units (same dtype as the points).
template <typename T>
void emd_match_cpu(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len,
                   const EmdOptions& options, int32_t* assignment, T* gap, const ParallelFor& pfor);

// CUDA: a, b, assignment, gap on the device, len on the host; `workspace` is device memory of
// emd_match_cuda_workspace_bytes(B, N) bytes. One block per cloud runs the whole auction: no host
// round trip per phase or bidding round. The call waits for `stream` only when
// options.rounds_used is set (to read the counts), or in the lengths' pageable copy (padded batches).
size_t emd_match_cuda_workspace_bytes(int64_t B, int64_t N);
template <typename T>
CudaStatus emd_match_cuda(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len_host,
                          const EmdOptions& options, int32_t* assignment, T* gap, void* workspace,
                          cudaStream_t stream);

}  // namespace pointops
