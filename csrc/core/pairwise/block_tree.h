#pragma once
// A k-d tree over one cloud whose nodes keep their bounding boxes, searched a SIMD vector of queries
// at a time (pairwise/pairwise_cpu.cc). The same tree serves a cloud in both roles:
//  - as queries, its leaves (at most W points: one vector, W the level's lanes) are the vectors;
//  - as references, nodes of at most kRefLeaf points are scanned point by point for all W lanes.
// A subtree is skipped when, in every lane, the squared distance from the query to its box is
// strictly greater than the best found: exact, because that bound never exceeds the computed
// squared distance of any point inside (see lane_box_gap2), so a closer or equal point is never lost.
// Include only from kernel files compiled per CPU level (it uses common/simd.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "common/simd.h"

namespace pointops {
namespace {

template <typename T, int D>
class BlockTree {
 public:
  using V = typename Simd<T>::V;
  static constexpr int W = Simd<T>::W;
  static constexpr int64_t kRefLeaf = 32;

  // src: [n, D] row-major, n >= 1. A cloud with a non-finite coordinate gets no tree (finite() is
  // false; its pairs are NaN, and NaN cannot be ordered).
  void build(const T* src, int64_t n) {
    n_ = n;
    finite_ = true;
    for (int64_t k = 0; k < n * D; ++k) finite_ &= bool(std::isfinite(src[k]));
    if (!finite_) return;
    std::vector<int32_t> ids(n);
    std::iota(ids.begin(), ids.end(), 0);
    int levels = 0;
    for (int64_t size = n; size > W; size = (size + 1) / 2) ++levels;
    const size_t nodes = size_t(2) << levels;
    lower_.assign(nodes * D, T(0));
    upper_.assign(nodes * D, T(0));
    split_.assign(nodes, T(0));
    dim_.assign(nodes, 0);
    build_node(src, ids, 1, 0, n);
    pts_.resize(size_t(n) * D);
    for (int64_t k = 0; k < n; ++k)
      for (int d = 0; d < D; ++d) pts_[k * D + d] = src[int64_t(ids[k]) * D + d];
    ids_ = std::move(ids);
  }

  bool finite() const { return finite_; }
  int64_t size() const { return n_; }

  // Calls fn(q, ids, count) for every leaf of at most W points: q[D] vectors whose lanes hold its
  // points (lanes past `count` repeat the first point), ids[lane] their indices in the source cloud.
  template <typename Fn>
  void for_each_query_vector(Fn&& fn) const { visit_leaves(1, 0, n_, fn); }

  // best[lane] = min(best[lane], squared distance from lane's query to its nearest point here).
  void search(const V (&q)[D], V& best) const { search_node(q, 1, 0, n_, best); }

 private:
  void build_node(const T* src, std::vector<int32_t>& ids, int64_t node, int64_t lo, int64_t hi) {
    T* mn = &lower_[node * D];
    T* mx = &upper_[node * D];
    for (int d = 0; d < D; ++d) mn[d] = mx[d] = src[int64_t(ids[lo]) * D + d];
    for (int64_t k = lo + 1; k < hi; ++k)
      for (int d = 0; d < D; ++d) {
        const T v = src[int64_t(ids[k]) * D + d];
        mn[d] = std::min(mn[d], v);
        mx[d] = std::max(mx[d], v);
      }
    if (hi - lo <= W) return;
    int widest = 0;
    for (int d = 1; d < D; ++d)
      if (mx[d] - mn[d] > mx[widest] - mn[widest]) widest = d;
    const int64_t mid = (lo + hi) / 2;
    std::nth_element(ids.begin() + lo, ids.begin() + mid, ids.begin() + hi, [src, widest](int32_t a, int32_t b) {
      return src[int64_t(a) * D + widest] < src[int64_t(b) * D + widest];
    });
    split_[node] = src[int64_t(ids[mid]) * D + widest];
    dim_[node] = int8_t(widest);
    build_node(src, ids, 2 * node, lo, mid);
    build_node(src, ids, 2 * node + 1, mid, hi);
  }

  template <typename Fn>
  void visit_leaves(int64_t node, int64_t lo, int64_t hi, Fn& fn) const {
    if (hi - lo > W) {
      const int64_t mid = (lo + hi) / 2;
      visit_leaves(2 * node, lo, mid, fn);
      visit_leaves(2 * node + 1, mid, hi, fn);
      return;
    }
    V q[D];
    for (int d = 0; d < D; ++d)
      for (int l = 0; l < W; ++l) q[d][l] = pts_[(lo + (lo + l < hi ? l : 0)) * D + d];
    fn(q, &ids_[lo], int(hi - lo));
  }

  // Per lane, a lower bound on the computed squared distance from the query to any point in the
  // node's box: the gap to the box on each side (0 inside), squared and summed in the order that
  // squared_distance uses. A coordinate difference is at least the gap it spans, and rounding is
  // monotone, so no term and no partial sum exceeds the computed distance's.
  V lane_box_gap2(const V (&q)[D], int64_t node) const {
    V acc;
    for (int d = 0; d < D; ++d) {
      const V below = lower_[node * D + d] - q[d], above = q[d] - upper_[node * D + d];
      V gap = below > above ? below : above;
      gap = gap > V{} ? gap : V{};
      acc = d == 0 ? gap * gap : acc + gap * gap;
    }
    return acc;
  }

  void search_node(const V (&q)[D], int64_t node, int64_t lo, int64_t hi, V& best) const {
    const auto open = lane_box_gap2(q, node) <= best;
    bool any = false;
    for (int l = 0; l < W; ++l) any |= open[l] != 0;
    if (!any) return;
    if (hi - lo <= kRefLeaf) {
      scan(q, lo, hi, best);
      return;
    }
    const int64_t mid = (lo + hi) / 2;
    // Nearer child first (by the first lane's side of the plane): a small best early prunes more.
    const bool left_first = q[dim_[node]][0] < split_[node];
    search_node(q, left_first ? 2 * node : 2 * node + 1, left_first ? lo : mid, left_first ? mid : hi, best);
    search_node(q, left_first ? 2 * node + 1 : 2 * node, left_first ? mid : lo, left_first ? hi : mid, best);
  }

  // Every point of [lo, hi) against all lanes; two running minima break the dependency chain.
  void scan(const V (&q)[D], int64_t lo, int64_t hi, V& best) const {
    V best2 = best;
    int64_t k = lo;
    for (; k + 1 < hi; k += 2) {
      const V d0 = distance_to(q, &pts_[k * D]), d1 = distance_to(q, &pts_[(k + 1) * D]);
      best = d0 < best ? d0 : best;
      best2 = d1 < best2 ? d1 : best2;
    }
    if (k < hi) {
      const V d0 = distance_to(q, &pts_[k * D]);
      best = d0 < best ? d0 : best;
    }
    best = best2 < best ? best2 : best;
  }

  // squared_distance (common/point_math.h) in every lane: the same operations in the same order.
  static V distance_to(const V (&q)[D], const T* p) {
    V diff = q[0] - p[0];
    V acc = diff * diff;
    for (int d = 1; d < D; ++d) {
      diff = q[d] - p[d];
      acc = acc + diff * diff;
    }
    return acc;
  }

  int64_t n_ = 0;
  bool finite_ = true;
  std::vector<T> pts_;            // [n, D] in tree order
  std::vector<int32_t> ids_;      // tree position -> index in the source cloud
  std::vector<T> lower_, upper_;  // [nodes, D] heap-indexed bounding boxes
  std::vector<T> split_;          // heap-indexed splitting value
  std::vector<int8_t> dim_;       // heap-indexed splitting dimension
};

}  // namespace
}  // namespace pointops
