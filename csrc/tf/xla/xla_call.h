#pragma once
// What the XLA lowerings (*_lowering.cc, TensorFlow) hand the custom-call handlers (host_handlers.cc,
// cuda_handlers.cc, no TensorFlow): the call's sizes and attributes as the custom call's opaque
// text, and the list of targets. The handlers use XLA's custom-call API with status
// (API_VERSION_STATUS_RETURNING_UNIFIED), whose entry points are plain C signatures:
//   Host: void(void* out, const void** in, const char* opaque, size_t opaque_len, XlaCustomCallStatus*)
//   CUDA: void(cudaStream_t, void** buffers, const char* opaque, size_t opaque_len, XlaCustomCallStatus*)
// so the same handlers serve TensorFlow's XLA (registered by the op library) and any other XLA client
// (pointops._C exports them for JAX). Every custom call returns a tuple; on the host `out` is then the
// array of its elements' pointers, on CUDA `buffers` holds the operands, then the tuple's elements.
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "common/point_math.h"  // cudaStream_t, declared without CUDA's headers
#include "emd/emd.h"

namespace pointops {

struct XlaCall {
  static constexpr uint32_t kMagic = 0x706f7032;  // "pop2": the layout below, version 2
  uint32_t magic = kMagic;
  int32_t value_bytes = 4;  // 4: float32 points, 8: float64
  int64_t B = 0, N = 0, M = 0;  // a: [B, N, D], b: [B, M, D]; pairwise: x [B, N, D] and y [R, M, D]
  int64_t R = 0;                // pairwise: y's cloud count
  int32_t D = 0;
  int32_t k = 0;                // knn
  int32_t norm = 2;             // knn: 2 squared Euclidean, 1 L1
  int32_t algorithm = 0;        // nn_distance: NnAlgorithm
  int32_t symmetric = 0;        // pairwise: y is x
  int32_t squared = 0;          // EMD: squared cost
  int32_t euclidean = 0;        // nn_distance and its gradient: Euclidean distances (not squared); host only
  double rel_tol = 1e-3;        // EMD
  int64_t max_rounds = 0;       // EMD
  uint64_t workspace_bytes = 0; // CUDA: the size of the workspace, the tuple's last element

  EmdOptions emd_options() const {
    EmdOptions options;
    options.squared = squared != 0;
    options.rel_tol = rel_tol;
    options.max_rounds = max_rounds;
    return options;
  }

  // As text (hex digits): JAX passes a legacy custom call's backend config as a Python str, which must
  // survive UTF-8; TF's lowering passes the same text.
  std::string encode() const {
    static const char kDigits[] = "0123456789abcdef";
    const auto* bytes = reinterpret_cast<const unsigned char*>(this);
    std::string text;
    for (size_t k = 0; k < sizeof *this; ++k) text += kDigits[bytes[k] >> 4], text += kDigits[bytes[k] & 15];
    return text;
  }
  // False when the text is not an XlaCall of this layout (a foreign or corrupted custom call).
  static bool decode(const char* opaque, size_t length, XlaCall* call) {
    if (opaque == nullptr || length != 2 * sizeof(XlaCall)) return false;
    auto digit = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    auto* bytes = reinterpret_cast<unsigned char*>(call);
    for (size_t k = 0; k < sizeof(XlaCall); ++k) {
      const int high = digit(opaque[2 * k]), low = digit(opaque[2 * k + 1]);
      if (high < 0 || low < 0) return false;
      bytes[k] = static_cast<unsigned char>(high * 16 + low);
    }
    return call->magic == kMagic && (call->value_bytes == 4 || call->value_bytes == 8);
  }
};

// The custom-call targets: X(target name, handler). Each name is registered for the host, and those
// the GPU runs (POINTOPS_XLA_CUDA_TARGETS) for CUDA as well, under the same name.
#define POINTOPS_XLA_HOST_TARGETS(X)                      \
  X("pointops_nn_distance", nn_distance_host)             \
  X("pointops_nn_distance_grad", nn_distance_grad_host)   \
  X("pointops_chamfer_mean", chamfer_mean_host)           \
  X("pointops_knn", knn_host)                             \
  X("pointops_emd_match", emd_match_host)                 \
  X("pointops_emd_mean", emd_mean_host)                   \
  X("pointops_emd_transport", emd_transport_host)         \
  X("pointops_pairwise_chamfer", pairwise_chamfer_host)

#define POINTOPS_XLA_CUDA_TARGETS(X)                      \
  X("pointops_nn_distance", nn_distance_cuda_handler)     \
  X("pointops_nn_distance_grad", nn_distance_grad_cuda_handler) \
  X("pointops_knn", knn_cuda_handler)                     \
  X("pointops_emd_match", emd_match_cuda_handler)         \
  X("pointops_emd_transport", emd_transport_cuda_handler)

// Runs fn(float()) or fn(double()) per the call's dtype; an exception (out of memory above all)
// becomes the error instead of unwinding through XLA's frames.
template <typename Fn>
std::string run_typed(const XlaCall& call, const char* op, Fn&& fn) {
  try {
    return call.value_bytes == 8 ? fn(double()) : fn(float());
  } catch (const std::bad_alloc&) {
    return std::string(op) + ": out of memory";
  } catch (const std::exception& err) {
    return std::string(op) + ": " + err.what();
  }
}

// A handler's body returns "" on success, else the error, which the door's entry point (the op
// library's or pointops._C's) puts in XLA's status.
#define POINTOPS_DECLARE_HOST_HANDLER(name, fn) std::string fn(void** out, const void** in, const XlaCall& call);
POINTOPS_XLA_HOST_TARGETS(POINTOPS_DECLARE_HOST_HANDLER)
#undef POINTOPS_DECLARE_HOST_HANDLER
#ifdef POINTOPS_WITH_CUDA
#define POINTOPS_DECLARE_CUDA_HANDLER(name, fn) \
  std::string fn(cudaStream_t stream, void** buffers, const XlaCall& call);
POINTOPS_XLA_CUDA_TARGETS(POINTOPS_DECLARE_CUDA_HANDLER)
#undef POINTOPS_DECLARE_CUDA_HANDLER
#endif

}  // namespace pointops

typedef struct XlaCustomCallStatus_ XlaCustomCallStatus;  // XLA's (xla/service/custom_call_status.h)

namespace pointops {

// Puts a handler's error into XLA's status; each door has its own (the op library and pointops._C
// reach XLA's status differently).
using ReportFailure = void (*)(XlaCustomCallStatus* status, const std::string& message);

inline std::string foreign_call(size_t length) {
  return "pointops: a custom call whose descriptor (" + std::to_string(length) +
         " characters) is not of this pointops build; rebuild the graph with the pointops that runs it";
}

// The entry points XLA calls: decode the descriptor, run the handler, report its error.
template <std::string (*Handler)(void**, const void**, const XlaCall&), ReportFailure Report>
void host_entry(void* out, const void** in, const char* opaque, size_t opaque_len, XlaCustomCallStatus* status) {
  XlaCall call;
  const std::string err = XlaCall::decode(opaque, opaque_len, &call)
                              ? Handler(static_cast<void**>(out), in, call) : foreign_call(opaque_len);
  if (!err.empty()) Report(status, err);
}

#ifdef POINTOPS_WITH_CUDA
template <std::string (*Handler)(cudaStream_t, void**, const XlaCall&), ReportFailure Report>
void cuda_entry(cudaStream_t stream, void** buffers, const char* opaque, size_t opaque_len,
                XlaCustomCallStatus* status) {
  XlaCall call;
  const std::string err = XlaCall::decode(opaque, opaque_len, &call) ? Handler(stream, buffers, call)
                                                                     : foreign_call(opaque_len);
  if (!err.empty()) Report(status, err);
}
#endif

}  // namespace pointops
