#pragma once
// Chamfer distance between every cloud of one set and every cloud of another (data-set evaluation:
// pointops.metrics). Each cloud's search structure is built once and serves every pair it is in.
// Inputs are checked at the door: 1 <= D <= 8, 1 <= x_len[s] <= N, 1 <= y_len[r] <= M.
#include <cstdint>

#include "common/parallel.h"

namespace pointops {

// x: [S, N, D], y: [R, M, D] row-major; x_len: [S], y_len: [R] int32 valid lengths.
// out: [S, R], out[s, r] = mean_i min_j |x[s,i] - y[r,j]|^2 + mean_j min_i |x[s,i] - y[r,j]|^2 over
// the valid points, the sums taken in double. The squared distances are those of nn_distance
// (common/point_math.h), bit for bit. A cloud with a non-finite coordinate gets NaN in all its
// entries. Where the sets' largest coordinate needs it, every cloud is scaled by one 2^-k
// (common/pair_scale.h: one scale, since each cloud's tree serves all its pairs). symmetric: y is x
// (same pointer, S == R, N == M): the pairs s < r are computed once, mirrored, and the diagonal is 0.
template <typename T>
void pairwise_chamfer_cpu(const T* x, const T* y, int64_t S, int64_t R, int64_t N, int64_t M, int D,
                          const int32_t* x_len, const int32_t* y_len, bool symmetric, T* out,
                          const ParallelFor& pfor);

}  // namespace pointops
