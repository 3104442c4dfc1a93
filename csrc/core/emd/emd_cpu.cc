// CPU assignment EMD: one cloud per task of the pool, each solved by the auction in emd/cpu_auction.h;
// a single cloud gets a second thread for its tree searches.
// Compiled once per CPU level (common/cpu_dispatch.h); reached only through register_emd_cpu.
#include <algorithm>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "emd/cpu_auction.h"

namespace pointops {

// Below this many points a cloud alone is solved on one thread: waking a second costs more.
constexpr int64_t kHelpedCloud = 512;

template <typename T>
void emd_match_cpu(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len,
                   const EmdOptions& options, int32_t* assignment, T* gap, const ParallelFor& pfor) {
  dispatch_dim(D, [&](auto dim) {
    constexpr int kD = decltype(dim)::value;
    std::vector<int64_t> rounds(B);
    auto solve = [&](int64_t bi, BatchHelper* helper) {
      std::fill(assignment + bi * N, assignment + (bi + 1) * N, -1);
      rounds[bi] = emd_match_one<T, kD>(a + bi * N * kD, b + bi * N * kD, len[bi], options,
                                        assignment + bi * N, gap + bi, helper);
    };
    if (B == 1 && len[0] >= kHelpedCloud) {  // one cloud: a second thread shares its tree searches
      BatchHelper::run(pfor, [&](BatchHelper& helper) { solve(0, &helper); });
    } else {
      pfor(B, 1000 * N * N, [&](int64_t b0, int64_t b1) {
        for (int64_t bi = b0; bi < b1; ++bi) solve(bi, nullptr);
      });
    }
    if (options.rounds_used) *options.rounds_used = B > 0 ? *std::max_element(rounds.begin(), rounds.end()) : 0;
  });
}

void register_emd_cpu(CpuKernels& table) {
  table.f32.emd_match = &emd_match_cpu<float>;
  table.f64.emd_match = &emd_match_cpu<double>;
}

}  // namespace pointops
