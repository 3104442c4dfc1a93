"""gpu_bench.py's knn part: _C.knn_cuda checked against the CPU kernel _C.knn, then timed against
PyTorch's cdist + topk (the broadcast a user would write)."""
import json

import numpy as np
import torch


def gpu_knn(C, a, b, k, a_len=None, b_len=None, norm=2, poison=False):
    B, N = a.shape[:2]
    dist = torch.empty(B, N, k, dtype=a.dtype, device="cuda")
    idx = torch.empty(B, N, k, dtype=torch.int32, device="cuda")
    if poison:  # every element must be written by the kernel
        dist.fill_(float("nan"))
        idx.fill_(-7)
    C.knn_cuda(a, b, k, a_len, b_len, dist, idx, norm=norm, stream=torch.cuda.current_stream().cuda_stream)
    return dist, idx


def _compare(C, a_np, b_np, k, norm, a_len, b_len, label):
    cpu = C.knn(a_np, b_np, k, a_len, b_len, norm=norm)
    a, b = torch.from_numpy(a_np).cuda(), torch.from_numpy(b_np).cuda()
    gpu = [x.cpu().numpy() for x in gpu_knn(C, a, b, k, a_len, b_len, norm, poison=True)]
    again = [x.cpu().numpy() for x in gpu_knn(C, a, b, k, a_len, b_len, norm, poison=True)]
    return {"check": label,
            "bit_identical_to_cpu": all(np.array_equal(x, y, equal_nan=True) for x, y in zip(cpu, gpu)),
            "deterministic": all(x.tobytes() == y.tobytes() for x, y in zip(gpu, again)),
            "max_abs_dist_diff": float(np.nanmax(np.abs(cpu[0] - gpu[0])) if cpu[0].size else 0.0)}


def check_knn(C, rng, report):
    B = 3
    for dtype in (np.float32, np.float64):
        for norm in (1, 2):
            for k in (1, 8, 32, 40):
                N, M = 1000, 777
                a_np = rng.standard_normal((B, N, 3)).astype(dtype)
                b_np = rng.standard_normal((B, M, 3)).astype(dtype)
                a_len, b_len = np.array([N, 1, 0], np.int32), np.array([M, 5, 300], np.int32)
                report.append(_compare(C, a_np, b_np, k, norm, a_len, b_len,
                                       f"knn {np.dtype(dtype).name} norm={norm} k={k} ragged"))
    for D in (1, 2, 5, 8):
        a_np = rng.standard_normal((2, 500, D)).astype(np.float32)
        b_np = rng.standard_normal((2, 600, D)).astype(np.float32)
        report.append(_compare(C, a_np, b_np, 8, 2, None, None, f"knn float32 D={D} k=8"))
    # Many reference tiles, and a tie grid (every distance repeats: the lower index must win on both).
    a_np = rng.standard_normal((2, 20000, 3)).astype(np.float32)
    b_np = rng.standard_normal((2, 15000, 3)).astype(np.float32)
    report.append(_compare(C, a_np, b_np, 8, 2, None, None, "knn float32 N=20000 M=15000 k=8"))
    grid = np.stack(np.meshgrid(*[np.arange(6.0)] * 3, indexing="ij"), -1).reshape(1, -1, 3).astype(np.float32)
    report.append(_compare(C, grid + 0.5, np.concatenate([grid, grid], 1), 12, 2, None, None, "knn tie grid k=12"))
    a_np = rng.standard_normal((2, 50, 3)).astype(np.float32)
    b_np = rng.standard_normal((2, 40, 3)).astype(np.float32)
    a_np[0, 3, 1], b_np[1, 7, 0] = np.nan, np.inf
    report.append(_compare(C, a_np, b_np, 4, 2, None, None, "knn non-finite input"))


def bench_knn(C, rows, time_cuda, time_graph):
    for B, N in ((8, 2048), (32, 2048), (1, 100000)):
        a = torch.rand(B, N, 3, device="cuda")
        b = torch.rand(B, N, 3, device="cuda")
        for k in (1, 8, 32):
            row = {"op": "knn", "B": B, "N": N, "D": 3, "k": k}
            reps = 5 if N > 50000 else 20
            row["fwd_s"] = time_cuda(lambda: gpu_knn(C, a, b, k), reps=reps)
            if N <= 50000:
                row["fwd_graph_s"] = time_graph(lambda: gpu_knn(C, a, b, k))
                torch.cuda.reset_peak_memory_stats()
                row["cdist_topk_s"] = time_cuda(lambda: torch.cdist(a, b).square().topk(k, dim=2, largest=False),
                                                reps=10)
                row["cdist_topk_peak_bytes"] = torch.cuda.max_memory_allocated()
                row["speedup_vs_cdist_topk"] = row["cdist_topk_s"] / row["fwd_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
