#pragma once
// Where a thread runs, for threads that must not share one CPU (common/batch_helper.h): a thread
// that starts or wakes is sometimes put on the CPU of the thread that started or woke it, and left
// there while another CPU idles (session 10, CPU_NOTES). Linux only; elsewhere nothing is known or
// moved. Not used for TF's shards: moving a pool thread per shard made Chamfer slower (CPU_NOTES).
#if defined(__linux__)
#include <sched.h>
#endif

namespace pointops {

// The CPU this thread runs on, -1 where the system does not say.
inline int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

// Keeps this thread off one CPU while it lives, then gives it back the CPUs it was allowed before.
class CpuAvoidance {
 public:
  // Moves this thread off `cpu` if it may run elsewhere; false if it may not (or the system does
  // not say).
  bool avoid(int cpu) {
#if defined(__linux__)
    if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
    if (!saved_) {
      if (sched_getaffinity(0, sizeof(allowed_), &allowed_) != 0) return false;
      saved_ = true;
    }
    cpu_set_t others = allowed_;
    CPU_CLR(cpu, &others);
    if (CPU_COUNT(&others) == 0 || sched_setaffinity(0, sizeof(others), &others) != 0) return false;
    moved_ = true;
    return true;
#else
    (void)cpu;
    return false;
#endif
  }

  ~CpuAvoidance() {
#if defined(__linux__)
    if (moved_) sched_setaffinity(0, sizeof(allowed_), &allowed_);
#endif
  }

 private:
#if defined(__linux__)
  cpu_set_t allowed_;
#endif
  bool saved_ = false, moved_ = false;
};

}  // namespace pointops
