// XLA lowerings of the nearest-neighbour ops (nn_ops.cc): PointopsNnDistance and its gradient on the
// host and CUDA, PointopsChamferMean on the host (the op has only a CPU kernel, so Python emits it only
// where the kernels run on the CPU).
#include "nn/nn.h"
#include "tf/xla/lowering.h"

namespace pointops {
namespace {

class NnDistanceXla : public PointopsXlaOp {
 public:
  explicit NnDistanceXla(tensorflow::OpKernelConstruction* ctx) : PointopsXlaOp(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("algorithm", &algorithm_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("squared", &squared_));
  }
  void Compile(XlaOpKernelContext* ctx) override {
    if (!check_point_set_inputs(ctx, "PointopsNnDistance", false)) return;
    if (!lowering_checks(ctx, check_gpu_squared("PointopsNnDistance", squared_ || !for_gpu()))) return;
    XlaCall call = point_set_call(ctx);
    call.algorithm = algorithm_;
    call.euclidean = !squared_;
#if GOOGLE_CUDA
    if (for_gpu()) call.workspace_bytes = nn_distance_cuda_workspace_bytes(call.B, call.N, call.M);
#endif
    const auto t = ctx->input_xla_type(0);
    emit_custom_call(ctx, for_gpu(), "pointops_nn_distance", call,
                     {result_shape(t, {call.B, call.N}), result_shape(xla::S32, {call.B, call.N}),
                      result_shape(t, {call.B, call.M}), result_shape(xla::S32, {call.B, call.M})}, 4);
  }

 private:
  int algorithm_ = 0;
  bool squared_ = true;
};

class NnDistanceGradXla : public PointopsXlaOp {
 public:
  explicit NnDistanceGradXla(tensorflow::OpKernelConstruction* ctx) : PointopsXlaOp(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("squared", &squared_));
  }
  void Compile(XlaOpKernelContext* ctx) override {
    const char* op = "PointopsNnDistanceGrad";
    const auto a = xla_dims(ctx, 0), b = xla_dims(ctx, 1);
    if (!lowering_checks(ctx, check_nn_grad_shapes(op, a, b, xla_dims(ctx, 2), xla_dims(ctx, 3), xla_dims(ctx, 4),
                                                   xla_dims(ctx, 5))))
      return;
    if (!lowering_checks(ctx, check_gpu_squared(op, squared_ || !for_gpu()))) return;
    XlaCall call = point_set_call(ctx);
    call.euclidean = !squared_;
#if GOOGLE_CUDA
    if (for_gpu()) call.workspace_bytes = nn_distance_grad_cuda_workspace_bytes(call.B, call.N, call.M);
#endif
    const auto t = ctx->input_xla_type(0);
    emit_custom_call(ctx, for_gpu(), "pointops_nn_distance_grad", call, {result_shape(t, a), result_shape(t, b)}, 2);
  }

 private:
  bool squared_ = true;
};

class ChamferMeanXla : public PointopsXlaOp {
 public:
  using PointopsXlaOp::PointopsXlaOp;
  void Compile(XlaOpKernelContext* ctx) override {
    if (!check_point_set_inputs(ctx, "PointopsChamferMean", false)) return;
    const XlaCall call = point_set_call(ctx);
    const auto t = ctx->input_xla_type(0);
    // The last two elements are the handler's scratch for the distances.
    emit_custom_call(ctx, for_gpu(), "pointops_chamfer_mean", call,
                     {result_shape(t, {}), result_shape(xla::S32, {call.B, call.N}),
                      result_shape(xla::S32, {call.B, call.M}), result_shape(t, {call.B, call.N}),
                      result_shape(t, {call.B, call.M})}, 3);
  }
};

REGISTER_XLA_OP(Name("PointopsNnDistance").Device(kXlaDevices).TypeConstraint("T", kXlaTypes),
                NnDistanceXla);
REGISTER_XLA_OP(Name("PointopsNnDistanceGrad").Device(kXlaDevices).TypeConstraint("T", kXlaTypes),
                NnDistanceGradXla);
REGISTER_XLA_OP(Name("PointopsChamferMean")
                    .Device(tensorflow::DEVICE_CPU_XLA_JIT)
                    .TypeConstraint("T", kXlaTypes),
                ChamferMeanXla);

}  // namespace
}  // namespace pointops
