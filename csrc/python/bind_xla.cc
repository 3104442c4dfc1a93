// pointops._C.xla_targets(platform): the XLA custom-call handlers (csrc/tf/xla/) as capsules, for XLA
// clients other than TensorFlow, which registers them itself. JAX takes them with
// jax.ffi.register_ffi_target(name, capsule, platform, api_version=0) and calls them with
// jax.ffi.ffi_call(..., custom_call_api_version=3, legacy_backend_config=<the XlaCall text>)
// (benchmarks/xla_jax_check.py). The CUDA ones exist in builds with CUDA kernels.
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "emd/emd.h"
#include "knn/knn.h"
#include "nn/nn.h"
#include "python/bindings.h"
#include "tf/xla/xla_call.h"

namespace pointops {
namespace {

// The XLA client's own XlaCustomCallStatusSetFailure (xla/service/custom_call_status.h), found in the
// process when the client exports it; otherwise the message goes to stderr (the outputs are then
// undefined, so the message is the only report).
void report_failure(XlaCustomCallStatus* status, const std::string& message) {
  using SetFailure = void (*)(XlaCustomCallStatus*, const char*, size_t);
  static const auto set_failure = reinterpret_cast<SetFailure>(dlsym(RTLD_DEFAULT, "XlaCustomCallStatusSetFailure"));
  if (set_failure != nullptr) {
    set_failure(status, message.data(), message.size());
  } else {
    std::fprintf(stderr, "pointops custom call failed (the XLA client exports no status setter): %s\n",
                 message.c_str());
  }
}

pybind11::dict xla_targets(const std::string& platform) {
  pybind11::dict targets;
  auto capsule = [](void* fn) { return pybind11::capsule(fn, "xla._CUSTOM_CALL_TARGET"); };
  if (platform == "cpu" || platform == "host") {
#define POINTOPS_HOST_CAPSULE(name, fn) targets[name] = capsule(reinterpret_cast<void*>(&host_entry<fn, report_failure>));
    POINTOPS_XLA_HOST_TARGETS(POINTOPS_HOST_CAPSULE)
#undef POINTOPS_HOST_CAPSULE
  } else if (platform == "cuda") {
#ifdef POINTOPS_WITH_CUDA
#define POINTOPS_CUDA_CAPSULE(name, fn) targets[name] = capsule(reinterpret_cast<void*>(&cuda_entry<fn, report_failure>));
    POINTOPS_XLA_CUDA_TARGETS(POINTOPS_CUDA_CAPSULE)
#undef POINTOPS_CUDA_CAPSULE
#endif
  } else {
    throw pybind11::value_error("xla_targets: platform must be 'cpu' or 'cuda', got '" + platform + "'");
  }
  return targets;
}

#ifdef POINTOPS_WITH_CUDA
// The workspace the CUDA handler of `target` needs (its lowering's figure; emd_transport's is sized by
// the lowering from the lengths and is not offered here).
uint64_t xla_cuda_workspace_bytes(const std::string& target, int64_t B, int64_t N, int64_t M, int k, int value_bytes) {
  if (target == "pointops_nn_distance") return nn_distance_cuda_workspace_bytes(B, N, M);
  if (target == "pointops_nn_distance_grad") return nn_distance_grad_cuda_workspace_bytes(B, N, M);
  if (target == "pointops_knn") return knn_cuda_workspace_bytes(B, N, M, k, size_t(value_bytes));
  if (target == "pointops_emd_match") return emd_match_cuda_workspace_bytes(B, N);
  throw pybind11::value_error("xla_cuda_workspace_bytes: no workspace figure for '" + target + "'");
}
#endif

}  // namespace

void bind_xla(pybind11::module_& m) {
  m.def("xla_targets", &xla_targets, pybind11::arg("platform"),
        "name -> capsule of every XLA custom-call handler for 'cpu' or 'cuda' (empty without CUDA kernels): the "
        "legacy custom-call API with status (API_VERSION_STATUS_RETURNING_UNIFIED).");
  m.def("xla_call_descriptor", [](int value_bytes, int64_t B, int64_t N, int64_t M, int D, int k, int norm,
                                  int algorithm, bool squared, bool euclidean, double rel_tol, int64_t max_rounds,
                                  uint64_t workspace_bytes) {
    XlaCall call;
    call.value_bytes = value_bytes, call.B = B, call.N = N, call.M = M, call.D = D, call.k = k, call.norm = norm;
    call.algorithm = algorithm, call.squared = squared, call.euclidean = euclidean, call.rel_tol = rel_tol;
    call.max_rounds = max_rounds;
    call.workspace_bytes = workspace_bytes;
    return call.encode();
  }, pybind11::arg("value_bytes"), pybind11::arg("B"), pybind11::arg("N"), pybind11::arg("M"), pybind11::arg("D"),
     pybind11::arg("k") = 0, pybind11::arg("norm") = 2, pybind11::arg("algorithm") = 0, pybind11::arg("squared") = false,
     pybind11::arg("euclidean") = false, pybind11::arg("rel_tol") = 1e-3, pybind11::arg("max_rounds") = 0, pybind11::arg("workspace_bytes") = 0,
     "The opaque text (the XlaCall of csrc/tf/xla/xla_call.h) that a custom call to a pointops target carries.");
#ifdef POINTOPS_WITH_CUDA
  m.def("xla_cuda_workspace_bytes", &xla_cuda_workspace_bytes, pybind11::arg("target"), pybind11::arg("B"),
        pybind11::arg("N"), pybind11::arg("M"), pybind11::arg("k") = 0, pybind11::arg("value_bytes") = 4,
        "Bytes of the workspace (the tuple's last element) a CUDA custom call to `target` needs.");
#endif
}

}  // namespace pointops
