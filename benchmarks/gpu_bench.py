"""Check and time pointops' CUDA kernels through pointops._C, on a machine with a CUDA GPU and
PyTorch but no TensorFlow.

    python benchmarks/gpu_bench.py [--build-dir build/gpu] [--archs 90] [--out DIR]
    compute-sanitizer --tool memcheck python benchmarks/gpu_bench.py --sanitize

It builds the TF-free module with CMake, checks the CUDA kernels against the CPU kernels of the
same module (values, indices, gradients, EMD against scipy's exact assignment when scipy is
present), then times them with CUDA events on device-resident data against PyTorch baselines
(cdist-based Chamfer, a plain dense PyTorch auction). Prints each row, writes them as JSON and draws
the log-log plots of time against N (gpu_plots.py) into --out.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gpu_knn import bench_knn, check_knn, gpu_knn  # beside this script
from gpu_plots import plot_rows
from gpu_transport import bench_transport, check_transport, gpu_transport

ROOT = Path(__file__).resolve().parent.parent
FP_OPS_PER_PAIR = lambda D: 3 * D + 1  # D sub, D mul, D-1 add, 1 compare (+ select) per pair


def build(build_dir, archs):
    import pybind11
    build_dir = Path(build_dir).resolve()
    subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DPOINTOPS_CUDA=1",
                           f"-DPOINTOPS_CUDA_ARCHS={archs}", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                           f"-DPython_EXECUTABLE={sys.executable}", f"-DPOINTOPS_OUTPUT_DIR={build_dir / 'pointops'}"],
                          stdout=subprocess.DEVNULL)
    subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "_C", "--parallel", str(os.cpu_count())],
                          stdout=subprocess.DEVNULL)
    return next((build_dir / "pointops").glob("_C*.so"))


def load_module(path):
    """pointops._C from a file, without importing the pointops package (which needs TF)."""
    spec = importlib.util.spec_from_file_location("pointops._C", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stream():
    return torch.cuda.current_stream().cuda_stream


def gpu_nn(C, a, b, a_len=None, b_len=None):
    B, N, M = a.shape[0], a.shape[1], b.shape[1]
    out = (torch.empty(B, N, dtype=a.dtype, device="cuda"), torch.empty(B, N, dtype=torch.int32, device="cuda"),
           torch.empty(B, M, dtype=a.dtype, device="cuda"), torch.empty(B, M, dtype=torch.int32, device="cuda"))
    C.nn_distance_cuda(a, b, a_len, b_len, *out, stream=stream())
    return out


def gpu_nn_grad(C, a, b, idx_ab, idx_ba, g_ab, g_ba):
    grad_a, grad_b = torch.empty_like(a), torch.empty_like(b)
    C.nn_distance_grad_cuda(a, b, idx_ab, idx_ba, g_ab, g_ba, grad_a, grad_b, stream=stream())
    return grad_a, grad_b


def gpu_emd(C, a, b, lengths=None, rel_tol=1e-3):
    B, N = a.shape[:2]
    assignment = torch.empty(B, N, dtype=torch.int32, device="cuda")
    gap = torch.empty(B, dtype=a.dtype, device="cuda")
    rounds = C.emd_match_cuda(a, b, lengths, assignment, gap, rel_tol=rel_tol, stream=stream())
    return assignment, gap, rounds


def check_nn(C, rng, report):
    # (1000, 777): the one-kernel gradient path; (20000, 15000): the device-wide sort path.
    cases = [(dtype, D, 1000, 777) for dtype in (torch.float32, torch.float64) for D in (1, 2, 3, 5, 8)]
    cases += [(torch.float32, 3, 20000, 15000), (torch.float64, 2, 20000, 15000)]
    for dtype, D, N, M in cases:
        B = 3
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        a_np, b_np = rng.standard_normal((B, N, D)).astype(np_dtype), rng.standard_normal((B, M, D)).astype(np_dtype)
        a_len, b_len = np.array([N, 1, N // 2], np.int32), np.array([M, 300, 1], np.int32)
        cpu = C.nn_distance(a_np, b_np, a_len, b_len)
        a, b = torch.from_numpy(a_np).cuda(), torch.from_numpy(b_np).cuda()
        gpu = [x.cpu().numpy() for x in gpu_nn(C, a, b, a_len, b_len)]
        same = all(np.array_equal(x, y) for x, y in zip(cpu, gpu))
        g_ab, g_ba = rng.standard_normal((B, N)).astype(a_np.dtype), rng.standard_normal((B, M)).astype(a_np.dtype)
        cpu_grad = C.nn_distance_grad(a_np, b_np, cpu[1], cpu[3], g_ab, g_ba)
        idx_ab, idx_ba = torch.from_numpy(cpu[1]).cuda(), torch.from_numpy(cpu[3]).cuda()
        gpu_grad = [x.cpu().numpy() for x in gpu_nn_grad(C, a, b, idx_ab, idx_ba, torch.from_numpy(g_ab).cuda(), torch.from_numpy(g_ba).cuda())]
        grad_diff = max(np.abs(x - y).max() for x, y in zip(cpu_grad, gpu_grad))
        again = [x.cpu().numpy() for x in gpu_nn_grad(C, a, b, idx_ab, idx_ba, torch.from_numpy(g_ab).cuda(), torch.from_numpy(g_ba).cuda())]
        deterministic = all(x.tobytes() == y.tobytes() for x, y in zip(gpu_grad, again))
        report.append({"check": f"nn {str(dtype)[6:]} D={D} N={N} M={M}", "bit_identical_to_cpu": same,
                       "grad_bit_identical_to_cpu": bool(grad_diff == 0), "grad_max_abs_diff_vs_cpu": float(grad_diff),
                       "grad_deterministic": deterministic})
    # NaN in, NaN out, the same as on the CPU.
    a_np = rng.standard_normal((2, 50, 3)).astype(np.float32)
    b_np = rng.standard_normal((2, 40, 3)).astype(np.float32)
    a_np[0, 3, 1] = np.nan
    b_np[1, 7, 0] = np.inf
    cpu = C.nn_distance(a_np, b_np)
    gpu = [x.cpu().numpy() for x in gpu_nn(C, torch.from_numpy(a_np).cuda(), torch.from_numpy(b_np).cuda())]
    report.append({"check": "nn non-finite input", "bit_identical_to_cpu": all(
        np.array_equal(x, y, equal_nan=True) for x, y in zip(cpu, gpu))})


def check_edges(C, rng, report):
    """B = 0 through every CUDA door; 70000 small clouds (more than gridDim.y's 65535) through nn."""
    empty = torch.empty(0, 5, 3, device="cuda")
    ok = True
    try:
        gpu_nn(C, empty, empty)
        no_idx, no_g = torch.empty(0, 5, dtype=torch.int32, device="cuda"), torch.empty(0, 5, device="cuda")
        gpu_nn_grad(C, empty, empty, no_idx, no_idx, no_g, no_g)
        gpu_emd(C, empty, empty)
        gpu_knn(C, empty, empty, 3)
        torch.cuda.synchronize()
    except Exception as error:  # reported as a failed check, the run goes on
        print("B=0 door failed:", error, flush=True)
        ok = False
    report.append({"check": "B=0 through nn, nn_grad, emd, knn CUDA doors", "ran": ok})
    a_np = rng.standard_normal((70000, 16, 3)).astype(np.float32)
    b_np = rng.standard_normal((70000, 9, 3)).astype(np.float32)
    cpu = C.nn_distance(a_np, b_np)
    gpu = [x.cpu().numpy() for x in gpu_nn(C, torch.from_numpy(a_np).cuda(), torch.from_numpy(b_np).cuda())]
    report.append({"check": "nn B=70000 N=16 M=9", "bit_identical_to_cpu": all(
        np.array_equal(x, y) for x, y in zip(cpu, gpu))})


def check_emd(C, rng, report):
    try:
        from scipy.optimize import linear_sum_assignment
        from scipy.spatial.distance import cdist
    except ImportError:
        linear_sum_assignment = None
    cases = [(np.float32, N, D, squared) for N, D, squared in
             ((1, 3, False), (2, 2, False), (10, 3, False), (777, 3, False), (1000, 2, True), (2048, 3, False))]
    cases += [(np.float64, N, D, squared) for N, D, squared in ((10, 3, False), (777, 3, False), (1000, 2, True))]
    for dtype, N, D, squared in cases:
        B = 4
        a_np, b_np = rng.random((B, N, D)).astype(dtype), rng.random((B, N, D)).astype(dtype)
        a, b = torch.from_numpy(a_np).cuda(), torch.from_numpy(b_np).cuda()
        assignment_t = torch.empty(B, N, dtype=torch.int32, device="cuda")
        gap_t = torch.empty(B, dtype=a.dtype, device="cuda")
        rounds = C.emd_match_cuda(a, b, None, assignment_t, gap_t, squared=squared, stream=stream())
        assignment, gap = assignment_t.cpu().numpy(), gap_t.cpu().numpy()
        C.emd_match_cuda(a, b, None, assignment_t, gap_t, squared=squared, stream=stream())
        deterministic = np.array_equal(assignment, assignment_t.cpu().numpy())
        perm = all(sorted(assignment[k].tolist()) == list(range(N)) for k in range(B))
        row = {"check": f"emd {np.dtype(dtype).name} N={N} D={D} squared={squared}", "permutation": perm, "deterministic": deterministic,
               "rounds": rounds,
               "max_gap_over_mean_cost": None, "max_true_rel_gap": None, "bound_holds": None}
        if linear_sum_assignment is not None:
            rel, holds, gaps = [], [], []
            for k in range(B):
                cost = cdist(a_np[k].astype(np.float64), b_np[k], "sqeuclidean" if squared else "euclidean")
                r, c = linear_sum_assignment(cost)
                opt, ours = cost[r, c].mean(), cost[np.arange(N), assignment[k]].mean()
                rel.append((ours - opt) / max(opt, 1e-12))
                holds.append(ours - opt <= gap[k] + 1e-5 * max(opt, 1e-6))
                gaps.append(gap[k] / max(ours, 1e-12))
            row.update(max_gap_over_mean_cost=float(max(gaps)), max_true_rel_gap=float(max(rel)), bound_holds=all(holds))
        report.append(row)


def time_cuda(fn, reps=20, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return float(np.median(times))


def time_graph(fn, reps=50):
    """GPU time of fn alone: captured once in a CUDA graph and timed over replays, so the host
    overhead of each call (Python, __cuda_array_interface__ parsing) is left out."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return time_cuda(graph.replay, reps)


def cdist_chamfer(a, b):
    d = torch.cdist(a, b) ** 2
    return d.min(2).values.mean(1) + d.min(1).values.mean(1)


def torch_auction(a, b, rel_tol=1e-3, max_rounds=10000):
    """A plain dense PyTorch Jacobi auction (the baseline a user could write): returns (assignment, gap)."""
    B, N, _ = a.shape
    cost = torch.cdist(a, b)
    price = torch.zeros(B, N, device=a.device)
    eps = cost.amax(dim=(1, 2)) / 4
    floor = cost.amax(dim=(1, 2)) * 16 * 1.2e-7
    active = torch.ones(B, dtype=torch.bool, device=a.device)
    final_assign = torch.full((B, N), -1, dtype=torch.long, device=a.device)
    gap = torch.zeros(B, device=a.device)
    persons = torch.arange(N, device=a.device).expand(B, N)
    while bool(active.any()):
        assign = torch.full((B, N), -1, dtype=torch.long, device=a.device)
        owner = torch.full((B, N), -1, dtype=torch.long, device=a.device)
        for _ in range(max_rounds):
            bidders = (assign < 0) & active[:, None]
            if not bool(bidders.any()):
                break
            top = (-cost - price[:, None, :]).topk(min(2, N), dim=2)
            w1, j1, w2 = top.values[..., 0], top.indices[..., 0], top.values[..., -1]
            bid = torch.where(bidders, price.gather(1, j1) + w1 - w2 + eps[:, None], torch.full_like(w1, -1.0))
            best = torch.full((B, N), -1.0, device=a.device).scatter_reduce(1, j1, bid, "amax")
            top_bidder = bidders & (bid == best.gather(1, j1))
            winner = torch.full((B, N), N, dtype=torch.long, device=a.device).scatter_reduce(
                1, j1, torch.where(top_bidder, persons, N), "amin")
            won = winner < N
            prev = torch.where(won & (owner >= 0), owner, N)
            assign = torch.cat([assign, torch.zeros(B, 1, dtype=torch.long, device=a.device)], 1).scatter(1, prev, -1)[:, :N]
            assign = torch.cat([assign, torch.zeros(B, 1, dtype=torch.long, device=a.device)], 1).scatter(
                1, torch.where(won, winner, N), persons)[:, :N]
            price = torch.where(won, best, price)
            owner = torch.where(won, winner, owner)
        pi = (-cost - price[:, None, :]).amax(2)
        primal = cost.gather(2, assign.clamp(min=0)[..., None])[..., 0].sum(1)
        g = (pi.sum(1) + price.sum(1) + primal) / N
        done = active & ((g <= rel_tol * primal / N) | (eps <= floor))
        final_assign = torch.where(done[:, None], assign, final_assign)
        gap = torch.where(done, g, gap)
        active = active & ~done
        eps = torch.where(active, torch.maximum(eps / 5, floor), eps)
    return final_assign, gap


def gpu_floor(D, pairs):
    props = torch.cuda.get_device_properties(0)
    try:
        clock = float(subprocess.check_output(["nvidia-smi", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits"]).split()[0]) * 1e6
    except Exception:
        clock = 1.98e9
    lanes_per_second = props.multi_processor_count * 128 * clock
    return pairs * FP_OPS_PER_PAIR(D) / lanes_per_second


def bench(C, rng, rows, sizes):
    for B, N, D in sizes:
        a = torch.rand(B, N, D, device="cuda")
        b = torch.rand(B, N, D, device="cuda")
        g = torch.rand(B, N, device="cuda")
        pairs = 2 * B * N * N
        row = {"op": "chamfer", "B": B, "N": N, "D": D}
        row["fwd_s"] = time_cuda(lambda: gpu_nn(C, a, b))

        def fwd_bwd():
            _, idx_ab, _, idx_ba = gpu_nn(C, a, b)
            gpu_nn_grad(C, a, b, idx_ab, idx_ba, g, g)
        row["fwd_bwd_s"] = time_cuda(fwd_bwd)
        row["fwd_graph_s"] = time_graph(lambda: gpu_nn(C, a, b))
        row["fwd_bwd_graph_s"] = time_graph(fwd_bwd)
        row["floor_s"] = gpu_floor(D, pairs)
        row["fwd_bwd_graph_over_floor"] = row["fwd_bwd_graph_s"] / row["floor_s"]
        if B * N * N * 4 * 3 < 30e9:
            torch.cuda.reset_peak_memory_stats()
            ar, br = a.clone().requires_grad_(), b.clone().requires_grad_()
            row["cdist_fwd_s"] = time_cuda(lambda: cdist_chamfer(a, b), reps=10)
            row["cdist_fwd_bwd_s"] = time_cuda(lambda: cdist_chamfer(ar, br).sum().backward(), reps=10)
            row["cdist_peak_bytes"] = torch.cuda.max_memory_allocated()
            row["speedup_vs_cdist_fwd_bwd"] = row["cdist_fwd_bwd_s"] / row["fwd_bwd_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)


def bench_emd(C, rows, sizes, torch_baseline):
    for B, N, D in sizes:
        a = torch.rand(B, N, D, device="cuda")
        b = torch.rand(B, N, D, device="cuda")
        row = {"op": "emd", "B": B, "N": N, "D": D}
        gpu_emd(C, a[:1], b[:1])  # warm-up (module load, allocator)
        start = time.perf_counter()
        assignment, gap, row["rounds"] = gpu_emd(C, a, b)
        torch.cuda.synchronize()
        row["fwd_s"] = time.perf_counter() - start
        matched = torch.gather(b, 1, assignment.long()[..., None].expand(-1, -1, D))
        mean_cost = (a - matched).norm(dim=-1).mean(1)
        row["max_gap_over_mean_cost"] = float((gap / mean_cost).max())
        row["mean_cost"] = float(mean_cost.mean())
        if torch_baseline and B * N * N * 4 * 6 < 30e9:
            start = time.perf_counter()
            _, torch_gap = torch_auction(a, b)
            torch.cuda.synchronize()
            row["torch_auction_s"] = time.perf_counter() - start
            row["torch_auction_max_gap_over_mean_cost"] = float((torch_gap / mean_cost).max())
            row["speedup_vs_torch_auction"] = row["torch_auction_s"] / row["fwd_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)


def failed_checks(report):
    """The checks with a False entry ("identical_to_cpu" is informative: two auctions may differ)."""
    return [r["check"] for r in report if any(v is False for k, v in r.items() if k != "identical_to_cpu")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=str(ROOT / "build" / "gpu"))
    parser.add_argument("--archs", default="90")
    parser.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "benchmarks" / "out")))
    parser.add_argument("--sanitize", action="store_true", help="tiny sizes, each kernel once (for compute-sanitizer)")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-torch-auction", action="store_true", help="skip the slow dense PyTorch auction baseline")
    parser.add_argument("--only", choices=("knn", "emd", "transport"), help="only this part's checks and timings")
    args = parser.parse_args()
    so = next((Path(args.build_dir) / "pointops").glob("_C*.so")) if args.skip_build else build(args.build_dir, args.archs)
    C = load_module(so)
    assert C.cuda_built, "pointops._C was built without CUDA"
    rng = np.random.default_rng(0)
    if args.sanitize:
        a, b = torch.rand(2, 300, 3, device="cuda"), torch.rand(2, 200, 3, device="cuda")
        _, idx_ab, _, idx_ba = gpu_nn(C, a, b, np.array([300, 17], np.int32), np.array([5, 200], np.int32))
        gpu_nn_grad(C, a, b, idx_ab, idx_ba, torch.rand(2, 300, device="cuda"), torch.rand(2, 200, device="cuda"))
        gpu_emd(C, a[:, :200].contiguous(), b, np.array([200, 33], np.int32))
        gpu_emd(C, a[:, :200].double().contiguous(), b.double(), np.array([200, 33], np.int32))
        for k in (1, 8, 40):
            gpu_knn(C, a, b, k, np.array([300, 0], np.int32), np.array([5, 200], np.int32))
            gpu_knn(C, a.double(), b.double(), k, None, None, norm=1)
            wide = torch.rand(2, 1000, 3, device="cuda")  # 4 reference slices: the merge kernel
            gpu_knn(C, a, wide, k, np.array([300, 7], np.int32), np.array([1000, 3], np.int32))
        small_a, small_b = rng.random((3, 70, 3)).astype(np.float32), rng.random((3, 50, 3)).astype(np.float32)
        gpu_transport(C, small_a, small_b, np.array([70, 3, 50], np.int32), np.array([50, 50, 49], np.int32))
        gpu_transport(C, small_a.astype(np.float64), small_b.astype(np.float64), squared=True)
        gpu_transport(C, small_a[:, :50], small_b, max_rounds=1)  # the abort path
        torch.cuda.synchronize()
        print("sanitize run finished")
        return
    report = []
    if args.only:  # one part's checks and timings
        check, timing = {
            "knn": (check_knn, lambda rows: bench_knn(C, rows, time_cuda, time_graph)),
            "emd": (check_emd, lambda rows: bench_emd(C, rows, [(32, N, 3) for N in (1024, 2048, 8192)], False)),
            "transport": (check_transport, lambda rows: bench_transport(C, rows)),
        }[args.only]
        check(C, rng, report)
        for r in report:
            print(json.dumps(r), flush=True)
        rows = []
        timing(rows)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / f"gpu_{args.only}.json").write_text(json.dumps({"checks": report, "rows": rows}, indent=1))
        failed = failed_checks(report)
        print(f"{args.only} checks:", "all passed" if not failed else f"FAILED: {failed}")
        return
    for check in (check_edges, check_knn, check_nn, check_emd, check_transport):
        try:
            check(C, rng, report)
        except Exception as error:  # one broken check must not hide the others' results
            report.append({"check": check.__name__, "ran": False, "error": repr(error)})
    for r in report:
        print(json.dumps(r), flush=True)
    rows = []
    try:
        bench_knn(C, rows, time_cuda, time_graph)
    except Exception as error:  # the Chamfer and EMD timings still run
        print("bench_knn failed:", repr(error), flush=True)
    # A curve in N for each B (the plots need at least two N per panel), D=2 beside D=3, and 100k points.
    bench(C, rng, rows, [(B, N, 3) for B in (1, 8, 32) for N in (1024, 2048, 8192, 16384)]
          + [(32, 2048, 2), (32, 8192, 2), (1, 100000, 3)])
    bench_emd(C, rows, [(32, N, 3) for N in (1024, 2048, 8192)], not args.skip_torch_auction)
    bench_transport(C, rows)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name(0)
    (Path(args.out) / "gpu_bench.json").write_text(json.dumps({"device": device, "checks": report, "rows": rows}, indent=1))
    for path in plot_rows(rows, device, args.out):
        print(f"wrote {path}")
    print(f"\ndevice: {device}")
    failed = failed_checks(report)
    print("checks:", "all passed" if not failed else f"FAILED: {failed}")


if __name__ == "__main__":
    main()
