// C entry points of the op library for Python's ctypes (pointops/_backend.py): the working buffers
// that the CPU kernels keep for their next calls (common/reused_memory.h). The benchmark releases
// them before it measures a call's memory, so that a call is charged for the buffers it uses.
#include <cstddef>

#include "common/reused_memory.h"

extern "C" {
__attribute__((visibility("default"))) std::size_t pointops_held_block_bytes() {
  return pointops::held_block_bytes();
}
__attribute__((visibility("default"))) void pointops_release_held_blocks() { pointops::release_held_blocks(); }
}
