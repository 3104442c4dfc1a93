// TensorFlow ops for the nearest-neighbour distance and its gradient (CPU and CUDA kernels), and the
// default Chamfer distance of full clouds in one op (CPU).
#include "common/cpu_dispatch.h"
#include "tf/tf_door.h"

namespace pointops {
namespace {

REGISTER_OP("PointopsNnDistance")
    .Input("a: T")           // [B, N, D]
    .Input("b: T")           // [B, M, D]
    .Input("a_lengths: int32")  // [B]
    .Input("b_lengths: int32")  // [B]
    .Output("dist_ab: T")    // [B, N]
    .Output("idx_ab: int32")  // [B, N]
    .Output("dist_ba: T")    // [B, M]
    .Output("idx_ba: int32")  // [B, M]
    .Attr("T: {float, double}")
    .Attr("algorithm: int = 0")  // NnAlgorithm: 0 auto, 1 brute force, 2 k-d tree (CPU only)
    .Attr("squared: bool = true")  // false: Euclidean distances (CPU kernel only)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle a, b;
      DimensionHandle batch;
      TF_RETURN_IF_ERROR(point_set_shapes(c, &a, &b, &batch));
      const ShapeHandle ab = c->MakeShape({batch, c->Dim(a, 1)});
      const ShapeHandle ba = c->MakeShape({batch, c->Dim(b, 1)});
      c->set_output(0, ab);
      c->set_output(1, ab);
      c->set_output(2, ba);
      c->set_output(3, ba);
      return absl::OkStatus();
    });

REGISTER_OP("PointopsNnDistanceGrad")
    .Input("a: T")              // [B, N, D]
    .Input("b: T")              // [B, M, D]
    .Input("idx_ab: int32")     // [B, N]
    .Input("idx_ba: int32")     // [B, M]
    .Input("grad_dist_ab: T")   // [B, N]
    .Input("grad_dist_ba: T")   // [B, M]
    .Output("grad_a: T")        // [B, N, D]
    .Output("grad_b: T")        // [B, M, D]
    .Attr("T: {float, double}")
    .Attr("squared: bool = true")  // the gradient of the squared distances, or of the Euclidean ones (CPU only)
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      return absl::OkStatus();
    });

REGISTER_OP("PointopsChamferMean")
    .Input("a: T")            // [B, N, D]
    .Input("b: T")            // [B, M, D]
    .Output("chamfer: T")     // []: the mean of dist_ab over all B*N points plus that of dist_ba (NaN for B = 0)
    .Output("idx_ab: int32")  // [B, N], for the gradient
    .Output("idx_ba: int32")  // [B, M]
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle a, b;
      DimensionHandle batch, dim;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &a));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &b));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 0), c->Dim(b, 0), &batch));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 2), c->Dim(b, 2), &dim));
      c->set_output(0, c->Scalar());
      c->set_output(1, c->MakeShape({batch, c->Dim(a, 1)}));
      c->set_output(2, c->MakeShape({batch, c->Dim(b, 1)}));
      return absl::OkStatus();
    });

// Checks of the gradient op's inputs (it is internal, but callable directly). The indices' values are
// checked where they are on the host (the CPU kernel; on a GPU the kernel skips an index out of range).
bool check_grad_inputs(OpKernelContext* ctx, bool indices_on_host) {
  const Tensor &a = ctx->input(0), &b = ctx->input(1);
  std::string err = check_nn_grad_shapes("PointopsNnDistanceGrad", dims_of(a), dims_of(b), dims_of(ctx->input(2)),
                                         dims_of(ctx->input(3)), dims_of(ctx->input(4)), dims_of(ctx->input(5)));
  if (err.empty() && indices_on_host) {
    const int64_t B = a.dim_size(0), N = a.dim_size(1), M = b.dim_size(1);
    err = check_indices("PointopsNnDistanceGrad", "idx_ab", ctx->input(2).flat<int32_t>().data(), B, N, M);
    if (err.empty())
      err = check_indices("PointopsNnDistanceGrad", "idx_ba", ctx->input(3).flat<int32_t>().data(), B, M, N);
  }
  if (!err.empty()) ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(err));
  return err.empty();
}

struct NnOutputs {
  Tensor *dist_ab, *idx_ab, *dist_ba, *idx_ba;
};

bool allocate_nn_outputs(OpKernelContext* ctx, NnOutputs* out) {
  const Tensor &a = ctx->input(0), &b = ctx->input(1);
  const TensorShape ab({a.dim_size(0), a.dim_size(1)}), ba({b.dim_size(0), b.dim_size(1)});
  for (auto [k, shape, dst] : {std::tuple{0, ab, &out->dist_ab}, std::tuple{1, ab, &out->idx_ab},
                               std::tuple{2, ba, &out->dist_ba}, std::tuple{3, ba, &out->idx_ba}}) {
    const auto status = ctx->allocate_output(k, shape, dst);
    if (!status.ok()) {
      ctx->SetStatus(status);
      return false;
    }
  }
  return true;
}

template <typename T>
class NnDistanceCpuOp : public OpKernel {
 public:
  explicit NnDistanceCpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("algorithm", &algorithm_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("squared", &squared_));
  }
  void Compute(OpKernelContext* ctx) override {
    if (!check_inputs(ctx, "PointopsNnDistance", false)) return;
    NnOutputs out;
    if (!allocate_nn_outputs(ctx, &out)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    run_guarded(ctx, "PointopsNnDistance", [&] {
      cpu_kernels_of<T>().nn_distance(a.flat<T>().data(), b.flat<T>().data(), a.dim_size(0), a.dim_size(1),
                                      b.dim_size(1), int(a.dim_size(2)), ctx->input(2).flat<int32_t>().data(),
                                      ctx->input(3).flat<int32_t>().data(), out.dist_ab->flat<T>().data(),
                                      out.idx_ab->flat<int32_t>().data(), out.dist_ba->flat<T>().data(),
                                      out.idx_ba->flat<int32_t>().data(), NnAlgorithm(algorithm_), squared_,
                                      tf_parallel_for(ctx));
    });
  }

 private:
  int algorithm_ = 0;
  bool squared_ = true;
};

// The default Chamfer distance of full clouds in one op (CPU only). Around PointopsNnDistance,
// chamfer_distance's eager ops (lengths, casts, a reduction of three ops) took about 0.3 ms at B=8
// N=2048, a fifth of the whole; around this op it takes 0.05-0.1 ms.
template <typename T>
class ChamferMeanCpuOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    const std::string err = check_point_sets("PointopsChamferMean", dims_of(a), dims_of(b), false);
    OP_REQUIRES(ctx, err.empty(), tensorflow::errors::InvalidArgument(err));
    const int64_t B = a.dim_size(0), N = a.dim_size(1), M = b.dim_size(1);
    Tensor *chamfer, *idx_ab, *idx_ba, dist_ab, dist_ba;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({}), &chamfer));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, N}), &idx_ab));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, M}), &idx_ba));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DataTypeToEnum<T>::value, TensorShape({B, N}), &dist_ab));
    OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DataTypeToEnum<T>::value, TensorShape({B, M}), &dist_ba));
    run_guarded(ctx, "PointopsChamferMean", [&] {
      const std::vector<int32_t> a_len(B, int32_t(N)), b_len(B, int32_t(M));
      cpu_kernels_of<T>().nn_distance(a.flat<T>().data(), b.flat<T>().data(), B, N, M, int(a.dim_size(2)),
                                      a_len.data(), b_len.data(), dist_ab.flat<T>().data(),
                                      idx_ab->flat<int32_t>().data(), dist_ba.flat<T>().data(),
                                      idx_ba->flat<int32_t>().data(), NnAlgorithm::kAuto, true, tf_parallel_for(ctx));
      chamfer->scalar<T>()() = T(mean_in_double(dist_ab.flat<T>().data(), B * N) +
                                 mean_in_double(dist_ba.flat<T>().data(), B * M));
    });
  }
};

template <typename T>
class NnDistanceGradCpuOp : public OpKernel {
 public:
  explicit NnDistanceGradCpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("squared", &squared_));
  }
  void Compute(OpKernelContext* ctx) override {
    if (!check_grad_inputs(ctx, true)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    Tensor *grad_a, *grad_b;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, a.shape(), &grad_a));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, b.shape(), &grad_b));
    run_guarded(ctx, "PointopsNnDistanceGrad", [&] {
      cpu_kernels_of<T>().nn_distance_grad(a.flat<T>().data(), b.flat<T>().data(), a.dim_size(0), a.dim_size(1),
                                           b.dim_size(1), int(a.dim_size(2)), ctx->input(2).flat<int32_t>().data(),
                                           ctx->input(3).flat<int32_t>().data(), ctx->input(4).flat<T>().data(),
                                           ctx->input(5).flat<T>().data(), grad_a->flat<T>().data(),
                                           grad_b->flat<T>().data(), squared_, tf_parallel_for(ctx));
    });
  }

 private:
  bool squared_ = true;
};

#if GOOGLE_CUDA
void require_squared(OpKernelConstruction* ctx, const char* op) {
  bool squared = true;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("squared", &squared));
  const std::string err = check_gpu_squared(op, squared);
  OP_REQUIRES(ctx, err.empty(), tensorflow::errors::Unimplemented(err));
}

template <typename T>
class NnDistanceGpuOp : public OpKernel {
 public:
  explicit NnDistanceGpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) { require_squared(ctx, "PointopsNnDistance"); }
  void Compute(OpKernelContext* ctx) override {
    if (!check_inputs(ctx, "PointopsNnDistance", false)) return;
    NnOutputs out;
    if (!allocate_nn_outputs(ctx, &out)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    Tensor scratch;
    void* ws = allocate_scratch(ctx, nn_distance_cuda_workspace_bytes(a.dim_size(0), a.dim_size(1), b.dim_size(1)), &scratch);
    if (ws == nullptr) return;
    set_cuda_status(ctx, "PointopsNnDistance",
                    nn_distance_cuda<T>(a.flat<T>().data(), b.flat<T>().data(), a.dim_size(0),
                                        a.dim_size(1), b.dim_size(1), int(a.dim_size(2)),
                                        ctx->input(2).flat<int32_t>().data(),
                                        ctx->input(3).flat<int32_t>().data(),
                                        out.dist_ab->flat<T>().data(),
                                        out.idx_ab->flat<int32_t>().data(),
                                        out.dist_ba->flat<T>().data(),
                                        out.idx_ba->flat<int32_t>().data(), ws, tf_cuda_stream(ctx)));
  }
};

template <typename T>
class NnDistanceGradGpuOp : public OpKernel {
 public:
  explicit NnDistanceGradGpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    require_squared(ctx, "PointopsNnDistanceGrad");
  }
  void Compute(OpKernelContext* ctx) override {
    if (!check_grad_inputs(ctx, false)) return;
    const Tensor &a = ctx->input(0), &b = ctx->input(1);
    Tensor *grad_a, *grad_b, scratch;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, a.shape(), &grad_a));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, b.shape(), &grad_b));
    const int64_t B = a.dim_size(0), N = a.dim_size(1), M = b.dim_size(1);
    void* ws = allocate_scratch(ctx, nn_distance_grad_cuda_workspace_bytes(B, N, M), &scratch);
    if (ws == nullptr) return;
    set_cuda_status(ctx, "PointopsNnDistanceGrad",
                    nn_distance_grad_cuda<T>(a.flat<T>().data(), b.flat<T>().data(), B, N, M,
                                             int(a.dim_size(2)), ctx->input(2).flat<int32_t>().data(),
                                             ctx->input(3).flat<int32_t>().data(),
                                             ctx->input(4).flat<T>().data(),
                                             ctx->input(5).flat<T>().data(), grad_a->flat<T>().data(),
                                             grad_b->flat<T>().data(), ws, tf_cuda_stream(ctx)));
  }
};
#endif

#define POINTOPS_REGISTER_CPU(T)                                                                  \
  REGISTER_KERNEL_BUILDER(Name("PointopsNnDistance").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          NnDistanceCpuOp<T>);                                                     \
  REGISTER_KERNEL_BUILDER(Name("PointopsNnDistanceGrad").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          NnDistanceGradCpuOp<T>);                                                 \
  REGISTER_KERNEL_BUILDER(Name("PointopsChamferMean").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
                          ChamferMeanCpuOp<T>);
POINTOPS_REGISTER_CPU(float)
POINTOPS_REGISTER_CPU(double)

#if GOOGLE_CUDA
// Lengths stay in host memory: they are checked on the host before the launch.
#define POINTOPS_REGISTER_GPU(T)                                                                  \
  REGISTER_KERNEL_BUILDER(Name("PointopsNnDistance").Device(tensorflow::DEVICE_GPU).TypeConstraint<T>("T") \
                              .HostMemory("a_lengths").HostMemory("b_lengths"),                   \
                          NnDistanceGpuOp<T>);                                                     \
  REGISTER_KERNEL_BUILDER(Name("PointopsNnDistanceGrad").Device(tensorflow::DEVICE_GPU).TypeConstraint<T>("T"), \
                          NnDistanceGradGpuOp<T>);
POINTOPS_REGISTER_GPU(float)
POINTOPS_REGISTER_GPU(double)
#endif

}  // namespace
}  // namespace pointops
