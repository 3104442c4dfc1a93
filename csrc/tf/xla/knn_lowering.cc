// XLA lowering of PointopsKnn (knn_ops.cc), on the host and CUDA.
#include "knn/knn.h"
#include "tf/xla/lowering.h"

namespace pointops {
namespace {

class KnnXla : public PointopsXlaOp {
 public:
  explicit KnnXla(tensorflow::OpKernelConstruction* ctx) : PointopsXlaOp(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("k", &k_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("norm", &norm_));
  }
  void Compile(XlaOpKernelContext* ctx) override {
    if (!check_point_set_inputs(ctx, "PointopsKnn", false)) return;
    if (!lowering_checks(ctx, check_knn_args("PointopsKnn", k_, norm_, xla_dims(ctx, 0)))) return;
    XlaCall call = point_set_call(ctx);
    call.k = k_;
    call.norm = norm_;
#if GOOGLE_CUDA
    if (for_gpu()) call.workspace_bytes = knn_cuda_workspace_bytes(call.B, call.N, call.M, k_, call.value_bytes);
#endif
    emit_custom_call(ctx, for_gpu(), "pointops_knn", call,
                     {result_shape(ctx->input_xla_type(0), {call.B, call.N, k_}),
                      result_shape(xla::S32, {call.B, call.N, k_})}, 2);
  }

 private:
  int k_ = 1, norm_ = 2;
};

REGISTER_XLA_OP(Name("PointopsKnn").Device(kXlaDevices).TypeConstraint("T", kXlaTypes), KnnXla);

}  // namespace
}  // namespace pointops
