#pragma once
// A k-d tree over one cloud for exact nearest-neighbour queries (CPU only).
// Median splits on the widest dimension, leaves of at most kLeaf points, nodes in heap order.
// Queries prune a subtree only when the squared distance to its splitting plane is strictly
// greater than the best distance found; with squared_distance() summing non-negative terms
// in a fixed order that bound never exceeds the computed distance of any point behind the
// plane, so ties are never pruned and the tree returns exactly what the brute force returns.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "common/point_math.h"

namespace pointops {

template <typename T, int D>
class KdTree {
 public:
  static constexpr int64_t kLeaf = 24;

  // src: [n, D] row-major; kept by pointer, must outlive the tree.
  void build(const T* src, int64_t n) {
    src_ = src;
    n_ = n;
    ids_.resize(n);
    std::iota(ids_.begin(), ids_.end(), 0);
    int levels = 0;
    for (int64_t size = n; size > kLeaf; size = (size + 1) / 2) ++levels;
    split_.assign(size_t(2) << levels, T(0));
    dim_.assign(size_t(2) << levels, 0);
    build_node(1, 0, n);
    pts_.resize(size_t(n) * D);
    for (int64_t k = 0; k < n; ++k)
      for (int d = 0; d < D; ++d) pts_[k * D + d] = src[int64_t(ids_[k]) * D + d];
  }

  // Nearest neighbour of the points of `queries` taken in that tree's order, positions
  // [begin, end): consecutive queries are close in space, so each search starts from the
  // previous answer. Writes dist[id], idx[id] for the query's original index id.
  void query_tree_order(const KdTree& queries, int64_t begin, int64_t end, T* dist,
                        int32_t* idx) const {
    int32_t best_i = ids_[0];
    for (int64_t k = begin; k < end; ++k) {
      const T* q = &queries.pts_[k * D];
      T best = squared_distance<D>(q, src_ + int64_t(best_i) * D);
      search(q, 1, 0, n_, best, best_i);
      dist[queries.ids_[k]] = best;
      idx[queries.ids_[k]] = best_i;
    }
  }

 protected:  // emd/price_tree.h searches the same tree with prices
  void build_node(int64_t node, int64_t lo, int64_t hi) {
    if (hi - lo <= kLeaf) return;
    T lower[D], upper[D];
    for (int d = 0; d < D; ++d) lower[d] = upper[d] = src_[int64_t(ids_[lo]) * D + d];
    for (int64_t k = lo + 1; k < hi; ++k)
      for (int d = 0; d < D; ++d) {
        const T v = src_[int64_t(ids_[k]) * D + d];
        lower[d] = std::min(lower[d], v);
        upper[d] = std::max(upper[d], v);
      }
    int widest = 0;
    for (int d = 1; d < D; ++d)
      if (upper[d] - lower[d] > upper[widest] - lower[widest]) widest = d;
    const int64_t mid = (lo + hi) / 2;
    const T* src = src_;
    std::nth_element(ids_.begin() + lo, ids_.begin() + mid, ids_.begin() + hi,
                     [src, widest](int32_t x, int32_t y) {
                       const T vx = src[int64_t(x) * D + widest], vy = src[int64_t(y) * D + widest];
                       return vx < vy || (vx == vy && x < y);
                     });
    split_[node] = src_[int64_t(ids_[mid]) * D + widest];
    dim_[node] = int8_t(widest);
    build_node(2 * node, lo, mid);
    build_node(2 * node + 1, mid, hi);
  }

  void search(const T* q, int64_t node, int64_t lo, int64_t hi, T& best, int32_t& best_i) const {
    if (hi - lo <= kLeaf) {
      for (int64_t k = lo; k < hi; ++k) {
        const T d = squared_distance<D>(q, &pts_[k * D]);
        const int32_t id = ids_[k];
        if (d < best || (d == best && id < best_i)) best = d, best_i = id;
      }
      return;
    }
    const int64_t mid = (lo + hi) / 2;
    const T diff = q[dim_[node]] - split_[node];
    const T plane = mul_rn(diff, diff);
    if (diff < T(0)) {
      search(q, 2 * node, lo, mid, best, best_i);
      if (plane <= best) search(q, 2 * node + 1, mid, hi, best, best_i);
    } else {
      search(q, 2 * node + 1, mid, hi, best, best_i);
      if (plane <= best) search(q, 2 * node, lo, mid, best, best_i);
    }
  }

  const T* src_ = nullptr;
  int64_t n_ = 0;
  std::vector<int32_t> ids_;  // tree position -> original index
  std::vector<T> pts_;        // [n, D] in tree order
  std::vector<T> split_;      // heap-indexed splitting value
  std::vector<int8_t> dim_;   // heap-indexed splitting dimension
};

}  // namespace pointops
