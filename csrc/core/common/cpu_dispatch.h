#pragma once
// CPU instruction-set dispatch. The CPU kernel files (*/*_cpu.cc) are compiled once per level, each
// with its own flags, and each level's objects are prelinked with every symbol made private except
// one table entry (CMakeLists.txt, "CPU levels"): so no function compiled for AVX-512, not even an
// STL instantiation, can be picked by the linker for a caller on an AVX-only CPU. This file is the
// only way in: cpu_kernels<T>() returns the entry points of the best level that this CPU runs
// (cpuid, checked once), capped by the environment variable POINTOPS_CPU_LEVEL.
//
// Levels, lowest first: "baseline" (the compiler's default target: SSE2 on x86-64, NEON on
// aarch64), "avx" (Sandy Bridge), "avx2" (AVX2 + FMA + BMI, Haswell), "avx512" (F, BW, CD, DQ, VL).
// Every level computes bit-identical results: the kernels build with -ffp-contract=off and use
// the same arithmetic (common/point_math.h).
#include <string>
#include <vector>

#include "emd/emd.h"
#include "emd/transport.h"
#include "knn/knn.h"
#include "nn/nn.h"
#include "pairwise/pairwise.h"

namespace pointops {

template <typename T>
struct CpuKernelsOf {
  decltype(&nn_distance_cpu<T>) nn_distance = nullptr;
  decltype(&nn_distance_grad_cpu<T>) nn_distance_grad = nullptr;
  decltype(&emd_match_cpu<T>) emd_match = nullptr;
  decltype(&emd_transport_cpu<T>) emd_transport = nullptr;
  decltype(&pairwise_chamfer_cpu<T>) pairwise_chamfer = nullptr;
  decltype(&knn_cpu<T>) knn = nullptr;
};

struct CpuKernels {
  CpuKernelsOf<float> f32;
  CpuKernelsOf<double> f64;

  template <typename T>
  const CpuKernelsOf<T>& of() const {
    if constexpr (sizeof(T) == 4) return f32; else return f64;
  }
};

// Each kernel file fills its entries of the table (defined once per level, private to it).
void register_nn_cpu(CpuKernels& table);
void register_emd_cpu(CpuKernels& table);
void register_transport_cpu(CpuKernels& table);
void register_pairwise_cpu(CpuKernels& table);
void register_knn_cpu(CpuKernels& table);

// The kernels of the level in use.
const CpuKernels& cpu_kernels();
template <typename T>
const CpuKernelsOf<T>& cpu_kernels_of() { return cpu_kernels().template of<T>(); }

// The level in use, and every level this build has that this CPU can run (lowest first).
const char* cpu_level();
std::vector<std::string> cpu_levels_supported();

}  // namespace pointops
