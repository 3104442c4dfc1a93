#pragma once
// Turns a transport plan into a basic one (its support a forest: at most n + m - 1 arcs) without
// raising its cost. Arcs are added to a spanning forest one by one; an arc that would close a cycle
// instead has the flow around that cycle pushed in the direction that does not raise the cost,
// until an arc of the cycle is empty, which then leaves the forest. Flows are integer units, so
// the supplies and demands stay exact.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace pointops {

struct PlanArc {
  int32_t i, j;   // a point, b point
  int64_t flow;   // units of mass
};

// The order in which plans are returned: by a point, then by b point.
inline bool arc_before(const PlanArc& x, const PlanArc& y) { return x.i < y.i || (x.i == y.i && x.j < y.j); }

// arcs: the plan between n persons (i) and m objects (j), at most one arc per pair; cost(i, j) the
// ground cost as double. On return arcs holds the basic plan (positive flows only), sorted by (i, j).
template <typename Cost>
void make_basic_plan(std::vector<PlanArc>& arcs, int64_t n, int64_t m, const Cost& cost) {
  const int64_t nodes = n + m;  // persons 0..n-1, objects n..n+m-1
  std::vector<int64_t> root(nodes);
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](int64_t x) {
    while (root[x] != x) x = root[x] = root[root[x]];
    return x;
  };
  std::vector<std::vector<int32_t>> adjacent(nodes);  // forest arcs at each node (stale ids skipped)
  std::vector<char> in_forest(arcs.size(), 0);
  auto other_end = [&](int32_t e, int64_t node) { return node < n ? n + arcs[e].j : int64_t(arcs[e].i); };
  std::vector<int32_t> via(nodes, -1);  // BFS: the forest arc that reached each node
  std::vector<int64_t> frontier, seen;
  std::vector<int32_t> path;
  for (int32_t e = 0; e < int32_t(arcs.size()); ++e) {
    const int64_t u = arcs[e].i, v = n + arcs[e].j;
    if (find(u) != find(v)) {
      root[find(u)] = find(v);
      in_forest[e] = 1;
      adjacent[u].push_back(e);
      adjacent[v].push_back(e);
      continue;
    }
    // The forest path from v to u: BFS over the forest arcs.
    frontier.assign(1, v);
    seen.assign(1, v);
    via[v] = e;  // marks v as reached
    for (size_t k = 0; k < frontier.size() && via[u] < 0; ++k) {
      const int64_t x = frontier[k];
      for (int32_t f : adjacent[x]) {
        const int64_t y = other_end(f, x);
        if (!in_forest[f] || via[y] >= 0) continue;
        via[y] = f;
        frontier.push_back(y);
        seen.push_back(y);
      }
    }
    path.clear();
    for (int64_t x = u; x != v; x = other_end(via[x], x)) path.push_back(via[x]);
    for (int64_t x : seen) via[x] = -1;
    // The cycle: e (+), then the path from u back to v, alternating -, +, ..., -.
    double delta_cost = cost(arcs[e].i, arcs[e].j);
    int64_t room_plus = std::numeric_limits<int64_t>::max(), room_minus = arcs[e].flow;
    for (size_t k = 0; k < path.size(); ++k) {
      const PlanArc& arc = arcs[path[k]];
      if (k % 2 == 0) delta_cost -= cost(arc.i, arc.j), room_plus = std::min(room_plus, arc.flow);
      else delta_cost += cost(arc.i, arc.j), room_minus = std::min(room_minus, arc.flow);
    }
    // Push so that the cost does not rise: +delta along e when the cycle costs <= 0, else -delta.
    const bool forward = delta_cost <= 0;
    const int64_t amount = forward ? room_plus : room_minus;
    arcs[e].flow += forward ? amount : -amount;
    int32_t leaving = -1;
    for (size_t k = 0; k < path.size(); ++k) {
      PlanArc& arc = arcs[path[k]];
      const bool grows = (k % 2 == 1) == forward;
      arc.flow += grows ? amount : -amount;
      if (arc.flow == 0 && leaving < 0) leaving = path[k];
    }
    if (arcs[e].flow == 0) continue;  // e emptied: the forest stays as it was
    // One emptied path arc leaves and e takes its place: the components do not change.
    in_forest[leaving] = 0;
    in_forest[e] = 1;
    adjacent[u].push_back(e);
    adjacent[v].push_back(e);
  }
  std::vector<PlanArc> basic;
  for (size_t e = 0; e < arcs.size(); ++e)
    if (in_forest[e] && arcs[e].flow > 0) basic.push_back(arcs[e]);
  std::sort(basic.begin(), basic.end(), arc_before);
  arcs.swap(basic);
}

// Makes arcs basic (make_basic_plan) and returns its certified gap per unit of mass: (its cost -
// lower_bound) / units, with lower_bound (in units x cost) from the auction's duality.
template <typename Cost>
double basic_plan_gap(std::vector<PlanArc>& arcs, int64_t n, int64_t m, const Cost& cost, double lower_bound,
                      int64_t units) {
  make_basic_plan(arcs, n, m, cost);
  double plan_cost = 0;
  for (const PlanArc& arc : arcs) plan_cost += double(arc.flow) * cost(arc.i, arc.j);
  return std::max(0.0, plan_cost - lower_bound) / double(units);
}

// The north-west-corner plan (basic, n + m - 1 arcs at most): for clouds that cannot be solved.
inline std::vector<PlanArc> north_west_corner(int64_t n, int64_t m, int64_t supply, int64_t demand) {
  std::vector<PlanArc> arcs;
  int64_t i = 0, j = 0, left_i = supply, left_j = demand;
  while (i < n && j < m) {
    const int64_t take = std::min(left_i, left_j);
    arcs.push_back(PlanArc{int32_t(i), int32_t(j), take});
    left_i -= take, left_j -= take;
    if (left_i == 0) ++i, left_i = supply;
    if (left_j == 0) ++j, left_j = demand;
  }
  return arcs;
}

// One cloud's outputs, K entries: the arcs as (i, j, flow / units), then -1, -1, 0.
template <typename T>
void write_plan_entries(const std::vector<PlanArc>& arcs, int64_t units, int64_t K, int32_t* plan_i, int32_t* plan_j,
                        T* plan_mass) {
  for (int64_t k = 0; k < K; ++k) {
    const bool used = k < int64_t(arcs.size());
    plan_i[k] = used ? arcs[k].i : -1;
    plan_j[k] = used ? arcs[k].j : -1;
    plan_mass[k] = used ? T(double(arcs[k].flow) / double(units)) : T(0);
  }
}

}  // namespace pointops
