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
// Nor does the owner keep a helper whose CPU is far from its own. Every step moves cache lines
// between the two CPUs (the step's counters, and the data one writes and the other reads), and a
// VM's two CPUs are at times far apart on the host: a round trip of a cache line then took about
// 500 ns instead of 115, and one EMD cloud 16.9 ms on two threads against 11.6 on one (session 11,
// CPU_NOTES). So once the helper is running (off the owner's CPU), the owner times a few round
// trips with it, and above kFarRoundTrip it dismisses the helper and runs the job alone.
#include <algorithm>
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
    if (!probed_ && ready_.load(std::memory_order_acquire)) keep_helper_if_near();
    if (alone_) {  // as share_range without a helper: the whole range here
      if (total > 0) fn(0, total);
      return;
    }
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

  // The median of a few cache-line round trips to the helper (which answers each ping between
  // steps); a helper farther than kFarRoundTrip is sent away (done_) and the job goes on alone. The
  // median, not the shortest: when the CPUs were far apart, a few trips still took 190 ns.
  void keep_helper_if_near() {
    probed_ = true;
    std::chrono::steady_clock::duration trips[kProbes];
    for (int64_t k = 1; k <= kProbes; ++k) {
      const auto start = std::chrono::steady_clock::now();
      ping_.store(k, std::memory_order_release);
      while (pong_.load(std::memory_order_acquire) != k) POINTOPS_SPIN_PAUSE();
      trips[k - 1] = std::chrono::steady_clock::now() - start;
    }
    std::nth_element(trips, trips + kProbes / 2, trips + kProbes);
    if (trips[kProbes / 2] > kFarRoundTrip) {
      alone_ = true;
      done_.store(true, std::memory_order_release);
    }
  }

  // True when this thread runs on `cpu`, the other thread's.
  static bool on_one_cpu(int cpu) { return cpu >= 0 && cpu == current_cpu(); }

  void serve() {
    CpuAvoidance avoidance;
    int64_t spins = 0;
    for (int64_t seen = posted_.load(std::memory_order_acquire); !done_.load(std::memory_order_acquire);) {
      const int64_t step = posted_.load(std::memory_order_acquire);
      if (step == seen) {
        const int64_t ping = ping_.load(std::memory_order_acquire);
        if (ping != pong_.load(std::memory_order_relaxed)) {
          pong_.store(ping, std::memory_order_release);
          continue;
        }
        if (++spins % kCpuCheck != 0) {
          POINTOPS_SPIN_PAUSE();
          continue;
        }
        const int owner_cpu = owner_cpu_.load(std::memory_order_relaxed);
        if (on_one_cpu(owner_cpu)) {
          if (!avoidance.avoid(owner_cpu)) std::this_thread::sleep_for(std::chrono::microseconds(kNapMicros));
        } else if ((owner_cpu >= 0 || current_cpu() < 0) && !ready_.load(std::memory_order_relaxed)) {
          ready_.store(true, std::memory_order_release);  // off the owner's CPU (or nothing is known)
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
  // The distance check: ready_ once the helper runs off the owner's CPU; pings from the owner,
  // answered by the helper; probed_ and alone_ are the owner's.
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> ping_{0}, pong_{0};
  bool probed_ = false, alone_ = false;
  // Spins between checks of the CPUs (a check costs about as much as a few pauses), and the nap of
  // a helper found on the owner's CPU.
  static constexpr int64_t kCpuCheck = 256;
  static constexpr int kNapMicros = 50;
  // Round trips timed, and the median above which the helper costs more than it gives. AMD EPYC
  // VM, one uniform cloud of 2048 points (session 11): where the CPUs were near, the median was
  // 50-150 ns and two threads took 9.1 ms against 11.5 on one; where they were far, it was 210-420
  // ns, and two threads took 16.5-16.8 ms against 11.5.
  static constexpr int64_t kProbes = 9;
  static constexpr std::chrono::nanoseconds kFarRoundTrip{200};
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
