// pointops._C.nn_distance / nn_distance_grad (numpy, CPU) and their *_cuda twins.
#include <string>

#include "common/cpu_dispatch.h"
#include "python/bindings.h"
#include "python/door.h"
#include "common/thread_pool.h"

namespace pointops {
namespace {

NnAlgorithm parse_algorithm(const std::string& name) {
  if (name == "auto") return NnAlgorithm::kAuto;
  if (name == "brute") return NnAlgorithm::kBruteForce;
  if (name == "tree") return NnAlgorithm::kTree;
  throw py::value_error("algorithm must be 'auto', 'brute' or 'tree', got '" + name + "'");
}

template <typename T>
py::tuple nn_distance_typed(const py::array& a, const py::array& b, const py::array_t<int32_t>& a_len,
                            const py::array_t<int32_t>& b_len, NnAlgorithm algorithm, bool squared, int threads) {
  const int64_t B = a.shape(0), N = a.shape(1), M = b.shape(1);
  const int D = int(a.shape(2));
  py::array_t<T> dist_ab({B, N}), dist_ba({B, M});
  py::array_t<int32_t> idx_ab({B, N}), idx_ba({B, M});
  {
    py::gil_scoped_release release;
    cpu_kernels_of<T>().nn_distance(static_cast<const T*>(a.data()), static_cast<const T*>(b.data()), B, N, M, D,
                       a_len.data(), b_len.data(), dist_ab.mutable_data(), idx_ab.mutable_data(),
                       dist_ba.mutable_data(), idx_ba.mutable_data(), algorithm, squared,
                       thread_pool_parallel_for(threads));
  }
  return py::make_tuple(dist_ab, idx_ab, dist_ba, idx_ba);
}

py::tuple nn_distance(const py::handle& a_obj, const py::handle& b_obj, const py::object& a_lengths,
                      const py::object& b_lengths, const std::string& algorithm, bool squared, int threads) {
  const py::array a = float_array(a_obj, "a"), b = float_array(b_obj, "b");
  auto [a_len, b_len] = checked_lengths("nn_distance", dims_of(a), dims_of(b), a_lengths, b_lengths, false);
  if (!a.dtype().is(b.dtype())) throw py::type_error("nn_distance: a and b must have the same dtype");
  const NnAlgorithm algo = parse_algorithm(algorithm);
  return a.dtype().is(py::dtype::of<float>()) ? nn_distance_typed<float>(a, b, a_len, b_len, algo, squared, threads)
                                              : nn_distance_typed<double>(a, b, a_len, b_len, algo, squared, threads);
}

template <typename T>
py::tuple nn_distance_grad_typed(const py::array& a, const py::array& b, const py::array& idx_ab,
                                 const py::array& idx_ba, const py::array& g_ab,
                                 const py::array& g_ba, bool squared, int threads) {
  const int64_t B = a.shape(0), N = a.shape(1), M = b.shape(1);
  py::array_t<T> grad_a({B, N, a.shape(2)}), grad_b({B, M, b.shape(2)});
  {
    py::gil_scoped_release release;
    cpu_kernels_of<T>().nn_distance_grad(static_cast<const T*>(a.data()), static_cast<const T*>(b.data()), B, N, M,
                            int(a.shape(2)), static_cast<const int32_t*>(idx_ab.data()),
                            static_cast<const int32_t*>(idx_ba.data()), static_cast<const T*>(g_ab.data()),
                            static_cast<const T*>(g_ba.data()), grad_a.mutable_data(),
                            grad_b.mutable_data(), squared, thread_pool_parallel_for(threads));
  }
  return py::make_tuple(grad_a, grad_b);
}

py::tuple nn_distance_grad(const py::handle& a_obj, const py::handle& b_obj, const py::handle& idx_ab_obj,
                           const py::handle& idx_ba_obj, const py::handle& g_ab_obj,
                           const py::handle& g_ba_obj, bool squared, int threads) {
  const py::array a = float_array(a_obj, "a"), b = float_array(b_obj, "b");
  raise_if(check_point_sets("nn_distance_grad", dims_of(a), dims_of(b), false));
  if (!a.dtype().is(b.dtype())) throw py::type_error("nn_distance_grad: a and b must have the same dtype");
  const std::vector<int64_t> ab = {a.shape(0), a.shape(1)}, ba = {b.shape(0), b.shape(1)};
  auto idx_ab = index_array(idx_ab_obj, "nn_distance_grad: idx_ab");
  auto idx_ba = index_array(idx_ba_obj, "nn_distance_grad: idx_ba");
  py::array g_ab = py::array::ensure(g_ab_obj, py::array::c_style), g_ba = py::array::ensure(g_ba_obj, py::array::c_style);
  g_ab = g_ab.attr("astype")(a.dtype()), g_ba = g_ba.attr("astype")(a.dtype());
  raise_if(check_shape("nn_distance_grad", "idx_ab", dims_of(idx_ab), ab));
  raise_if(check_shape("nn_distance_grad", "g_ab", dims_of(g_ab), ab));
  raise_if(check_shape("nn_distance_grad", "idx_ba", dims_of(idx_ba), ba));
  raise_if(check_shape("nn_distance_grad", "g_ba", dims_of(g_ba), ba));
  raise_if(check_indices("nn_distance_grad", "idx_ab", idx_ab.data(), ab[0], ab[1], ba[1]));
  raise_if(check_indices("nn_distance_grad", "idx_ba", idx_ba.data(), ba[0], ba[1], ab[1]));
  return a.dtype().is(py::dtype::of<float>())
             ? nn_distance_grad_typed<float>(a, b, idx_ab, idx_ba, g_ab, g_ba, squared, threads)
             : nn_distance_grad_typed<double>(a, b, idx_ab, idx_ba, g_ab, g_ba, squared, threads);
}

#ifdef POINTOPS_WITH_CUDA
// Outputs are caller-allocated device arrays; the work is enqueued on `stream` (a cudaStream_t
// as an integer, 0 for the legacy default stream) and not synchronised.
void nn_distance_cuda_door(const py::handle& a_obj, const py::handle& b_obj, const py::object& a_lengths,
                           const py::object& b_lengths, const py::handle& dist_ab, const py::handle& idx_ab,
                           const py::handle& dist_ba, const py::handle& idx_ba, uintptr_t stream_handle) {
  const DeviceArray a = device_array(a_obj, "a"), b = device_array(b_obj, "b");
  auto [a_len, b_len] = checked_lengths("nn_distance_cuda", a.shape, b.shape, a_lengths, b_lengths, false);
  expect_same_float("nn_distance_cuda", a, b);
  const int64_t B = a.shape[0], N = a.shape[1], M = b.shape[1];
  const int D = int(a.shape[2]);
  const DeviceArray d_ab = expect_device(dist_ab, "dist_ab", a.typestr, {B, N});
  const DeviceArray i_ab = expect_device(idx_ab, "idx_ab", "<i4", {B, N});
  const DeviceArray d_ba = expect_device(dist_ba, "dist_ba", a.typestr, {B, M});
  const DeviceArray i_ba = expect_device(idx_ba, "idx_ba", "<i4", {B, M});
  auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceScratch scratch(nn_distance_cuda_workspace_bytes(B, N, M), stream);
  py::gil_scoped_release release;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    return nn_distance_cuda<T>(static_cast<const T*>(a.data), static_cast<const T*>(b.data), B, N, M, D,
                               a_len.data(), b_len.data(), static_cast<T*>(d_ab.data),
                               static_cast<int32_t*>(i_ab.data), static_cast<T*>(d_ba.data),
                               static_cast<int32_t*>(i_ba.data), scratch.ptr, stream);
  };
  raise_cuda("nn_distance_cuda", a.typestr == "<f4" ? run(float{}) : run(double{}));
  // The lengths are copied from pageable host memory, which completes before return.
}

void nn_distance_grad_cuda_door(const py::handle& a_obj, const py::handle& b_obj, const py::handle& idx_ab,
                                const py::handle& idx_ba, const py::handle& g_ab, const py::handle& g_ba,
                                const py::handle& grad_a, const py::handle& grad_b, uintptr_t stream_handle) {
  const DeviceArray a = device_array(a_obj, "a"), b = device_array(b_obj, "b");
  raise_if(check_point_sets("nn_distance_grad_cuda", a.shape, b.shape, false));
  expect_same_float("nn_distance_grad_cuda", a, b);
  const int64_t B = a.shape[0], N = a.shape[1], M = b.shape[1];
  const int D = int(a.shape[2]);
  const DeviceArray i_ab = expect_device(idx_ab, "idx_ab", "<i4", {B, N});
  const DeviceArray i_ba = expect_device(idx_ba, "idx_ba", "<i4", {B, M});
  const DeviceArray gd_ab = expect_device(g_ab, "g_ab", a.typestr, {B, N});
  const DeviceArray gd_ba = expect_device(g_ba, "g_ba", a.typestr, {B, M});
  const DeviceArray ga = expect_device(grad_a, "grad_a", a.typestr, {B, N, D});
  const DeviceArray gb = expect_device(grad_b, "grad_b", a.typestr, {B, M, D});
  auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceScratch scratch(nn_distance_grad_cuda_workspace_bytes(B, N, M), stream);
  py::gil_scoped_release release;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    return nn_distance_grad_cuda<T>(static_cast<const T*>(a.data), static_cast<const T*>(b.data), B, N, M, D,
                                    static_cast<const int32_t*>(i_ab.data), static_cast<const int32_t*>(i_ba.data),
                                    static_cast<const T*>(gd_ab.data), static_cast<const T*>(gd_ba.data),
                                    static_cast<T*>(ga.data), static_cast<T*>(gb.data), scratch.ptr, stream);
  };
  raise_cuda("nn_distance_grad_cuda", a.typestr == "<f4" ? run(float{}) : run(double{}));
}
#endif

}  // namespace

void bind_nn(py::module_& m) {
  using namespace pybind11::literals;
  m.def("nn_distance", &nn_distance, "a"_a, "b"_a, "a_lengths"_a = py::none(), "b_lengths"_a = py::none(),
        "algorithm"_a = "auto", "squared"_a = true, "threads"_a = 0,
        "Nearest neighbours both ways. a: [B,N,D], b: [B,M,D] float32/float64 -> "
        "(dist_ab [B,N], idx_ab [B,N] int32, dist_ba [B,M], idx_ba [B,M] int32).");
  m.def("nn_distance_grad", &nn_distance_grad, "a"_a, "b"_a, "idx_ab"_a, "idx_ba"_a, "g_ab"_a, "g_ba"_a,
        "squared"_a = true, "threads"_a = 0,
        "Gradient of sum(g_ab*dist_ab) + sum(g_ba*dist_ba) -> (grad_a, grad_b), for squared distances or (squared=False) "
        "Euclidean ones.");
#ifdef POINTOPS_WITH_CUDA
  m.def("nn_distance_cuda", &nn_distance_cuda_door, "a"_a, "b"_a, "a_lengths"_a, "b_lengths"_a, "dist_ab"_a,
        "idx_ab"_a, "dist_ba"_a, "idx_ba"_a, "stream"_a = 0,
        "nn_distance on CUDA device arrays; outputs preallocated; lengths host arrays or None.");
  m.def("nn_distance_grad_cuda", &nn_distance_grad_cuda_door, "a"_a, "b"_a, "idx_ab"_a, "idx_ba"_a, "g_ab"_a,
        "g_ba"_a, "grad_a"_a, "grad_b"_a, "stream"_a = 0, "nn_distance_grad on CUDA device arrays.");
#endif
}

}  // namespace pointops
