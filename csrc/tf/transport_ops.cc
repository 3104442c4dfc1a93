// TensorFlow op for the EMD between clouds of any sizes (the transportation auction; CPU and GPU
// kernels). No gradient: the EMD's gradient flows through the plan's cost, computed in TF from the
// plan entries.
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
      ShapeHandle a, b;
      DimensionHandle batch, entries;
      TF_RETURN_IF_ERROR(point_set_shapes(c, &a, &b, &batch));
      TF_RETURN_IF_ERROR(c->Add(c->Dim(a, 1), c->Dim(b, 1), &entries));
      TF_RETURN_IF_ERROR(c->Subtract(entries, 1, &entries));
      for (int k = 0; k < 3; ++k) c->set_output(k, c->MakeShape({batch, entries}));
      c->set_output(3, c->MakeShape({batch}));
      return absl::OkStatus();
    });

// One call's sizes, lengths (host) and outputs, after the inputs' checks.
struct TransportCall {
  int64_t B, N, M;
  int D;
  const int32_t *a_len, *b_len;
  tensorflow::Tensor *plan_i, *plan_j, *plan_mass, *gap;
};

class EmdTransportOpBase : public OpKernel {
 public:
  explicit EmdTransportOpBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    read_emd_attrs(ctx, "PointopsEmdTransport", &options_);
  }

 protected:
  // False (with ctx's status set) when an input is wrong or an output cannot be allocated.
  bool prepare(OpKernelContext* ctx, TransportCall* call) {
    if (!check_inputs(ctx, "PointopsEmdTransport", false)) return false;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    call->B = a.dim_size(0), call->N = a.dim_size(1), call->M = b.dim_size(1), call->D = int(a.dim_size(2));
    call->a_len = ctx->input(2).flat<int32_t>().data();
    call->b_len = ctx->input(3).flat<int32_t>().data();
    const int64_t K = call->N + call->M - 1;
    auto status = ctx->allocate_output(0, TensorShape({call->B, K}), &call->plan_i);
    if (status.ok()) status = ctx->allocate_output(1, TensorShape({call->B, K}), &call->plan_j);
    if (status.ok()) status = ctx->allocate_output(2, TensorShape({call->B, K}), &call->plan_mass);
    if (status.ok()) status = ctx->allocate_output(3, TensorShape({call->B}), &call->gap);
    if (!status.ok()) ctx->SetStatus(status);
    return status.ok();
  }

  EmdOptions options_;
};

template <typename T>
class EmdTransportCpuOp : public EmdTransportOpBase {
 public:
  using EmdTransportOpBase::EmdTransportOpBase;

  void Compute(OpKernelContext* ctx) override {
    TransportCall c;
    if (!prepare(ctx, &c)) return;
    const T* a = ctx->input(0).flat<T>().data();
    const T* b = ctx->input(1).flat<T>().data();
    run_guarded(ctx, "PointopsEmdTransport", [&] {
      cpu_kernels_of<T>().emd_transport(a, b, c.B, c.N, c.M, c.D, c.a_len, c.b_len, options_,
                                        c.plan_i->flat<int32_t>().data(), c.plan_j->flat<int32_t>().data(),
                                        c.plan_mass->flat<T>().data(), c.gap->flat<T>().data(), tf_parallel_for(ctx));
    });
    if (!ctx->status().ok()) return;
    const std::string err = check_emd_cost_range("PointopsEmdTransport", a, b, c.B, c.N, c.M, c.D, c.a_len, c.b_len,
                                                 c.gap->flat<T>().data());
    if (!err.empty()) ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
  }
};

#if GOOGLE_CUDA
// The auction runs on the GPU and the plan is finished on the host (emd/transport.h), so the
// outputs live in host memory and the kernel waits for its stream. A cloud whose pair costs
// overflow gets an infinite gap, which the Python layer turns into the error (_emd.check_cost_range).
template <typename T>
class EmdTransportGpuOp : public EmdTransportOpBase {
 public:
  using EmdTransportOpBase::EmdTransportOpBase;

  void Compute(OpKernelContext* ctx) override {
    TransportCall c;
    if (!prepare(ctx, &c)) return;
    Tensor scratch;
    void* ws = allocate_scratch(ctx, emd_transport_cuda_workspace_bytes(c.B, c.N, c.M, c.a_len, c.b_len), &scratch);
    if (ws == nullptr) return;
    run_guarded(ctx, "PointopsEmdTransport", [&] {
      set_cuda_status(ctx, "PointopsEmdTransport",
                      emd_transport_cuda<T>(ctx->input(0).flat<T>().data(), ctx->input(1).flat<T>().data(), c.B, c.N,
                                            c.M, c.D, c.a_len, c.b_len, options_, c.plan_i->flat<int32_t>().data(),
                                            c.plan_j->flat<int32_t>().data(), c.plan_mass->flat<T>().data(),
                                            c.gap->flat<T>().data(), tf_parallel_for(ctx), ws, tf_cuda_stream(ctx)));
    });
  }
};
#endif

#define POINTOPS_REGISTER(T)                                                                            \
  REGISTER_KERNEL_BUILDER(Name("PointopsEmdTransport").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          EmdTransportCpuOp<T>);
POINTOPS_REGISTER(float)
POINTOPS_REGISTER(double)
#undef POINTOPS_REGISTER

#if GOOGLE_CUDA
#define POINTOPS_REGISTER(T)                                                                     \
  REGISTER_KERNEL_BUILDER(Name("PointopsEmdTransport")                                           \
                              .Device(tensorflow::DEVICE_GPU)                                    \
                              .TypeConstraint<T>("T")                                            \
                              .HostMemory("a_lengths")                                           \
                              .HostMemory("b_lengths")                                           \
                              .HostMemory("plan_i")                                              \
                              .HostMemory("plan_j")                                              \
                              .HostMemory("plan_mass")                                           \
                              .HostMemory("gap"),                                                \
                          EmdTransportGpuOp<T>);
POINTOPS_REGISTER(float)
POINTOPS_REGISTER(double)
#undef POINTOPS_REGISTER
#endif

}  // namespace
}  // namespace pointops
