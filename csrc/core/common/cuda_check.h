#pragma once
// CUDA error handling for core code: core returns a CudaStatus and never throws or aborts;
// each door turns a failure into its own error (a TF Status, a Python exception).
#include <cuda_runtime.h>

// expr: a cudaError_t or a CudaStatus; returns it (as a CudaStatus) from the caller if non-zero.
#define POINTOPS_CUDA_RETURN_IF_ERROR(expr)                                \
  do {                                                                     \
    const int pointops_status_ = static_cast<int>(expr);                   \
    if (pointops_status_ != 0) return pointops_status_;                    \
  } while (0)

// After a kernel launch: the launch error, if any.
#define POINTOPS_CUDA_RETURN_IF_LAUNCH_FAILED() POINTOPS_CUDA_RETURN_IF_ERROR(cudaGetLastError())
