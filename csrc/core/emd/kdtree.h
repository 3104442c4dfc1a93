#pragma once
// A scalar k-d tree over one cloud, the structure under the EMD's price tree (emd/price_tree.h, which
// searches it with prices; nearest-neighbour queries use nn/block_tree.h).
// Median splits on the widest dimension, leaves of at most kLeaf points, nodes in heap order. The
// squared distance to a splitting plane, rounded as squared_distance() rounds, never exceeds the
// computed distance of any point behind the plane, so it is a safe pruning bound.
// Each leaf's points sit in a block of kLeaf slots, one row per dimension (structure of arrays), so
// that a search computes a whole leaf's costs in SIMD lanes of fixed width; the slots past the
// leaf's points are zeros and are never read back.
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
  // Blocks of 32 slots (two AVX-512 vectors of float): measured against 24, 48 and 64 with SIMD
  // leaves (CPU_NOTES, session 9). Leaves hold 17 to 32 points (a smaller cloud: one leaf).
  static constexpr int64_t kLeaf = 32;

  // src: [n, D] row-major; kept by pointer, must outlive the tree.
  void build(const T* src, int64_t n) {
    src_ = src;
    ids_.resize(n);
    std::iota(ids_.begin(), ids_.end(), 0);
    int levels = 0;
    for (int64_t size = n; size > kLeaf; size = (size + 1) / 2) ++levels;
    split_.assign(size_t(2) << levels, T(0));
    dim_.assign(size_t(2) << levels, 0);
    block_.assign(size_t(2) << levels, -1);
    blocks_ = 0;
    build_node(1, 0, n);
    coords_.assign(size_t(blocks_) * D * kLeaf, T(0));
    block_ids_.assign(size_t(blocks_) * kLeaf, -1);
    block_size_.assign(size_t(blocks_), 0);
    fill_blocks(1, 0, n);
  }

 protected:  // emd/price_tree.h searches the tree with prices
  void build_node(int64_t node, int64_t lo, int64_t hi) {
    if (hi - lo <= kLeaf) {
      block_[node] = blocks_++;
      return;
    }
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

  void fill_blocks(int64_t node, int64_t lo, int64_t hi) {
    const int64_t b = block_[node];
    if (b < 0) {
      const int64_t mid = (lo + hi) / 2;
      fill_blocks(2 * node, lo, mid);
      fill_blocks(2 * node + 1, mid, hi);
      return;
    }
    block_size_[b] = int32_t(hi - lo);
    for (int64_t s = 0; s < hi - lo; ++s) {
      const int32_t j = ids_[lo + s];
      block_ids_[b * kLeaf + s] = j;
      for (int d = 0; d < D; ++d) coords_[(b * D + d) * kLeaf + s] = src_[int64_t(j) * D + d];
    }
  }

  const T* src_ = nullptr;  // during the build
  int64_t blocks_ = 0;
  std::vector<int32_t> ids_;         // tree position -> original index (during the build)
  std::vector<T> split_;             // heap-indexed splitting value
  std::vector<int8_t> dim_;          // heap-indexed splitting dimension
  std::vector<int64_t> block_;       // heap-indexed: the leaf's block, -1 for inner nodes
  std::vector<T> coords_;            // [blocks, D, kLeaf]: the leaves' points, one row per dimension
  std::vector<int32_t> block_ids_;   // [blocks, kLeaf]: their original indices (-1: empty slot)
  std::vector<int32_t> block_size_;  // [blocks]: points in each leaf
};

}  // namespace pointops
