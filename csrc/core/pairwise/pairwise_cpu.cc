// CPU pairwise Chamfer matrix: every cloud's tree (nn/block_tree.h) is built once and serves
// every pair the cloud is in, as queries and as references; the searches run a vector of queries at
// a time.
// Compiled once per CPU level (common/cpu_dispatch.h); reached only through register_pairwise_cpu.
#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "common/pair_scale.h"
#include "common/simd.h"
#include "nn/block_tree.h"
#include "pairwise/pairwise.h"

namespace pointops {
namespace {

// Sum over the points of `query` of the squared distance to the nearest point of `ref`, in double and in
// the order of the source cloud (the trees' shapes follow the vector width, the sum must not: every CPU
// level gives the same bits). `nearest` is scratch space for one distance per query point.
template <typename T, int D>
double nearest_sum(const BlockTree<T, D>& query, const BlockTree<T, D>& ref, std::vector<T>& nearest) {
  using V = typename BlockTree<T, D>::V;
  nearest.resize(query.size());
  query.for_each_query_vector([&](const V (&q)[D], const int32_t* ids, int count) {
    V best = V{} + std::numeric_limits<T>::infinity();
    ref.search(q, best);
    for (int l = 0; l < count; ++l) nearest[ids[l]] = best[l];
  });
  double total = 0;
  for (const T d : nearest) total += double(d);
  return total;
}

template <typename T, int D>
void pairwise_chamfer_dim(const T* x, const T* y, int64_t S, int64_t R, int64_t N, int64_t M,
                          const int32_t* x_len, const int32_t* y_len, bool symmetric, T* out,
                          const ParallelFor& pfor) {
  const int64_t clouds = symmetric ? S : S + R;
  std::vector<BlockTree<T, D>> blocked(clouds);
  std::vector<Magnitude<T>> magnitude(clouds);  // a cloud with a non-finite coordinate gets no tree, and NaN pairs
  auto points = [&](int64_t c) { return c < S ? x + c * N * D : y + (c - S) * M * D; };
  auto length = [&](int64_t c) { return int64_t(c < S ? x_len[c] : y_len[c - S]); };
  pfor(clouds, 2 * std::max(N, M) * D, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) magnitude[c].add(points(c), length(c) * D);
  });
  // One scale for every pair (common/pair_scale.h), since each tree serves all the pairs of its cloud:
  // that of the largest finite coordinate of both sets.
  Magnitude<T> sets;
  for (int64_t c = 0; c < clouds; ++c)
    if (magnitude[c].finite()) sets.add(magnitude[c]);
  const int k = pair_scale_exponent(sets);
  pfor(clouds, 40 * std::max(N, M) * D, [&](int64_t c0, int64_t c1) {
    std::vector<T> scaled;
    for (int64_t c = c0; c < c1; ++c) {
      if (!magnitude[c].finite()) continue;
      const T* pts = points(c);
      if (k != 0) {
        scaled_copy(pts, length(c) * D, k, scaled);
        pts = scaled.data();
      }
      blocked[c].build(pts, length(c));  // the tree keeps a copy of the points
    }
  });
  const BlockTree<T, D>* xs = blocked.data();
  const BlockTree<T, D>* ys = symmetric ? xs : xs + S;
  const Magnitude<T>* x_magnitude = magnitude.data();
  const Magnitude<T>* y_magnitude = symmetric ? x_magnitude : x_magnitude + S;

  std::vector<std::pair<int32_t, int32_t>> pairs;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t r = symmetric ? s + 1 : 0; r < R; ++r) pairs.emplace_back(int32_t(s), int32_t(r));
  constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();
  pfor(int64_t(pairs.size()), 2 * N * M * D / 4, [&](int64_t p0, int64_t p1) {
    std::vector<T> nearest;
    for (int64_t p = p0; p < p1; ++p) {
      const auto [s, r] = pairs[p];
      T value = kNaN;
      if (x_magnitude[s].finite() && y_magnitude[r].finite())
        value = T(unscaled(nearest_sum(xs[s], ys[r], nearest) / x_len[s] + nearest_sum(ys[r], xs[s], nearest) / y_len[r],
                           k, 2));
      out[s * R + r] = value;
      if (symmetric) out[r * R + s] = value;
    }
  });
  if (symmetric)
    for (int64_t s = 0; s < S; ++s) out[s * R + s] = x_magnitude[s].finite() ? T(0) : kNaN;
}

}  // namespace

template <typename T>
void pairwise_chamfer_cpu(const T* x, const T* y, int64_t S, int64_t R, int64_t N, int64_t M, int D,
                          const int32_t* x_len, const int32_t* y_len, bool symmetric, T* out,
                          const ParallelFor& pfor) {
  dispatch_dim(D, [&](auto dim) {
    pairwise_chamfer_dim<T, decltype(dim)::value>(x, y, S, R, N, M, x_len, y_len, symmetric, out, pfor);
  });
}

void register_pairwise_cpu(CpuKernels& table) {
  table.f32.pairwise_chamfer = &pairwise_chamfer_cpu<float>;
  table.f64.pairwise_chamfer = &pairwise_chamfer_cpu<double>;
}

}  // namespace pointops
