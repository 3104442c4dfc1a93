#pragma once
// The ParallelFor of the doors that have no pool of their own (the pybind11 module, the XLA
// custom-call handlers): std::threads taking chunks from a shared counter,
// so that uneven work (k-d tree queries) still spreads over every core; started per call, so only
// for calls big enough to pay for them.
#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

#include "common/parallel.h"

namespace pointops {

inline ParallelFor thread_pool_parallel_for(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  return [threads](int64_t total, int64_t cost_per_unit, const RangeFn& fn) {
    // Starting a thread costs tens of microseconds: each one must get at least this many cycles
    // of work, so small calls run on the caller's thread alone.
    constexpr int64_t kMinCyclesPerThread = int64_t(1) << 22;
    const int64_t by_cost = std::max<int64_t>(1, total * std::max<int64_t>(cost_per_unit, 1) / kMinCyclesPerThread);
    const int workers = int(std::min<int64_t>({int64_t(threads), total, by_cost}));
    if (workers <= 1) {
      if (total > 0) fn(0, total);
      return;
    }
    const int64_t chunk = std::max<int64_t>(1, total / (int64_t(workers) * 8));
    std::atomic<int64_t> next{0};
    // The first exception of a worker stops the hand-out of chunks and is rethrown here after the
    // join, where pybind11 turns it into a Python exception (MemoryError for std::bad_alloc).
    FirstFailure failure;
    auto run = [&] {
      failure.run([&] {
        for (int64_t begin; !failure.failed() && (begin = next.fetch_add(chunk)) < total;)
          fn(begin, std::min(total, begin + chunk));
      });
    };
    std::vector<std::thread> pool;
    try {
      for (int w = 1; w < workers; ++w) pool.emplace_back(run);
    } catch (const std::system_error&) {
      // No thread could be started (out of memory or thread limit): the threads that did start and
      // this one share the work.
    }
    run();
    for (auto& t : pool) t.join();
    failure.rethrow_if_failed();
  };
}

}  // namespace pointops
