// CPU transportation auction (see transport.h): Gauss-Seidel, one bid at a time in a fixed order,
// so it is deterministic; bids come from the same search as the assignment auction's (emd/bid_search.h). Compiled once per CPU level; reached only through register_transport_cpu.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <vector>

#include "common/cpu_dispatch.h"
#include "common/dispatch.h"
#include "emd/basic_plan.h"
#include "emd/cpu_auction.h"
#include "emd/transport.h"

namespace pointops {
namespace {

// Units of one person at one object, and the highest price at which the person keeps them (its
// willingness: the object's value falls to its best other option minus eps there).
struct Holding {
  int32_t person;
  int64_t amount;
  double willing;
};

template <typename T, int D>
class TransportAuction {
 public:
  // a: [n, D] persons supplying `supply` units each, b: [m, D] objects holding `demand` units each.
  TransportAuction(const T* a, int64_t n, const T* b, int64_t m, int64_t supply, int64_t demand, bool squared)
      : a_(a), b_(b), n_(n), m_(m), supply_(supply), demand_(demand), squared_(squared), price_(m, 0.0),
        pi_(n, 0.0), remaining_(n, supply), free_(m, demand), holders_(m), bids_(a, n, b, m, price_.data(), squared) {}

  double cost(int64_t i, int64_t j) const { return double(pair_cost<D>(a_ + i * D, b_ + j * D, squared_)); }

  // One epsilon phase, prices kept (emd/eps_scaling.h's run_phase). It first releases the holdings
  // whose value is no longer within eps of their person's best (pi_, from the last gap or its upper
  // bounds); it may stop with `tail` persons left with units to place.
  PhaseEnd run_phase(double eps, int64_t tail, int64_t max_bids, int64_t& bids) {
    for (int64_t j = 0; j < m_; ++j) {
      auto& held = holders_[j];
      for (size_t k = 0; k < held.size();) {
        if (value(held[k].person, j) >= pi_[held[k].person] - eps) {
          ++k;
          continue;
        }
        remaining_[held[k].person] += held[k].amount;
        free_[j] += held[k].amount;
        held.erase(held.begin() + k);  // keeps the holders' order (deterministic ties)
      }
    }
    std::deque<int32_t> queue;
    for (int64_t i = 0; i < n_; ++i)
      if (remaining_[i] > 0) queue.push_back(int32_t(i));
    for (int64_t phase_bids = 0; !queue.empty();) {
      if (int64_t(queue.size()) <= tail) return PhaseEnd::kTailLeft;
      const int32_t i = queue.front();
      while (remaining_[i] > 0) {
        if (phase_bids++ >= max_bids || !bid(i, eps, queue)) return PhaseEnd::kOutOfBids;
        ++bids;
      }
      queue.pop_front();
    }
    return PhaseEnd::kPlaced;
  }

  // Gives the units still unplaced the free capacity, persons and objects in index order.
  void complete() {
    int64_t i = 0;
    for (int64_t j = 0; j < m_; ++j) {
      while (free_[j] > 0) {
        while (remaining_[i] == 0) ++i;
        place(int32_t(i), j, std::min(remaining_[i], free_[j]), price_[j]);
      }
    }
  }

  // The certified gap in units x cost (dual + primal), for the current full plan of cost primal
  // (plan_cost()); keeps each person's best value in pi_ for the next phase. dual bounds the best
  // total benefit (-cost) from above.
  double gap_total(double primal) {
    double dual = 0;
    for (int64_t j = 0; j < m_; ++j) dual += double(demand_) * price_[j];
    bids_.best_values(pi_.data(), nullptr);
    for (int64_t i = 0; i < n_; ++i) dual += double(supply_) * pi_[i];
    return std::max(0.0, dual + primal);
  }

  // The cost of the current full plan, in units x cost.
  double plan_cost() const {
    double primal = 0;
    for (int64_t j = 0; j < m_; ++j)
      for (const Holding& h : holders_[j]) primal += double(h.amount) * cost(h.person, j);
    return primal;
  }

  // Instead of gap_total: keeps upper bounds of the persons' best values for the next phase.
  void keep_upper_values() { bids_.upper_values(pi_.data()); }

  double mean_nearest_cost() { return bids_.mean_nearest_cost(pi_.data(), nullptr); }

  // The plan: one arc per holding, sorted by (i, j).
  std::vector<PlanArc> plan() const {
    std::vector<PlanArc> arcs;
    for (int64_t j = 0; j < m_; ++j)
      for (const Holding& h : holders_[j]) arcs.push_back(PlanArc{h.person, int32_t(j), h.amount});
    std::sort(arcs.begin(), arcs.end(), arc_before);
    return arcs;
  }

 private:
  double value(int64_t i, int64_t j) const { return -cost(i, j) - price_[j]; }

  // Adds units to i's holding at j (one holding per person and object); `willing` is i's current
  // willingness, which only grows over time (the other options' prices only rise).
  void place(int32_t i, int64_t j, int64_t amount, double willing) {
    remaining_[i] -= amount;
    free_[j] -= amount;
    for (Holding& h : holders_[j]) {
      if (h.person == i) {
        h.amount += amount;
        h.willing = willing;
        return;
      }
    }
    holders_[j].push_back(Holding{i, amount, willing});
  }

  // Person i places units at its best object j (value w1, best other option w2), willing to pay up
  // to price + w1 - w2 + eps. Free capacity is taken at j's price. Beyond it, i takes units from the
  // holders least willing to keep them, while they are less willing than i (second-price: j's price
  // rises to the willingness of the last holder it displaced, which every remaining holder accepts).
  // When i can get no more units, j's price rises to i's own willingness, so that i's next bid goes
  // to its other option: every bid either moves units to a more willing holder or raises a price.
  bool bid(int32_t i, double eps, std::deque<int32_t>& queue) {
    const Bid best = bids_.bid(i, eps);
    if (best.j < 0) return false;
    const int64_t j = best.j;
    const double willing = price_[j] + (best.w1 - best.w2) + eps;
    if (free_[j] > 0) {
      place(i, j, std::min(remaining_[i], free_[j]), willing);
      if (remaining_[i] == 0) return true;
    }
    auto& held = holders_[j];
    order_.clear();
    for (size_t k = 0; k < held.size(); ++k)
      if (held[k].person != i && held[k].willing < willing) order_.push_back(int32_t(k));
    std::stable_sort(order_.begin(), order_.end(), [&](int32_t x, int32_t y) { return held[x].willing < held[y].willing; });
    double new_price = willing;  // if i cannot get all it needs here
    int64_t taken = 0;
    for (int32_t k : order_) {
      Holding& h = held[k];
      const int64_t take = std::min(remaining_[i] - taken, h.amount);
      if (remaining_[h.person] == 0) queue.push_back(h.person);
      remaining_[h.person] += take;
      h.amount -= take;
      taken += take;
      if (taken == remaining_[i]) {
        new_price = std::max(price_[j], h.willing);
        break;
      }
    }
    held.erase(std::remove_if(held.begin(), held.end(), [](const Holding& h) { return h.amount == 0; }), held.end());
    free_[j] += taken;
    if (taken > 0) place(i, j, taken, willing);
    price_[j] = new_price;
    bids_.price_raised(int32_t(j));
    return true;
  }

  const T* a_;
  const T* b_;
  int64_t n_, m_, supply_, demand_;
  bool squared_;
  std::vector<double> price_, pi_;  // declared before bids_, which keeps a pointer to price_
  std::vector<int64_t> remaining_;  // units each person has still to place
  std::vector<int64_t> free_;       // units each object can still take (only at a phase's start)
  std::vector<std::vector<Holding>> holders_;  // per object
  std::vector<int32_t> order_;      // bid(): scratch
  BidSearch<T, D> bids_;
};

// One cloud, persons a [n, D] (n >= m: the larger side bids, which measured 2-3x faster than the
// smaller side with its larger supplies), objects b [m, D]. Writes the plan arcs (i indexes a) and
// returns (gap in cost units, bids); units receives T, the number of units of mass. The auction runs
// on the pair scaled by 2^-k where its magnitude needs it (common/pair_scale.h), so its costs fit T.
template <typename T, int D>
std::pair<double, int64_t> transport_one(const T* a_in, int64_t n, const T* b_in, int64_t m,
                                         const EmdOptions& options, std::vector<PlanArc>& arcs, int64_t& units) {
  const int64_t g = std::gcd(n, m), supply = m / g, demand = n / g;
  units = n * supply;
  const ScaledPair<T> pair(a_in, n * D, b_in, m * D);
  if (!pair.finite) {
    arcs = north_west_corner(n, m, supply, demand);
    return {std::numeric_limits<double>::quiet_NaN(), 0};
  }
  const T *a = pair.a, *b = pair.b;
  const double max_cost = max_pair_cost<T, D>(a, n, b, m, options.squared);
  if (!costs_fit_unscaled<T>(max_cost, pair.k, options.squared)) {  // see emd.h
    arcs = north_west_corner(n, m, supply, demand);
    return {std::numeric_limits<double>::infinity(), 0};
  }
  TransportAuction<T, D> auction(a, n, b, m, supply, demand, options.squared);
  const int64_t max_bids = saturating_bid_budget(options.max_rounds, n);
  const double floor = eps_floor(max_cost);
  const double cost_lower_bound =
      std::max(auction.mean_nearest_cost(), projected_cost_bound<T, D>(a, n, b, m, options.squared, nullptr));
  const ScalingResult result = scale_eps(auction, cpu_initial_eps(max_cost, cost_lower_bound, floor), floor,
                                         cost_lower_bound, options.rel_tol, units, max_bids, /*tail (see kAssignmentPhaseTail)*/ 0);
  const double dual_bound = result.plan_cost - result.gap_total;  // a lower bound on the optimal cost (in units)
  arcs = auction.plan();
  const double gap = basic_plan_gap(arcs, n, m, [&](int32_t i, int32_t j) { return auction.cost(i, j); }, dual_bound, units);
  return {unscaled(gap, pair.k, options.squared ? 2 : 1), result.bids};
}

// Either orientation: the larger cloud bids; arcs come back with i indexing a, sorted by (i, j).
template <typename T, int D>
std::pair<double, int64_t> transport_cloud(const T* a, int64_t n, const T* b, int64_t m, const EmdOptions& options,
                                           std::vector<PlanArc>& arcs, int64_t& units) {
  if (n >= m) return transport_one<T, D>(a, n, b, m, options, arcs, units);
  const auto result = transport_one<T, D>(b, m, a, n, options, arcs, units);
  for (PlanArc& arc : arcs) std::swap(arc.i, arc.j);
  std::sort(arcs.begin(), arcs.end(), arc_before);
  return result;
}

}  // namespace

template <typename T>
void emd_transport_cpu(const T* a, const T* b, int64_t B, int64_t N, int64_t M, int D, const int32_t* a_len,
                       const int32_t* b_len, const EmdOptions& options, int32_t* plan_i, int32_t* plan_j,
                       T* plan_mass, T* gap, const ParallelFor& pfor) {
  const int64_t K = N + M - 1;
  dispatch_dim(D, [&](auto dim) {
    constexpr int kD = decltype(dim)::value;
    std::vector<int64_t> rounds(B);
    pfor(B, 1000 * N * M, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const T* ac = a + c * N * kD;
        const T* bc = b + c * M * kD;
        const int64_t n = a_len[c], m = b_len[c];
        std::vector<PlanArc> arcs;
        int64_t units = n;
        if (n == m) {  // the assignment auction: today's permutation, mass 1/n per pair
          std::vector<int32_t> assignment(n);
          rounds[c] = emd_match_one<T, kD>(ac, bc, n, options, assignment.data(), gap + c);
          for (int64_t i = 0; i < n; ++i) arcs.push_back(PlanArc{int32_t(i), assignment[i], 1});
        } else {
          const auto [g, bids] = transport_cloud<T, kD>(ac, n, bc, m, options, arcs, units);
          gap[c] = T(g);
          rounds[c] = (bids + std::max(n, m) - 1) / std::max(n, m);
        }
        write_plan_entries(arcs, units, K, plan_i + c * K, plan_j + c * K, plan_mass + c * K);
      }
    });
    if (options.rounds_used) *options.rounds_used = B > 0 ? *std::max_element(rounds.begin(), rounds.end()) : 0;
  });
}

void register_transport_cpu(CpuKernels& table) {
  table.f32.emd_transport = &emd_transport_cpu<float>;
  table.f64.emd_transport = &emd_transport_cpu<double>;
}

}  // namespace pointops
