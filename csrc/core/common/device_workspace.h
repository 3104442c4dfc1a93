#pragma once
// Sizes of the sub-buffers the CUDA kernels carve out of one workspace allocation: each rounded up
// to 256 bytes, so that every sub-buffer starts as aligned as a cudaMalloc'd pointer.
#include <cstddef>

namespace pointops {

inline size_t align_up(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace pointops
