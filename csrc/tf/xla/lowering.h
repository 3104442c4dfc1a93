#pragma once
// What every op family's XLA lowering (*_lowering.cc) shares: the static shapes, the checks at
// lowering time, and the custom call itself. XLA compiles for static shapes, so the shape checks of
// the TF kernels run here, once per compilation; the lengths, which only the values show, are checked
// by the handlers (host_handlers.cc, cuda_handlers.cc) when the call runs.
//
// TensorFlow 2.16 has the builder at xla/client/xla_builder.h, later versions at xla/hlo/builder/.
// Their printer.h and fingerprint.h include highwayhash and farmhash headers that not every wheel ships:
// the build puts csrc/tf/xla/shim on the include path (see its README).
#include <string>
#include <vector>

#include "checks/input_checks.h"
#include "tensorflow/compiler/tf2xla/xla_op_kernel.h"
#include "tensorflow/compiler/tf2xla/xla_op_registry.h"
#include "tf/xla/xla_call.h"
#if __has_include("xla/hlo/builder/xla_builder.h")
#include "xla/hlo/builder/xla_builder.h"
#else
#include "xla/client/xla_builder.h"
#endif
#include "xla/shape_util.h"

namespace pointops {

using tensorflow::XlaOpKernel;
using tensorflow::XlaOpKernelContext;

// The XLA devices the host-and-CUDA lowerings register for: the GPU's only where this build has CUDA
// kernels (whose custom-call targets register_targets.cc registers for the CUDA platform); elsewhere
// XLA on a GPU finds no lowering and pointops' Python layer takes its pure-TF path there.
#if GOOGLE_CUDA
inline const std::vector<absl::string_view> kXlaDevices = {tensorflow::DEVICE_CPU_XLA_JIT, tensorflow::DEVICE_GPU_XLA_JIT};
#else
inline const std::vector<absl::string_view> kXlaDevices = {tensorflow::DEVICE_CPU_XLA_JIT};
#endif
inline constexpr std::initializer_list<tensorflow::DataType> kXlaTypes = {tensorflow::DT_FLOAT, tensorflow::DT_DOUBLE};

inline std::vector<int64_t> xla_dims(XlaOpKernelContext* ctx, int input) {
  const auto dims = ctx->InputShape(input).dim_sizes();
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Every lowering's base: whether it compiles for the GPU, which its construction's device tells.
class PointopsXlaOp : public XlaOpKernel {
 public:
  explicit PointopsXlaOp(tensorflow::OpKernelConstruction* ctx)
      : XlaOpKernel(ctx), for_gpu_(ctx->device_type().type_string() == tensorflow::DEVICE_GPU_XLA_JIT) {}

 protected:
  bool for_gpu() const { return for_gpu_; }

 private:
  bool for_gpu_;
};

// False after failing the compilation with err (InvalidArgument, as the TF kernels raise).
inline bool lowering_checks(XlaOpKernelContext* ctx, const std::string& err) {
  if (!err.empty()) ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
  return err.empty();
}

// The call's sizes from a [B, N, D] (input 0) and b [B, M, D] (input 1), and its value type.
inline XlaCall point_set_call(XlaOpKernelContext* ctx) {
  XlaCall call;
  const auto a = xla_dims(ctx, 0), b = xla_dims(ctx, 1);
  call.value_bytes = ctx->input_type(0) == tensorflow::DT_DOUBLE ? 8 : 4;
  call.B = a[0], call.N = a[1], call.M = b[1], call.D = int32_t(a[2]);
  return call;
}

// Checks of a, b (inputs 0, 1) and, when the op has them, of the lengths' shapes (inputs 2, 3: [B]).
inline bool check_point_set_inputs(XlaOpKernelContext* ctx, const char* op, bool equal_sizes) {
  const auto a = xla_dims(ctx, 0), b = xla_dims(ctx, 1);
  std::string err = check_point_sets(op, a, b, equal_sizes);
  const char* names[] = {"a_lengths", "b_lengths"};
  for (int k = 2; k < ctx->num_inputs() && k < 4 && err.empty(); ++k)
    err = check_shape(op, names[k - 2], xla_dims(ctx, k), {a[0]});
  return lowering_checks(ctx, err);
}

inline xla::Shape result_shape(xla::PrimitiveType type, std::vector<int64_t> dims) {
  return xla::ShapeUtil::MakeShape(type, dims);
}

// Emits the custom call `target` on every input of the op, with `results` as its tuple, and sets the
// op's outputs from the tuple's first `outputs` elements (the others are XLA's scratch for the handler).
// For the GPU (for_gpu) the tuple ends with the workspace of call.workspace_bytes bytes.
inline void emit_custom_call(XlaOpKernelContext* ctx, bool for_gpu, const char* target, const XlaCall& call,
                             std::vector<xla::Shape> results, int outputs) {
  std::vector<xla::XlaOp> operands;
  for (int k = 0; k < ctx->num_inputs(); ++k) operands.push_back(ctx->Input(k));
  if (for_gpu) results.push_back(result_shape(xla::U8, {int64_t(call.workspace_bytes)}));
  const xla::XlaOp tuple = xla::CustomCall(ctx->builder(), target, operands, xla::ShapeUtil::MakeTupleShape(results),
                                           call.encode(), /*has_side_effect=*/false, /*output_operand_aliasing=*/{},
                                           /*literal=*/nullptr, xla::CustomCallSchedule::SCHEDULE_NONE,
                                           xla::CustomCallApiVersion::API_VERSION_STATUS_RETURNING_UNIFIED);
  for (int k = 0; k < outputs; ++k) ctx->SetOutput(k, xla::GetTupleElement(tuple, k));
}

}  // namespace pointops
