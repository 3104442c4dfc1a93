#pragma once
// A view of any Python object exposing __cuda_array_interface__ (CuPy, PyTorch, Numba):
// pointer, shape and dtype, checked to be C-contiguous.
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace pointops {

struct DeviceArray {
  void* data = nullptr;
  std::vector<int64_t> shape;
  std::string typestr;  // e.g. "<f4", "<i4"

  int64_t size() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
};

inline DeviceArray device_array(const pybind11::handle& obj, const char* name) {
  namespace py = pybind11;
  if (!py::hasattr(obj, "__cuda_array_interface__"))
    throw py::type_error(std::string(name) + " must be a CUDA device array (__cuda_array_interface__)");
  const py::dict cai = obj.attr("__cuda_array_interface__");
  DeviceArray out;
  out.data = reinterpret_cast<void*>(cai["data"].cast<py::tuple>()[0].cast<uintptr_t>());
  for (auto s : cai["shape"].cast<py::tuple>()) out.shape.push_back(s.cast<int64_t>());
  out.typestr = cai["typestr"].cast<std::string>();
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    int64_t expect = std::stoi(out.typestr.substr(2));
    const auto strides = cai["strides"].cast<py::tuple>();
    for (int k = int(out.shape.size()) - 1; k >= 0; --k) {
      if (out.shape[k] > 1 && strides[k].cast<int64_t>() != expect)
        throw py::value_error(std::string(name) + " must be C-contiguous");
      expect *= out.shape[k];
    }
  }
  return out;
}

}  // namespace pointops
