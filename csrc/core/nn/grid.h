#pragma once
// A uniform grid over one cloud (a cell list) for exact nearest-neighbour queries in 2D and 3D
// (CPU only). About two points per cell; the points are stored in cell order with the bounding
// box of each cell's own points. A query visits the cells in rings of growing Chebyshev radius
// around its own cell, skips a cell only when the squared distance to that cell's box is strictly
// greater than the best distance found, and stops when every cell outside the visited rings lies
// at least one full cell further away than the best distance. The box bound is computed with the
// rounding of squared_distance() and never exceeds a computed distance inside it (each coordinate
// gap is at most the point's own), so ties are never pruned and the grid returns exactly what the
// brute force returns: the lowest index among the nearest (nn_better).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/point_math.h"

namespace pointops {

template <typename T, int D>
class Grid {
  static_assert(D == 2 || D == 3, "the grid serves 2D and 3D clouds");

 public:
  // Cells hold about this many points on average.
  static constexpr double kPointsPerCell = 4.0;

  // src: [n, D] row-major, finite; copied in cell order. False (nothing built) when the cloud is
  // too unevenly spread for a grid: then some cell would hold more than max_cell points.
  bool build(const T* src, int64_t n, int64_t max_cell) {
    n_ = n;
    for (int d = 0; d < D; ++d) lo_[d] = hi_[d] = src[d];
    for (int64_t i = 1; i < n; ++i)
      for (int d = 0; d < D; ++d) lo_[d] = std::min(lo_[d], src[i * D + d]), hi_[d] = std::max(hi_[d], src[i * D + d]);
    // Cell size from the box's volume over the wanted cell count, ignoring flat dimensions.
    double extent[D], volume = 1;
    int spread = 0;
    for (int d = 0; d < D; ++d) {
      extent[d] = double(hi_[d]) - double(lo_[d]);
      if (extent[d] > 0) volume *= extent[d], ++spread;
    }
    const double wanted = std::max(1.0, double(n) / kPointsPerCell);
    const double size = spread ? std::pow(volume / wanted, 1.0 / spread) : 1.0;
    int64_t cells = 1;
    for (int d = 0; d < D; ++d) {
      const double count = extent[d] > 0 && size > 0 ? std::ceil(extent[d] / size) : 1.0;
      dims_[d] = int32_t(std::clamp(count, 1.0, 4096.0));
      inv_[d] = extent[d] > 0 ? double(dims_[d]) / extent[d] : 0.0;
      cell_size_[d] = extent[d] > 0 ? extent[d] / dims_[d] : std::numeric_limits<double>::infinity();
      cells *= dims_[d];
    }
    // Counting sort of the points by cell (stable: original order within a cell).
    std::vector<int32_t> cell_of(n);
    start_.assign(size_t(cells) + 1, 0);
    for (int64_t i = 0; i < n; ++i) {
      cell_of[i] = int32_t(cell_index(src + i * D));
      ++start_[cell_of[i] + 1];
    }
    for (int64_t c = 0; c < cells; ++c) {
      if (start_[c + 1] > max_cell) return false;
      start_[c + 1] += start_[c];
    }
    std::vector<int64_t> cursor(start_.begin(), start_.end() - 1);
    ids_.resize(n);
    pts_.resize(size_t(n) * D);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = cursor[cell_of[i]]++;
      ids_[k] = int32_t(i);
      for (int d = 0; d < D; ++d) pts_[k * D + d] = src[i * D + d];
    }
    box_.assign(size_t(cells) * 2 * D, T(0));
    for (int64_t c = 0; c < cells; ++c) {
      T* box = &box_[c * 2 * D];  // [lo_0..lo_{D-1}, hi_0..hi_{D-1}] of the cell's own points
      for (int d = 0; d < D; ++d) box[d] = std::numeric_limits<T>::infinity(), box[D + d] = -box[d];
      for (int64_t k = start_[c]; k < start_[c + 1]; ++k)
        for (int d = 0; d < D; ++d) box[d] = std::min(box[d], pts_[k * D + d]), box[D + d] = std::max(box[D + d], pts_[k * D + d]);
    }
    return true;
  }

  // Nearest neighbour of the points of `queries` taken in that grid's cell order, positions
  // [begin, end) (neighbouring queries search the same cells). Writes dist[id], idx[id] for
  // each query's original index id.
  void query_grid_order(const Grid& queries, int64_t begin, int64_t end, T* dist, int32_t* idx) const {
    for (int64_t k = begin; k < end; ++k) {
      T best = std::numeric_limits<T>::infinity();
      int32_t best_i = 0;
      search(&queries.pts_[k * D], best, best_i);
      dist[queries.ids_[k]] = best;
      idx[queries.ids_[k]] = best_i;
    }
  }

 private:
  int64_t cell_coordinate(const T* p, int d) const {
    const double c = std::floor((double(p[d]) - double(lo_[d])) * inv_[d]);
    return int64_t(std::clamp(c, 0.0, double(dims_[d] - 1)));  // NaN-free: the cloud is finite
  }

  int64_t cell_index(const T* p) const {
    int64_t index = 0;
    for (int d = D - 1; d >= 0; --d) index = index * dims_[d] + cell_coordinate(p, d);
    return index;
  }

  // Squared distance from q to the box of cell c's points, a lower bound of every computed
  // squared_distance from q to them (same operations, each term no larger).
  T box_bound(const T* q, int64_t c) const {
    const T* box = &box_[c * 2 * D];
    T acc = T(0);
    for (int d = 0; d < D; ++d) {
      const T gap = q[d] < box[d] ? box[d] - q[d] : (q[d] > box[D + d] ? q[d] - box[D + d] : T(0));
      acc = d == 0 ? mul_rn(gap, gap) : add_rn(acc, mul_rn(gap, gap));
    }
    return acc;
  }

  void scan_cell(const T* q, int64_t c, T& best, int32_t& best_i) const {
    if (start_[c] == start_[c + 1] || box_bound(q, c) > best) return;
    for (int64_t k = start_[c]; k < start_[c + 1]; ++k) {
      const T d = squared_distance<D>(q, &pts_[k * D]);
      if (nn_better(d, ids_[k], best, best_i)) best = d, best_i = ids_[k];
    }
  }

  void search(const T* q, T& best, int32_t& best_i) const {
    int64_t home[D];
    int64_t max_radius = 0;
    double min_cell = std::numeric_limits<double>::infinity();
    for (int d = 0; d < D; ++d) {
      home[d] = cell_coordinate(q, d);
      max_radius = std::max({max_radius, home[d], dims_[d] - 1 - home[d]});
      min_cell = std::min(min_cell, cell_size_[d]);
    }
    for (int64_t r = 0; r <= max_radius; ++r) {
      // Cells outside the rings visited so far are r cells away from home in some dimension, so
      // at least (r - 1) cell sizes away from q (one cell of slack for the rounding of the cell
      // coordinates): once that exceeds the best distance, nothing outside can win or tie.
      if (r >= 2) {
        const double gap = double(r - 1) * min_cell;
        if (gap * gap > double(best) * (1 + 1e-5)) return;
      }
      visit_ring(q, home, r, best, best_i);
    }
  }

  // Every cell at Chebyshev distance exactly r from home, in index order within the ring.
  void visit_ring(const T* q, const int64_t (&home)[D], int64_t r, T& best, int32_t& best_i) const {
    int64_t from[D], to[D];
    for (int d = 0; d < D; ++d) from[d] = std::max<int64_t>(0, home[d] - r), to[d] = std::min<int64_t>(dims_[d] - 1, home[d] + r);
    // Rows that are not on the ring's edge hold only their two end cells: jump over the interior.
    if constexpr (D == 2) {
      for (int64_t y = from[1]; y <= to[1]; ++y) {
        const bool edge = y == home[1] - r || y == home[1] + r;
        for (int64_t x = from[0]; x <= to[0]; ++x) {
          if (!edge && x != home[0] - r && x != home[0] + r) {
            x = home[0] + r - 1;
            continue;
          }
          scan_cell(q, y * dims_[0] + x, best, best_i);
        }
      }
    } else {
      for (int64_t z = from[2]; z <= to[2]; ++z) {
        const bool edge_z = z == home[2] - r || z == home[2] + r;
        for (int64_t y = from[1]; y <= to[1]; ++y) {
          const bool edge = edge_z || y == home[1] - r || y == home[1] + r;
          for (int64_t x = from[0]; x <= to[0]; ++x) {
            if (!edge && x != home[0] - r && x != home[0] + r) {
              x = home[0] + r - 1;
              continue;
            }
            scan_cell(q, (z * dims_[1] + y) * dims_[0] + x, best, best_i);
          }
        }
      }
    }
  }

  int64_t n_ = 0;
  T lo_[D], hi_[D];
  int32_t dims_[D];
  double inv_[D], cell_size_[D];
  std::vector<int64_t> start_;  // [cells + 1]: the cell's points are positions [start_[c], start_[c + 1])
  std::vector<int32_t> ids_;    // position -> original index
  std::vector<T> pts_;          // [n, D] in cell order
  std::vector<T> box_;          // [cells, 2, D]: bounding box of each cell's points
};

}  // namespace pointops
