#pragma once
// The CPU assignment auction for one cloud (Gauss-Seidel: one bid at a time, in a fixed order, so
// it is deterministic). Bids come from emd/bid_search.h: each person's short list of best objects,
// renewed from the k-d tree over b that keeps the lowest price below each node (emd/price_tree.h).
// Used by emd_cpu.cc (equal sizes) and transport_cpu.cc (its clouds of equal sizes), both compiled
// per CPU level.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <vector>

#include "emd/auction_schedule.h"
#include "emd/emd.h"
#include "emd/bid_search.h"

namespace pointops {

// Upper bound on any pair's cost between a [n, D] and b [m, D], from their joint bounding box.
template <typename T, int D>
double max_pair_cost(const T* a, int64_t n, const T* b, int64_t m, bool squared) {
  double span2 = 0;
  for (int k = 0; k < D; ++k) {
    T lo = a[k], hi = a[k];
    for (int64_t i = 0; i < n; ++i) lo = std::min(lo, a[i * D + k]), hi = std::max(hi, a[i * D + k]);
    for (int64_t j = 0; j < m; ++j) lo = std::min(lo, b[j * D + k]), hi = std::max(hi, b[j * D + k]);
    span2 += double(hi - lo) * double(hi - lo);
  }
  return squared ? span2 : std::sqrt(span2);
}

// A lower bound of the optimal transport's mean cost between a [n, D] and b [m, D] (uniform masses)
// from their projections on the axes: the cost of a plan is at least that of its projection on one
// axis (Euclidean costs: the largest over the axes) or than the sum over the axes (squared costs),
// and on one axis the optimal plan matches the sorted coordinates (quantiles), computed exactly here.
template <typename T, int D>
double projected_cost_bound(const T* a, int64_t n, const T* b, int64_t m, bool squared) {
  std::vector<double> xa(n), xb(m);
  double bound = 0;
  for (int k = 0; k < D; ++k) {
    for (int64_t i = 0; i < n; ++i) xa[i] = double(a[i * D + k]);
    for (int64_t j = 0; j < m; ++j) xb[j] = double(b[j * D + k]);
    std::sort(xa.begin(), xa.end());
    std::sort(xb.begin(), xb.end());
    // Quantile t in [0, 1] as an integer multiple of 1 / (n m): a's i-th point holds (i m, (i + 1) m].
    double axis = 0;
    for (int64_t i = 0, j = 0, t = 0; i < n && j < m;) {
      const int64_t next = std::min((i + 1) * m, (j + 1) * n);
      const double d = xa[i] - xb[j];
      axis += double(next - t) * (squared ? d * d : std::abs(d));
      t = next;
      if (next == (i + 1) * m) ++i;
      if (next == (j + 1) * n) ++j;
    }
    axis /= double(n) * double(m);
    bound = squared ? bound + axis : std::max(bound, axis);
  }
  return bound;
}

// True when every coordinate of a [n, D] and b [m, D] is finite.
template <typename T, int D>
bool all_finite(const T* a, int64_t n, const T* b, int64_t m) {
  bool finite = true;
  for (int64_t k = 0; k < n * D; ++k) finite &= std::isfinite(a[k]);
  for (int64_t k = 0; k < m * D; ++k) finite &= std::isfinite(b[k]);
  return finite;
}

template <typename T, int D>
class CpuAuction {
 public:
  CpuAuction(const T* a, const T* b, int64_t n, bool squared)
      : a_(a), b_(b), n_(n), squared_(squared), price_(n, 0.0), pi_(n, 0.0), owner_(n, -1), assigned_(n, -1),
        bids_(a, n, b, n, price_.data(), squared) {}

  double cost(int64_t i, int64_t j) const { return double(pair_cost<D>(a_ + i * D, b_ + j * D, squared_)); }

  double max_cost() const { return max_pair_cost<T, D>(a_, n_, b_, n_, squared_); }

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
      const Bid bid = best_two(i, eps);
      if (bid.j < 0) return false;  // no object has a finite value (costs overflowed): give up
      unassigned.pop_front();
      price_[bid.j] += bid.w1 - bid.w2 + eps;
      bids_.price_raised(bid.j);
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
      const double best = bids_.best_value(i);
      pi_[i] = best;
      dual += best;
      primal += cost(i, assigned_[i]);
    }
    // dual bounds the best total benefit (-cost) from above: optimum >= -dual.
    return {std::max(0.0, (dual + primal) / double(n_)), primal / double(n_)};
  }

  double mean_nearest_cost() { return bids_.mean_nearest_cost(); }

  const std::vector<int32_t>& assignment() const { return assigned_; }

 private:
  Bid best_two(int32_t i, double eps) {
    Bid bid = bids_.bid(i, eps);
    if (n_ == 1) bid.w2 = bid.w1;  // one object: the bid raises its price by eps
    return bid;
  }

  const T* a_;
  const T* b_;
  int64_t n_;
  bool squared_;
  std::vector<double> price_, pi_;  // declared before bids_, which keeps a pointer to price_
  std::vector<int32_t> owner_, assigned_;
  BidSearch<T, D> bids_;
};

// The assignment of one cloud of n points each; returns the rounds used (bids / n).
template <typename T, int D>
int64_t emd_match_one(const T* a, const T* b, int64_t n, const EmdOptions& options, int32_t* assignment,
                      T* gap) {
  // Non-finite coordinates: no meaningful assignment; identity, and a NaN gap (NaN distance).
  if (!all_finite<T, D>(a, n, b, n)) {
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
  const double cost_lower_bound =
      std::max(auction.mean_nearest_cost(), projected_cost_bound<T, D>(a, n, b, n, options.squared));
  double eps = cpu_initial_eps(max_cost, cost_lower_bound, floor), gap_mean = 0;
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

}  // namespace pointops
