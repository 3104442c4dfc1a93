// The XLA custom-call handlers of the CUDA kernels ("CUDA" platform; xla_call.h): XLA's device
// buffers (the operands, then the tuple's elements, the workspace last) and stream in, the same core
// calls as the TF ops' GPU kernels. The CUDA kernels take the lengths on the host, where the TF
// kernels check them (HostMemory); under XLA they are device buffers, so each handler copies the [B]
// lengths to the host and waits for them before it checks them and launches.
#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "checks/input_checks.h"
#include "common/thread_pool.h"
#include "emd/emd.h"
#include "emd/transport.h"
#include "knn/knn.h"
#include "nn/nn.h"
#include "tf/xla/xla_call.h"

namespace pointops {
namespace {

std::string cuda_error(const char* op, CudaStatus status) {
  return status == 0 ? "" : std::string(op) + ": CUDA error: " + cuda_status_string(status);
}

// Device [count] values into host memory, waiting for the stream (and so for what came before).
template <typename V>
std::string to_host(const char* op, const void* device, int64_t count, std::vector<V>* host, cudaStream_t stream) {
  host->resize(count);
  if (count == 0) return "";
  CudaStatus status = cudaMemcpyAsync(host->data(), device, sizeof(V) * count, cudaMemcpyDeviceToHost, stream);
  if (status == 0) status = cudaStreamSynchronize(stream);
  return cuda_error(op, status);
}

template <typename V>
std::string to_device(const char* op, void* device, const std::vector<V>& host, cudaStream_t stream) {
  if (host.empty()) return "";
  CudaStatus status = cudaMemcpyAsync(device, host.data(), sizeof(V) * host.size(), cudaMemcpyHostToDevice, stream);
  if (status == 0) status = cudaStreamSynchronize(stream);  // the host vector dies with the handler
  return cuda_error(op, status);
}

// The lengths (buffers 2 and 3) on the host, checked as the TF kernels check them.
std::string host_lengths(const char* op, void** buffers, const XlaCall& c, std::vector<int32_t>* a_len,
                         std::vector<int32_t>* b_len, cudaStream_t stream, int64_t min_len = 1) {
  std::string err = to_host(op, buffers[2], c.B, a_len, stream);
  if (err.empty()) err = to_host(op, buffers[3], c.B, b_len, stream);
  return err.empty() ? check_both_lengths(op, a_len->data(), b_len->data(), c.B, c.N, c.M, min_len) : err;
}

// The kernels give a cloud whose pair costs overflow the float type an infinite gap ([B] on the host).
template <typename T>
std::string check_gap(const char* op, const std::vector<T>& gap) {
  for (size_t c = 0; c < gap.size(); ++c) {
    if (gap[c] == T(INFINITY))
      return std::string(op) + ": the pair costs of cloud " + std::to_string(c) + " overflow " +
             (sizeof(T) == 4 ? "float32" : "float64") + "; scale the clouds down" +
             (sizeof(T) == 4 ? " or use float64" : "");
  }
  return "";
}

template <typename T>
T* buf(void** buffers, int k) { return static_cast<T*>(buffers[k]); }

}  // namespace

// buffers: a, b, a_lengths, b_lengths, dist_ab, idx_ab, dist_ba, idx_ba, workspace.
std::string nn_distance_cuda_handler(cudaStream_t stream, void** buffers, const XlaCall& c) {
  const char* op = "PointopsNnDistance";
  if (c.euclidean) return check_gpu_squared(op, false);
  return run_typed(c, op, [&](auto zero) {
    using T = decltype(zero);
    std::vector<int32_t> a_len, b_len;
    std::string err = host_lengths(op, buffers, c, &a_len, &b_len, stream);
    if (!err.empty()) return err;
    return cuda_error(op, nn_distance_cuda<T>(buf<T>(buffers, 0), buf<T>(buffers, 1), c.B, c.N, c.M, c.D,
                                              a_len.data(), b_len.data(), buf<T>(buffers, 4),
                                              buf<int32_t>(buffers, 5), buf<T>(buffers, 6), buf<int32_t>(buffers, 7),
                                              buffers[8], stream));
  });
}

// buffers: a, b, idx_ab, idx_ba, grad_dist_ab, grad_dist_ba, grad_a, grad_b, workspace.
std::string nn_distance_grad_cuda_handler(cudaStream_t stream, void** buffers, const XlaCall& c) {
  const char* op = "PointopsNnDistanceGrad";
  if (c.euclidean) return check_gpu_squared(op, false);
  return run_typed(c, op, [&](auto zero) {
    using T = decltype(zero);
    return cuda_error(op, nn_distance_grad_cuda<T>(buf<T>(buffers, 0), buf<T>(buffers, 1), c.B, c.N, c.M, c.D,
                                                   buf<int32_t>(buffers, 2), buf<int32_t>(buffers, 3),
                                                   buf<T>(buffers, 4), buf<T>(buffers, 5), buf<T>(buffers, 6),
                                                   buf<T>(buffers, 7), buffers[8], stream));
  });
}

// buffers: a, b, a_lengths, b_lengths, dist, idx, workspace.
std::string knn_cuda_handler(cudaStream_t stream, void** buffers, const XlaCall& c) {
  const char* op = "PointopsKnn";
  return run_typed(c, op, [&](auto zero) {
    using T = decltype(zero);
    std::vector<int32_t> a_len, b_len;
    std::string err = host_lengths(op, buffers, c, &a_len, &b_len, stream, 0);
    if (!err.empty()) return err;
    return cuda_error(op, knn_cuda<T>(buf<T>(buffers, 0), buf<T>(buffers, 1), c.B, c.N, c.M, c.D, c.k,
                                      Metric(c.norm), a_len.data(), b_len.data(), buf<T>(buffers, 4),
                                      buf<int32_t>(buffers, 5), buffers[6], stream));
  });
}

// buffers: a, b, a_lengths, b_lengths, assignment, gap, workspace.
std::string emd_match_cuda_handler(cudaStream_t stream, void** buffers, const XlaCall& c) {
  const char* op = "PointopsEmdMatch";
  return run_typed(c, op, [&](auto zero) {
    using T = decltype(zero);
    std::vector<int32_t> a_len, b_len;
    std::string err = host_lengths(op, buffers, c, &a_len, &b_len, stream);
    if (err.empty()) err = check_equal_lengths(op, a_len.data(), b_len.data(), c.B);
    if (err.empty())
      err = cuda_error(op, emd_match_cuda<T>(buf<T>(buffers, 0), buf<T>(buffers, 1), c.B, c.N, c.D, a_len.data(),
                                             c.emd_options(), buf<int32_t>(buffers, 4), buf<T>(buffers, 5),
                                             buffers[6], stream));
    std::vector<T> gap;
    if (err.empty()) err = to_host(op, buffers[5], c.B, &gap, stream);
    return err.empty() ? check_gap(op, gap) : err;
  });
}

// buffers: a, b, a_lengths, b_lengths, plan_i, plan_j, plan_mass, gap, workspace. The plan is made on
// the host (emd/transport.h), then copied into XLA's buffers.
std::string emd_transport_cuda_handler(cudaStream_t stream, void** buffers, const XlaCall& c) {
  const char* op = "PointopsEmdTransport";
  return run_typed(c, op, [&](auto zero) {
    using T = decltype(zero);
    std::vector<int32_t> a_len, b_len;
    std::string err = host_lengths(op, buffers, c, &a_len, &b_len, stream);
    if (!err.empty()) return err;
    const int64_t entries = c.B * (c.N + c.M - 1);
    std::vector<int32_t> plan_i(entries), plan_j(entries);
    std::vector<T> mass(entries), gap(c.B);
    err = cuda_error(op, emd_transport_cuda<T>(buf<T>(buffers, 0), buf<T>(buffers, 1), c.B, c.N, c.M, c.D,
                                               a_len.data(), b_len.data(), c.emd_options(), plan_i.data(),
                                               plan_j.data(), mass.data(), gap.data(), thread_pool_parallel_for(0),
                                               buffers[8], stream));
    if (err.empty()) err = to_device(op, buffers[4], plan_i, stream);
    if (err.empty()) err = to_device(op, buffers[5], plan_j, stream);
    if (err.empty()) err = to_device(op, buffers[6], mass, stream);
    if (err.empty()) err = to_device(op, buffers[7], gap, stream);
    return err.empty() ? check_gap(op, gap) : err;
  });
}

}  // namespace pointops
