#pragma once
// Thread-pool hook: core code never owns threads. Each door supplies a ParallelFor:
// the TF kernels wrap TF's intra-op pool; the pybind11 module and the XLA custom-call handlers,
// which get no pool from their caller, start threads per call (common/thread_pool.h).
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>

namespace pointops {

// Calls fn(begin, end) on disjoint sub-ranges covering [0, total), possibly concurrently.
// cost_per_unit is a rough cost of one unit in cycles, used by pools that size their shards.
using RangeFn = std::function<void(int64_t begin, int64_t end)>;
using ParallelFor = std::function<void(int64_t total, int64_t cost_per_unit, const RangeFn& fn)>;

// For the pools' ParallelFors: an exception escaping a worker thread (std::bad_alloc above all)
// would terminate the process. Workers run their ranges through run(); the first exception is kept,
// later ranges are skipped, and rethrow_if_failed() raises it on the calling thread after the join.
class FirstFailure {
 public:
  template <typename Fn>
  void run(Fn&& fn) {
    if (failed_) return;
    try {
      fn();
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (!failure_) failure_ = std::current_exception();
      failed_ = true;
    }
  }
  bool failed() const { return failed_; }
  void rethrow_if_failed() const {
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr failure_;
};

}  // namespace pointops
