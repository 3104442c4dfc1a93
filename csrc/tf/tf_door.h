#pragma once
// Helpers for the TensorFlow kernels: TF's CPU pool as a ParallelFor, TF's CUDA stream,
// shapes as vectors for the shared checks, the point sets' shape inference and the lengths check.
#include <new>
#include <string>
#include <vector>

#include "checks/input_checks.h"
#include "common/parallel.h"
#include "common/point_math.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/util/work_sharder.h"
#if GOOGLE_CUDA
#include "xla/stream_executor/stream.h"
#endif

namespace pointops {

// The TF names every op file uses.
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// TF's intra-op pool as a ParallelFor. An exception in a shard (std::bad_alloc above all) would
// terminate the process on TF's thread: the first one is kept, the remaining shards skip their
// work, and it is rethrown on the calling thread for run_guarded() to turn into a TF error.
inline ParallelFor tf_parallel_for(tensorflow::OpKernelContext* ctx) {
  auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
  return [workers](int64_t total, int64_t cost_per_unit, const RangeFn& fn) {
    FirstFailure failure;
    tensorflow::Shard(workers->num_threads, workers->workers, total, cost_per_unit,
                      [&](int64_t begin, int64_t end) { failure.run([&] { fn(begin, end); }); });
    failure.rethrow_if_failed();
  };
}

// Runs a CPU kernel call; an exception becomes ctx's status (out of memory: ResourceExhausted)
// instead of escaping Compute(), which would terminate the process.
template <typename Fn>
void run_guarded(tensorflow::OpKernelContext* ctx, const char* op, Fn&& fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
    ctx->SetStatus(tensorflow::errors::ResourceExhausted(op, ": out of memory in the CPU kernel"));
  } catch (const std::exception& err) {
    ctx->SetStatus(tensorflow::errors::Internal(op, ": ", err.what()));
  }
}

inline std::vector<int64_t> dims_of(const tensorflow::Tensor& t) {
  std::vector<int64_t> dims;
  for (int k = 0; k < t.dims(); ++k) dims.push_back(t.dim_size(k));
  return dims;
}

// The shape function's part shared by the ops whose inputs are a [B, N, D], b [B, M, D],
// a_lengths [B] and b_lengths [B]: the ranks, and a and b agreeing on B and D. a, b and batch
// receive the two shapes and the merged B.
inline absl::Status point_set_shapes(InferenceContext* c, ShapeHandle* a, ShapeHandle* b, DimensionHandle* batch) {
  ShapeHandle lengths;
  DimensionHandle dim;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, a));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, b));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &lengths));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &lengths));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(*a, 0), c->Dim(*b, 0), batch));
  return c->Merge(c->Dim(*a, 2), c->Dim(*b, 2), &dim);
}

// Checks a, b and their lengths (host tensors); false after setting ctx's status.
inline bool check_inputs(tensorflow::OpKernelContext* ctx, const char* op, bool equal_sizes) {
  const tensorflow::Tensor &a = ctx->input(0), &b = ctx->input(1);
  std::string err = check_point_sets(op, dims_of(a), dims_of(b), equal_sizes);
  if (err.empty()) {
    const int64_t B = a.dim_size(0);
    const tensorflow::Tensor &a_len = ctx->input(2), &b_len = ctx->input(3);
    err = check_lengths(op, "a_lengths", a_len.flat<int32_t>().data(), dims_of(a_len), B, a.dim_size(1));
    if (err.empty())
      err = check_lengths(op, "b_lengths", b_len.flat<int32_t>().data(), dims_of(b_len), B, b.dim_size(1));
  }
  if (!err.empty()) ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
  return err.empty();
}

// Scratch device (or host) memory from TF's allocator.
// nullptr (with ctx's status set) when the allocation fails.
inline void* allocate_scratch(tensorflow::OpKernelContext* ctx, size_t bytes,
                              tensorflow::Tensor* holder) {
  const auto status = ctx->allocate_temp(tensorflow::DT_INT8,
                                         tensorflow::TensorShape({int64_t(bytes) + 1}), holder);
  if (!status.ok()) {
    ctx->SetStatus(status);
    return nullptr;
  }
  return holder->flat<int8_t>().data();
}

#if GOOGLE_CUDA
// The CUDA stream TF runs this op on (never the default stream).
inline cudaStream_t tf_cuda_stream(tensorflow::OpKernelContext* ctx) {
  return static_cast<cudaStream_t>(
      ctx->op_device_context()->stream()->platform_specific_handle().stream);
}

inline void set_cuda_status(tensorflow::OpKernelContext* ctx, const char* op, CudaStatus status) {
  if (status != 0)
    ctx->SetStatus(tensorflow::errors::Internal(op, ": CUDA error: ", cuda_status_string(status)));
}
#endif

}  // namespace pointops
