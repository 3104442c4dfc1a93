#pragma once
// The epsilon scaling of the CPU auctions (emd/cpu_auction.h, emd/transport_cpu.cc): where it starts,
// when a phase's certified gap is worth computing, when a phase may stop short of a full plan, and
// the loop over the phases. The rules the CUDA auctions share are in emd/auction_schedule.h.
#include <cmath>
#include <cstdint>

#include "emd/auction_schedule.h"

namespace pointops {

// The CPU auctions start lower when that is safe: at a lower bound of the optimal mean cost (the
// persons' mean cost to their nearest object, which their first bid lists give anyway, or the
// clouds' projections on the axes, whichever is larger), but at least max_cost / 64, which bounds
// the first phase for any clouds (each bid raises a price by eps / 2 or more, and no price needs to
// rise past the costs' range: about 130 rounds at most). floor: see eps_floor. Session 8
// (CPU_NOTES): uniform clouds, where max_cost / 4 is about 7 mean costs, took 1.6x fewer
// milliseconds at N = 2048 and 4096.
inline double cpu_initial_eps(double max_cost, double cost_lower_bound, double floor) {
  return fmax(fmin(initial_eps(max_cost), fmax(cost_lower_bound, max_cost / 64)), floor);
}

// Each finished phase leaves every person within eps of its best value, so its certified mean gap
// is at most eps, and it is usually about half of it. The CPU auctions compute the gap (every
// person's exact best value: a tree search wherever a bid list cannot prove it) only after a phase
// that could meet the target: eps at most kGapWorth times it, or eps at the floor. Skipped, the
// next phase starts from upper bounds of the best values (keeping fewer pairs). Session 9
// (CPU_NOTES): 5-7% off a cloud at N = 2048.
constexpr double kGapWorth = 4.0;
inline bool gap_worth_computing(double eps, double mean_cost, double rel_tol, double floor) {
  return eps <= kGapWorth * rel_tol * mean_cost || eps <= floor;
}

// The assignment auction's intermediate phases (those after which no gap will be computed: see
// gap_worth_computing) stop with up to this many persons unassigned. A phase's end is a price war of
// those few, one bid after another; the next phase starts with them unassigned and settles them
// with the others. Only the last phase must end with a full plan. Session 10 (CPU_NOTES): 10-15%
// fewer bids and tree searches per cloud at N = 1024-6000; 8 or more left made some clouds' later
// phases longer. The transportation auction (persons of several units) made more bids with any
// tail from 1 to 4, and keeps 0.
constexpr int64_t kAssignmentPhaseTail = 4;

// How an auction phase ended: every person placed, at most `tail` persons left unplaced (when the
// phase was allowed to stop there: scale_eps), or the bid budget ran out (or no object had a finite value).
enum class PhaseEnd { kPlaced, kTailLeft, kOutOfBids };

// The last certified gap (total over the plan's units of mass), the plan's cost when it was
// computed, and the bids made in all phases.
struct ScalingResult {
  double gap_total = 0, plan_cost = 0;
  int64_t bids = 0;
};

// Phases from eps down (next_eps), until a certified gap meets rel_tol, eps reaches its floor or a
// phase runs out of bids. Auction provides:
//   PhaseEnd run_phase(double eps, int64_t tail, int64_t max_bids, int64_t& bids): one phase from
//     the current prices, the plan kept where still within eps of each person's best value (from
//     the last gap_total or keep_upper_values); it may stop with `tail` persons unplaced;
//   void complete(): places whatever is unplaced (after a phase that ran out of bids);
//   double plan_cost(): the full plan's total cost;
//   double gap_total(double plan_cost): its certified gap (the persons' best values kept);
//   void keep_upper_values(): upper bounds of the best values kept instead.
// units: the units of mass the totals are over; cost_lower_bound: of the optimal mean cost; tail:
// how many persons an intermediate phase may leave unplaced.
template <class Auction>
ScalingResult scale_eps(Auction& auction, double eps, double floor, double cost_lower_bound, double rel_tol,
                        int64_t units, int64_t max_bids, int64_t tail) {
  ScalingResult result;
  double mean_cost = cost_lower_bound;  // of the last full plan (before any: the lower bound)
  for (;; eps = next_eps(eps, floor)) {
    const bool intermediate = !gap_worth_computing(eps, mean_cost, rel_tol, floor);
    const PhaseEnd end = auction.run_phase(eps, intermediate ? tail : 0, max_bids, result.bids);
    if (end == PhaseEnd::kTailLeft) {
      auction.keep_upper_values();
      continue;
    }
    const bool placed = end == PhaseEnd::kPlaced;
    if (!placed) auction.complete();
    const double cost = auction.plan_cost();
    mean_cost = cost / double(units);
    if (placed && !gap_worth_computing(eps, mean_cost, rel_tol, floor)) {
      auction.keep_upper_values();
      continue;
    }
    result.plan_cost = cost;
    result.gap_total = auction.gap_total(cost);
    if (!placed || phase_done(result.gap_total / double(units), mean_cost, rel_tol, eps, floor)) return result;
  }
}

}  // namespace pointops
