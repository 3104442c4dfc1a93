// XLA lowerings of the EMD ops (emd_ops.cc, transport_ops.cc): the assignment auction
// (PointopsEmdMatch, host and CUDA), emd's default in one op (PointopsEmdMean, host only, as its TF
// kernel) and the transportation auction (PointopsEmdTransport, host and CUDA).
#include "emd/emd.h"
#include "emd/transport.h"
#include "tf/emd_attrs.h"
#include "tf/xla/lowering.h"

namespace pointops {
namespace {

// The attributes all three ops share, read as the TF kernels read them (emd_attrs.h).
class EmdXlaBase : public PointopsXlaOp {
 public:
  EmdXlaBase(tensorflow::OpKernelConstruction* ctx, const char* op) : PointopsXlaOp(ctx), op_(op) {
    read_emd_attrs(ctx, op, &options_);
  }

 protected:
  // The call's sizes and options after the checks of the inputs' shapes; false when they failed.
  bool prepare(XlaOpKernelContext* ctx, bool equal_sizes, XlaCall* call) {
    if (!check_point_set_inputs(ctx, op_, equal_sizes)) return false;
    *call = point_set_call(ctx);
    call->squared = options_.squared, call->rel_tol = options_.rel_tol, call->max_rounds = options_.max_rounds;
    return true;
  }
  const char* op_;

 private:
  EmdOptions options_;
};

class EmdMatchXla : public EmdXlaBase {
 public:
  explicit EmdMatchXla(tensorflow::OpKernelConstruction* ctx) : EmdXlaBase(ctx, "PointopsEmdMatch") {}
  void Compile(XlaOpKernelContext* ctx) override {
    XlaCall call;
    if (!prepare(ctx, true, &call)) return;
#if GOOGLE_CUDA
    if (for_gpu()) call.workspace_bytes = emd_match_cuda_workspace_bytes(call.B, call.N);
#endif
    emit_custom_call(ctx, for_gpu(), "pointops_emd_match", call,
                     {result_shape(xla::S32, {call.B, call.N}), result_shape(ctx->input_xla_type(0), {call.B})}, 2);
  }
};

class EmdMeanXla : public EmdXlaBase {
 public:
  explicit EmdMeanXla(tensorflow::OpKernelConstruction* ctx) : EmdXlaBase(ctx, "PointopsEmdMean") {}
  void Compile(XlaOpKernelContext* ctx) override {
    XlaCall call;
    if (!prepare(ctx, true, &call)) return;
    const auto t = ctx->input_xla_type(0);
    emit_custom_call(ctx, for_gpu(), "pointops_emd_mean", call,
                     {result_shape(xla::S32, {call.B, call.N}), result_shape(t, {call.B}), result_shape(t, {})}, 3);
  }
};

class EmdTransportXla : public EmdXlaBase {
 public:
  explicit EmdTransportXla(tensorflow::OpKernelConstruction* ctx) : EmdXlaBase(ctx, "PointopsEmdTransport") {}
  void Compile(XlaOpKernelContext* ctx) override {
    XlaCall call;
    if (!prepare(ctx, false, &call)) return;
#if GOOGLE_CUDA
    // The workspace grows with the lengths' ratios: sized for the lengths where they are constants (full
    // clouds), else for any lengths.
    if (for_gpu()) {
      std::vector<int64_t> a_len, b_len;
      if (ctx->ConstantInputAsIntVector(2, &a_len).ok() && ctx->ConstantInputAsIntVector(3, &b_len).ok() &&
          int64_t(a_len.size()) == call.B && int64_t(b_len.size()) == call.B) {
        const std::vector<int32_t> a32(a_len.begin(), a_len.end()), b32(b_len.begin(), b_len.end());
        call.workspace_bytes = emd_transport_cuda_workspace_bytes(call.B, call.N, call.M, a32.data(), b32.data());
      } else {
        call.workspace_bytes = emd_transport_cuda_workspace_bytes_any_lengths(call.B, call.N, call.M);
      }
    }
#endif
    const auto t = ctx->input_xla_type(0);
    const int64_t entries = call.N + call.M - 1;
    emit_custom_call(ctx, for_gpu(), "pointops_emd_transport", call,
                     {result_shape(xla::S32, {call.B, entries}), result_shape(xla::S32, {call.B, entries}),
                      result_shape(t, {call.B, entries}), result_shape(t, {call.B})}, 4);
  }
};

REGISTER_XLA_OP(Name("PointopsEmdMatch").Device(kXlaDevices).TypeConstraint("T", kXlaTypes), EmdMatchXla);
REGISTER_XLA_OP(Name("PointopsEmdMean").Device(tensorflow::DEVICE_CPU_XLA_JIT).TypeConstraint("T", kXlaTypes), EmdMeanXla);
REGISTER_XLA_OP(Name("PointopsEmdTransport").Device(kXlaDevices).TypeConstraint("T", kXlaTypes), EmdTransportXla);

}  // namespace
}  // namespace pointops
