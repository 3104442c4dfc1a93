#include <cuda_runtime.h>

#include "common/point_math.h"

namespace pointops {
const char* cuda_status_string(CudaStatus status) {
  return cudaGetErrorString(static_cast<cudaError_t>(status));
}
}  // namespace pointops
