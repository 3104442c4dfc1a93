// Picks the CPU level once, from cpuid and POINTOPS_CPU_LEVEL (see cpu_dispatch.h). Compiled for
// the baseline target only, like every file outside the per-level kernels.
#include "common/cpu_dispatch.h"

#include <cstdlib>
#include <cstring>

// The levels this build has (POINTOPS_CPU_LEVEL_<name>, from CMakeLists.txt): always baseline; on
// x86-64 also avx, avx2 and avx512; with POINTOPS_NATIVE=1 baseline and native (-march=native,
// assumed to run here).
extern "C" void pointops_cpu_table_baseline(pointops::CpuKernels* table);
#if defined(POINTOPS_CPU_LEVEL_avx)
extern "C" void pointops_cpu_table_avx(pointops::CpuKernels* table);
extern "C" void pointops_cpu_table_avx2(pointops::CpuKernels* table);
extern "C" void pointops_cpu_table_avx512(pointops::CpuKernels* table);
#endif
#if defined(POINTOPS_CPU_LEVEL_native)
extern "C" void pointops_cpu_table_native(pointops::CpuKernels* table);
#endif

namespace pointops {
namespace {

struct Level {
  const char* name;
  void (*fill)(CpuKernels*);
  bool (*supported)();
};

#if defined(POINTOPS_CPU_LEVEL_avx)
// Each level is compiled for an x86-64 microarchitecture level (CMakeLists.txt: x86-64-v2 plus AVX,
// x86-64-v3, x86-64-v4), so each checks that whole level, not only its vector extension: the compiler
// may use any instruction the level includes (POPCNT, MOVBE, LZCNT, BMI, F16C, ...).
// __builtin_cpu_supports also checks that the OS saves the vector registers (XGETBV), so a CPU with
// AVX-512 under an OS or hypervisor that does not enable it reports no AVX-512.
bool has_avx() {
  __builtin_cpu_init();  // may run before any constructor that would have called it
  return __builtin_cpu_supports("x86-64-v2") && __builtin_cpu_supports("avx");
}
bool has_avx2() { return has_avx() && __builtin_cpu_supports("x86-64-v3"); }
bool has_avx512() { return has_avx2() && __builtin_cpu_supports("x86-64-v4"); }
#endif

const std::vector<Level>& levels() {  // lowest first
  static const std::vector<Level> all = {
      {"baseline", pointops_cpu_table_baseline, [] { return true; }},
#if defined(POINTOPS_CPU_LEVEL_avx)
      {"avx", pointops_cpu_table_avx, has_avx},
      {"avx2", pointops_cpu_table_avx2, has_avx2},
      {"avx512", pointops_cpu_table_avx512, has_avx512},
#endif
#if defined(POINTOPS_CPU_LEVEL_native)
      {"native", pointops_cpu_table_native, [] { return true; }},
#endif
  };
  return all;
}

struct Chosen {
  const char* name;
  CpuKernels table;
};

// The best supported level, capped by POINTOPS_CPU_LEVEL when it names a level (an unknown name
// caps nothing; the Python package warns about it).
Chosen choose() {
  const char* cap = std::getenv("POINTOPS_CPU_LEVEL");
  const Level* best = &levels()[0];
  for (const Level& level : levels()) {
    if (!level.supported()) break;
    best = &level;
    if (cap != nullptr && std::strcmp(cap, level.name) == 0) break;
  }
  Chosen chosen{best->name, {}};
  best->fill(&chosen.table);
  return chosen;
}

const Chosen& chosen() {
  static const Chosen once = choose();
  return once;
}

}  // namespace

const CpuKernels& cpu_kernels() { return chosen().table; }

const char* cpu_level() { return chosen().name; }

std::vector<std::string> cpu_levels_supported() {
  std::vector<std::string> names;
  for (const Level& level : levels()) {
    if (!level.supported()) break;
    names.push_back(level.name);
  }
  return names;
}

}  // namespace pointops
