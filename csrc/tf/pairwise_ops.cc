// TensorFlow op for the pairwise Chamfer matrix (CPU kernel; pointops.metrics batches pairs through
// PointopsNnDistance on a GPU instead).
#include "common/cpu_dispatch.h"
#include "tf/tf_door.h"

namespace pointops {
namespace {

REGISTER_OP("PointopsPairwiseChamfer")
    .Input("x: T")              // [S, N, D]
    .Input("y: T")              // [R, M, D] (with symmetric: x itself)
    .Input("x_lengths: int32")  // [S]
    .Input("y_lengths: int32")  // [R]
    .Output("chamfer: T")       // [S, R]
    .Attr("T: {float, double}")
    .Attr("symmetric: bool = false")  // y is x: each pair once, mirrored, diagonal 0
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, y, x_len, y_len;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &y));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &x_len));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &y_len));
      DimensionHandle dim;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(x, 2), c->Dim(y, 2), &dim));
      c->set_output(0, c->MakeShape({c->Dim(x, 0), c->Dim(y, 0)}));
      return absl::OkStatus();
    });

template <typename T>
class PairwiseChamferCpuOp : public OpKernel {
 public:
  explicit PairwiseChamferCpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("symmetric", &symmetric_));
  }
  void Compute(OpKernelContext* ctx) override {
    const char* op = "PointopsPairwiseChamfer";
    const Tensor &x = ctx->input(0), &y = ctx->input(1), &x_len = ctx->input(2), &y_len = ctx->input(3);
    std::string err = check_cloud_sets(op, dims_of(x), dims_of(y), symmetric_);
    if (err.empty())
      err = check_lengths(op, "x_lengths", x_len.flat<int32_t>().data(), dims_of(x_len), x.dim_size(0), x.dim_size(1));
    if (err.empty())
      err = check_lengths(op, "y_lengths", y_len.flat<int32_t>().data(), dims_of(y_len), y.dim_size(0), y.dim_size(1));
    OP_REQUIRES(ctx, err.empty(), tensorflow::errors::InvalidArgument(err));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({x.dim_size(0), y.dim_size(0)}), &out));
    // With symmetric the core reads x for both sides (its contract: the same pointer).
    const Tensor& refs = symmetric_ ? x : y;
    run_guarded(ctx, op, [&] {
      cpu_kernels_of<T>().pairwise_chamfer(x.flat<T>().data(), refs.flat<T>().data(), x.dim_size(0), refs.dim_size(0),
                                           x.dim_size(1), refs.dim_size(1), int(x.dim_size(2)),
                                           x_len.flat<int32_t>().data(),
                                           (symmetric_ ? x_len : y_len).flat<int32_t>().data(), symmetric_,
                                           out->flat<T>().data(), tf_parallel_for(ctx));
    });
  }

 private:
  bool symmetric_ = false;
};

#define REGISTER_CPU(T)                                                                    \
  REGISTER_KERNEL_BUILDER(Name("PointopsPairwiseChamfer").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          PairwiseChamferCpuOp<T>)
REGISTER_CPU(float);
REGISTER_CPU(double);
#undef REGISTER_CPU

}  // namespace
}  // namespace pointops
