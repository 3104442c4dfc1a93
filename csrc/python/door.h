#pragma once
// Shared helpers of the pybind11 door: numpy inputs, lengths, error conversion.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "checks/input_checks.h"
#include "common/point_math.h"
#include "python/device_array.h"
#ifdef POINTOPS_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace pointops {

namespace py = pybind11;

inline std::vector<int64_t> dims_of(const py::array& x) {
  return std::vector<int64_t>(x.shape(), x.shape() + x.ndim());
}

inline void raise_if(const std::string& err) {
  if (!err.empty()) throw py::value_error(err);
}

// A numpy array of float32 or float64 as given (no silent casts), C-contiguous.
inline py::array float_array(const py::handle& obj, const char* name) {
  py::array x = py::array::ensure(obj, py::array::c_style);
  if (!x) throw py::type_error(std::string(name) + " must be convertible to a numpy array");
  if (!x.dtype().is(py::dtype::of<float>()) && !x.dtype().is(py::dtype::of<double>()))
    throw py::type_error(std::string(name) + " must be float32 or float64, got " +
                         std::string(py::str(x.dtype())));
  return x;
}

// lengths as int32 [B]; None means every point is valid.
inline py::array_t<int32_t> lengths_array(const py::object& obj, int64_t B, int64_t full) {
  if (obj.is_none()) {
    py::array_t<int32_t> out(B);
    std::fill(out.mutable_data(), out.mutable_data() + B, int32_t(full));
    return out;
  }
  return py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(obj);
}

// Checks a [B,N,D], b [B,M,D] and the lengths; returns the lengths as int32 arrays.
inline std::pair<py::array_t<int32_t>, py::array_t<int32_t>> checked_lengths(
    const char* op, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
    const py::object& a_len_obj, const py::object& b_len_obj, bool equal_sizes) {
  raise_if(check_point_sets(op, a, b, equal_sizes));
  auto a_len = lengths_array(a_len_obj, a[0], a[1]);
  auto b_len = lengths_array(b_len_obj, b[0], b[1]);
  raise_if(check_lengths(op, "a_lengths", a_len.data(), dims_of(a_len), a[0], a[1]));
  raise_if(check_lengths(op, "b_lengths", b_len.data(), dims_of(b_len), b[0], b[1]));
  return {a_len, b_len};
}

// A device array with the expected dtype and shape, or a ValueError naming it.
inline DeviceArray expect_device(const py::handle& obj, const char* name, const std::string& typestr,
                                 const std::vector<int64_t>& shape) {
  DeviceArray x = device_array(obj, name);
  if (x.typestr != typestr || x.shape != shape)
    throw py::value_error(std::string(name) + " must be " + typestr + " with shape " +
                          shape_string(shape) + ", got " + x.typestr + " " + shape_string(x.shape));
  return x;
}

// a and b share a float dtype (float32 or float64), or a TypeError naming the op and both dtypes.
inline void expect_same_float(const char* op, const DeviceArray& a, const DeviceArray& b) {
  if (a.typestr != b.typestr || (a.typestr != "<f4" && a.typestr != "<f8"))
    throw py::type_error(std::string(op) + ": a and b must both be float32 (<f4) or both float64 (<f8), got " +
                         a.typestr + " and " + b.typestr);
}

#ifdef POINTOPS_WITH_CUDA
inline void raise_cuda(const char* op, CudaStatus status) {
  if (status != 0) throw std::runtime_error(std::string(op) + ": CUDA error: " + cuda_status_string(status));
}

// Device scratch memory for one call, stream-ordered.
struct DeviceScratch {
  void* ptr = nullptr;
  cudaStream_t stream;
  DeviceScratch(size_t bytes, cudaStream_t s) : stream(s) {
    raise_cuda("scratch allocation", static_cast<CudaStatus>(cudaMallocAsync(&ptr, bytes + 1, stream)));
  }
  ~DeviceScratch() { cudaFreeAsync(ptr, stream); }
};
#endif

}  // namespace pointops
