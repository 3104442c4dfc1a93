#pragma once
// The epsilon-scaling schedule shared by the CPU and CUDA auctions, so both take the same
// decisions: start at a quarter of the largest possible cost, divide by kEpsFactor after each
// phase whose certified gap misses the target, never go below what the price precision can
// represent (an increment under one ulp of the prices would stall the auction). The CPU auctions'
// own rules (a lower start, gaps only when worth computing, intermediate phases that stop short)
// and their loop over the phases are in emd/eps_scaling.h.
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/point_math.h"

namespace pointops {

constexpr double kEpsFactor = 5.0;
constexpr int64_t kDefaultMaxRounds = 10000;

// max_cost: an upper bound on any pair's cost (from the clouds' bounding box).
POINTOPS_HD double initial_eps(double max_cost) { return fmax(max_cost / 4, 1e-30); }

// The smallest eps: 16 float ulps of the largest cost, since the CUDA prices are float.
POINTOPS_HD double eps_floor(double max_cost) {
  constexpr double kFloatEpsilon = 1.1920928955078125e-07;  // 2^-23
  return fmax(max_cost, 1e-30) * 16 * kFloatEpsilon;
}

// True when the phase met the target or eps cannot shrink any further.
POINTOPS_HD bool phase_done(double gap_mean, double mean_cost, double rel_tol, double eps, double floor) {
  return gap_mean <= rel_tol * mean_cost || eps <= floor;
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

// For clouds scaled by 2^-k (common/pair_scale.h), whose scaled costs always fit: true when every
// pair cost at the clouds' own scale (max_cost 2^k, squared: 2^2k) is finite in T. Where it is not, the
// cloud is refused as cost_fits refuses it, with an infinite gap.
template <typename T>
bool costs_fit_unscaled(double max_cost, int k, bool squared) {
  return std::ldexp(max_cost, (squared ? 2 : 1) * k) < double(std::numeric_limits<T>::max()) / 2;
}

}  // namespace pointops
