"""gpu_bench.py's transport part: _C.emd_transport_cuda (EMD between clouds of different sizes)
checked against the CPU kernel _C.emd_transport (two auctions, each with its certified gap, so
their plan costs must agree within the sum of the gaps), then timed against it."""
import json
import time

import numpy as np
import torch


def gpu_transport(C, a_np, b_np, a_len=None, b_len=None, **options):
    a, b = torch.from_numpy(a_np).cuda(), torch.from_numpy(b_np).cuda()
    return C.emd_transport_cuda(a, b, a_len, b_len, stream=torch.cuda.current_stream().cuda_stream, **options)


def plan_costs(a, b, plan_i, plan_j, mass, squared):
    """Each cloud's plan cost in float64 (numpy: independent of both kernels)."""
    costs = []
    for c in range(a.shape[0]):
        used = plan_i[c] >= 0
        diff = a[c, plan_i[c, used]].astype(np.float64) - b[c, plan_j[c, used]].astype(np.float64)
        d2 = (diff * diff).sum(-1)
        costs.append(float((mass[c, used].astype(np.float64) * (d2 if squared else np.sqrt(d2))).sum()))
    return np.array(costs)


def plan_problems(plan_i, plan_j, mass, n, m):
    """What is wrong with one cloud's plan (empty when it is a basic plan of the uniform masses)."""
    used = plan_i >= 0
    k = int(used.sum())
    problems = []
    if not used[:k].all() or (plan_j[k:] != -1).any() or (mass[k:] != 0).any():
        problems.append("padding")
    if k > n + m - 1:
        problems.append(f"{k} entries > n + m - 1")
    i, j, w = plan_i[:k].astype(np.int64), plan_j[:k].astype(np.int64), mass[:k].astype(np.float64)
    if k and (i.min() < 0 or i.max() >= n or j.min() < 0 or j.max() >= m or (w <= 0).any()):
        problems.append("index or mass out of range")
        return problems
    if k > 1 and not (np.diff(i * (m + 1) + j) > 0).all():
        problems.append("not sorted by (i, j)")
    tol = 1e-5 if mass.dtype == np.float32 else 1e-12
    if np.abs(np.bincount(i, w, n) - 1 / n).max() > tol or np.abs(np.bincount(j, w, m) - 1 / m).max() > tol:
        problems.append("row or column sums")
    return problems


def _compare(C, a, b, a_len, b_len, label, squared=False):
    B, N, M = a.shape[0], a.shape[1], b.shape[1]
    n = a_len if a_len is not None else np.full(B, N)
    m = b_len if b_len is not None else np.full(B, M)
    cpu = C.emd_transport(a, b, a_len, b_len, squared=squared)
    gpu = gpu_transport(C, a, b, a_len, b_len, squared=squared)
    again = gpu_transport(C, a, b, a_len, b_len, squared=squared)
    cpu_cost = plan_costs(a, b, *cpu[:3], squared)
    gpu_cost = plan_costs(a, b, *gpu[:3], squared)
    cpu_gap, gpu_gap = cpu[3].astype(np.float64), gpu[3].astype(np.float64)
    slack = 1e-5 if a.dtype == np.float32 else 1e-12  # the plan costs' float rounding, relative
    finite = np.isfinite(cpu_gap)
    agree = np.abs(gpu_cost - cpu_cost) <= gpu_gap + cpu_gap + slack * np.abs(cpu_cost) + 1e-12
    problems = {c: p for c in range(B) if (p := plan_problems(gpu[0][c], gpu[1][c], gpu[2][c], n[c], m[c]))}
    row = {"check": label,
           "plans_valid": not problems,
           "cost_agrees_with_cpu_within_gaps": bool(agree[finite].all()),
           "gap_within_tol": bool((gpu_gap[finite] <= 1e-3 * gpu_cost[finite] + slack * gpu_cost[finite] + 1e-12).all()),
           "non_finite_like_cpu": bool(np.array_equal(np.isnan(cpu_gap), np.isnan(gpu_gap))
                                       and np.array_equal(np.isinf(cpu_gap), np.isinf(gpu_gap))),
           "identical_to_cpu": all(np.array_equal(x, y, equal_nan=True) for x, y in zip(cpu[:4], gpu[:4])),
           "deterministic": all(x.tobytes() == y.tobytes() for x, y in zip(gpu[:4], again[:4])),
           "max_rel_cost_diff": float(np.max(np.abs(gpu_cost - cpu_cost)[finite] / np.maximum(cpu_cost[finite], 1e-30),
                                             initial=0.0)),
           "gpu_rounds": int(gpu[4]), "cpu_rounds": int(cpu[4])}
    if problems:
        row["problems"] = {c: problems[c] for c in list(problems)[:3]}
    return row


def check_transport(C, rng, report):
    for dtype in (np.float32, np.float64):
        for squared in (False, True):
            for N, M in ((2048, 1024), (1024, 2048), (300, 200), (1000, 999), (97, 101), (500, 500), (1, 7), (7, 1)):
                a = rng.random((2, N, 3)).astype(dtype)
                b = rng.random((2, M, 3)).astype(dtype)
                report.append(_compare(C, a, b, None, None, f"transport {np.dtype(dtype).name} squared={squared} "
                                                            f"{N} vs {M}", squared))
    a, b = rng.standard_normal((4, 700, 3)).astype(np.float32), rng.standard_normal((4, 500, 3)).astype(np.float32)
    report.append(_compare(C, a, b, np.array([700, 3, 400, 9], np.int32), np.array([500, 500, 1, 77], np.int32),
                           "transport ragged"))
    for D in (1, 2, 5, 8):
        a, b = rng.random((2, 400, D)).astype(np.float32), rng.random((2, 250, D)).astype(np.float32)
        report.append(_compare(C, a, b, None, None, f"transport D={D}"))
    a, b = np.zeros((2, 60, 3), np.float32), np.zeros((2, 45, 3), np.float32)  # every cost ties
    report.append(_compare(C, a, b, None, None, "transport all points equal"))
    a, b = rng.random((3, 60, 3)).astype(np.float32), rng.random((3, 45, 3)).astype(np.float32)
    a[1, 5, 2] = np.nan
    report.append(_compare(C, a, b, None, None, "transport NaN cloud"))
    b[2, 0, 0] = 1e30  # pair costs overflow float32: the CPU door raises, the CUDA door reports inf
    gap = gpu_transport(C, a, b)[3]
    report.append({"check": "transport overflowing cloud", "gaps_nan_finite_inf": bool(
        np.isfinite(gap[0]) and np.isnan(gap[1]) and np.isinf(gap[2]))})
    a, b = rng.random((2, 2047, 3)).astype(np.float32), rng.random((2, 2048, 3)).astype(np.float32)
    report.append(_compare(C, a, b, None, None, "transport 2047 vs 2048"))
    a, b = rng.random((8, 2048, 3)).astype(np.float32), rng.random((8, 16384, 3)).astype(np.float32)
    report.append(_compare(C, a, b, None, None, "transport 2048 vs 16384 (completion)"))


def bench_transport(C, rows):
    for B, N, M in ((1, 2048, 1024), (1, 1024, 2048), (1, 2048, 8192), (1, 8192, 2048), (32, 2048, 1024),
                    (32, 2048, 8192), (8, 2048, 16384), (32, 2048, 16384)):
        a = np.random.default_rng(B + N + M).random((B, N, 3)).astype(np.float32)
        b = np.random.default_rng(B * N + M).random((B, M, 3)).astype(np.float32)
        gpu_transport(C, a[:1], b[:1])  # warm-up
        torch.cuda.synchronize()
        start = time.perf_counter()
        gpu = gpu_transport(C, a, b)
        gpu_s = time.perf_counter() - start
        start = time.perf_counter()
        cpu = C.emd_transport(a, b)
        cpu_s = time.perf_counter() - start
        cost = plan_costs(a, b, *gpu[:3], False)
        row = {"op": "emd_transport", "B": B, "N": N, "M": M, "gpu_s": gpu_s, "cpu_all_cores_s": cpu_s,
               "speedup_vs_cpu": cpu_s / gpu_s, "gpu_max_gap_over_cost": float((gpu[3] / cost).max()),
               "gpu_rounds": int(gpu[4]), "cpu_rounds": int(cpu[4])}
        rows.append(row)
        print(json.dumps(row), flush=True)
