// CPU auction (Gauss-Seidel: one bid at a time, in a fixed order, so it is deterministic).
// Each bid is an exact search of all objects for the best and second-best value, through the
// k-d tree over b that keeps the lowest price below each node (emd/price_tree.h).
// Compiled once per CPU level (common/cpu_dispatch.h); reached only through register_emd_cpu.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "emd/auction_schedule.h"
#include "emd/emd.h"
#include "emd/price_tree.h"

namespace pointops {
namespace {

template <typename T, int D>
class CpuAuction {
 public:
  CpuAuction(const T* a, const T* b, int64_t n, bool squared)
      : a_(a), b_(b), n_(n), squared_(squared), price_(n, 0.0), pi_(n, 0.0), owner_(n, -1), assigned_(n, -1),
        tree_(b, n, price_.data(), squared) {}

  double cost(int64_t i, int64_t j) const { return double(pair_cost<D>(a_ + i * D, b_ + j * D, squared_)); }

  // Upper bound on any pair's cost, from the bounding box of both clouds.
  double max_cost() const {
    double span2 = 0;
    for (int k = 0; k < D; ++k) {
      T lo = a_[k], hi = a_[k];
      for (int64_t i = 0; i < n_; ++i) {
        lo = std::min({lo, a_[i * D + k], b_[i * D + k]});
        hi = std::max({hi, a_[i * D + k], b_[i * D + k]});
      }
      span2 += double(hi - lo) * double(hi - lo);
    }
    return squared_ ? span2 : std::sqrt(span2);
  }

  // One epsilon phase, prices kept. The first starts with everyone unassigned; later ones keep
  // the pairs still within eps of their person's best value (pi_, from the last gap). Returns
  // false if max_bids ran out; bids counts the bids made.
  bool run_phase(double eps, bool first, int64_t max_bids, int64_t& bids) {
    std::deque<int32_t> unassigned;
    for (int64_t i = 0; i < n_; ++i) {
      const int32_t j = assigned_[i];
      if (!first && j >= 0 && -cost(i, j) - price_[j] >= pi_[i] - eps) continue;
      if (j >= 0) owner_[j] = -1;
      assigned_[i] = -1;
      unassigned.push_back(int32_t(i));
    }
    for (int64_t phase_bids = 0; !unassigned.empty(); ++phase_bids, ++bids) {
      if (phase_bids >= max_bids) return false;
      const int32_t i = unassigned.front();
      const Bid bid = best_two(i);
      if (bid.j < 0) return false;  // no object has a finite value (costs overflowed): give up
      unassigned.pop_front();
      price_[bid.j] += bid.w1 - bid.w2 + eps;
      tree_.price_raised(bid.j);
      const int32_t previous = owner_[bid.j];
      if (previous >= 0) {
        assigned_[previous] = -1;
        unassigned.push_back(previous);
      }
      owner_[bid.j] = i;
      assigned_[i] = bid.j;
    }
    return true;
  }

  // Gives the persons still unassigned the free objects in index order (a permutation again).
  void complete() {
    int64_t free_j = 0;
    for (int64_t i = 0; i < n_; ++i) {
      if (assigned_[i] >= 0) continue;
      while (owner_[free_j] >= 0) ++free_j;
      owner_[free_j] = int32_t(i);
      assigned_[i] = int32_t(free_j);
    }
  }

  // (certified gap of the mean cost, mean cost) of the current full assignment; keeps each
  // person's best value in pi_ for the next phase's warm start.
  std::pair<double, double> gap_and_mean() {
    double dual = 0, primal = 0;
    for (int64_t j = 0; j < n_; ++j) dual += price_[j];
    for (int64_t i = 0; i < n_; ++i) {
      const double best = tree_.best_two(a_ + i * D).w1;
      pi_[i] = best;
      dual += best;
      primal += cost(i, assigned_[i]);
    }
    // dual bounds the best total benefit (-cost) from above: optimum >= -dual.
    return {std::max(0.0, (dual + primal) / double(n_)), primal / double(n_)};
  }

  const std::vector<int32_t>& assignment() const { return assigned_; }

 private:
  Bid best_two(int32_t i) const {
    Bid bid = tree_.best_two(a_ + i * D);
    if (n_ == 1) bid.w2 = bid.w1;  // one object: the bid raises its price by eps
    return bid;
  }

  const T* a_;
  const T* b_;
  int64_t n_;
  bool squared_;
  std::vector<double> price_, pi_;  // declared before tree_, which keeps a pointer to price_
  std::vector<int32_t> owner_, assigned_;
  PriceTree<T, D> tree_;
};

// Returns the rounds used (bids / n).
template <typename T, int D>
int64_t emd_match_one(const T* a, const T* b, int64_t n, const EmdOptions& options, int32_t* assignment,
                      T* gap) {
  // Non-finite coordinates: no meaningful assignment; identity, and a NaN gap (NaN distance).
  bool finite = true;
  for (int64_t k = 0; k < n * D; ++k) finite &= std::isfinite(a[k]) && std::isfinite(b[k]);
  if (!finite) {
    for (int64_t i = 0; i < n; ++i) assignment[i] = int32_t(i);
    *gap = std::numeric_limits<T>::quiet_NaN();
    return 0;
  }
  CpuAuction<T, D> auction(a, b, n, options.squared);
  const double max_cost = auction.max_cost(), floor = eps_floor(max_cost);
  if (!cost_fits<T>(max_cost, options.squared)) {  // pair costs overflow T: see emd.h
    for (int64_t i = 0; i < n; ++i) assignment[i] = int32_t(i);
    *gap = std::numeric_limits<T>::infinity();
    return 0;
  }
  const int64_t max_bids = saturating_bid_budget(options.max_rounds, n);
  int64_t bids = 0;
  double eps = initial_eps(max_cost), gap_mean = 0;
  for (bool first = true;; first = false) {
    const bool finished = auction.run_phase(eps, first, max_bids, bids);
    if (!finished) auction.complete();
    const auto [g, mean_cost] = auction.gap_and_mean();
    gap_mean = g;
    if (!finished || phase_done(gap_mean, mean_cost, options.rel_tol, eps, floor)) break;
    eps = next_eps(eps, floor);
  }
  std::copy(auction.assignment().begin(), auction.assignment().end(), assignment);
  *gap = T(gap_mean);
  return (bids + n - 1) / n;
}

}  // namespace

template <typename T>
void emd_match_cpu(const T* a, const T* b, int64_t B, int64_t N, int D, const int32_t* len,
                   const EmdOptions& options, int32_t* assignment, T* gap, const ParallelFor& pfor) {
  dispatch_dim(D, [&](auto dim) {
    constexpr int kD = decltype(dim)::value;
    std::vector<int64_t> rounds(B);
    pfor(B, 1000 * N * N, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        std::fill(assignment + bi * N, assignment + (bi + 1) * N, -1);
        rounds[bi] = emd_match_one<T, kD>(a + bi * N * kD, b + bi * N * kD, len[bi], options,
                                          assignment + bi * N, gap + bi);
      }
    });
    if (options.rounds_used) *options.rounds_used = B > 0 ? *std::max_element(rounds.begin(), rounds.end()) : 0;
  });
}

void register_emd_cpu(CpuKernels& table) {
  table.f32.emd_match = &emd_match_cpu<float>;
  table.f64.emd_match = &emd_match_cpu<double>;
}

}  // namespace pointops
