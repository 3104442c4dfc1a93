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

}  // namespace pointops
