#pragma once
// Thread-pool hook: core code never owns threads. Each door supplies a ParallelFor:
// the TF kernels wrap TF's intra-op pool, the pybind11 module a pool of its own.
#include <cstdint>
#include <functional>

namespace pointops {

// Calls fn(begin, end) on disjoint sub-ranges covering [0, total), possibly concurrently.
// cost_per_unit is a rough cost of one unit in cycles, used by pools that size their shards.
using RangeFn = std::function<void(int64_t begin, int64_t end)>;
using ParallelFor = std::function<void(int64_t total, int64_t cost_per_unit, const RangeFn& fn)>;

}  // namespace pointops
