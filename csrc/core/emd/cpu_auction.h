#pragma once
// The CPU assignment auction for one cloud: persons bid in batches of 16 from the same prices
// (Jacobi), applied in a fixed order, so it is deterministic whichever threads computed the bids (a
// single cloud shares each batch's tree searches with a second thread: common/batch_helper.h). Bids
// come from emd/bid_search.h: each person's short list of best objects, renewed from the k-d tree
// over b that keeps the lowest price below each node (emd/price_tree.h).
// Used by emd_cpu.cc (equal sizes) and transport_cpu.cc (its clouds of equal sizes), both compiled
// per CPU level.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <vector>

#include "common/batch_helper.h"
#include "common/pair_scale.h"
#include "emd/bid_search.h"
#include "emd/emd.h"
#include "emd/eps_scaling.h"

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
// The axes are shared with the helper when there is one (their sorts are most of the time).
template <typename T, int D>
double projected_cost_bound(const T* a, int64_t n, const T* b, int64_t m, bool squared, BatchHelper* helper) {
  double axis_cost[D];
  share_range(helper, D, 2, [&](int64_t k0, int64_t k1) {
    std::vector<double> xa(n), xb(m);
    for (int64_t k = k0; k < k1; ++k) {
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
      axis_cost[k] = axis / (double(n) * double(m));
    }
  });
  double bound = 0;
  for (int k = 0; k < D; ++k) bound = squared ? bound + axis_cost[k] : std::max(bound, axis_cost[k]);
  return bound;
}

template <typename T, int D>
class CpuAuction {
 public:
  // Persons bid in batches of kBatch, all at the prices before the batch (Jacobi), so that two
  // threads can compute one batch (emd/bid_search.h shares its tree searches). Measured against 24,
  // 32 and 64 (CPU_NOTES).
  static constexpr int64_t kBatch = 16;

  // helper (may be null): a second thread for the tree searches of each batch's bids and of each
  // gap's best values; the results do not depend on it.
  CpuAuction(const T* a, const T* b, int64_t n, bool squared, BatchHelper* helper)
      : a_(a), b_(b), n_(n), squared_(squared), helper_(helper), price_(n, 0.0), pi_(n, 0.0), owner_(n, -1),
        assigned_(n, -1), bids_(a, n, b, n, price_.data(), squared) {}

  double cost(int64_t i, int64_t j) const { return double(pair_cost<D>(a_ + i * D, b_ + j * D, squared_)); }

  double max_cost() const { return max_pair_cost<T, D>(a_, n_, b_, n_, squared_); }

  // One epsilon phase, prices kept (emd/eps_scaling.h's run_phase). Persons unassigned, or no
  // longer within eps of their best value (pi_, from the last gap or its upper bounds), bid; the
  // phase may stop with `tail` of them left. bids counts the bids made.
  PhaseEnd run_phase(double eps, int64_t tail, int64_t max_bids, int64_t& bids) {
    std::deque<int32_t> unassigned;
    for (int64_t i = 0; i < n_; ++i) {
      const int32_t j = assigned_[i];
      if (j >= 0 && -cost(i, j) - price_[j] >= pi_[i] - eps) continue;
      if (j >= 0) owner_[j] = -1;
      assigned_[i] = -1;
      unassigned.push_back(int32_t(i));
    }
    for (int64_t phase_bids = 0; !unassigned.empty();) {
      if (int64_t(unassigned.size()) <= tail) return PhaseEnd::kTailLeft;
      if (phase_bids >= max_bids) return PhaseEnd::kOutOfBids;
      const int64_t size = std::min<int64_t>(kBatch, int64_t(unassigned.size()));
      batch_.assign(unassigned.begin(), unassigned.begin() + size);
      unassigned.erase(unassigned.begin(), unassigned.begin() + size);
      batch_bids_.resize(size);
      bids_.bids(batch_.data(), size, eps, batch_bids_.data(), helper_);
      offers_.resize(size);
      for (int64_t k = 0; k < size; ++k) offers_[k] = make_offer(batch_bids_[k], eps);
      phase_bids += size;
      bids += size;
      // Applied in batch order: each offer above the object's price (which earlier offers of the
      // batch may have raised) takes it; the others, and the persons displaced, queue again.
      for (int64_t k = 0; k < size; ++k) {
        const int32_t i = batch_[k];
        const Offer offer = offers_[k];
        if (offer.j < 0) return PhaseEnd::kOutOfBids;  // no object has a finite value (costs overflowed): give up
        if (!(offer.price > price_[offer.j])) {
          unassigned.push_back(i);
          continue;
        }
        price_[offer.j] = offer.price;
        bids_.price_raised(offer.j);
        const int32_t previous = owner_[offer.j];
        if (previous >= 0) {
          assigned_[previous] = -1;
          unassigned.push_back(previous);
        }
        owner_[offer.j] = i;
        assigned_[i] = offer.j;
      }
    }
    return PhaseEnd::kPlaced;
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

  // The certified gap of the total cost of the current full assignment, whose total cost is
  // plan_cost (plan_cost()); keeps each person's best value in pi_ for the next phase.
  double gap_total(double plan_cost) {
    double dual = 0;
    for (int64_t j = 0; j < n_; ++j) dual += price_[j];
    bids_.best_values(pi_.data(), helper_);
    for (int64_t i = 0; i < n_; ++i) dual += pi_[i];
    // dual bounds the best total benefit (-cost) from above: optimum >= -dual.
    return std::max(0.0, dual + plan_cost);
  }

  // The total cost of the current full assignment.
  double plan_cost() const {
    double primal = 0;
    for (int64_t i = 0; i < n_; ++i) primal += cost(i, assigned_[i]);
    return primal;
  }

  // Instead of gap_total: keeps upper bounds of the persons' best values for the next phase.
  void keep_upper_values() { bids_.upper_values(pi_.data()); }

  double mean_nearest_cost() { return bids_.mean_nearest_cost(pi_.data(), helper_); }

  const std::vector<int32_t>& assignment() const { return assigned_; }

 private:
  // A person's offer for an object: the price at which its value there falls to its best other
  // option minus eps (j < 0: no object has a finite value).
  struct Offer {
    int32_t j;
    double price;
  };

  Offer make_offer(const Bid& bid, double eps) const {
    if (bid.j < 0) return Offer{-1, 0.0};
    return Offer{bid.j, price_[bid.j] + (bid.w1 - bid.w2) + eps};
  }

  const T* a_;
  const T* b_;
  int64_t n_;
  bool squared_;
  BatchHelper* helper_;
  std::vector<double> price_, pi_;  // declared before bids_, which keeps a pointer to price_
  std::vector<int32_t> owner_, assigned_;
  BidSearch<T, D> bids_;
  std::vector<int32_t> batch_;  // the persons bidding together (from the same prices)
  std::vector<Bid> batch_bids_;  // their bids, in batch order
  std::vector<Offer> offers_;    // and the offers made of them (from the prices before the batch)
};

// The assignment of one cloud of n points each; returns the rounds used (bids / n). The auction runs
// on the pair scaled by 2^-k where its magnitude needs it (common/pair_scale.h): its costs then fit T,
// and the gap is scaled back.
template <typename T, int D>
int64_t emd_match_one(const T* a_in, const T* b_in, int64_t n, const EmdOptions& options, int32_t* assignment,
                      T* gap, BatchHelper* helper = nullptr) {
  const ScaledPair<T> pair(a_in, n * D, b_in, n * D);
  // Non-finite coordinates: no meaningful assignment; identity, and a NaN gap (NaN distance).
  if (!pair.finite) {
    for (int64_t i = 0; i < n; ++i) assignment[i] = int32_t(i);
    *gap = std::numeric_limits<T>::quiet_NaN();
    return 0;
  }
  CpuAuction<T, D> auction(pair.a, pair.b, n, options.squared, helper);
  const double max_cost = auction.max_cost(), floor = eps_floor(max_cost);
  if (!costs_fit_unscaled<T>(max_cost, pair.k, options.squared)) {  // see emd.h
    for (int64_t i = 0; i < n; ++i) assignment[i] = int32_t(i);
    *gap = std::numeric_limits<T>::infinity();
    return 0;
  }
  const int64_t max_bids = saturating_bid_budget(options.max_rounds, n);
  const double cost_lower_bound = std::max(
      auction.mean_nearest_cost(), projected_cost_bound<T, D>(pair.a, n, pair.b, n, options.squared, helper));
  const ScalingResult result = scale_eps(auction, cpu_initial_eps(max_cost, cost_lower_bound, floor), floor,
                                         cost_lower_bound, options.rel_tol, n, max_bids, kAssignmentPhaseTail);
  std::copy(auction.assignment().begin(), auction.assignment().end(), assignment);
  *gap = unscaled(T(result.gap_total / double(n)), pair.k, options.squared ? 2 : 1);
  return (result.bids + n - 1) / n;
}

}  // namespace pointops
