#pragma once
// Block-wide pieces shared by the CUDA auctions (emd_cuda.cu: assignment, transport_cuda.cu:
// transportation): one block of kAuctionThreads threads per cloud, reductions in a fixed order so
// that the results are deterministic, and the warp's best-two search over the objects.
#include <cstdint>

#include "common/cuda_check.h"
#include "common/point_math.h"

namespace pointops {

constexpr int kAuctionThreads = 1024;
constexpr int kAuctionWarps = kAuctionThreads / 32;

// The dynamic shared memory to launch `kernel` with: `wanted` bytes (a cloud's objects and prices)
// when they fit beside the kernel's own __shared__ arrays on this device, else 0 (the kernel then
// reads them from global memory). Sets the kernel's limit accordingly.
template <typename Kernel>
CudaStatus dynamic_shared_bytes(Kernel kernel, size_t wanted, size_t* dynamic) {
  int device = 0, optin = 0;
  cudaFuncAttributes attributes;
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  POINTOPS_CUDA_RETURN_IF_ERROR(cudaFuncGetAttributes(&attributes, kernel));
  *dynamic = attributes.sharedSizeBytes + wanted <= size_t(optin) ? wanted : 0;
  return static_cast<CudaStatus>(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(*dynamic)));
}

// Sum over the block in a fixed order (deterministic); all threads get the result.
__device__ inline double block_sum(double v, double* smem) {
  smem[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kAuctionThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) smem[threadIdx.x] += smem[threadIdx.x + stride];
    __syncthreads();
  }
  const double total = smem[0];
  __syncthreads();
  return total;
}

// Exclusive prefix sum of 0/1 flags over the block; *total gets the sum. All threads must call it.
// A ballot per warp, then each thread adds up the counts of the warps before its own: two barriers
// (a Hillis-Steele scan over the block took twenty, once per step of the transport auction).
// smem: kAuctionWarps ints.
__device__ inline int block_exclusive_scan(int flag, int* smem, int* total) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const unsigned ballot = __ballot_sync(0xffffffffu, flag != 0);
  if (lane == 0) smem[warp] = __popc(ballot);
  __syncthreads();
  int before = 0, sum = 0;
  for (int w = 0; w < kAuctionWarps; ++w) {
    const int count = smem[w];
    before += w < warp ? count : 0;
    sum += count;
  }
  *total = sum;
  __syncthreads();  // smem is free again
  return before + __popc(ballot & ((1u << lane) - 1));
}

template <typename P>
struct TopTwo {
  P w1, w2;
  int32_t j1;
};

// Best and second-best value (-cost - price) of person q over objects [0, n), by one warp.
template <typename T, int D>
__device__ TopTwo<T> warp_top_two(const T* q_ptr, const T* b, const T* price, int n, bool squared) {
  T q[D];
#pragma unroll
  for (int k = 0; k < D; ++k) q[k] = q_ptr[k];
  TopTwo<T> t{T(-INFINITY), T(-INFINITY), INT32_MAX};
  for (int j = threadIdx.x % 32; j < n; j += 32) {
    const T w = -pair_cost<D>(q, b + int64_t(j) * D, squared) - price[j];
    if (w > t.w1) t.w2 = t.w1, t.w1 = w, t.j1 = j;  // j rises along a lane: '>' keeps the lowest on ties
    else t.w2 = fmax(t.w2, w);
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const T ow1 = __shfl_xor_sync(0xffffffffu, t.w1, offset);
    const T ow2 = __shfl_xor_sync(0xffffffffu, t.w2, offset);
    const int32_t oj1 = __shfl_xor_sync(0xffffffffu, t.j1, offset);
    if (ow1 > t.w1 || (ow1 == t.w1 && oj1 < t.j1)) {
      t.w2 = fmax(t.w1, ow2);
      t.w1 = ow1;
      t.j1 = oj1;
    } else {
      t.w2 = fmax(t.w2, ow1);
    }
  }
  return t;
}

// Min (is_min) or max over the block; all threads get the result. smem: kAuctionThreads values of T.
template <typename T>
__device__ T block_min_or_max(T v, bool is_min, T* smem) {
  smem[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kAuctionThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const T other = smem[threadIdx.x + stride];
      smem[threadIdx.x] = is_min ? fmin(smem[threadIdx.x], other) : fmax(smem[threadIdx.x], other);
    }
    __syncthreads();
  }
  const T out = smem[0];
  __syncthreads();
  return out;
}

}  // namespace pointops
