// TensorFlow op for the EMD between clouds of any sizes (the transportation auction, CPU kernel;
// on a GPU device TF places it on the CPU). No gradient: the EMD's gradient flows through the
// plan's cost, computed in TF from the plan entries.
#include "common/cpu_dispatch.h"
#include "tf/emd_attrs.h"
#include "tf/tf_door.h"

namespace pointops {
namespace {

REGISTER_OP("PointopsEmdTransport")
    .Input("a: T")              // [B, N, D]
    .Input("b: T")              // [B, M, D]
    .Input("a_lengths: int32")  // [B]
    .Input("b_lengths: int32")  // [B]
    .Output("plan_i: int32")    // [B, N + M - 1]: a point of each plan entry, -1 past the cloud's entries
    .Output("plan_j: int32")    // [B, N + M - 1]: b point of each entry, -1 there
    .Output("plan_mass: T")     // [B, N + M - 1]: mass of each entry (a cloud's sum to 1), 0 there
    .Output("gap: T")           // [B]: certified bound on plan cost - optimal cost
    .Attr("T: {float, double}")
    .Attr("squared: bool = false")
    .Attr("rel_tol: float = 0.001")
    .Attr("max_rounds: int = 0")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle a, b, unused;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &a));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &b));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &unused));
      DimensionHandle batch, dim, entries;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 0), c->Dim(b, 0), &batch));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 2), c->Dim(b, 2), &dim));
      TF_RETURN_IF_ERROR(c->Add(c->Dim(a, 1), c->Dim(b, 1), &entries));
      TF_RETURN_IF_ERROR(c->Subtract(entries, 1, &entries));
      for (int k = 0; k < 3; ++k) c->set_output(k, c->MakeShape({batch, entries}));
      c->set_output(3, c->MakeShape({batch}));
      return absl::OkStatus();
    });

template <typename T>
class EmdTransportCpuOp : public OpKernel {
 public:
  explicit EmdTransportCpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) { read_emd_attrs(ctx, "PointopsEmdTransport", &options_); }

  void Compute(OpKernelContext* ctx) override {
    if (!check_inputs(ctx, "PointopsEmdTransport", false)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    const int64_t B = a.dim_size(0), N = a.dim_size(1), M = b.dim_size(1), K = N + M - 1;
    const int D = int(a.dim_size(2));
    Tensor *plan_i, *plan_j, *plan_mass, *gap;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, K}), &plan_i));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, K}), &plan_j));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, K}), &plan_mass));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({B}), &gap));
    const int32_t* a_len = ctx->input(2).flat<int32_t>().data();
    const int32_t* b_len = ctx->input(3).flat<int32_t>().data();
    run_guarded(ctx, "PointopsEmdTransport", [&] {
      cpu_kernels_of<T>().emd_transport(a.flat<T>().data(), b.flat<T>().data(), B, N, M, D, a_len, b_len, options_,
                                        plan_i->flat<int32_t>().data(), plan_j->flat<int32_t>().data(),
                                        plan_mass->flat<T>().data(), gap->flat<T>().data(), tf_parallel_for(ctx));
    });
    if (!ctx->status().ok()) return;
    const std::string err = check_emd_cost_range("PointopsEmdTransport", a.flat<T>().data(), b.flat<T>().data(), B,
                                                 N, M, D, a_len, b_len, gap->flat<T>().data());
    if (!err.empty()) ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
  }

 private:
  EmdOptions options_;
};

#define POINTOPS_REGISTER(T)                                                                            \
  REGISTER_KERNEL_BUILDER(Name("PointopsEmdTransport").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          EmdTransportCpuOp<T>);
POINTOPS_REGISTER(float)
POINTOPS_REGISTER(double)
#undef POINTOPS_REGISTER

}  // namespace
}  // namespace pointops
