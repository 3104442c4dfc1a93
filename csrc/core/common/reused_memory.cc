// The store behind common/reused_memory.h. Compiled for the baseline target only, like
// cpu_dispatch.cc: the per-level kernels call it as they call the C library.
#include "common/reused_memory.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace pointops {
namespace {

// Each block starts with a header that holds its capacity; the caller's bytes follow, 64-byte
// aligned like the block.
constexpr std::size_t kHeader = 64;
// Capacities of kept blocks are multiples of this, so a cloud a few points larger than the last
// one still finds its block.
constexpr std::size_t kGranule = std::size_t(64) << 10;

struct Store {
  std::mutex mutex;
  std::vector<void*> held;  // bases of the blocks kept, the longest held first
  std::size_t held_bytes = 0;
};

// Never destroyed: a pool thread may return a block while the process exits.
Store& store() {
  static Store* const instance = new Store;
  return *instance;
}

std::size_t& capacity_of(void* base) { return *static_cast<std::size_t*>(base); }

}  // namespace

void* take_block(std::size_t bytes) {
  {
    // The smallest kept block that holds bytes, if it is at most a quarter larger (plus the
    // rounding): a small buffer must not take the block a larger one of the same call needs.
    Store& s = store();
    std::lock_guard<std::mutex> lock(s.mutex);
    std::size_t best = s.held.size();
    for (std::size_t k = 0; k < s.held.size(); ++k) {
      const std::size_t capacity = capacity_of(s.held[k]);
      if (capacity >= bytes && capacity - bytes <= bytes / 4 + kGranule &&
          (best == s.held.size() || capacity < capacity_of(s.held[best])))
        best = k;
    }
    if (best < s.held.size()) {
      void* base = s.held[best];
      s.held.erase(s.held.begin() + std::ptrdiff_t(best));
      s.held_bytes -= capacity_of(base);
      return static_cast<char*>(base) + kHeader;
    }
  }
  if (bytes > std::size_t(-1) - kHeader - kGranule) throw std::bad_alloc();
  const std::size_t capacity = (bytes + kGranule - 1) / kGranule * kGranule;
  void* base = std::aligned_alloc(kHeader, kHeader + capacity);
  if (base == nullptr) throw std::bad_alloc();
  capacity_of(base) = capacity;
  return static_cast<char*>(base) + kHeader;
}

void return_block(void* block) noexcept {
  void* base = static_cast<char*>(block) - kHeader;
  const std::size_t capacity = capacity_of(base);
  if (capacity > kMaxHeldBytes) {
    std::free(base);
    return;
  }
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mutex);
  std::size_t drop = 0;  // the longest held blocks that must go for this one to fit
  for (std::size_t freed = 0; s.held_bytes - freed + capacity > kMaxHeldBytes; ++drop) freed += capacity_of(s.held[drop]);
  for (std::size_t k = 0; k < drop; ++k) {
    s.held_bytes -= capacity_of(s.held[k]);
    std::free(s.held[k]);
  }
  s.held.erase(s.held.begin(), s.held.begin() + std::ptrdiff_t(drop));
  try {
    s.held.push_back(base);
    s.held_bytes += capacity;
  } catch (...) {  // no memory for the list: give the block back instead
    std::free(base);
  }
}

std::size_t held_block_bytes() {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.held_bytes;
}

void release_held_blocks() noexcept {
  Store& s = store();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (void* base : s.held) std::free(base);
  s.held.clear();
  s.held_bytes = 0;
}

}  // namespace pointops
