#pragma once
// Scale safety. Squares of coordinate differences underflow or overflow T long before the distances
// themselves do (float32: coordinates below about 1e-19 or above 1e19), which made indices wrong and
// values 0 or inf. Distances are homogeneous: scaling a cloud pair by 2^-k scales every distance by
// 2^-k (a squared one by 2^-2k) and changes no comparison, index or assignment, and a power of two is
// exact in floating point. So a pair whose largest coordinate lies outside a window around 1 is
// computed on copies scaled by 2^-k, and the values are scaled back (where the true value overflows or
// underflows T, so does the result). A pair inside the window is not copied: the same bits as before.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace pointops {

// The largest |coordinate| of a set of points, and whether every coordinate is finite, from one integer
// max over the coordinates' bits without their sign: for |x| the bits order as the values do, and a
// non-finite value (inf, NaN) has all exponent bits set, above every finite one. A loop the compiler
// vectorises, so ordinary clouds pay almost nothing for the check.
template <typename T>
class Magnitude {
 public:
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;

  Magnitude& add(const T* p, int64_t count) {
    constexpr Bits kNoSign = ~(Bits(1) << (8 * sizeof(T) - 1));
    Bits m = bits_;
    for (int64_t i = 0; i < count; ++i) {
      Bits b;
      std::memcpy(&b, p + i, sizeof b);
      b &= kNoSign;
      m = b > m ? b : m;
    }
    bits_ = m;
    return *this;
  }
  Magnitude& add(const Magnitude& other) {
    bits_ = std::max(bits_, other.bits_);
    return *this;
  }

  bool finite() const { return bits_ < kExponentBits; }
  T max_abs() const {
    T v;
    std::memcpy(&v, &bits_, sizeof v);
    return v;
  }

 private:
  static constexpr Bits kExponentBits = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  Bits bits_ = 0;
};

// The k to scale by 2^-k: 0 inside the window, else the exponent of max_abs (the scaled largest
// coordinate is then in [1, 2)). The window keeps every squared difference (at most 8 (2 max_abs)^2)
// far below T's largest value, and the squared nearest distances of any cloud far above its smallest
// normal number: a float cloud whose largest coordinate is 2^-30 would need 2^33 points per axis for
// its neighbours to come within 2^-63 (squares below 2^-126). Non-finite clouds are left as they are
// (their NaN rules apply), and so are clouds of zeros.
template <typename T>
int pair_scale_exponent(const Magnitude<T>& m) {
  if (!m.finite() || m.max_abs() == T(0)) return 0;
  constexpr int kWindow = sizeof(T) == 4 ? 30 : 250;
  const int e = std::ilogb(m.max_abs());
  return e < -kWindow || e > kWindow ? e : 0;
}

// src [count] times 2^-k into dst (resized); exact unless a result is subnormal.
template <typename T>
void scaled_copy(const T* src, int64_t count, int k, std::vector<T>& dst) {
  dst.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) dst[size_t(i)] = std::ldexp(src[i], -k);
}

// One cloud pair as a kernel computes it: a [a_count] and b [b_count] coordinates, or their copies
// scaled by 2^-k when the pair's magnitude needs it (finite: every coordinate is finite; k = 0 if not).
template <typename T>
struct ScaledPair {
  const T* a;
  const T* b;
  int k = 0;
  bool finite = true;

  ScaledPair(const T* a_in, int64_t a_count, const T* b_in, int64_t b_count) : a(a_in), b(b_in) {
    Magnitude<T> pair;
    pair.add(a_in, a_count).add(b_in, b_count);
    finite = pair.finite();
    k = pair_scale_exponent(pair);
    if (k == 0) return;
    scaled_copy(a_in, a_count, k, a_copy_);
    scaled_copy(b_in, b_count, k, b_copy_);
    a = a_copy_.data(), b = b_copy_.data();
  }

 private:
  std::vector<T> a_copy_, b_copy_;
};

// A value computed on clouds scaled by 2^-k, brought back: times 2^(power k), power 1 for a distance,
// 2 for a squared one; rounded once, to inf or to 0 where the true value is out of T's range.
template <typename T>
T unscaled(T value, int k, int power) {
  return k == 0 ? value : std::ldexp(value, power * k);
}

}  // namespace pointops
