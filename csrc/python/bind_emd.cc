// pointops._C.emd_match (numpy, CPU) and emd_match_cuda (device buffers).
#include "common/cpu_dispatch.h"
#include "python/bindings.h"
#include "python/door.h"
#include "common/thread_pool.h"

namespace pointops {
namespace {

EmdOptions make_options(const char* op, bool squared, double rel_tol, int64_t max_rounds) {
  if (!(rel_tol > 0)) throw py::value_error(std::string(op) + ": rel_tol must be > 0");
  EmdOptions options;
  options.squared = squared;
  options.rel_tol = rel_tol;
  options.max_rounds = max_rounds;
  return options;
}

py::array_t<int32_t> checked_emd_lengths(const char* op, const std::vector<int64_t>& a,
                                         const std::vector<int64_t>& b, const py::object& lengths) {
  raise_if(check_point_sets(op, a, b, true));
  return checked_lengths_array(op, "lengths", lengths, a[0], a[1]);
}

template <typename T>
py::tuple emd_match_typed(const py::array& a, const py::array& b, const py::array_t<int32_t>& len,
                          const EmdOptions& options, int threads) {
  const int64_t B = a.shape(0), N = a.shape(1);
  py::array_t<int32_t> assignment({B, N});
  py::array_t<T> gap(B);
  int64_t rounds = 0;
  EmdOptions with_rounds = options;
  with_rounds.rounds_used = &rounds;
  {
    py::gil_scoped_release release;
    cpu_kernels_of<T>().emd_match(static_cast<const T*>(a.data()), static_cast<const T*>(b.data()), B, N, int(a.shape(2)),
                     len.data(), with_rounds, assignment.mutable_data(), gap.mutable_data(),
                     thread_pool_parallel_for(threads));
  }
  raise_if(check_emd_cost_range("emd_match", static_cast<const T*>(a.data()), static_cast<const T*>(b.data()), B,
                                N, N, int(a.shape(2)), len.data(), len.data(), gap.data()));
  return py::make_tuple(assignment, gap, rounds);
}

py::tuple emd_match(const py::handle& a_obj, const py::handle& b_obj, const py::object& lengths, bool squared,
                    double rel_tol, int64_t max_rounds, int threads) {
  const py::array a = float_array(a_obj, "a"), b = float_array(b_obj, "b");
  const auto len = checked_emd_lengths("emd_match", dims_of(a), dims_of(b), lengths);
  if (!a.dtype().is(b.dtype())) throw py::type_error("emd_match: a and b must have the same dtype");
  const EmdOptions options = make_options("emd_match", squared, rel_tol, max_rounds);
  return a.dtype().is(py::dtype::of<float>()) ? emd_match_typed<float>(a, b, len, options, threads)
                                              : emd_match_typed<double>(a, b, len, options, threads);
}

// emd_transport's outputs (numpy): plan_i, plan_j [B, K] int32, plan_mass [B, K], gap [B], and the
// rounds; solve(rounds, plan_i, plan_j, plan_mass, gap) fills them.
template <typename T, typename Solve>
py::tuple transport_outputs(int64_t B, int64_t K, const Solve& solve) {
  py::array_t<int32_t> plan_i({B, K}), plan_j({B, K});
  py::array_t<T> plan_mass({B, K}), gap(B);
  int64_t rounds = 0;
  solve(&rounds, plan_i.mutable_data(), plan_j.mutable_data(), plan_mass.mutable_data(), gap.mutable_data());
  return py::make_tuple(plan_i, plan_j, plan_mass, gap, rounds);
}

template <typename T>
py::tuple emd_transport_typed(const py::array& a, const py::array& b, const py::array_t<int32_t>& a_len,
                              const py::array_t<int32_t>& b_len, const EmdOptions& options, int threads) {
  const int64_t B = a.shape(0), N = a.shape(1), M = b.shape(1);
  const int D = int(a.shape(2));
  const T* a_data = static_cast<const T*>(a.data());
  const T* b_data = static_cast<const T*>(b.data());
  return transport_outputs<T>(B, N + M - 1, [&](int64_t* rounds, int32_t* plan_i, int32_t* plan_j, T* mass, T* gap) {
    EmdOptions with_rounds = options;
    with_rounds.rounds_used = rounds;
    {
      py::gil_scoped_release release;
      cpu_kernels_of<T>().emd_transport(a_data, b_data, B, N, M, D, a_len.data(), b_len.data(), with_rounds, plan_i,
                                        plan_j, mass, gap, thread_pool_parallel_for(threads));
    }
    raise_if(check_emd_cost_range("emd_transport", a_data, b_data, B, N, M, D, a_len.data(), b_len.data(), gap));
  });
}

py::tuple emd_transport(const py::handle& a_obj, const py::handle& b_obj, const py::object& a_lengths,
                        const py::object& b_lengths, bool squared, double rel_tol, int64_t max_rounds, int threads) {
  const py::array a = float_array(a_obj, "a"), b = float_array(b_obj, "b");
  const auto [a_len, b_len] = checked_lengths("emd_transport", dims_of(a), dims_of(b), a_lengths, b_lengths, false);
  if (!a.dtype().is(b.dtype())) throw py::type_error("emd_transport: a and b must have the same dtype");
  const EmdOptions options = make_options("emd_transport", squared, rel_tol, max_rounds);
  return a.dtype().is(py::dtype::of<float>()) ? emd_transport_typed<float>(a, b, a_len, b_len, options, threads)
                                              : emd_transport_typed<double>(a, b, a_len, b_len, options, threads);
}

#ifdef POINTOPS_WITH_CUDA
// Outputs preallocated on the device: assignment int32 [B, N], gap [B] of the points' dtype.
int64_t emd_match_cuda_door(const py::handle& a_obj, const py::handle& b_obj, const py::object& lengths,
                         const py::handle& assignment, const py::handle& gap, bool squared, double rel_tol,
                         int64_t max_rounds, uintptr_t stream_handle) {
  const DeviceArray a = device_array(a_obj, "a"), b = device_array(b_obj, "b");
  const auto len = checked_emd_lengths("emd_match_cuda", a.shape, b.shape, lengths);
  expect_same_float("emd_match_cuda", a, b);
  const int64_t B = a.shape[0], N = a.shape[1];
  const DeviceArray out = expect_device(assignment, "assignment", "<i4", {B, N});
  const DeviceArray gap_out = expect_device(gap, "gap", a.typestr, {B});
  EmdOptions options = make_options("emd_match_cuda", squared, rel_tol, max_rounds);
  int64_t rounds = 0;
  options.rounds_used = &rounds;
  auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceScratch scratch(emd_match_cuda_workspace_bytes(B, N), stream);
  py::gil_scoped_release release;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    return emd_match_cuda<T>(static_cast<const T*>(a.data), static_cast<const T*>(b.data), B, N, int(a.shape[2]),
                             len.data(), options, static_cast<int32_t*>(out.data), static_cast<T*>(gap_out.data),
                             scratch.ptr, stream);
  };
  raise_cuda("emd_match_cuda", a.typestr == "<f4" ? run(float{}) : run(double{}));
  return rounds;
}

// Points on the device; the plan comes back in numpy arrays (the plan is finished on the host).
py::tuple emd_transport_cuda_door(const py::handle& a_obj, const py::handle& b_obj, const py::object& a_lengths,
                                  const py::object& b_lengths, bool squared, double rel_tol, int64_t max_rounds,
                                  uintptr_t stream_handle, int threads) {
  const DeviceArray a = device_array(a_obj, "a"), b = device_array(b_obj, "b");
  const auto lengths = checked_lengths("emd_transport_cuda", a.shape, b.shape, a_lengths, b_lengths, false);
  const py::array_t<int32_t>& a_len = lengths.first;
  const py::array_t<int32_t>& b_len = lengths.second;
  expect_same_float("emd_transport_cuda", a, b);
  const int64_t B = a.shape[0], N = a.shape[1], M = b.shape[1];
  const EmdOptions options = make_options("emd_transport_cuda", squared, rel_tol, max_rounds);
  auto stream = reinterpret_cast<cudaStream_t>(stream_handle);
  DeviceScratch scratch(emd_transport_cuda_workspace_bytes(B, N, M, a_len.data(), b_len.data()), stream);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    return transport_outputs<T>(B, N + M - 1, [&](int64_t* rounds, int32_t* plan_i, int32_t* plan_j, T* mass, T* gap) {
      EmdOptions with_rounds = options;
      with_rounds.rounds_used = rounds;
      CudaStatus status;
      {
        py::gil_scoped_release release;
        status = emd_transport_cuda<T>(static_cast<const T*>(a.data), static_cast<const T*>(b.data), B, N, M,
                                       int(a.shape[2]), a_len.data(), b_len.data(), with_rounds, plan_i, plan_j, mass,
                                       gap, thread_pool_parallel_for(threads), scratch.ptr, stream);
      }
      raise_cuda("emd_transport_cuda", status);
    });
  };
  return a.typestr == "<f4" ? run(float{}) : run(double{});
}
#endif

}  // namespace

void bind_emd(py::module_& m) {
  using namespace pybind11::literals;
  m.def("emd_match", &emd_match, "a"_a, "b"_a, "lengths"_a = py::none(), "squared"_a = false, "rel_tol"_a = 1e-3,
        "max_rounds"_a = 0, "threads"_a = 0,
        "Auction assignment. a, b: [B,N,D] -> (assignment [B,N] int32, gap [B], rounds): gap is the certified "
        "bound on mean cost minus optimal mean cost; rounds the bidding rounds (N bids each) of the slowest cloud.");
  m.def("emd_transport", &emd_transport, "a"_a, "b"_a, "a_lengths"_a = py::none(), "b_lengths"_a = py::none(),
        "squared"_a = false, "rel_tol"_a = 1e-3, "max_rounds"_a = 0, "threads"_a = 0,
        "Optimal transport with uniform masses between a [B,N,D] and b [B,M,D] (any sizes) -> (plan_i, plan_j "
        "[B,N+M-1] int32, plan_mass [B,N+M-1], gap [B], rounds): each cloud's basic plan as (i, j, mass) "
        "entries sorted by (i, j), -1/-1/0 past them; gap the certified bound on plan cost - optimal cost.");
#ifdef POINTOPS_WITH_CUDA
  m.def("emd_match_cuda", &emd_match_cuda_door, "a"_a, "b"_a, "lengths"_a, "assignment"_a, "gap"_a,
        "squared"_a = false, "rel_tol"_a = 1e-3, "max_rounds"_a = 0, "stream"_a = 0,
        "emd_match on CUDA device arrays; outputs preallocated; synchronises the stream and returns the "
        "number of bidding rounds.");
  m.def("emd_transport_cuda", &emd_transport_cuda_door, "a"_a, "b"_a, "a_lengths"_a = py::none(),
        "b_lengths"_a = py::none(), "squared"_a = false, "rel_tol"_a = 1e-3, "max_rounds"_a = 0, "stream"_a = 0,
        "threads"_a = 0,
        "emd_transport on CUDA device arrays a [B,N,D], b [B,M,D]: the auction runs on the GPU, the plan is "
        "made basic on the host; returns emd_transport's numpy outputs (synchronises the stream).");
#endif
}

}  // namespace pointops
