// Registers the custom-call handlers (xla_call.h) with TensorFlow's XLA when the op library loads:
// every target for the host, and the GPU's for CUDA.
#include <string>

#include "tf/xla/xla_call.h"
#include "xla/service/custom_call_status_internal.h"
#include "xla/service/custom_call_target_registry.h"

namespace pointops {
namespace {

// TensorFlow's libraries do not export XlaCustomCallStatusSetFailure; the status is the struct of
// custom_call_status_internal.h (a failure is a message), as this TensorFlow's own headers define it.
void report_failure(XlaCustomCallStatus* status, const std::string& message) { status->message = message; }

const bool registered = [] {
  auto* registry = xla::CustomCallTargetRegistry::Global();
#define POINTOPS_REGISTER_HOST(name, fn) \
  registry->Register(name, reinterpret_cast<void*>(&host_entry<fn, report_failure>), "Host");
  POINTOPS_XLA_HOST_TARGETS(POINTOPS_REGISTER_HOST)
#undef POINTOPS_REGISTER_HOST
#if GOOGLE_CUDA
#define POINTOPS_REGISTER_CUDA(name, fn) \
  registry->Register(name, reinterpret_cast<void*>(&cuda_entry<fn, report_failure>), "CUDA");
  POINTOPS_XLA_CUDA_TARGETS(POINTOPS_REGISTER_CUDA)
#undef POINTOPS_REGISTER_CUDA
#endif
  return true;
}();

}  // namespace
}  // namespace pointops
