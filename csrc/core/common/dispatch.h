#pragma once
// Compile-time dimension dispatch: kernels are templates on D (1..8) so that the
// per-pair loops unroll fully; the door checks 1 <= D <= kMaxDim before calling.
#include <stdexcept>
#include <string>
#include <type_traits>

namespace pointops {

constexpr int kMaxDim = 8;

template <int D>
using DimTag = std::integral_constant<int, D>;

// Calls fn(DimTag<D>{}) for the runtime dimension d in [1, kMaxDim]. Any other d is a caller's
// bug (the doors reject it): it throws std::invalid_argument rather than run a kernel for another D.
template <typename Fn>
auto dispatch_dim(int d, Fn&& fn) {
  switch (d) {
    case 1: return fn(DimTag<1>{});
    case 2: return fn(DimTag<2>{});
    case 3: return fn(DimTag<3>{});
    case 4: return fn(DimTag<4>{});
    case 5: return fn(DimTag<5>{});
    case 6: return fn(DimTag<6>{});
    case 7: return fn(DimTag<7>{});
    case 8: return fn(DimTag<8>{});
    default: throw std::invalid_argument("point dimension D = " + std::to_string(d) + " is outside [1, 8]");
  }
}

}  // namespace pointops
