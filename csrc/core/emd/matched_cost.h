#pragma once
// The EMD of an assignment, reduced as pointops.emd's default: each cloud's mean cost over its valid
// points, then the mean over the batch. For the TF door's PointopsEmdMean (CPU): one pass here
// instead of a dozen eager TF ops on the assignment.
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/pair_scale.h"

namespace pointops {

// a, b: [B, N, D] (host); len: [B] valid sizes; assignment: [B, N] (b index of each valid a point);
// gap: [B], NaN for a cloud with a non-finite coordinate, whose EMD is then NaN. Cost |a_i - b_j|, or
// its square with `squared`; sums in double. NaN for B = 0 (the mean of nothing).
template <typename T>
double mean_matched_cost(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len,
                         const int32_t* assignment, const T* gap, bool squared) {
  double total = 0;
  for (int64_t c = 0; c < B; ++c) {
    if (std::isnan(gap[c])) return std::numeric_limits<double>::quiet_NaN();
    // Differences scaled by the pair's 2^-scale where its magnitude needs it (common/pair_scale.h), so
    // that their squares neither underflow nor overflow double.
    Magnitude<T> pair;
    const int scale = pair_scale_exponent(pair.add(a + c * N * D, len[c] * D).add(b + c * N * D, len[c] * D));
    double cloud = 0;
    for (int64_t i = 0; i < len[c]; ++i) {
      const T* p = a + (c * N + i) * D;
      const T* q = b + (c * N + assignment[c * N + i]) * D;
      double d2 = 0;
      for (int k = 0; k < D; ++k) {
        const double diff = scale == 0 ? double(p[k]) - double(q[k]) : std::ldexp(double(p[k]) - double(q[k]), -scale);
        d2 += diff * diff;
      }
      cloud += squared ? d2 : std::sqrt(d2);
    }
    total += unscaled(cloud / len[c], scale, squared ? 2 : 1);
  }
  return total / double(B);
}

}  // namespace pointops
