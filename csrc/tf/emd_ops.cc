// TensorFlow ops for the auction assignment (CPU and CUDA kernels), and for pointops.emd's default
// on the CPU. The assignment op has no gradient: the EMD's gradient flows through the matched cost,
// computed in TF from the assignment.
#include "common/cpu_dispatch.h"
#include "emd/matched_cost.h"
#include "tf/emd_attrs.h"
#include "tf/tf_door.h"

namespace pointops {
namespace {

// Both assignment ops: assignment [B, N], gap [B], and PointopsEmdMean's distance [].
absl::Status assignment_shapes(InferenceContext* c) {
  ShapeHandle a, b;
  DimensionHandle batch, n;
  TF_RETURN_IF_ERROR(point_set_shapes(c, &a, &b, &batch));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 1), c->Dim(b, 1), &n));
  c->set_output(0, c->MakeShape({batch, n}));
  c->set_output(1, c->MakeShape({batch}));
  if (c->num_outputs() == 3) c->set_output(2, c->Scalar());
  return absl::OkStatus();
}

REGISTER_OP("PointopsEmdMatch")
    .Input("a: T")              // [B, N, D]
    .Input("b: T")              // [B, N, D]
    .Input("a_lengths: int32")  // [B]
    .Input("b_lengths: int32")  // [B], equal to a_lengths
    .Output("assignment: int32")  // [B, N]: the b point matched to each a point, -1 at padding
    .Output("gap: T")             // [B]: certified bound on mean cost - optimal mean cost
    .Attr("T: {float, double}")
    .Attr("squared: bool = false")
    .Attr("rel_tol: float = 0.001")
    .Attr("max_rounds: int = 0")
    .SetShapeFn(assignment_shapes);

// pointops.emd's default (full clouds, means over points and batch) in one op, CPU only: the
// assignment's cost reduced here instead of in a dozen eager TF ops, about 1 ms at B=1 N=2048. Its
// gradient (pointops/emd.py, _emd.mean_cost_gradient) is taken in TF with the assignment held.
REGISTER_OP("PointopsEmdMean")
    .Input("a: T")              // [B, N, D]
    .Input("b: T")              // [B, N, D]
    .Input("a_lengths: int32")  // [B]
    .Input("b_lengths: int32")  // [B], equal to a_lengths
    .Output("assignment: int32")  // [B, N], as PointopsEmdMatch's
    .Output("gap: T")             // [B]
    .Output("distance: T")        // []: the mean over the batch of each cloud's mean matched cost
    .Attr("T: {float, double}")
    .Attr("squared: bool = false")
    .Attr("rel_tol: float = 0.001")
    .Attr("max_rounds: int = 0")
    .SetShapeFn(assignment_shapes);

class EmdOpBase : public OpKernel {
 public:
  EmdOpBase(OpKernelConstruction* ctx, const char* op) : OpKernel(ctx), op_(op) { read_emd_attrs(ctx, op, &options_); }

 protected:
  // Checks the inputs (a_lengths must equal b_lengths) and allocates the outputs 0 and 1.
  bool prepare(OpKernelContext* ctx, Tensor** assignment, Tensor** gap) {
    if (!check_inputs(ctx, op_, true)) return false;
    const Tensor &a = ctx->input(0), &a_len = ctx->input(2), &b_len = ctx->input(3);
    const std::string err = check_equal_lengths(op_, a_len.flat<int32_t>().data(), b_len.flat<int32_t>().data(),
                                                a.dim_size(0));
    if (!err.empty()) {
      ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
      return false;
    }
    auto status = ctx->allocate_output(0, TensorShape({a.dim_size(0), a.dim_size(1)}), assignment);
    if (status.ok()) status = ctx->allocate_output(1, TensorShape({a.dim_size(0)}), gap);
    if (!status.ok()) ctx->SetStatus(status);
    return status.ok();
  }
  // The CPU auction into outputs 0 and 1 (prepare's); false after setting ctx's status.
  template <typename T>
  bool run_cpu(OpKernelContext* ctx, Tensor* assignment, Tensor* gap) {
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    const int64_t B = a.dim_size(0), N = a.dim_size(1);
    const int D = int(a.dim_size(2));
    const int32_t* len = ctx->input(2).flat<int32_t>().data();
    run_guarded(ctx, op_, [&] {
      cpu_kernels_of<T>().emd_match(a.flat<T>().data(), b.flat<T>().data(), B, N, D, len, options_,
                                    assignment->flat<int32_t>().data(), gap->flat<T>().data(), tf_parallel_for(ctx));
    });
    if (!ctx->status().ok()) return false;
    const std::string err = check_emd_cost_range(op_, a.flat<T>().data(), b.flat<T>().data(), B, N, N, D, len, len,
                                                 gap->flat<T>().data());
    if (!err.empty()) ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
    return err.empty();
  }
  const char* op_;
  EmdOptions options_;
};

template <typename T>
class EmdMatchCpuOp : public EmdOpBase {
 public:
  explicit EmdMatchCpuOp(OpKernelConstruction* ctx) : EmdOpBase(ctx, "PointopsEmdMatch") {}
  void Compute(OpKernelContext* ctx) override {
    Tensor *assignment, *gap;
    if (prepare(ctx, &assignment, &gap)) run_cpu<T>(ctx, assignment, gap);
  }
};

template <typename T>
class EmdMeanCpuOp : public EmdOpBase {
 public:
  explicit EmdMeanCpuOp(OpKernelConstruction* ctx) : EmdOpBase(ctx, "PointopsEmdMean") {}
  void Compute(OpKernelContext* ctx) override {
    Tensor *assignment, *gap, *distance;
    if (!prepare(ctx, &assignment, &gap)) return;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({}), &distance));
    if (!run_cpu<T>(ctx, assignment, gap)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    distance->scalar<T>()() = T(mean_matched_cost(a.flat<T>().data(), b.flat<T>().data(), a.dim_size(0), a.dim_size(1),
                                                  int(a.dim_size(2)), ctx->input(2).flat<int32_t>().data(),
                                                  assignment->flat<int32_t>().data(), gap->flat<T>().data(),
                                                  options_.squared));
  }
};

#if GOOGLE_CUDA
template <typename T>
class EmdMatchGpuOp : public EmdOpBase {
 public:
  explicit EmdMatchGpuOp(OpKernelConstruction* ctx) : EmdOpBase(ctx, "PointopsEmdMatch") {}
  void Compute(OpKernelContext* ctx) override {
    Tensor *assignment, *gap, scratch;
    if (!prepare(ctx, &assignment, &gap)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    const int64_t B = a.dim_size(0), N = a.dim_size(1);
    void* ws = allocate_scratch(ctx, emd_match_cuda_workspace_bytes(B, N), &scratch);
    if (ws == nullptr) return;
    set_cuda_status(ctx, "PointopsEmdMatch",
                    emd_match_cuda<T>(a.flat<T>().data(), b.flat<T>().data(), B, N, int(a.dim_size(2)),
                                      ctx->input(2).flat<int32_t>().data(), options_,
                                      assignment->flat<int32_t>().data(), gap->flat<T>().data(), ws,
                                      tf_cuda_stream(ctx)));
  }
};
#endif

#define POINTOPS_REGISTER(T)                                                                        \
  REGISTER_KERNEL_BUILDER(Name("PointopsEmdMatch").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          EmdMatchCpuOp<T>);                                                       \
  REGISTER_KERNEL_BUILDER(Name("PointopsEmdMean").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          EmdMeanCpuOp<T>);
POINTOPS_REGISTER(float)
POINTOPS_REGISTER(double)
#undef POINTOPS_REGISTER

#if GOOGLE_CUDA
#define POINTOPS_REGISTER(T)                                                                        \
  REGISTER_KERNEL_BUILDER(Name("PointopsEmdMatch").Device(tensorflow::DEVICE_GPU).TypeConstraint<T>("T") \
                              .HostMemory("a_lengths").HostMemory("b_lengths"),                     \
                          EmdMatchGpuOp<T>);
POINTOPS_REGISTER(float)
POINTOPS_REGISTER(double)
#undef POINTOPS_REGISTER
#endif

}  // namespace
}  // namespace pointops
