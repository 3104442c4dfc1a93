#pragma once
// Shared helpers of the pybind11 door: numpy inputs, lengths, error conversion.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <limits>
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

// obj as a numpy array of any integer type, or a TypeError naming it (label: "op: argument").
inline py::array integer_array(const py::handle& obj, const std::string& label) {
  py::array given = py::array::ensure(obj);
  if (!given || (given.dtype().kind() != 'i' && given.dtype().kind() != 'u'))
    throw py::type_error(label + " must be an integer array, got " +
                         (given ? std::string(py::str(given.dtype())) : std::string("a non-array")));
  return given;
}

// Lengths [B]: None means every point is valid. Any integer array is taken, checked at full width
// (an int64 of 2^32 + 5 is out of range, not 5), then narrowed to int32.
inline py::array_t<int32_t> checked_lengths_array(const char* op, const char* name, const py::object& obj,
                                                  int64_t B, int64_t full, int64_t min_len = 1) {
  py::array_t<int32_t> out(B);
  if (obj.is_none()) {
    std::fill(out.mutable_data(), out.mutable_data() + B, int32_t(full));
    return out;
  }
  py::array given = integer_array(obj, std::string(op) + ": " + name);
  if (given.dtype().kind() == 'u' && given.dtype().itemsize() == 8)  // above INT64_MAX would wrap
    given = given.attr("clip")(0, full + 1);
  const auto wide = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(given);
  raise_if(check_lengths(op, name, wide.data(), dims_of(wide), B, full, min_len));
  for (int64_t i = 0; i < B; ++i) out.mutable_data()[i] = int32_t(wide.data()[i]);
  return out;
}

// Neighbour indices as int32: any integer array, saturated (not wrapped) into int32's range, so that
// an out-of-range index stays out of range for check_indices.
inline py::array_t<int32_t> index_array(const py::handle& obj, const char* name) {
  py::array given = integer_array(obj, name);
  if (given.dtype().itemsize() > 4 || given.dtype().kind() == 'u')
    given = given.attr("clip")(given.dtype().kind() == 'u' ? 0 : std::numeric_limits<int32_t>::min(),
                               std::numeric_limits<int32_t>::max());
  return py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(given);
}

// Checks a [B,N,D], b [B,M,D] and the lengths; returns the lengths as int32 arrays.
inline std::pair<py::array_t<int32_t>, py::array_t<int32_t>> checked_lengths(
    const char* op, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
    const py::object& a_len_obj, const py::object& b_len_obj, bool equal_sizes) {
  raise_if(check_point_sets(op, a, b, equal_sizes));
  return {checked_lengths_array(op, "a_lengths", a_len_obj, a[0], a[1]),
          checked_lengths_array(op, "b_lengths", b_len_obj, b[0], b[1])};
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
