"""The k-nearest-neighbour benchmark, run by `python -m pointops bench --knn`: pointops.knn (K = 1, 8,
32) against pykdtree (OpenMP k-d tree, every core), scipy's cKDTree (workers=-1) and the broadcast
formula with tf.math.top_k (what users write by hand; B=8 N=2048 only), on uniform and mesh-sampled
clouds, with each one's peak extra memory. A last row ranks by L1 distance (norm=1) against cKDTree's p=1.
"""
import numpy as np
import tensorflow as tf

import pointops
from pointops.bench.cases import Case, clouds_of
from pointops.bench.timing import MB, time_and_memory


def broadcast_knn(a, b, k):
    d = tf.reduce_sum(tf.square(a[:, :, None, :] - b[:, None, :, :]), axis=-1)
    neg, idx = tf.math.top_k(-d, k)
    return -neg, idx


def pykdtree_knn(a_np, b_np, k):
    from pykdtree.kdtree import KDTree
    for c in range(a_np.shape[0]):
        KDTree(b_np[c]).query(a_np[c], k=k)


def ckdtree_knn(a_np, b_np, k, p=2):
    from scipy.spatial import cKDTree
    for c in range(a_np.shape[0]):
        cKDTree(b_np[c]).query(a_np[c], k=k, p=p, workers=-1)


def implementations(B, N, k, norm, a, b):
    """name -> callable(a, b); pointops first."""
    a_np, b_np = a.numpy(), b.numpy()
    impls = {"pointops": lambda x, y: pointops.knn(x, y, k, norm=norm)}
    if norm == 2:
        impls["pykdtree"] = lambda x, y: pykdtree_knn(a_np, b_np, k)
    impls["scipy cKDTree"] = lambda x, y: ckdtree_knn(a_np, b_np, k, p=norm)
    if norm == 2 and B * N * N * 4 <= 2**30:
        impls["broadcast + top_k"] = lambda x, y: broadcast_knn(x, y, k)
    return impls


def run(budget_s, log=print):
    """The markdown text of the knn benchmark."""
    rng = np.random.default_rng(0)
    lines = ["| clouds | B | N | k | norm | pointops | pykdtree | cKDTree | broadcast + top_k | x pykdtree | x cKDTree | "
             "x broadcast | pointops memory | broadcast memory |", "|" + "---|" * 14]
    cases = [(clouds, B, N, k, 2) for B, N in ((8, 2048), (1, 100_000)) for clouds in ("uniform", "mesh")
             for k in (1, 8, 32)] + [("uniform", 8, 2048, 8, 1)]
    for clouds, B, N, k, norm in cases:
        log(f"knn {clouds} B={B} N={N} k={k} norm={norm}")
        a, b = clouds_of(Case("knn", B, N, 3, clouds), rng)
        times, memory = {}, {}
        for name, fn in implementations(B, N, k, norm, a, b).items():
            times[name], memory[name] = time_and_memory(fn, a, b, budget_s)
        ours = times["pointops"]

        def cell(name, scale=1e3, unit=" ms"):
            return f"{times[name] * scale:.2f}{unit}" if name in times else "-"

        def ratio(name):
            return f"{times[name] / ours:.1f}" if name in times else "-"

        lines.append(f"| {clouds} | {B} | {N} | {k} | {norm} | {cell('pointops')} | {cell('pykdtree')} | "
                     f"{cell('scipy cKDTree')} | {cell('broadcast + top_k')} | {ratio('pykdtree')} | "
                     f"{ratio('scipy cKDTree')} | {ratio('broadcast + top_k')} | {memory['pointops'] / MB:.0f} MB | "
                     + (f"{memory['broadcast + top_k'] / MB:.0f} MB |" if "broadcast + top_k" in memory else "- |"))
    return "\n".join(lines) + "\n"
