"""What users have instead of pointops, each a function of two batches: the seed note's broadcast
formula, scipy's and pykdtree's k-d trees, scipy's exact assignment and POT's exact EMD."""
import numpy as np
import tensorflow as tf


def seed_chamfer(a, b):
    """The seed note's formula: the [B, N, M, D] broadcast."""
    diffs = tf.expand_dims(a, 2) - tf.expand_dims(b, 1)
    d = tf.reduce_sum(diffs**2, axis=-1)
    return tf.reduce_mean(tf.reduce_mean(tf.reduce_min(d, 2), 1)) + tf.reduce_mean(tf.reduce_mean(tf.reduce_min(d, 1), 1))


def with_backward(loss_fn):
    def run(a, b):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            loss = loss_fn(a, b)
        return tape.gradient(loss, [a, b])
    return run


def ckdtree_both_ways(a_np, b_np):
    from scipy.spatial import cKDTree
    for k in range(a_np.shape[0]):
        cKDTree(b_np[k]).query(a_np[k], workers=-1)
        cKDTree(a_np[k]).query(b_np[k], workers=-1)


def pykdtree_both_ways(a_np, b_np):
    from pykdtree.kdtree import KDTree  # OpenMP: every core
    for k in range(a_np.shape[0]):
        KDTree(b_np[k]).query(a_np[k], k=1)
        KDTree(a_np[k]).query(b_np[k], k=1)


def exact_assignment(a_np, b_np):
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist
    out = []
    for k in range(a_np.shape[0]):
        cost = cdist(a_np[k], b_np[k])
        rows, cols = linear_sum_assignment(cost)
        out.append(cost[rows, cols].mean())
    return out


def pot_emd(a_np, b_np):
    """POT's exact EMD (network simplex on the dense Euclidean cost matrix) of each cloud pair a_np[k]
    [N, D], b_np[k] [M, D] with uniform masses: a list of B values. The iteration cap is lifted: POT's
    default stops before the optimum at N = 8192."""
    import ot
    n, m = a_np.shape[1], b_np.shape[1]
    return [ot.emd2(np.full(n, 1 / n), np.full(m, 1 / m), ot.dist(a_np[k], b_np[k], metric="euclidean"),
                    numItermax=10**9) for k in range(a_np.shape[0])]
