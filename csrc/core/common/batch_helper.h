#pragma once
// A second thread for one long sequential job that has short parallel steps (one EMD cloud's tree
// searches, a batch at a time: microseconds each, too short to wake a pool's threads per step).
//
// Both threads come from the door's ParallelFor, as two units of one call; whichever unit starts
// first is the owner and runs the job, the other serves as helper until the owner finishes. The
// owner posts a step and takes its units one at a time; the helper, if it joins the step before the
// owner has closed it, takes units from the same counter. So the results do not depend on which
// thread ran what, and a pool that runs the two units one after the other (one thread) still
// finishes: the helper then starts after the job and returns at once. Between steps the helper
// spins (with a pause), which is why only a job that keeps both threads busy most of the time
// should use it.
// Neither thread spins on a CPU the other one needs: a thread that starts or wakes is sometimes put
// on the CPU of the thread that woke it and left there while another CPU idles, and then a spinning
// owner starves the helper of the unit it waits for, and a spinning helper halves the owner's time
// (session 10, CPU_NOTES: one EMD cloud 14-24 ms instead of 10; a nap did not move it, it woke up on
// the same CPU). So a helper that finds itself on the owner's CPU leaves it: its affinity excludes
// that CPU until the job ends, when the affinity it had is restored (where it cannot leave, it
// naps). And the owner yields while it waits for a helper on its own CPU.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "common/cpu_placement.h"
#include "common/parallel.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define POINTOPS_SPIN_PAUSE() _mm_pause()
#else
#define POINTOPS_SPIN_PAUSE() ((void)0)
#endif

namespace pointops {

class BatchHelper {
 public:
  // Runs job(helper) with a helper thread from pfor when the pool gives one (the job may share any
  // number of steps with it; see share).
  static void run(const ParallelFor& pfor, const std::function<void(BatchHelper&)>& job) {
    BatchHelper helper;
    std::atomic<int> arrived{0};
    pfor(2, int64_t(1) << 40, [&](int64_t begin, int64_t end) {
      for (int64_t unit = begin; unit < end; ++unit) {
        if (arrived.fetch_add(1) == 0) {
          // The helper stops when the job ends, by an exception too (else it would spin forever).
          struct Done {
            std::atomic<bool>& done;
            ~Done() { done.store(true, std::memory_order_release); }
          } done{helper.done_};
          job(helper);
        } else {
          helper.serve();
        }
      }
    });
  }

  // One step: fn(k, k + 1) for every k in [0, total), the k taken one at a time by this thread and,
  // if it joins the step in time, the helper (so uneven units still share out). Returns when all
  // have run. Everything fn reads must be written before the call, and no two units may write the
  // same memory.
  void share(int64_t total, const RangeFn& fn) {
    fn_ = &fn;
    total_ = total;
    owner_cpu_.store(current_cpu(), std::memory_order_relaxed);
    next_.store(0, std::memory_order_relaxed);
    const int64_t step = posted_.load(std::memory_order_relaxed) + 1;
    posted_.store(step, std::memory_order_release);
    take_units();
    int64_t unjoined = step - 1;  // the helper cannot join any more once this succeeds
    if (joined_.compare_exchange_strong(unjoined, step, std::memory_order_acq_rel)) return;
    for (int64_t spins = 1; left_.load(std::memory_order_acquire) != step; ++spins) {
      if (spins % kCpuCheck == 0 && on_one_cpu(helper_cpu_.load(std::memory_order_relaxed))) {
        std::this_thread::yield();  // the helper's unit needs this CPU
      } else {
        POINTOPS_SPIN_PAUSE();
      }
    }
  }

 private:
  void take_units() {
    for (int64_t k; (k = next_.fetch_add(1, std::memory_order_relaxed)) < total_;) (*fn_)(k, k + 1);
  }

  // True when this thread runs on `cpu`, the other thread's.
  static bool on_one_cpu(int cpu) { return cpu >= 0 && cpu == current_cpu(); }

  void serve() {
    CpuAvoidance avoidance;
    int64_t spins = 0;
    for (int64_t seen = posted_.load(std::memory_order_acquire); !done_.load(std::memory_order_acquire);) {
      const int64_t step = posted_.load(std::memory_order_acquire);
      if (step == seen) {
        const int owner_cpu = owner_cpu_.load(std::memory_order_relaxed);
        if (++spins % kCpuCheck == 0 && on_one_cpu(owner_cpu)) {
          if (!avoidance.avoid(owner_cpu)) std::this_thread::sleep_for(std::chrono::microseconds(kNapMicros));
        } else {
          POINTOPS_SPIN_PAUSE();
        }
        continue;
      }
      seen = step;
      int64_t unjoined = step - 1;
      if (!joined_.compare_exchange_strong(unjoined, step, std::memory_order_acq_rel)) continue;
      helper_cpu_.store(current_cpu(), std::memory_order_relaxed);
      take_units();
      left_.store(step, std::memory_order_release);
    }
  }

  // Steps: posted by the owner; joined (by the helper, or closed by the owner); left by the helper.
  std::atomic<int64_t> posted_{0}, joined_{0}, left_{0};
  std::atomic<int64_t> next_{0};  // the next unit of the current step
  std::atomic<bool> done_{false};
  std::atomic<int> owner_cpu_{-1}, helper_cpu_{-1};  // where each was last seen (-1: unknown)
  // Spins between checks of the CPUs (a check costs about as much as a few pauses), and the nap of
  // a helper found on the owner's CPU.
  static constexpr int64_t kCpuCheck = 256;
  static constexpr int kNapMicros = 50;
  const RangeFn* fn_ = nullptr;  // fn_ and total_ are written before posted_ (release), read after
  int64_t total_ = 0;
};

// fn over [0, total): shared with the helper when there is one and total >= min_shared, else
// fn(0, total) here.
inline void share_range(BatchHelper* helper, int64_t total, int64_t min_shared, const RangeFn& fn) {
  if (helper != nullptr && total >= min_shared) {
    helper->share(total, fn);
  } else if (total > 0) {
    fn(0, total);
  }
}

}  // namespace pointops
