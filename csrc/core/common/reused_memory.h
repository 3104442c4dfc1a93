#pragma once
// Large working buffers kept for the next call instead of going back to the OS.
//
// Memory fresh from the OS costs a page fault at the first touch of each 4 KiB page (about 1.7 us
// on the AMD EPYC VM, more when two threads fault at once), and glibc hands large freed blocks back
// to the OS, so every call on large clouds paid those faults again: a 100k-point Chamfer took about
// 1200 of them, 2-3 ms of its 18 (benchmarks/CPU_NOTES.md, session 13). Blocks of kMinReusedBytes or
// more are kept when returned, at most kMaxHeldBytes in all (one store per library that links the
// core: the TF op library and pointops._C; shared by the library's threads), the longest held given
// back first. The kernels' large vectors are ReusedVectors.
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace pointops {

inline constexpr std::size_t kMinReusedBytes = std::size_t(64) << 10;
// glibc's own bound on what it keeps in its heaps (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit).
inline constexpr std::size_t kMaxHeldBytes = std::size_t(32) << 20;

// Defined in reused_memory.cc, compiled once, so every CPU level shares one store.
void* take_block(std::size_t bytes);  // bytes >= kMinReusedBytes; 64-byte aligned; throws std::bad_alloc
void return_block(void* block) noexcept;  // a block from take_block
std::size_t held_block_bytes();  // what the store holds now
void release_held_blocks() noexcept;  // frees what it holds (the benchmark, before it measures memory)

template <typename T>
struct ReusingAllocator {
  using value_type = T;
  ReusingAllocator() = default;
  template <typename U>
  ReusingAllocator(const ReusingAllocator<U>&) noexcept {}
  // Smaller buffers go to the C++ heap as usual (glibc reuses those without faults).
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    if (n * sizeof(T) < kMinReusedBytes) return std::allocator<T>().allocate(n);
    return static_cast<T*>(take_block(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < kMinReusedBytes) std::allocator<T>().deallocate(p, n);
    else return_block(p);
  }
  template <typename U>
  bool operator==(const ReusingAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const ReusingAllocator<U>&) const noexcept { return false; }
};

template <typename T>
using ReusedVector = std::vector<T, ReusingAllocator<T>>;

}  // namespace pointops
