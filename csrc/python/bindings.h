#pragma once
// One bind_* function per op, each in its own file.
#include <pybind11/pybind11.h>

namespace pointops {
void bind_nn(pybind11::module_& m);
void bind_emd(pybind11::module_& m);
void bind_pairwise(pybind11::module_& m);
void bind_knn(pybind11::module_& m);
void bind_xla(pybind11::module_& m);
}  // namespace pointops
