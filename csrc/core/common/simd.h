#pragma once
// SIMD vectors through GCC's vector extensions, as wide as the CPU level's registers (one source for
// every level and for float and double): 64 bytes with AVX-512, 32 with AVX, 16 otherwise (SSE2,
// NEON). Wider generic vectors than the hardware has are split badly by the compiler. Include only
// from the kernel files compiled once per CPU level (common/cpu_dispatch.h).
#include <cstdint>

namespace pointops {
// Unnamed: each level's translation units define these differently (vector widths), so none may
// be shared across units.
namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64, kVectorRegisters = 32;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32, kVectorRegisters = 16;
#else
constexpr int kVectorBytes = 16, kVectorRegisters = 16;
#endif

template <typename T> struct Simd;
template <> struct Simd<float> {
  typedef float V __attribute__((vector_size(kVectorBytes)));
  typedef float VU __attribute__((vector_size(kVectorBytes), aligned(4)));  // unaligned loads
  typedef int32_t I __attribute__((vector_size(kVectorBytes)));
  static constexpr int W = kVectorBytes / 4;
};
template <> struct Simd<double> {
  typedef double V __attribute__((vector_size(kVectorBytes)));
  typedef double VU __attribute__((vector_size(kVectorBytes), aligned(8)));
  typedef int64_t I __attribute__((vector_size(kVectorBytes)));
  static constexpr int W = kVectorBytes / 8;
};

// How many queries one pass over the references keeps in registers: each needs D coordinates, a
// best distance and a best index, next to the D reference coordinates and two temporaries.
constexpr int queries_in_registers(int D) {
  const int fit = (kVectorRegisters - D - 2) / (D + 2);
  return fit < 1 ? 1 : (fit > 4 ? 4 : fit);
}

}  // namespace
}  // namespace pointops
