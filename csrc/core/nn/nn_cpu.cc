// CPU nearest neighbour: a SIMD k-d tree searched a vector of queries at a time (nn/block_tree.h), a
// SIMD brute force, and a scalar NaN-propagating path for clouds with non-finite coordinates. All
// three use squared_distance() and the tie rule of nn_better(), so they return the same bits.
// Compiled once per CPU level (common/cpu_dispatch.h); reached only through register_nn_cpu.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "common/pair_scale.h"
#include "common/simd.h"
#include "nn/block_tree.h"
#include "nn/nn.h"

namespace pointops {
namespace {

// Under NnAlgorithm::kAuto a cloud pair goes to the tree from this many point pairs (N*M) on; below,
// the brute force is faster (measured on AMD EPYC, AVX-512: benchmarks/CPU_NOTES.md). Pruning by boxes
// weakens as D grows, so the tree needs larger clouds to pay off.
constexpr int64_t tree_min_pairs(int D) {
  return D <= 2 ? int64_t(1) << 16 : D == 3 ? int64_t(1) << 20 : D <= 5 ? int64_t(1) << 22 : int64_t(1) << 25;
}
// Queries per unit of work on the tree path (whole subtrees of the query cloud).
constexpr int64_t kTreeWorkPoints = 512;

// The reference side of the brute force: coordinates transposed to [D][m_pad], padded with
// NaN (a NaN distance never passes the '<' test of the finite path).
template <typename T>
struct Transposed {
  std::vector<T> coords;
  int64_t m = 0, m_pad = 0;
  void build(const T* src, int64_t count, int D) {
    m = count;
    m_pad = (count + Simd<T>::W - 1) / Simd<T>::W * Simd<T>::W;
    coords.assign(size_t(m_pad) * D, std::numeric_limits<T>::quiet_NaN());
    for (int64_t j = 0; j < count; ++j)
      for (int k = 0; k < D; ++k) coords[k * m_pad + j] = src[j * D + k];
  }
};

// G query points against every reference point, G kept in registers to reuse each load.
template <typename T, int D, int G>
void brute_group(const T* q, const Transposed<T>& ref, T* dist, int32_t* idx) {
  using V = typename Simd<T>::V;
  using I = typename Simd<T>::I;
  constexpr int W = Simd<T>::W;
  V qv[G][D], best[G];
  I best_idx[G], lane;
  for (int l = 0; l < W; ++l) lane[l] = l;
  for (int g = 0; g < G; ++g) {
    for (int k = 0; k < D; ++k) qv[g][k] = V{} + q[g * D + k];
    best[g] = V{} + std::numeric_limits<T>::infinity();
    best_idx[g] = I{};
  }
  I jv = lane;
  for (int64_t j = 0; j < ref.m_pad; j += W, jv += W) {
    using VU = typename Simd<T>::VU;
    V r[D];
#pragma GCC unroll 8
    for (int k = 0; k < D; ++k) r[k] = *reinterpret_cast<const VU*>(&ref.coords[k * ref.m_pad + j]);
    for (int g = 0; g < G; ++g) {
      V diff = qv[g][0] - r[0];
      V acc = diff * diff;
      for (int k = 1; k < D; ++k) {
        diff = qv[g][k] - r[k];
        acc = acc + diff * diff;
      }
      const auto closer = acc < best[g];
      best[g] = closer ? acc : best[g];
      best_idx[g] = closer ? jv : best_idx[g];
    }
  }
  for (int g = 0; g < G; ++g) {
    T d = best[g][0];
    int32_t i = int32_t(best_idx[g][0]);
    for (int l = 1; l < W; ++l)
      if (nn_better(best[g][l], int32_t(best_idx[g][l]), d, i)) d = best[g][l], i = int32_t(best_idx[g][l]);
    dist[g] = d;
    idx[g] = i;
  }
}

template <typename T, int D>
void brute_queries(const T* q, int64_t begin, int64_t end, const Transposed<T>& ref, T* dist,
                   int32_t* idx) {
  constexpr int G = queries_in_registers(D);
  int64_t i = begin;
  for (; i + G <= end; i += G) brute_group<T, D, G>(q + i * D, ref, dist + i, idx + i);
  for (; i < end; ++i) brute_group<T, D, 1>(q + i * D, ref, dist + i, idx + i);
}

// Any-input path: scalar, NaN-propagating (see nn_better).
template <typename T, int D>
void scalar_queries(const T* q, int64_t begin, int64_t end, const T* ref, int64_t m, T* dist,
                    int32_t* idx) {
  for (int64_t i = begin; i < end; ++i) {
    T best = std::numeric_limits<T>::infinity();
    int32_t best_i = 0;
    for (int64_t j = 0; j < m; ++j) {
      const T d = squared_distance<D>(q + i * D, ref + j * D);
      if (nn_better(d, int32_t(j), best, best_i)) best = d, best_i = int32_t(j);
    }
    dist[i] = best;
    idx[i] = best_i;
  }
}

// The queries of one subtree of `query`'s tree against `ref`'s tree.
template <typename T, int D>
void tree_queries(const BlockTree<T, D>& query, const typename BlockTree<T, D>::Subtree& where,
                  const BlockTree<T, D>& ref, T* dist, int32_t* idx) {
  using V = typename BlockTree<T, D>::V;
  using I = typename BlockTree<T, D>::I;
  query.for_each_query_vector(where, [&](const V (&q)[D], const int32_t* ids, int count) {
    V best = V{} + std::numeric_limits<T>::infinity();
    I best_idx = I{} + std::numeric_limits<int32_t>::max();
    ref.search(q, best, best_idx);
    for (int l = 0; l < count; ++l) {
      dist[ids[l]] = best[l];
      idx[ids[l]] = int32_t(best_idx[l]);
    }
  });
}

enum class Path { kScalar, kBrute, kTree };

// What one side of one cloud needs for its queries (the search structure over its points).
template <typename T, int D>
struct Side {
  const T* pts = nullptr;  // [len, D]: the cloud's points, or their copy scaled by the pair's 2^-k
  int64_t len = 0;
  std::vector<T> scaled;
  Transposed<T> transposed;
  BlockTree<T, D> tree;
};

struct WorkItem {
  int64_t batch;
  int dir;  // 0: a -> b, 1: b -> a
  int64_t begin, end;  // queries [begin, end), or on the tree path the subtree's tree positions
};

template <typename T, int D>
void nn_distance_cpu_dim(const T* a, const T* b, int64_t B, int64_t N, int64_t M,
                         const int32_t* a_len, const int32_t* b_len, T* dist_ab,
                         int32_t* idx_ab, T* dist_ba, int32_t* idx_ba, NnAlgorithm algorithm,
                         bool squared, const ParallelFor& pfor) {
  // sides[2*b + 0] holds cloud a of batch element b, sides[2*b + 1] cloud b.
  std::vector<Side<T, D>> sides(2 * B);
  std::vector<char> finite(2 * B);
  std::vector<Path> path(B);  // for a pair of finite clouds; any other pair takes the scalar path
  for (int64_t bi = 0; bi < B; ++bi) {
    sides[2 * bi] = {a + bi * N * D, a_len[bi]};
    sides[2 * bi + 1] = {b + bi * M * D, b_len[bi]};
    const int64_t pairs = int64_t(a_len[bi]) * b_len[bi];
    if (algorithm == NnAlgorithm::kTree) path[bi] = Path::kTree;
    else if (algorithm == NnAlgorithm::kBruteForce) path[bi] = Path::kBrute;
    else path[bi] = pairs >= tree_min_pairs(D) ? Path::kTree : Path::kBrute;
  }
  // Each side's check, scale and search structure in one pass of the pool (one wake-up of its threads
  // fewer than a pass for each): a finite side is built even when the other side is not. Both sides
  // of a pair read both clouds to find the pair's scale (common/pair_scale.h); only side a records it.
  std::vector<int> scale(B, 0);
  pfor(2 * B, 100 * N * D, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      Side<T, D>& side = sides[s];
      const int64_t bi = s / 2;
      Magnitude<T> pair;
      pair.add(s % 2 == 0 ? a + bi * N * D : b + bi * M * D, side.len * D);
      finite[s] = pair.finite();
      if (!finite[s]) continue;
      pair.add(s % 2 == 0 ? b + bi * M * D : a + bi * N * D, sides[s ^ 1].len * D);
      const int k = pair_scale_exponent(pair);
      if (s % 2 == 0) scale[bi] = k;
      if (k != 0) {
        scaled_copy(side.pts, side.len * D, k, side.scaled);
        side.pts = side.scaled.data();
      }
      if (path[s / 2] == Path::kTree) side.tree.build(side.pts, side.len);
      else side.transposed.build(side.pts, side.len, D);
    }
  });
  for (int64_t bi = 0; bi < B; ++bi)
    if (!finite[2 * bi] || !finite[2 * bi + 1]) path[bi] = Path::kScalar;

  std::vector<WorkItem> items;
  for (int64_t bi = 0; bi < B; ++bi) {
    for (int dir = 0; dir < 2; ++dir) {
      const Side<T, D>& side = sides[2 * bi + dir];
      if (path[bi] == Path::kTree) {
        for (const auto& sub : side.tree.subtrees(kTreeWorkPoints)) items.push_back({bi, dir, sub.lo, sub.hi});
      } else {
        for (int64_t i = 0; i < side.len; i += 64) items.push_back({bi, dir, i, std::min(side.len, i + 64)});
      }
    }
  }
  pfor(int64_t(items.size()), 64 * std::max(N, M) * D, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const WorkItem& it = items[w];
      const Side<T, D>& query = sides[2 * it.batch + it.dir];
      const Side<T, D>& ref = sides[2 * it.batch + 1 - it.dir];
      T* dist = it.dir == 0 ? dist_ab + it.batch * N : dist_ba + it.batch * M;
      int32_t* idx = it.dir == 0 ? idx_ab + it.batch * N : idx_ba + it.batch * M;
      switch (path[it.batch]) {
        case Path::kTree:
          tree_queries<T, D>(query.tree, {it.begin, it.end}, ref.tree, dist, idx);
          break;
        case Path::kBrute:
          brute_queries<T, D>(query.pts, it.begin, it.end, ref.transposed, dist, idx);
          break;
        case Path::kScalar:
          scalar_queries<T, D>(query.pts, it.begin, it.end, ref.pts, ref.len, dist, idx);
          break;
      }
    }
  });
  // Distances of scaled pairs back to the clouds' scale; padding: distance 0, index -1.
  for (int64_t bi = 0; bi < B; ++bi) {
    for (auto [dist, len] : {std::pair{dist_ab + bi * N, int64_t(a_len[bi])}, std::pair{dist_ba + bi * M, int64_t(b_len[bi])}}) {
      if (!squared)
        for (int64_t i = 0; i < len; ++i) dist[i] = unscaled(std::sqrt(dist[i]), scale[bi], 1);
      else if (scale[bi] != 0)
        for (int64_t i = 0; i < len; ++i) dist[i] = unscaled(dist[i], scale[bi], 2);
    }
    std::fill(dist_ab + bi * N + a_len[bi], dist_ab + (bi + 1) * N, T(0));
    std::fill(idx_ab + bi * N + a_len[bi], idx_ab + (bi + 1) * N, -1);
    std::fill(dist_ba + bi * M + b_len[bi], dist_ba + (bi + 1) * M, T(0));
    std::fill(idx_ba + bi * M + b_len[bi], idx_ba + (bi + 1) * M, -1);
  }
}

// g (x - y) / |x - y| into unit[0..D): the gradient of g times the Euclidean distance between x and y
// with respect to x (0 where x = y; NaN in, NaN out). Where the differences or their squares leave T's
// normal range (the differences of tiny points are subnormal, which TensorFlow's threads flush to zero;
// the squares of huge ones overflow), it is taken on the two points scaled by a power of two; elsewhere
// (the usual case) by the plain formula.
template <typename T, int D>
void euclidean_slope(const T* x, const T* y, T g, T* unit) {
  T sum = 0;
  for (int k = 0; k < D; ++k) unit[k] = x[k] - y[k], sum += unit[k] * unit[k];
  if (!(sum >= std::numeric_limits<T>::min() && sum <= std::numeric_limits<T>::max()) && sum == sum) {
    T largest = 0;
    for (int k = 0; k < D; ++k) largest = std::max({largest, std::abs(x[k]), std::abs(y[k])});
    const int e = largest > T(0) && largest <= std::numeric_limits<T>::max() ? std::ilogb(largest) : 0;
    sum = 0;
    for (int k = 0; k < D; ++k) unit[k] = std::ldexp(x[k], -e) - std::ldexp(y[k], -e), sum += unit[k] * unit[k];
  }
  const T factor = sum == T(0) ? T(0) : g / std::sqrt(sum);
  for (int k = 0; k < D; ++k) unit[k] *= factor;
}

// One direction's share of the gradient for one cloud: x: [n, D] queries whose nearest neighbours
// y[idx[i]] were found, g: [n]. Sets gx[i] to the gradient of g_i times the distance (squared: 2 (x_i -
// y_j) g_i; Euclidean: euclidean_slope) and subtracts it from gy[j] (add_scatter_terms), in ascending i;
// callers run the direct terms of both directions first.
template <typename T, int D>
void add_direct_terms(const T* x, const T* y, int64_t n, int64_t m, const int32_t* idx,
                      const T* g, bool squared, T* gx) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t j = idx[i];
    if (j < 0 || j >= m) continue;
    if (!squared) {
      euclidean_slope<T, D>(x + i * D, y + int64_t(j) * D, g[i], gx + i * D);
      continue;
    }
    const T scale = T(2) * g[i];
    for (int k = 0; k < D; ++k) gx[i * D + k] = (x[i * D + k] - y[int64_t(j) * D + k]) * scale;
  }
}

template <typename T, int D>
void add_scatter_terms(const T* x, const T* y, int64_t n, int64_t m, const int32_t* idx,
                       const T* g, bool squared, T* gy) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t j = idx[i];
    if (j < 0 || j >= m) continue;
    if (!squared) {
      T unit[D];
      euclidean_slope<T, D>(x + i * D, y + int64_t(j) * D, g[i], unit);
      for (int k = 0; k < D; ++k) gy[int64_t(j) * D + k] -= unit[k];
      continue;
    }
    const T scale = T(2) * g[i];
    for (int k = 0; k < D; ++k) gy[int64_t(j) * D + k] += (y[int64_t(j) * D + k] - x[i * D + k]) * scale;
  }
}

template <typename T, int D>
void nn_distance_grad_cpu_dim(const T* a, const T* b, int64_t B, int64_t N, int64_t M,
                              const int32_t* idx_ab, const int32_t* idx_ba, const T* g_ab,
                              const T* g_ba, T* grad_a, T* grad_b, bool squared, const ParallelFor& pfor) {
  pfor(B, 20 * (N + M) * D, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const T* ab = a + bi * N * D;
      const T* bb = b + bi * M * D;
      T* ga = grad_a + bi * N * D;
      T* gb = grad_b + bi * M * D;
      std::fill(ga, ga + N * D, T(0));
      std::fill(gb, gb + M * D, T(0));
      add_direct_terms<T, D>(ab, bb, N, M, idx_ab + bi * N, g_ab + bi * N, squared, ga);
      add_direct_terms<T, D>(bb, ab, M, N, idx_ba + bi * M, g_ba + bi * M, squared, gb);
      add_scatter_terms<T, D>(ab, bb, N, M, idx_ab + bi * N, g_ab + bi * N, squared, gb);
      add_scatter_terms<T, D>(bb, ab, M, N, idx_ba + bi * M, g_ba + bi * M, squared, ga);
    }
  });
}

}  // namespace

template <typename T>
void nn_distance_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                     const int32_t* a_len, const int32_t* b_len, T* dist_ab, int32_t* idx_ab,
                     T* dist_ba, int32_t* idx_ba, NnAlgorithm algorithm, bool squared,
                     const ParallelFor& pfor) {
  dispatch_dim(D, [&](auto dim) {
    nn_distance_cpu_dim<T, decltype(dim)::value>(a, b, B, N, M, a_len, b_len, dist_ab, idx_ab,
                                                 dist_ba, idx_ba, algorithm, squared, pfor);
  });
}

template <typename T>
void nn_distance_grad_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D,
                          const int32_t* idx_ab, const int32_t* idx_ba, const T* g_ab,
                          const T* g_ba, T* grad_a, T* grad_b, bool squared, const ParallelFor& pfor) {
  dispatch_dim(D, [&](auto dim) {
    nn_distance_grad_cpu_dim<T, decltype(dim)::value>(a, b, B, N, M, idx_ab, idx_ba, g_ab, g_ba,
                                                      grad_a, grad_b, squared, pfor);
  });
}

void register_nn_cpu(CpuKernels& table) {
  table.f32.nn_distance = &nn_distance_cpu<float>;
  table.f64.nn_distance = &nn_distance_cpu<double>;
  table.f32.nn_distance_grad = &nn_distance_grad_cpu<float>;
  table.f64.nn_distance_grad = &nn_distance_grad_cpu<double>;
}

}  // namespace pointops
