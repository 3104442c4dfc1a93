// pointops._C: the core kernels for numpy arrays (CPU) and CUDA device buffers, without
// TensorFlow, so the kernels can be tested and timed on any machine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "checks/input_checks.h"
#include "python/bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "pointops compiled kernels (CPU on numpy arrays, CUDA on __cuda_array_interface__ buffers)";
#ifdef POINTOPS_WITH_CUDA
  m.attr("cuda_built") = true;
#else
  m.attr("cuda_built") = false;
#endif
  pointops::bind_nn(m);
  pointops::bind_emd(m);
}
