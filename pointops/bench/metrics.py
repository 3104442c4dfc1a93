"""The data-set evaluation benchmark (pointops.metrics), run by `python -m pointops bench --metrics [--full]`.

- pairwise_chamfer of 40 x 40 clouds of 2048 points against the loop a user writes today (for each
  sample, one batched chamfer_distance against all references), on uniform and mesh-sampled clouds,
  with the largest relative difference between the two matrices and each one's peak memory;
- pairwise_emd's throughput (EMDs per second) at N = 2048 on 64 pairs, against scipy's exact
  linear_sum_assignment on the same pairs' cost matrices (a few pairs timed), with the largest gap;
- the full 1-NNA of 100 + 100 mesh-sampled shapes: the three Chamfer matrices at N = 2048, and the
  three EMD matrices at N = 2048 with --full (about 20,000 EMDs) or N = 256 without.
"""
import time

import numpy as np
import tensorflow as tf
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import pointops
from pointops import metrics
from pointops.bench.timing import MB, PeakMemory
from pointops.mesh_clouds import mesh_clouds


def user_loop(samples, refs):
    """What users write today: for each sample, one batched chamfer_distance call against all refs."""
    refs_t = tf.constant(refs)
    out = np.empty((len(samples), len(refs)))
    for s in range(len(samples)):
        tiled = tf.repeat(tf.constant(samples[s:s + 1]), len(refs), axis=0)
        out[s] = pointops.chamfer_distance(tiled, refs_t, batch_reduction=None).numpy()
    return out


def timed(fn, repeats):
    """(median seconds, last result, peak extra memory in bytes) after one warm-up run."""
    result = fn()
    times = []
    with PeakMemory() as memory:
        for _ in range(repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
    return float(np.median(times)), result, memory.extra


def clouds(kind, count, n, seed):
    if kind == "uniform":
        return np.random.default_rng(seed).random((count, n, 3), dtype=np.float32) - np.float32(0.5)
    return mesh_clouds(count, n, seed=seed).astype(np.float32)


def chamfer_rows(log):
    rows = ["| clouds | S x R x N | pairwise_chamfer | user loop | x loop | max rel. difference | "
            "memory pairwise | memory loop |", "|---|---|---|---|---|---|---|---|"]
    for kind in ("uniform", "mesh"):
        log(f"pairwise_chamfer against the user loop, {kind} clouds")
        samples, refs = clouds(kind, 40, 2048, 1), clouds(kind, 40, 2048, 2)
        ours, matrix, ours_mem = timed(lambda: metrics.pairwise_chamfer(samples, refs, progress=False), 5)
        loop, looped, loop_mem = timed(lambda: user_loop(samples, refs), 3)
        diff = float(np.max(np.abs(matrix - looped) / np.abs(looped)))
        rows.append(f"| {kind} | 40 x 40 x 2048 | {ours * 1e3:.0f} ms | {loop * 1e3:.0f} ms | {loop / ours:.1f} | "
                    f"{diff:.1e} | {ours_mem / MB:.0f} MB | {loop_mem / MB:.0f} MB |")
    return rows


def emd_rows(log):
    rows = ["| clouds | N | pairs | pairwise_emd | EMD/s | scipy LSA EMD/s | x scipy | largest gap to exact |",
            "|---|---|---|---|---|---|---|---|"]
    for kind in ("uniform", "mesh"):
        log(f"pairwise_emd throughput, {kind} clouds")
        samples, refs = clouds(kind, 8, 2048, 3), clouds(kind, 8, 2048, 4)
        seconds, matrix, _ = timed(lambda: metrics.pairwise_emd(samples, refs, progress=False), 1)
        exact, start = [], time.perf_counter()
        for s in range(3):  # scipy's exact solver on three of the pairs, cost matrix included
            cost = cdist(samples[s].astype(np.float64), refs[s].astype(np.float64))
            rows_idx, cols_idx = linear_sum_assignment(cost)
            exact.append(cost[rows_idx, cols_idx].mean())
        scipy_rate = 3 / (time.perf_counter() - start)
        gap = max((matrix[s, s] - exact[s]) / exact[s] for s in range(3))
        rate = 64 / seconds
        rows.append(f"| {kind} | 2048 | 64 | {seconds:.2f} s | {rate:.1f} | {scipy_rate:.2f} | {rate / scipy_rate:.0f} | "
                    f"{gap:.1e} |")
    return rows


def nna_rows(log, full):
    rows = ["| matrices | shapes | N | pairs | time | 1-NNA |", "|---|---|---|---|---|---|"]
    for name, pairwise, n in (("Chamfer", metrics.pairwise_chamfer, 2048), ("EMD", metrics.pairwise_emd, 2048 if full else 256)):
        log(f"1-NNA of 100 + 100 mesh-sampled shapes, {name}, N={n}")
        samples, refs = clouds("mesh", 100, n, 5), clouds("mesh", 100, n, 6)
        start = time.perf_counter()
        d_sr, d_ss, d_rr = pairwise(samples, refs), pairwise(samples), pairwise(refs)
        seconds = time.perf_counter() - start
        accuracy = metrics.one_nn_accuracy(d_ss, d_sr, d_rr)
        rows.append(f"| {name} | 100 + 100 | {n} | {100 * 100 + 2 * 4950} | {seconds:.1f} s | {accuracy:.3f} |")
    return rows


def run(full, log=print):
    """The markdown text of the metrics benchmark."""
    text = ["### pairwise_chamfer against the user's loop", ""] + chamfer_rows(log)
    text += ["", "### pairwise_emd throughput", ""] + emd_rows(log)
    text += ["", "### Full 1-NNA (both sets' matrices and the cross matrix)", ""] + nna_rows(log, full)
    return "\n".join(text) + "\n"
