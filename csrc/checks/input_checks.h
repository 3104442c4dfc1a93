#pragma once
// Input checks shared by the two compiled doors (the TF kernels and the pybind11 module).
// Each returns "" when the input is fine, else a message that names the argument and shapes.
// Core code never validates: it relies on these having passed.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace pointops {

inline std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t k = 0; k < shape.size(); ++k) out << (k ? ", " : "") << shape[k];
  out << "]";
  return out.str();
}

// a: [B, N, D], b: [B, M, D]; equal_sizes requires N == M (EMD).
inline std::string check_point_sets(const char* op, const std::vector<int64_t>& a,
                                    const std::vector<int64_t>& b, bool equal_sizes) {
  std::ostringstream err;
  const std::string sa = shape_string(a), sb = shape_string(b);
  if (a.size() != 3) err << op << ": a must have rank 3 [B, N, D], got shape " << sa;
  else if (b.size() != 3) err << op << ": b must have rank 3 [B, M, D], got shape " << sb;
  else if (a[0] != b[0]) err << op << ": a and b must have the same batch size, got a " << sa << " and b " << sb;
  else if (a[2] != b[2]) err << op << ": a and b must have the same point dimension D, got a " << sa << " and b " << sb;
  else if (a[2] < 1 || a[2] > 8) err << op << ": point dimension D must be in [1, 8], got a " << sa << " and b " << sb;
  else if (a[1] < 1 || b[1] < 1) err << op << ": point sets must not be empty, got a " << sa << " and b " << sb;
  else if (equal_sizes && a[1] != b[1]) err << op << ": EMD here needs equal sizes N == M (a one-to-one assignment), got a " << sa << " and b " << sb;
  else if (a[0] * std::max(a[1], b[1]) > std::numeric_limits<int32_t>::max())
    err << op << ": B * N and B * M must be below 2^31, got a " << sa << " and b " << sb;
  return err.str();
}

// lengths: [B] int32 with 1 <= lengths[i] <= max_len.
inline std::string check_lengths(const char* op, const char* name, const int32_t* lengths,
                                 const std::vector<int64_t>& shape, int64_t B, int64_t max_len) {
  std::ostringstream err;
  if (shape.size() != 1 || shape[0] != B) {
    err << op << ": " << name << " must have shape [" << B << "], got " << shape_string(shape);
    return err.str();
  }
  for (int64_t i = 0; i < B; ++i) {
    if (lengths[i] < 1 || lengths[i] > max_len) {
      err << op << ": " << name << "[" << i << "] = " << lengths[i] << " is outside [1, " << max_len
          << "] (the padded size)";
      return err.str();
    }
  }
  return "";
}

}  // namespace pointops
