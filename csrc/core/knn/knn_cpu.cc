// CPU k nearest neighbours: the SIMD block tree (nn/block_tree.h) searched a vector of queries at a
// time with one sorted list per lane, and a scalar path for clouds with non-finite coordinates.
// Both keep the candidates in nn_better() order with point_distance(), so they return the same bits.
// Compiled once per CPU level (common/cpu_dispatch.h); reached only through register_knn_cpu.
#include <algorithm>
#include <limits>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "common/pair_scale.h"
#include "common/simd.h"
#include "knn/knn.h"
#include "nn/block_tree.h"

namespace pointops {
namespace {

// Queries per unit of work (whole subtrees of the query cloud's tree).
constexpr int64_t kWorkPoints = 256;

// The k best per lane of a query vector, as BlockTree::search_k folds them: lists [W][k] and
// limit() the k-th best distance per lane (a point farther than it in every lane is skipped).
template <typename T, int D>
class LaneLists {
 public:
  using V = typename BlockTree<T, D>::V;
  static constexpr int W = BlockTree<T, D>::W;

  explicit LaneLists(int k) : k_(k), dist_(size_t(W) * k), idx_(size_t(W) * k) {}
  void clear() {
    clear_list(dist_.data(), idx_.data(), W * k_);
    limit_ = V{} + std::numeric_limits<T>::infinity();
  }
  const V& limit() const { return limit_; }
  LaneLists& open_leaf(int32_t) { return *this; }  // folded in place: the lists are in memory anyway
  void close_leaf(const LaneLists&) {}
  void fold(const V& d, int32_t id) {
    const auto maybe = d <= limit_;  // '<=': an equal distance wins with a lower index
    for (int l = 0; l < W; ++l) {
      if (!maybe[l]) continue;
      T* dist = &dist_[size_t(l) * k_];
      int32_t* idx = &idx_[size_t(l) * k_];
      insert_sorted(dist, idx, k_, d[l], id);
      limit_[l] = dist[k_ - 1];
    }
  }
  void fold_second(const V& d, int32_t id) { fold(d, id); }
  const T* dist(int lane) const { return &dist_[size_t(lane) * k_]; }
  const int32_t* idx(int lane) const { return &idx_[size_t(lane) * k_]; }

 private:
  int k_;
  std::vector<T> dist_;
  std::vector<int32_t> idx_;
  V limit_;
};

// One query's list into the outputs [k]: the first min(k, m) entries, then padding (0, -1).
template <typename T>
void write_list(const T* list_dist, const int32_t* list_idx, int k, int64_t m, T* dist, int32_t* idx) {
  const int valid = int(std::min<int64_t>(k, m));
  std::copy(list_dist, list_dist + valid, dist);
  std::copy(list_idx, list_idx + valid, idx);
  std::fill(dist + valid, dist + k, T(0));
  std::fill(idx + valid, idx + k, -1);
}

template <typename T, int D, Metric M>
void tree_queries(const BlockTree<T, D>& query, const typename BlockTree<T, D>::Subtree& where,
                  const BlockTree<T, D>& ref, int k, T* dist, int32_t* idx) {
  using V = typename BlockTree<T, D>::V;
  LaneLists<T, D> lists(k);
  query.for_each_query_vector(where, [&](const V (&q)[D], const int32_t* ids, int count) {
    lists.clear();
    ref.template search_k<M>(q, lists);
    for (int l = 0; l < count; ++l)
      write_list(lists.dist(l), lists.idx(l), k, ref.size(), dist + int64_t(ids[l]) * k, idx + int64_t(ids[l]) * k);
  });
}

// Any-input path: every query against every point, NaN-propagating (nn_better).
template <typename T, int D, Metric M>
void scalar_queries(const T* q, int64_t begin, int64_t end, const T* ref, int64_t m, int k, T* dist,
                    int32_t* idx) {
  std::vector<T> list_dist(k);
  std::vector<int32_t> list_idx(k);
  for (int64_t i = begin; i < end; ++i) {
    clear_list(list_dist.data(), list_idx.data(), k);
    for (int64_t j = 0; j < m; ++j)
      insert_sorted(list_dist.data(), list_idx.data(), k, point_distance<M, D>(q + i * D, ref + j * D), int32_t(j));
    write_list(list_dist.data(), list_idx.data(), k, m, dist + i * k, idx + i * k);
  }
}

struct WorkItem {
  int64_t batch;
  int64_t begin, end;  // queries [begin, end), or on the tree path the subtree's tree positions
};

template <typename T, int D, Metric M>
void knn_cpu_dim(const T* a, const T* b, int64_t B, int64_t N, int64_t M_pad, int K,
                 const int32_t* a_len, const int32_t* b_len, T* dist, int32_t* idx, const ParallelFor& pfor) {
  // Trees for the clouds whose points (queries and references) are all finite, built from copies
  // scaled by the pair's 2^-k where its magnitude needs it (common/pair_scale.h).
  std::vector<char> use_tree(B);
  std::vector<int> scale(B, 0);
  std::vector<BlockTree<T, D>> query_tree(B), ref_tree(B);
  pfor(B, 200 * (N + M_pad) * D, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      const ScaledPair<T> pair(a + bi * N * D, a_len[bi] * D, b + bi * M_pad * D, b_len[bi] * D);
      use_tree[bi] = a_len[bi] > 0 && b_len[bi] > 0 && pair.finite;
      if (!use_tree[bi]) continue;
      scale[bi] = pair.k;
      query_tree[bi].build(pair.a, a_len[bi]);  // the trees keep copies of the points
      ref_tree[bi].build(pair.b, b_len[bi]);
    }
  });
  std::vector<WorkItem> items;
  for (int64_t bi = 0; bi < B; ++bi) {
    if (use_tree[bi]) {
      for (const auto& sub : query_tree[bi].subtrees(kWorkPoints)) items.push_back({bi, sub.lo, sub.hi});
    } else {
      for (int64_t i = 0; i < a_len[bi]; i += 64) items.push_back({bi, i, std::min<int64_t>(a_len[bi], i + 64)});
    }
  }
  pfor(int64_t(items.size()), 64 * M_pad * D, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const WorkItem& it = items[w];
      T* d = dist + it.batch * N * K;
      int32_t* i = idx + it.batch * N * K;
      if (use_tree[it.batch]) {
        tree_queries<T, D, M>(query_tree[it.batch], {it.begin, it.end}, ref_tree[it.batch], K, d, i);
      } else {
        scalar_queries<T, D, M>(a + it.batch * N * D, it.begin, it.end, b + it.batch * M_pad * D, b_len[it.batch], K, d, i);
      }
    }
  });
  // Distances of scaled pairs back to the clouds' scale; padded queries: distance 0, index -1.
  constexpr int power = M == Metric::kSquaredL2 ? 2 : 1;
  for (int64_t bi = 0; bi < B; ++bi) {
    for (int64_t e = bi * N * K; scale[bi] != 0 && e < (bi * N + a_len[bi]) * K; ++e) dist[e] = unscaled(dist[e], scale[bi], power);
    std::fill(dist + (bi * N + a_len[bi]) * K, dist + (bi + 1) * N * K, T(0));
    std::fill(idx + (bi * N + a_len[bi]) * K, idx + (bi + 1) * N * K, -1);
  }
}

}  // namespace

template <typename T>
void knn_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, int K, Metric metric,
             const int32_t* a_len, const int32_t* b_len, T* dist, int32_t* idx, const ParallelFor& pfor) {
  dispatch_dim(D, [&](auto dim) {
    constexpr int kD = decltype(dim)::value;
    if (metric == Metric::kL1) knn_cpu_dim<T, kD, Metric::kL1>(a, b, B, N, M, K, a_len, b_len, dist, idx, pfor);
    else knn_cpu_dim<T, kD, Metric::kSquaredL2>(a, b, B, N, M, K, a_len, b_len, dist, idx, pfor);
  });
}

void register_knn_cpu(CpuKernels& table) {
  table.f32.knn = &knn_cpu<float>;
  table.f64.knn = &knn_cpu<double>;
}

}  // namespace pointops
