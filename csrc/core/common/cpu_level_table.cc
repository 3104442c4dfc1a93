// One CPU level's table of kernels, compiled once per level with that level's flags. The level's
// prelinked object exports only POINTOPS_CPU_TABLE_ENTRY (CMakeLists.txt), a C name per level.
#include "common/cpu_dispatch.h"

#ifndef POINTOPS_CPU_TABLE_ENTRY
#error "POINTOPS_CPU_TABLE_ENTRY names this level's table function (set by CMakeLists.txt)"
#endif

extern "C" void POINTOPS_CPU_TABLE_ENTRY(pointops::CpuKernels* table) {
  pointops::register_nn_cpu(*table);
  pointops::register_emd_cpu(*table);
  pointops::register_transport_cpu(*table);
  pointops::register_pairwise_cpu(*table);
  pointops::register_knn_cpu(*table);
}
