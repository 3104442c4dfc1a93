// pointops._C: the core kernels for numpy arrays (CPU) and CUDA device buffers, without
// TensorFlow, so the kernels can be tested and timed on any machine.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "checks/input_checks.h"
#include "common/cpu_dispatch.h"
#include "common/reused_memory.h"
#ifdef POINTOPS_WITH_CUDA
#include <cuda_runtime.h>
#endif
#include "python/bindings.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "pointops compiled kernels (CPU on numpy arrays, CUDA on __cuda_array_interface__ buffers)";
#ifdef POINTOPS_WITH_CUDA
  m.attr("cuda_built") = true;
  m.def("cuda_driver_version", [] {
    int version = 0;
    return cudaDriverGetVersion(&version) == cudaSuccess ? version : 0;
  }, "The CUDA version the installed driver supports (13000 for 13.0), 0 without a driver.");
#else
  m.attr("cuda_built") = false;
#endif
  m.def("cpu_level", [] { return std::string(pointops::cpu_level()); },
        "The CPU instruction-set level the kernels run at (best supported, capped by POINTOPS_CPU_LEVEL).");
  m.def("cpu_levels", &pointops::cpu_levels_supported,
        "Every CPU level of this build that this processor runs, lowest first.");
  m.def("held_block_bytes", &pointops::held_block_bytes,
        "Bytes of large working buffers this module keeps for its next calls (common/reused_memory.h).");
  m.def("release_held_blocks", &pointops::release_held_blocks, "Frees the buffers held_block_bytes counts.");
  m.attr("max_held_block_bytes") = pointops::kMaxHeldBytes;
  pointops::bind_nn(m);
  pointops::bind_emd(m);
  pointops::bind_pairwise(m);
  pointops::bind_knn(m);
  pointops::bind_xla(m);
}
