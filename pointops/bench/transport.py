"""The benchmark of EMD between clouds of different sizes, run by `python -m pointops bench --transport`:
pointops.emd (the transportation auction, eps = 1e-3) against POT's exact network simplex (ot.emd2 on the
dense cost matrix, what users call today), B=1, for N, M in {1k, 2k, 8k} on uniform and mesh-sampled
clouds. Each row gives both times, pointops' certified gap and its true excess over POT's optimum (both
relative to the optimum), and each one's peak extra memory.
"""
import itertools
import time

import numpy as np
import tensorflow as tf

import pointops
from pointops._emd import plan_cost
from pointops.bench.baselines import pot_emd
from pointops.bench.cases import Case, clouds_of
from pointops.bench.timing import MB, PeakMemory, time_and_memory

SIZES = (1024, 2048, 8192)


def run(budget_s, log=print):
    """The markdown text of the benchmark."""
    rng = np.random.default_rng(0)
    pot_emd(np.zeros((1, 2, 3)), np.ones((1, 3, 3)))  # POT's first call loads its modules: not part of any row
    lines = ["| clouds | N | M | pointops | POT ot.emd2 | x POT | certified gap | true excess over POT | "
             "pointops memory | POT memory |", "|" + "---|" * 10]
    for clouds, (n, m) in itertools.product(("uniform", "mesh"), itertools.product(SIZES, SIZES)):
        log(f"emd transport {clouds} N={n} M={m}")
        a, _ = clouds_of(Case("emd", 1, n, 3, clouds), rng)
        _, b = clouds_of(Case("emd", 1, m, 3, clouds), rng)
        ours_fn = lambda x, y: pointops.emd(x, y, a_lengths=[n], b_lengths=[m])  # the transport path, also at N == M
        ours_s, ours_memory = time_and_memory(ours_fn, a, b, budget_s)
        # The value and the gap from one more solve (the timed calls return only the value).
        plan_i, plan_j, mass, gap = pointops.emd_plan(a, b)
        value, gap = float(tf.reduce_sum(plan_cost(a, b, plan_i, plan_j, mass, squared=False))), float(gap[0])
        a_np, b_np = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
        with PeakMemory() as peak:  # one run: POT takes seconds to minutes here
            start = time.perf_counter()
            optimum = pot_emd(a_np, b_np)[0]
            pot_s = time.perf_counter() - start
        lines.append(f"| {clouds} | {n} | {m} | {ours_s * 1e3:.0f} ms | {pot_s * 1e3:.0f} ms | {pot_s / ours_s:.1f} | "
                     f"{gap / optimum:.1e} | {(value - optimum) / optimum:.1e} | {ours_memory / MB:.0f} MB | "
                     f"{peak.extra / MB:.0f} MB |")
    return "\n".join(lines) + "\n"
