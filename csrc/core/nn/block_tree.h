#pragma once
// A tree over one cloud whose nodes keep their bounding boxes, searched a SIMD vector of queries
// at a time (nn/nn_cpu.cc, pairwise/pairwise_cpu.cc, knn/knn_cpu.cc). The same tree serves a cloud
// in both roles:
//  - as queries, its leaves (at most W points: one vector, W the level's lanes) are the vectors;
//  - as references, nodes of at most kRefLeaf points are scanned point by point for all W lanes.
// A subtree is skipped when, in every lane, the distance (squared Euclidean, or L1 for knn) from
// the query to its box is strictly greater than the limit of the results so far (the best, or the
// k-th best): exact, because that bound never exceeds the computed distance of any point inside
// (see lane_box_gap), so a closer or equally close point is never lost; with indices, an equal
// distance goes to the lower index, as everywhere in nn.h.
// Include only from kernel files compiled per CPU level (it uses common/simd.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "common/point_math.h"
#include "common/reused_memory.h"
#include "common/simd.h"

namespace pointops {
namespace {

template <typename T, int D>
class BlockTree {
 public:
  using V = typename Simd<T>::V;
  using I = typename Simd<T>::I;
  static constexpr int W = Simd<T>::W;
  static constexpr int64_t kRefLeaf = 32;

  // A subtree: its range [lo, hi) of tree positions.
  struct Subtree {
    int64_t lo, hi;
  };

  // src: [n, D] row-major, n >= 1, every coordinate finite (callers route other clouds elsewhere).
  // Each node splits its points in two equal halves along its widest side, as a k-d tree. The build
  // has no data-dependent branches, because a median split by nth_element mispredicts about every
  // other comparison (that build was half the cost of a 2048-point query):
  //  - every dimension is sorted once, by a radix sort on its coordinates quantised to 16 bits;
  //  - each node splits the order of its widest side in the middle, and stable-partitions the other
  //    dimensions' orders by the same halves with branch-free writes, into a second buffer (each
  //    dimension's order lives in one of two buffers, which alternate down the tree);
  //  - a node whose halves are leaves only splits its widest side: the leaves need no orders.
  // The quantisation only picks the splits; the boxes come from the points themselves.
  void build(const T* src, int64_t n) {
    n_ = n;
    Orders orders;
    orders.n = n;
    orders.ids.resize(size_t(2) * D * n);
    quantised_orders(src, orders);
    orders.left.resize(n + 3);  // + 3: stable_partition's gather reads 4 bytes at each flag
    ids_.resize(n);
    split(0, n, 0, orders);
    sort_leaf_ids();
    pts_.resize(size_t(n) * D);
    for (int64_t k = 0; k < n; ++k)
      for (int d = 0; d < D; ++d) pts_[k * D + d] = src[int64_t(ids_[k]) * D + d];
    int levels = 0;
    for (int64_t size = n; size > W; size = (size + 1) / 2) ++levels;
    const size_t nodes = size_t(2) << levels;
    lower_.assign(nodes * D, T(0));
    upper_.assign(nodes * D, T(0));
    set_boxes(1, 0, n);
  }

  int64_t size() const { return n_; }

  // Disjoint subtrees covering the cloud, each of about `points` points or fewer (whole leaves):
  // units of work for a thread pool.
  std::vector<Subtree> subtrees(int64_t points) const {
    std::vector<Subtree> out;
    collect(0, n_, std::max<int64_t>(points, W), out);
    return out;
  }

  // Calls fn(q, ids, count) for every leaf of at most W points in the subtree: q[D] vectors whose
  // lanes hold its points (lanes past `count` repeat the first point), ids[lane] their indices in
  // the source cloud.
  template <typename Fn>
  void for_each_query_vector(const Subtree& where, Fn&& fn) const { visit_leaves(where.lo, where.hi, fn); }
  template <typename Fn>
  void for_each_query_vector(Fn&& fn) const { visit_leaves(0, n_, fn); }

  // best[lane] = min(best[lane], squared distance from lane's query to its nearest point here).
  void search(const V (&q)[D], V& best) const {
    Nearest<false> result{best, {}};
    search_node<Metric::kSquaredL2>(q, 1, 0, n_, lane_box_gap<Metric::kSquaredL2>(q, 1), result);
    best = result.best;
  }
  // The same, with best_idx[lane] the index (in the source cloud) of that point; ties go to the
  // lower index (best_idx must start above every index where best starts at infinity).
  void search(const V (&q)[D], V& best, I& best_idx) const {
    Nearest<true> result{best, best_idx};
    search_node<Metric::kSquaredL2>(q, 1, 0, n_, lane_box_gap<Metric::kSquaredL2>(q, 1), result);
    best = result.best;
    best_idx = result.best_idx;
  }
  // The k nearest points of every lane's query by metric M, folded into `lists` (knn/knn_cpu.cc:
  // limit() the k-th best distance per lane, fold(d, id) a candidate in every lane).
  template <Metric M, typename Lists>
  void search_k(const V (&q)[D], Lists& lists) const {
    search_node<M>(q, 1, 0, n_, lane_box_gap<M>(q, 1), lists);
  }

 private:
  // The build's working state: per dimension, the point indices sorted by their quantised
  // coordinate, in two buffers (order(d, b)), the keys, and per point the side of the current split.
  struct Orders {
    int64_t n = 0;
    ReusedVector<int32_t> ids;   // [D][2][n]
    ReusedVector<uint16_t> key[D];
    double unit[D];             // the coordinate extent of one key step, per dimension
    ReusedVector<uint8_t> left;  // [n + 3], by point index
    int32_t* order(int d, int buffer) { return &ids[(size_t(2) * d + buffer) * n]; }
  };

  // orders.order(d, 0): the indices sorted by key[d], the coordinates of dimension d quantised to 16
  // bits over the cloud's extent (stable: equal keys in index order).
  static void quantised_orders(const T* src, Orders& orders) {
    const int64_t n = orders.n;
    T mn[D], mx[D];  // all dimensions in one pass: independent chains of min and max
    for (int d = 0; d < D; ++d) mn[d] = mx[d] = src[d];
    for (int64_t i = 1; i < n; ++i)
      for (int d = 0; d < D; ++d) {
        mn[d] = std::min(mn[d], src[i * D + d]);
        mx[d] = std::max(mx[d], src[i * D + d]);
      }
    double scale[D];
    for (int d = 0; d < D; ++d) {
      const double extent = double(mx[d]) - double(mn[d]);  // double: a float extent can overflow
      scale[d] = extent > 0 ? 65535.0 / extent : 0.0;
      orders.unit[d] = extent / 65535.0;
      orders.key[d].resize(n);
    }
    for (int64_t i = 0; i < n; ++i)
      for (int d = 0; d < D; ++d)
        orders.key[d][i] = uint16_t(std::min(65535.0, std::max(0.0, (double(src[i * D + d]) - double(mn[d])) * scale[d])));
    for (int d = 0; d < D; ++d) {
      // LSD radix sort, one byte a pass (both histograms in one read): from the identity into
      // buffer 1, then back into buffer 0.
      const uint16_t* key = orders.key[d].data();
      int64_t start[2][257] = {};
      for (int64_t i = 0; i < n; ++i) {
        ++start[0][(key[i] & 255) + 1];
        ++start[1][(key[i] >> 8) + 1];
      }
      int32_t* sorted = orders.order(d, 0);
      int32_t* tmp = orders.order(d, 1);
      std::iota(sorted, sorted + n, 0);
      for (int pass = 0; pass < 2; ++pass) {
        int64_t* at = start[pass];
        for (int k = 0; k < 256; ++k) at[k + 1] += at[k];
        for (int64_t i = 0; i < n; ++i) {
          const int32_t id = sorted[i];
          tmp[at[(key[id] >> (8 * pass)) & 255]++] = id;
        }
        std::swap(sorted, tmp);
      }
    }
  }

  // Splits [lo, hi) at mid = (lo + hi) / 2 along the dimension whose keys span the most, and recurses
  // down to leaves of at most W points, whose members it writes to ids_. Bit d of `flipped`: the
  // buffer that holds dimension d's order for this node, sorted within the node.
  void split(int64_t lo, int64_t hi, unsigned flipped, Orders& orders) {
    int widest = 0;
    double widest_span = -1;
    for (int d = 0; d < D; ++d) {
      const int32_t* order = orders.order(d, (flipped >> d) & 1);
      const double span = double(orders.key[d][order[hi - 1]] - orders.key[d][order[lo]]) * orders.unit[d];
      if (span > widest_span) widest_span = span, widest = d;
    }
    const int32_t* split_order = orders.order(widest, (flipped >> widest) & 1);
    const int64_t mid = (lo + hi) / 2;
    if (hi - lo <= 2 * W) {  // the halves are leaves (or, for a cloud of at most W points, this is)
      std::copy(split_order + lo, split_order + hi, ids_.begin() + lo);
      return;
    }
    for (int64_t k = lo; k < hi; ++k) orders.left[split_order[k]] = k < mid;
    for (int d = 0; d < D; ++d) {
      if (d == widest) continue;
      stable_partition(orders.order(d, (flipped >> d) & 1), orders.order(d, 1 - ((flipped >> d) & 1)), lo, hi,
                       mid, orders.left.data());
      flipped ^= 1u << d;
    }
    split(lo, mid, flipped, orders);
    split(mid, hi, flipped, orders);
  }

  // to[lo, mid) = the indices of from[lo, hi) whose flag left[id] is 1, to[mid, hi) the others, each
  // in from's order (left has 3 bytes of padding past the last index).
  static void stable_partition(const int32_t* from, int32_t* to, int64_t lo, int64_t hi, int64_t mid,
                               const uint8_t* left) {
    int64_t l = lo, r = mid, k = lo;
#if defined(__AVX512F__)
    // 16 indices at a time: their flags by one gather (4 bytes at each flag, the low one kept), each
    // side's indices packed by a compress, and stored under a mask, as a full store would overwrite
    // the other side's. The build of a 2048-point cloud: 64-73 -> 57-59 us (AMD EPYC, Zen 4).
    // The gather writes its lanes into its destination register, so it waits for that register's
    // last value (the previous step's compress, which waits for the previous gather): a chain of
    // about 40 cycles a step on Intel (llvm-mca). It starts from zeros instead; under a mask GCC
    // can see is full, GCC would drop them again (CPU_NOTES, session 13).
    __mmask16 every_lane = 0xFFFF;
    asm("" : "+k"(every_lane));
    for (; k + 16 <= hi; k += 16) {
      const __m512i ids = _mm512_loadu_si512(from + k);
      const __m512i flags = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), every_lane, ids, left, 1);
      const __mmask16 goes_left = _mm512_test_epi32_mask(flags, _mm512_set1_epi32(0xFF));
      const int count = __builtin_popcount(goes_left);
      _mm512_mask_storeu_epi32(to + l, __mmask16((1u << count) - 1), _mm512_maskz_compress_epi32(goes_left, ids));
      _mm512_mask_storeu_epi32(to + r, __mmask16((1u << (16 - count)) - 1),
                               _mm512_maskz_compress_epi32(__mmask16(~goes_left), ids));
      l += count;
      r += 16 - count;
    }
#endif
    for (; k < hi; ++k) {
      const int32_t id = from[k];
      const int64_t is_left = left[id];
      to[r ^ ((l ^ r) & -is_left)] = id;  // l or r; a conditional here became a mispredicted branch
      l += is_left;
      r += 1 - is_left;
    }
  }

  // Each leaf's indices in ascending order (Nearest's scan relies on it), by a sorting network on
  // one vector of W lanes (padded with the largest index).
  void sort_leaf_ids() {
    for_each_leaf(0, n_, [&](int64_t lo, int64_t hi) {
      typename Simd<T>::I32 v = {};
      v += std::numeric_limits<int32_t>::max();
      std::memcpy(&v, &ids_[lo], size_t(hi - lo) * sizeof(int32_t));
      v = sort_lanes(v);
      std::memcpy(&ids_[lo], &v, size_t(hi - lo) * sizeof(int32_t));
    });
  }

  void set_boxes(int64_t node, int64_t lo, int64_t hi) {
    T* mn = &lower_[node * D];
    T* mx = &upper_[node * D];
    if (hi - lo <= W) {
      for (int d = 0; d < D; ++d) mn[d] = mx[d] = pts_[lo * D + d];
      for (int64_t k = lo + 1; k < hi; ++k)
        for (int d = 0; d < D; ++d) {
          mn[d] = std::min(mn[d], pts_[k * D + d]);
          mx[d] = std::max(mx[d], pts_[k * D + d]);
        }
      return;
    }
    const int64_t mid = (lo + hi) / 2;
    set_boxes(2 * node, lo, mid);
    set_boxes(2 * node + 1, mid, hi);
    for (int d = 0; d < D; ++d) {
      mn[d] = std::min(lower_[2 * node * D + d], lower_[(2 * node + 1) * D + d]);
      mx[d] = std::max(upper_[2 * node * D + d], upper_[(2 * node + 1) * D + d]);
    }
  }

  static void collect(int64_t lo, int64_t hi, int64_t points, std::vector<Subtree>& out) {
    if (hi - lo <= points || hi - lo <= W) {
      out.push_back({lo, hi});
      return;
    }
    const int64_t mid = (lo + hi) / 2;
    collect(lo, mid, points, out);
    collect(mid, hi, points, out);
  }

  // Calls fn(lo, hi) for each leaf (at most W points) of a node's range [lo, hi), in order: the
  // ranges that the build's halving at mid = (lo + hi) / 2 leaves.
  template <typename Fn>
  static void for_each_leaf(int64_t lo, int64_t hi, Fn&& fn) {
    if (hi - lo > W) {
      const int64_t mid = (lo + hi) / 2;
      for_each_leaf(lo, mid, fn);
      for_each_leaf(mid, hi, fn);
      return;
    }
    fn(lo, hi);
  }

  template <typename Fn>
  void visit_leaves(int64_t lo, int64_t hi, Fn& fn) const {
    for_each_leaf(lo, hi, [&](int64_t leaf_lo, int64_t leaf_hi) {
      V q[D];
      for (int d = 0; d < D; ++d)
        for (int l = 0; l < W; ++l) q[d][l] = pts_[(leaf_lo + (leaf_lo + l < leaf_hi ? l : 0)) * D + d];
      fn(q, &ids_[leaf_lo], int(leaf_hi - leaf_lo));
    });
  }

  // The nearest point so far per lane (distance, and index when kIndex).
  template <bool kIndex>
  struct Nearest {
    V best;
    I best_idx;
    // A leaf's points go to two running minima, alternate points to each, to break the dependency
    // chain. They are local to the scan, so they stay in registers (updated through the result's
    // reference they were stored to memory at every point). A leaf's indices ascend (build()), so
    // a strict '<' keeps the lowest index among equal distances: one comparison per point, and the
    // full tie rule (keep_closer) once per leaf. Both start at the leaf's lowest index, the answer
    // when every distance is infinite (finite coordinates whose squares overflow).
    struct Leaf {
      V best, best2;
      I idx, idx2;
      void fold(const V& d, int32_t id) { keep_first_closer(d, id, best, idx); }
      void fold_second(const V& d, int32_t id) { keep_first_closer(d, id, best2, idx2); }
      static void keep_first_closer(const V& d, int32_t id, V& b, I& b_idx) {
        const auto closer = d < b;
        b = closer ? d : b;
        if constexpr (kIndex) b_idx = closer ? I{} + id : b_idx;
      }
    };
    const V& limit() const { return best; }
    Leaf open_leaf(int32_t lowest_id) const {
      const V inf = V{} + std::numeric_limits<T>::infinity();
      return {inf, inf, I{} + lowest_id, I{} + lowest_id};
    }
    void close_leaf(const Leaf& leaf) {
      keep_closer(leaf.best, leaf.idx, best, best_idx);
      keep_closer(leaf.best2, leaf.idx2, best, best_idx);
    }
    // Folds candidate distances d (of the points with indices id) into b / b_idx.
    static void keep_closer(const V& d, const I& id, V& b, I& b_idx) {
      if constexpr (kIndex) {
        const auto closer = (d < b) | ((d == b) & (id < b_idx));
        b = closer ? d : b;
        b_idx = closer ? id : b_idx;
      } else {
        b = d < b ? d : b;
      }
    }
  };

  // Per lane, a lower bound on the computed distance (by metric M) from the query to any point in
  // the node's box: the gap to the box on each side (0 inside), squared (kSquaredL2) or not (kL1)
  // and summed in the order that distance_to uses. A coordinate difference is at least the gap it
  // spans, and rounding is monotone, so no term and no partial sum exceeds the computed distance's.
  template <Metric M>
  V lane_box_gap(const V (&q)[D], int64_t node) const {
    V acc;
    for (int d = 0; d < D; ++d) {
      const V below = lower_[node * D + d] - q[d], above = q[d] - upper_[node * D + d];
      V gap = below > above ? below : above;
      gap = gap > V{} ? gap : V{};
      const V term = M == Metric::kSquaredL2 ? gap * gap : gap;
      acc = d == 0 ? term : acc + term;
    }
    return acc;
  }

  // `bound`: lane_box_gap of this node, computed by the caller. Result: Nearest or a k-list.
  template <Metric M, typename Result>
  void search_node(const V (&q)[D], int64_t node, int64_t lo, int64_t hi, const V& bound,
                   Result& result) const {
    if (!any_lane(bound <= result.limit())) return;  // '<=': an equal distance may have a lower index
    if (hi - lo <= kRefLeaf) {
      scan<M>(q, lo, hi, result);
      return;
    }
    const int64_t mid = (lo + hi) / 2;
    const V left = lane_box_gap<M>(q, 2 * node), right = lane_box_gap<M>(q, 2 * node + 1);
    // Nearer child first (by the first lane's bound): a small limit early prunes more.
    if (left[0] <= right[0]) {
      search_node<M>(q, 2 * node, lo, mid, left, result);
      search_node<M>(q, 2 * node + 1, mid, hi, right, result);
    } else {
      search_node<M>(q, 2 * node + 1, mid, hi, right, result);
      search_node<M>(q, 2 * node, lo, mid, left, result);
    }
  }

  // Every point of [lo, hi) against all lanes, leaf by leaf (indices ascend within a leaf only):
  // alternate points into the two folds of the result's open_leaf() (a copy, or the result itself).
  template <Metric M, typename Result>
  void scan(const V (&q)[D], int64_t lo, int64_t hi, Result& result) const {
    for_each_leaf(lo, hi, [&](int64_t leaf_lo, int64_t leaf_hi) {
      decltype(auto) leaf = result.open_leaf(ids_[leaf_lo]);
      int64_t k = leaf_lo;
      for (; k + 1 < leaf_hi; k += 2) {
        leaf.fold(distance_to<M>(q, &pts_[k * D]), ids_[k]);
        leaf.fold_second(distance_to<M>(q, &pts_[(k + 1) * D]), ids_[k + 1]);
      }
      if (k < leaf_hi) leaf.fold(distance_to<M>(q, &pts_[k * D]), ids_[k]);
      result.close_leaf(leaf);
    });
  }

  // point_distance (common/point_math.h) in every lane: the same operations in the same order.
  template <Metric M>
  static V distance_to(const V (&q)[D], const T* p) {
    V acc;
    for (int d = 0; d < D; ++d) {
      const V diff = q[d] - p[d];
      V term;
      if constexpr (M == Metric::kSquaredL2) term = diff * diff;
      else term = diff < V{} ? -diff : diff;
      acc = d == 0 ? term : acc + term;
    }
    return acc;
  }

  int64_t n_ = 0;
  // Large for large clouds, so kept for the next call (common/reused_memory.h).
  ReusedVector<T> pts_;            // [n, D] in tree order
  ReusedVector<int32_t> ids_;      // tree position -> index in the source cloud
  ReusedVector<T> lower_, upper_;  // [nodes, D] heap-indexed bounding boxes
};

}  // namespace
}  // namespace pointops
