#pragma once
// The CPU auctions' tree search: a person's k best objects by value -cost(q, b_j) - price_j,
// through the k-d tree over b where every node also holds the lowest price below it. A subtree is
// skipped only when its bound (-(a lower bound of its costs) - its lowest price) is below the k-th
// best value found plus a slack (0: exact, ties included: best value, then the lower index, as a
// scan over all objects returns them), or, until k are found, below a value that k objects are
// known to reach (the caller's old list); an upper bound of every object left out is reported
// (emd/bid_search.h). Leaves are scanned in SIMD lanes (emd/kdtree.h's blocks). The cost bound is
// the distance from the query to the node's box: per dimension, the distance to the farthest
// splitting plane crossed on that dimension (0 where the query is inside), summed as
// squared_distance sums, so that with its rounding it never exceeds a computed cost behind it
// (rounding is monotone, and every term is at most the matching term of any point in the box).
// Session 7: a bound from the single nearest plane let mesh-sampled clouds evaluate 45% of all
// objects per bid at N = 2048 (uniform clouds 8%).
#include <algorithm>
#include <limits>
#include <vector>

#include "common/point_math.h"
#include "emd/kdtree.h"

namespace pointops {

// A bid: an object j, its value w1, and w2: the second-best value, or an upper bound of every other
// object's value (emd/bid_search.h). w = -cost - price.
struct Bid {
  int32_t j = -1;
  double w1 = -std::numeric_limits<double>::infinity(), w2 = -std::numeric_limits<double>::infinity();

  void consider(int32_t object, double w) {
    if (w > w1 || (w == w1 && object < j)) {
      w2 = w1;
      w1 = w;
      j = object;
    } else {
      w2 = std::max(w2, w);
    }
  }
};

// An object with its cost and value (-cost - price) for one person.
struct Candidate {
  int32_t j;
  double cost, value;

  // The order of a search's result: higher value first, then the lower index (Bid's tie rule).
  bool before(const Candidate& other) const { return value > other.value || (value == other.value && j < other.j); }
};

// The k best candidates seen so far, kept sorted in best: [k] (k is small: insertion is a shift).
struct TopK {
  Candidate* best;
  int64_t k;
  double slack;  // once k are found, subtrees whose bound is below floor() + slack are skipped
  double known;  // k objects are known to have values at or above this (-inf: nothing known)
  int64_t size = 0;
  double skipped = -std::numeric_limits<double>::infinity();  // the highest bound of a skipped subtree

  // Values strictly below this cannot enter the list (every value that entered is at or above
  // known), and every object left out is at most this or in a skipped subtree.
  double floor() const { return size < k ? known : best[k - 1].value; }

  // Subtrees whose bound is below this are skipped. Without the slack until k are found, so that
  // the k objects at or above known are found (a slack from known could skip them all).
  double skip_below() const { return size < k ? known : best[k - 1].value + slack; }

  void consider(const Candidate& c) {
    if (size == k && !c.before(best[k - 1])) return;
    int64_t at = size < k ? size++ : k - 1;
    for (; at > 0 && c.before(best[at - 1]); --at) best[at] = best[at - 1];
    best[at] = c;
  }
};

template <typename T, int D>
class PriceTree : public KdTree<T, D> {
  using Tree = KdTree<T, D>;

 public:
  // b: [n, D] objects, price: [n]; both kept by pointer. Call price_raised(j) after price[j] rises.
  PriceTree(const T* b, int64_t n, const double* price, bool squared) : price_(price), squared_(squared) {
    Tree::build(b, n);
    min_price_.assign(Tree::split_.size(), 0.0);
    block_price_.assign(size_t(Tree::blocks_) * kLeaf, std::numeric_limits<double>::infinity());
    leaf_of_.assign(n, 0);
    slot_of_.assign(n, 0);
    init(1);
  }

  void price_raised(int32_t j) {
    const double old = block_price_[slot_of_[j]];
    block_price_[slot_of_[j]] = price_[j];
    int64_t node = leaf_of_[j];
    if (old > min_price_[node]) return;  // another object of the leaf holds its minimum
    const double* prices = &block_price_[Tree::block_[node] * kLeaf];
    double lowest = prices[0];
    for (int64_t s = 1; s < kLeaf; ++s) lowest = std::min(lowest, prices[s]);  // empty slots: +inf
    while (node >= 1 && lowest != min_price_[node]) {  // a minimum that did not change stops the walk
      min_price_[node] = lowest;
      if (node == 1) break;
      const int64_t sibling = node ^ 1;
      node /= 2;
      lowest = std::min(lowest, min_price_[sibling]);
    }
  }

  // The k best objects for the person at q: [D] by value (then by lower index), written to best:
  // [k] in that order; returns how many there are (at most k). known: k objects are known to have
  // values at or above it (-inf: nothing known), so nothing below it is looked at. outside: an
  // upper bound of the value of every object not in best.
  int64_t best_k(const T* q, int64_t k, double slack, double known, Candidate* best, double& outside) const {
    TopK top{best, k, slack, known};
    const T inside[D] = {};  // the root's box holds every point: no offset on any dimension
    search(q, 1, inside, 0.0, top);
    outside = std::max(top.skipped, top.floor());
    return top.size;
  }

 private:
  static constexpr int64_t kLeaf = Tree::kLeaf;

  double init(int64_t node) {
    const int64_t b = Tree::block_[node];
    if (b < 0) return min_price_[node] = std::min(init(2 * node), init(2 * node + 1));
    double lowest = std::numeric_limits<double>::infinity();
    for (int64_t s = 0; s < Tree::block_size_[b]; ++s) {
      const int32_t j = Tree::block_ids_[b * kLeaf + s];
      leaf_of_[j] = node;
      slot_of_[j] = b * kLeaf + s;
      block_price_[b * kLeaf + s] = price_[j];
      lowest = std::min(lowest, price_[j]);
    }
    return min_price_[node] = lowest;
  }

  // Every point of leaf block b against the person at q: the costs and values of all kLeaf slots in
  // SIMD lanes (the same operations as pair_cost, so the same bits), then the few whose value can
  // enter the list go through top one by one.
  void scan_leaf(const T* q, int64_t b, TopK& top) const {
    T cost[kLeaf];
    if (squared_) {
      leaf_costs<true>(q, &Tree::coords_[b * D * kLeaf], cost);
    } else {
      leaf_costs<false>(q, &Tree::coords_[b * D * kLeaf], cost);
    }
    const double* price = &block_price_[b * kLeaf];
    double value[kLeaf];
    for (int64_t s = 0; s < kLeaf; ++s) value[s] = -double(cost[s]) - price[s];
    // The slots whose value can enter the list, as a bit mask built in SIMD lanes (a branch per slot
    // mispredicted often: session 10, CPU_NOTES). The floor only rises while the leaf goes through
    // top, which rejects what falls below it since.
    const double floor = top.floor();
    static_assert(kLeaf <= 32, "one bit per slot");
    uint32_t pass = 0;
    for (int64_t s = 0; s < kLeaf; ++s) pass |= uint32_t(value[s] >= floor) << s;
    const int32_t size = Tree::block_size_[b];
    pass &= size >= 32 ? ~0u : (1u << size) - 1;  // empty slots (value -inf) pass a floor of -inf
    const int32_t* ids = &Tree::block_ids_[b * kLeaf];
    for (; pass != 0; pass &= pass - 1) {
      const int s = __builtin_ctz(pass);
      top.consider(Candidate{ids[s], double(cost[s]), value[s]});
    }
  }

  // cost: [kLeaf] the costs from q: [D] to the block's points x: [D, kLeaf] (squared_distance's
  // order of operations, then cost_from_squared's).
  template <bool kSquared>
  static void leaf_costs(const T* q, const T* x, T* cost) {
    for (int64_t s = 0; s < kLeaf; ++s) {
      T diff = q[0] - x[s];
      T acc = diff * diff;
      for (int d = 1; d < D; ++d) {
        diff = q[d] - x[d * kLeaf + s];
        acc = acc + diff * diff;
      }
      cost[s] = kSquared ? acc : std::sqrt(acc);
    }
  }

  // offset: [D] the query's distance to node's box per dimension; cost_bound: the cost of that
  // offset, a lower bound of the computed cost of every object below node.
  void search(const T* q, int64_t node, const T* offset, double cost_bound, TopK& top) const {
    const double bound = -cost_bound - min_price_[node];
    if (bound < top.skip_below()) {
      top.skipped = std::max(top.skipped, bound);
      return;
    }
    if (Tree::block_[node] >= 0) {
      scan_leaf(q, Tree::block_[node], top);
      return;
    }
    const int dim = Tree::dim_[node];
    const T diff = q[dim] - Tree::split_[node];
    T far_offset[D];
    for (int k = 0; k < D; ++k) far_offset[k] = offset[k];
    far_offset[dim] = std::max(offset[dim], diff < T(0) ? -diff : diff);
    const T zero[D] = {};
    const double far_bound = double(cost_from_squared(squared_distance<D>(far_offset, zero), squared_));
    if (diff < T(0)) {
      search(q, 2 * node, offset, cost_bound, top);
      search(q, 2 * node + 1, far_offset, far_bound, top);
    } else {
      search(q, 2 * node + 1, offset, cost_bound, top);
      search(q, 2 * node, far_offset, far_bound, top);
    }
  }

  const double* price_;
  bool squared_;
  std::vector<double> min_price_;    // heap-indexed: the lowest price below each node
  std::vector<double> block_price_;  // [blocks, kLeaf]: the prices in the leaves' slots (+inf: empty)
  std::vector<int64_t> leaf_of_;     // object -> its leaf's heap index
  std::vector<int64_t> slot_of_;     // object -> its slot in block_price_
};

}  // namespace pointops
