#pragma once
// A scalar k-d tree over one cloud, the structure under the EMD's price tree (emd/price_tree.h, which
// searches it with prices; nearest-neighbour queries use nn/block_tree.h).
// Median splits on the widest dimension, leaves of at most kLeaf points, nodes in heap order. The
// squared distance to a splitting plane, rounded as squared_distance() rounds, never exceeds the
// computed distance of any point behind the plane, so it is a safe pruning bound.
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

 protected:  // emd/price_tree.h searches the tree with prices
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

  const T* src_ = nullptr;
  int64_t n_ = 0;
  std::vector<int32_t> ids_;  // tree position -> original index
  std::vector<T> pts_;        // [n, D] in tree order
  std::vector<T> split_;      // heap-indexed splitting value
  std::vector<int8_t> dim_;   // heap-indexed splitting dimension
};

}  // namespace pointops
