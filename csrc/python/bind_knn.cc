// pointops._C.knn (numpy, CPU) and knn_cuda (device arrays).
#include "common/cpu_dispatch.h"
#include "knn/knn.h"
#include "python/bindings.h"
#include "python/door.h"
#include "common/thread_pool.h"

namespace pointops {
namespace {

// Checks a, b, k, norm and the lengths (which may be 0 here); returns the lengths as int32.
std::pair<py::array_t<int32_t>, py::array_t<int32_t>> checked_knn_inputs(
    const char* op, const std::vector<int64_t>& a, const std::vector<int64_t>& b, int64_t k, int64_t norm,
    const py::object& a_lengths, const py::object& b_lengths) {
  raise_if(check_point_sets(op, a, b, false));
  raise_if(check_knn_args(op, k, norm, a));
  return {checked_lengths_array(op, "a_lengths", a_lengths, a[0], a[1], 0),
          checked_lengths_array(op, "b_lengths", b_lengths, a[0], b[1], 0)};
}

template <typename T>
py::tuple knn_typed(const py::array& a, const py::array& b, int k, int norm, const py::array_t<int32_t>& a_len,
                    const py::array_t<int32_t>& b_len, int threads) {
  const int64_t B = a.shape(0), N = a.shape(1), M = b.shape(1);
  py::array_t<T> dist({B, N, int64_t(k)});
  py::array_t<int32_t> idx({B, N, int64_t(k)});
  {
    py::gil_scoped_release release;
    cpu_kernels_of<T>().knn(static_cast<const T*>(a.data()), static_cast<const T*>(b.data()), B, N, M,
                            int(a.shape(2)), k, Metric(norm), a_len.data(), b_len.data(), dist.mutable_data(),
                            idx.mutable_data(), thread_pool_parallel_for(threads));
  }
  return py::make_tuple(dist, idx);
}

py::tuple knn(const py::handle& a_obj, const py::handle& b_obj, int64_t k, const py::object& a_lengths,
              const py::object& b_lengths, int64_t norm, int threads) {
  const py::array a = float_array(a_obj, "a"), b = float_array(b_obj, "b");
  auto [a_len, b_len] = checked_knn_inputs("knn", dims_of(a), dims_of(b), k, norm, a_lengths, b_lengths);
  if (!a.dtype().is(b.dtype())) throw py::type_error("knn: a and b must have the same dtype");
  return a.dtype().is(py::dtype::of<float>()) ? knn_typed<float>(a, b, int(k), int(norm), a_len, b_len, threads)
                                              : knn_typed<double>(a, b, int(k), int(norm), a_len, b_len, threads);
}

#ifdef POINTOPS_WITH_CUDA
// Outputs are caller-allocated device arrays; the work is enqueued on `stream` (a cudaStream_t
// as an integer, 0 for the legacy default stream) and not synchronised.
void knn_cuda_door(const py::handle& a_obj, const py::handle& b_obj, int64_t k, const py::object& a_lengths,
                   const py::object& b_lengths, const py::handle& dist_obj, const py::handle& idx_obj, int64_t norm,
                   uintptr_t stream_handle) {
  const DeviceArray a = device_array(a_obj, "a"), b = device_array(b_obj, "b");
  auto [a_len, b_len] = checked_knn_inputs("knn_cuda", a.shape, b.shape, k, norm, a_lengths, b_lengths);
  expect_same_float("knn_cuda", a, b);
  const int64_t B = a.shape[0], N = a.shape[1], M = b.shape[1];
  const DeviceArray dist = expect_device(dist_obj, "dist", a.typestr, {B, N, k});
  const DeviceArray idx = expect_device(idx_obj, "idx", "<i4", {B, N, k});
  auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceScratch scratch(knn_cuda_workspace_bytes(B, N, M, int(k), a.typestr == "<f4" ? 4 : 8), stream);
  py::gil_scoped_release release;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    return knn_cuda<T>(static_cast<const T*>(a.data), static_cast<const T*>(b.data), B, N, M, int(a.shape[2]),
                       int(k), Metric(norm), a_len.data(), b_len.data(), static_cast<T*>(dist.data),
                       static_cast<int32_t*>(idx.data), scratch.ptr, stream);
  };
  raise_cuda("knn_cuda", a.typestr == "<f4" ? run(float{}) : run(double{}));
}
#endif

}  // namespace

void bind_knn(py::module_& m) {
  using namespace pybind11::literals;
  m.def("knn", &knn, "a"_a, "b"_a, "k"_a, "a_lengths"_a = py::none(), "b_lengths"_a = py::none(), "norm"_a = 2,
        "threads"_a = 0,
        "The k nearest points of b for every point of a. a: [B,N,D], b: [B,M,D] float32/float64 -> "
        "(dist [B,N,k] ascending, squared Euclidean (norm 2) or L1 (norm 1); idx [B,N,k] int32, -1 past the cloud).");
#ifdef POINTOPS_WITH_CUDA
  m.def("knn_cuda", &knn_cuda_door, "a"_a, "b"_a, "k"_a, "a_lengths"_a, "b_lengths"_a, "dist"_a, "idx"_a,
        "norm"_a = 2, "stream"_a = 0, "knn on CUDA device arrays; outputs preallocated; lengths host arrays or None.");
#endif
}

}  // namespace pointops
