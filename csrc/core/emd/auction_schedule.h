#pragma once
// The epsilon-scaling schedule shared by the CPU and CUDA auctions, so both take the same
// decisions: start at a quarter of the largest possible cost, divide by kEpsFactor after each
// phase whose certified gap misses the target, never go below what the price precision can
// represent (an increment under one ulp of the prices would stall the auction).
#include <cstdint>

#include "common/point_math.h"

namespace pointops {

constexpr double kEpsFactor = 5.0;
constexpr int64_t kDefaultMaxRounds = 10000;

// max_cost: an upper bound on any pair's cost (from the clouds' bounding box).
POINTOPS_HD double initial_eps(double max_cost) { return fmax(max_cost / 4, 1e-30); }

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

// The smallest eps: 16 float ulps of the largest cost, since the CUDA prices are float.
POINTOPS_HD double eps_floor(double max_cost) {
  constexpr double kFloatEpsilon = 1.1920928955078125e-07;  // 2^-23
  return fmax(max_cost, 1e-30) * 16 * kFloatEpsilon;
}

// True when the phase met the target or eps cannot shrink any further.
POINTOPS_HD bool phase_done(double gap_mean, double mean_cost, double rel_tol, double eps, double floor) {
  return gap_mean <= rel_tol * mean_cost || eps <= floor;
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

POINTOPS_HD double next_eps(double eps, double floor) { return fmax(eps / kEpsFactor, floor); }

// The bid budget of one phase: max_rounds rounds (0: the default) of `per_round` bids, saturated
// at INT64_MAX instead of overflowing (max_rounds comes from the user and may be huge).
POINTOPS_HD int64_t saturating_bid_budget(int64_t max_rounds, int64_t per_round) {
  const int64_t rounds = max_rounds > 0 ? max_rounds : kDefaultMaxRounds;
  constexpr int64_t kMax = 0x7fffffffffffffffLL;
  return per_round > 0 && rounds > kMax / per_round ? kMax : rounds * per_round;
}

// True when every pair cost (at most max_cost, computed in double from the bounding box) and the
// squared distance it comes from are finite in T. Otherwise the auction cannot rank objects: the
// cloud gets the identity assignment and an infinite gap, which the doors report as an error
// that names the magnitude.
template <typename T>
POINTOPS_HD bool cost_fits(double max_cost, bool squared) {
  const double largest = sizeof(T) == 4 ? 3.4028234663852886e38 : 1.7976931348623157e308;
  const double squared_cost = squared ? max_cost : max_cost * max_cost;
  return squared_cost < largest / 2;  // a margin for rounding; false for inf and NaN too
}

}  // namespace pointops
