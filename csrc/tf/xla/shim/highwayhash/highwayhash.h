#pragma once
// Shim (see ../README.md): xla::HighwayHashPrinter holds a HighwayHashCatT member. The lowerings never
// construct that printer (its constructor lives in TensorFlow), so the member's layout is never used.
namespace highwayhash {
template <unsigned Target>
class HighwayHashCatT {};
}  // namespace highwayhash
