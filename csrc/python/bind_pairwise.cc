// pointops._C.pairwise_chamfer (numpy, CPU).
#include "common/cpu_dispatch.h"
#include "python/bindings.h"
#include "python/door.h"
#include "common/thread_pool.h"

namespace pointops {
namespace {

template <typename T>
py::array_t<T> pairwise_chamfer_typed(const py::array& x, const py::array& y, const py::array_t<int32_t>& x_len,
                                      const py::array_t<int32_t>& y_len, bool symmetric, int threads) {
  const int64_t S = x.shape(0), R = y.shape(0);
  py::array_t<T> out({S, R});
  {
    py::gil_scoped_release release;
    cpu_kernels_of<T>().pairwise_chamfer(static_cast<const T*>(x.data()), static_cast<const T*>(y.data()), S, R,
                                         x.shape(1), y.shape(1), int(x.shape(2)), x_len.data(), y_len.data(),
                                         symmetric, out.mutable_data(), thread_pool_parallel_for(threads));
  }
  return out;
}

// y=None: x against itself (symmetric, each pair computed once).
py::array pairwise_chamfer(const py::handle& x_obj, const py::object& y_obj, const py::object& x_lengths,
                           const py::object& y_lengths, int threads) {
  const bool symmetric = y_obj.is_none();
  if (symmetric && !y_lengths.is_none())
    throw py::value_error("pairwise_chamfer: y_lengths needs y (without y, x is compared with itself)");
  const py::array x = float_array(x_obj, "x");
  const py::array y = symmetric ? x : float_array(y_obj, "y");
  raise_if(check_cloud_sets("pairwise_chamfer", dims_of(x), dims_of(y)));
  if (!x.dtype().is(y.dtype())) throw py::type_error("pairwise_chamfer: x and y must have the same dtype");
  const auto x_len = checked_lengths_array("pairwise_chamfer", "x_lengths", x_lengths, x.shape(0), x.shape(1));
  const auto y_len = symmetric ? x_len
                               : checked_lengths_array("pairwise_chamfer", "y_lengths", y_lengths, y.shape(0), y.shape(1));
  return x.dtype().is(py::dtype::of<float>()) ? py::array(pairwise_chamfer_typed<float>(x, y, x_len, y_len, symmetric, threads))
                                              : py::array(pairwise_chamfer_typed<double>(x, y, x_len, y_len, symmetric, threads));
}

}  // namespace

void bind_pairwise(py::module_& m) {
  m.def("pairwise_chamfer", &pairwise_chamfer, py::arg("x"), py::arg("y") = py::none(),
        py::arg("x_lengths") = py::none(), py::arg("y_lengths") = py::none(), py::arg("threads") = 0,
        "Chamfer distance of every cloud of x [S, N, D] to every cloud of y [R, M, D] -> [S, R] (mean squared "
        "nearest-neighbour distance both ways, summed); y=None compares x with itself.");
}

}  // namespace pointops
