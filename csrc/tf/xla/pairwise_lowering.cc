// XLA lowering of PointopsPairwiseChamfer (pairwise_ops.cc), on the host only, as its TF kernel.
#include "tf/xla/lowering.h"

namespace pointops {
namespace {

class PairwiseChamferXla : public PointopsXlaOp {
 public:
  explicit PairwiseChamferXla(tensorflow::OpKernelConstruction* ctx) : PointopsXlaOp(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("symmetric", &symmetric_));
  }
  void Compile(XlaOpKernelContext* ctx) override {
    const char* op = "PointopsPairwiseChamfer";
    const auto x = xla_dims(ctx, 0), y = xla_dims(ctx, 1);
    std::string err = check_cloud_sets(op, x, y, symmetric_);
    if (err.empty()) err = check_shape(op, "x_lengths", xla_dims(ctx, 2), {x[0]});
    if (err.empty()) err = check_shape(op, "y_lengths", xla_dims(ctx, 3), {y[0]});
    if (!lowering_checks(ctx, err)) return;
    XlaCall call;
    call.value_bytes = ctx->input_type(0) == tensorflow::DT_DOUBLE ? 8 : 4;
    call.B = x[0], call.N = x[1], call.R = y[0], call.M = y[1], call.D = int32_t(x[2]);
    call.symmetric = symmetric_;
    emit_custom_call(ctx, for_gpu(), "pointops_pairwise_chamfer", call,
                     {result_shape(ctx->input_xla_type(0), {call.B, call.R})}, 1);
  }

 private:
  bool symmetric_ = false;
};

REGISTER_XLA_OP(Name("PointopsPairwiseChamfer")
                    .Device(tensorflow::DEVICE_CPU_XLA_JIT)
                    .TypeConstraint("T", kXlaTypes),
                PairwiseChamferXla);

}  // namespace
}  // namespace pointops
