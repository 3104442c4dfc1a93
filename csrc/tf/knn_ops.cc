// TensorFlow op for the k nearest neighbours (CPU and CUDA kernels). Its gradient is taken in TF from
// the indices (pointops/knn.py), so there is no gradient op.
#include "common/cpu_dispatch.h"
#include "knn/knn.h"
#include "tf/tf_door.h"

namespace pointops {
namespace {

constexpr const char* kOp = "PointopsKnn";

REGISTER_OP("PointopsKnn")
    .Input("a: T")              // [B, N, D] queries
    .Input("b: T")              // [B, M, D] references
    .Input("a_lengths: int32")  // [B], each in [0, N]
    .Input("b_lengths: int32")  // [B], each in [0, M]
    .Output("dist: T")          // [B, N, k], ascending
    .Output("idx: int32")       // [B, N, k]
    .Attr("T: {float, double}")
    .Attr("k: int >= 1")
    .Attr("norm: int = 2")      // 2: squared Euclidean, 1: L1
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle a, b;
      DimensionHandle batch;
      TF_RETURN_IF_ERROR(point_set_shapes(c, &a, &b, &batch));
      int k = 0;
      TF_RETURN_IF_ERROR(c->GetAttr("k", &k));
      const ShapeHandle out = c->MakeShape({batch, c->Dim(a, 1), k});
      c->set_output(0, out);
      c->set_output(1, out);
      return absl::OkStatus();
    });

// The shared part of the CPU and GPU kernels: attributes, checks (lengths on the host) and outputs.
class KnnOpBase : public OpKernel {
 public:
  explicit KnnOpBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("k", &k_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("norm", &norm_));
  }

 protected:
  // False after setting ctx's status.
  bool checked_outputs(OpKernelContext* ctx, Tensor** dist, Tensor** idx) {
    const Tensor &a = ctx->input(0), &b = ctx->input(1), &a_len = ctx->input(2), &b_len = ctx->input(3);
    std::string err = check_point_sets(kOp, dims_of(a), dims_of(b), false);
    if (err.empty()) err = check_knn_args(kOp, k_, norm_, dims_of(a));
    if (err.empty())
      err = check_lengths(kOp, "a_lengths", a_len.flat<int32_t>().data(), dims_of(a_len), a.dim_size(0), a.dim_size(1), 0);
    if (err.empty())
      err = check_lengths(kOp, "b_lengths", b_len.flat<int32_t>().data(), dims_of(b_len), a.dim_size(0), b.dim_size(1), 0);
    if (!err.empty()) {
      ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
      return false;
    }
    const TensorShape shape({a.dim_size(0), a.dim_size(1), k_});
    for (auto [k, dst] : {std::pair{0, dist}, std::pair{1, idx}}) {
      const auto status = ctx->allocate_output(k, shape, dst);
      if (!status.ok()) {
        ctx->SetStatus(status);
        return false;
      }
    }
    return true;
  }
  int k_ = 1, norm_ = 2;
};

template <typename T>
class KnnCpuOp : public KnnOpBase {
 public:
  using KnnOpBase::KnnOpBase;
  void Compute(OpKernelContext* ctx) override {
    Tensor *dist, *idx;
    if (!checked_outputs(ctx, &dist, &idx)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    run_guarded(ctx, kOp, [&] {
      cpu_kernels_of<T>().knn(a.flat<T>().data(), b.flat<T>().data(), a.dim_size(0), a.dim_size(1), b.dim_size(1),
                              int(a.dim_size(2)), k_, Metric(norm_), ctx->input(2).flat<int32_t>().data(),
                              ctx->input(3).flat<int32_t>().data(), dist->flat<T>().data(),
                              idx->flat<int32_t>().data(), tf_parallel_for(ctx));
    });
  }
};

#if GOOGLE_CUDA
template <typename T>
class KnnGpuOp : public KnnOpBase {
 public:
  using KnnOpBase::KnnOpBase;
  void Compute(OpKernelContext* ctx) override {
    Tensor *dist, *idx, scratch;
    if (!checked_outputs(ctx, &dist, &idx)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    void* ws = allocate_scratch(ctx, knn_cuda_workspace_bytes(a.dim_size(0), a.dim_size(1), b.dim_size(1), k_, sizeof(T)), &scratch);
    if (ws == nullptr) return;
    set_cuda_status(ctx, kOp,
                    knn_cuda<T>(a.flat<T>().data(), b.flat<T>().data(), a.dim_size(0), a.dim_size(1), b.dim_size(1),
                                int(a.dim_size(2)), k_, Metric(norm_), ctx->input(2).flat<int32_t>().data(),
                                ctx->input(3).flat<int32_t>().data(), dist->flat<T>().data(),
                                idx->flat<int32_t>().data(), ws, tf_cuda_stream(ctx)));
  }
};
#endif

#define REGISTER_CPU(T) \
  REGISTER_KERNEL_BUILDER(Name("PointopsKnn").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), KnnCpuOp<T>)
REGISTER_CPU(float);
REGISTER_CPU(double);
#undef REGISTER_CPU

#if GOOGLE_CUDA
// Lengths stay in host memory: they are checked on the host before the launch.
#define REGISTER_GPU(T)                                                                              \
  REGISTER_KERNEL_BUILDER(Name("PointopsKnn").Device(tensorflow::DEVICE_GPU).TypeConstraint<T>("T") \
                              .HostMemory("a_lengths").HostMemory("b_lengths"),                     \
                          KnnGpuOp<T>)
REGISTER_GPU(float);
REGISTER_GPU(double);
#undef REGISTER_GPU
#endif

}  // namespace
}  // namespace pointops
