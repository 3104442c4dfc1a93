#pragma once
// SIMD vectors through GCC's vector extensions, as wide as the CPU level's registers (one source for
// every level and for float and double): 64 bytes with AVX-512, 32 with AVX, 16 otherwise (SSE2,
// NEON). Wider generic vectors than the hardware has are split badly by the compiler. Include only
// from the kernel files compiled once per CPU level (common/cpu_dispatch.h).
#include <cstdint>
#include <utility>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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
  typedef int32_t I32 __attribute__((vector_size(kVectorBytes)));  // W int32 lanes
  static constexpr int W = kVectorBytes / 4;
};
template <> struct Simd<double> {
  typedef double V __attribute__((vector_size(kVectorBytes)));
  typedef double VU __attribute__((vector_size(kVectorBytes), aligned(8)));
  typedef int64_t I __attribute__((vector_size(kVectorBytes)));
  typedef int32_t I32 __attribute__((vector_size(kVectorBytes / 2)));  // W int32 lanes
  static constexpr int W = kVectorBytes / 8;
};

// True when any lane of a comparison's result (0 or all ones per lane) is set. GCC compiles the
// plain loop over lanes into one extraction per lane; the x86 tests below are one or two
// instructions.
template <typename Mask>
inline bool any_lane(const Mask& mask) {
#if defined(__AVX512F__)
  if constexpr (sizeof(Mask) == 64) return _mm512_test_epi32_mask(__m512i(mask), __m512i(mask)) != 0;
#endif
#if defined(__AVX__)
  if constexpr (sizeof(Mask) == 32) return !_mm256_testz_si256(__m256i(mask), __m256i(mask));
#endif
#if defined(__SSE2__)
  if constexpr (sizeof(Mask) == 16) return _mm_movemask_epi8(__m128i(mask)) != 0;
#endif
  bool any = false;
  for (int l = 0; l < int(sizeof(Mask) / sizeof(mask[0])); ++l) any |= mask[l] != 0;
  return any;
}

// One compare-exchange step of a bitonic sorting network over the lanes of v: lane i meets lane
// i ^ J, and keeps the lower value where the run of K lanes it belongs to ascends (i & K == 0) and
// i is the run's lower lane of the pair, else the higher. The masks are constants (pack expansions).
template <int J, int K, typename Vec, int... Lane>
inline Vec bitonic_step(Vec v, std::integer_sequence<int, Lane...>) {
  const Vec partner = {(Lane ^ J)...};
  const Vec take_low = {((((Lane & J) == 0) == ((Lane & K) == 0)) ? -1 : 0)...};
  const Vec other = __builtin_shuffle(v, partner);
  const Vec low = v < other ? v : other, high = v < other ? other : v;
  return take_low ? low : high;
}

template <int J, int K, typename Vec>
inline Vec bitonic_merge(Vec v) {
  constexpr int W = sizeof(Vec) / sizeof(v[0]);
  v = bitonic_step<J, K>(v, std::make_integer_sequence<int, W>());
  if constexpr (J > 1) return bitonic_merge<J / 2, K>(v);
  else return v;
}

// The lanes of an integer vector v (a power of two of them) in ascending order.
template <typename Vec, int K = 2>
inline Vec sort_lanes(Vec v) {
  constexpr int W = sizeof(Vec) / sizeof(v[0]);
  if constexpr (K > W) {
    return v;
  } else {
    return sort_lanes<Vec, 2 * K>(bitonic_merge<K / 2, K>(v));
  }
}

// How many queries one pass over the references keeps in registers: each needs D coordinates, a
// best distance and a best index, next to the D reference coordinates and two temporaries.
constexpr int queries_in_registers(int D) {
  const int fit = (kVectorRegisters - D - 2) / (D + 2);
  return fit < 1 ? 1 : (fit > 4 ? 4 : fit);
}

}  // namespace
}  // namespace pointops
