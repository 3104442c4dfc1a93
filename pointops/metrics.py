"""Data-set evaluation: pairwise Chamfer and EMD matrices, and the generative-model metrics (MMD, COV,
1-NNA, JSD) as latent_3d_points and PointFlow define them. docs/generative_metrics.md explains the
definitions, the normalisations and how exact EMD compares with the approximate one of published tables.

Inputs are numpy arrays (or tensors) of clouds [S, N, D]; results are numpy float64 arrays or floats.
"""
import functools
import math
import warnings

import numpy as np
import tensorflow as tf

from pointops import _backend
from pointops.emd import emd
from pointops.nn import chamfer_distance, nn_distance

tf.no_gradient("PointopsPairwiseChamfer")

# A progress bar is shown by default for jobs estimated above this many seconds.
_PROGRESS_SECONDS = 2.0
# Rough throughputs for that estimate only (2-core CPU): point pairs per second of the pairwise
# Chamfer kernel, and EMD point pairs (N * N per cloud pair) per second of the auction.
_CHAMFER_PAIRS_PER_S = 5e10
_EMD_PAIRS_PER_S = 1e8


def _clouds(name, x, lengths):
    """x as a C-contiguous float32/float64 array [S, N, D] whose valid points are finite, and its
    lengths [S] as int32 (N where None)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32 if x.dtype.kind == "f" else np.float64)  # float16: float32; ints: float64
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape [clouds, points, D], got {list(x.shape)}")
    count, size, dim = x.shape
    if not 1 <= dim <= 8:
        raise ValueError(f"{name}: point dimension D must be in [1, 8], got shape {list(x.shape)}")
    if size < 1:
        raise ValueError(f"{name}: clouds must not be empty, got shape {list(x.shape)}")
    if lengths is None:
        lengths = np.full(count, size, np.int32)
    else:
        lengths = np.asarray(lengths)
        if lengths.dtype.kind not in "iu" or lengths.shape != (count,):
            raise ValueError(f"{name}_lengths must be {count} integers (one per cloud of {name} {list(x.shape)}), "
                             f"got {lengths.dtype} {list(lengths.shape)}")
        bad = np.flatnonzero((lengths < 1) | (lengths > size))
        if bad.size:
            raise ValueError(f"{name}_lengths[{bad[0]}] = {lengths[bad[0]]} is outside [1, {size}] (the padded size)")
        lengths = lengths.astype(np.int32)
    valid = np.arange(size)[None, :] < lengths[:, None]
    not_finite = np.flatnonzero(~np.all(np.isfinite(x) | ~valid[..., None], axis=(1, 2)))
    if not_finite.size:
        raise ValueError(f"{name}[{not_finite[0]}] has a non-finite coordinate ({not_finite.size} cloud(s) of {name})")
    return np.ascontiguousarray(x), lengths


def _both(x, y, x_lengths, y_lengths):
    """(x, y, x_lengths, y_lengths, symmetric) checked, in one dtype; y=None means x against itself."""
    x, x_lengths = _clouds("x", x, x_lengths)
    if y is None:
        if y_lengths is not None:
            raise ValueError("y_lengths needs y (without y, x is compared with itself)")
        return x, x, x_lengths, x_lengths, True
    y, y_lengths = _clouds("y", y, y_lengths)
    if x.shape[2] != y.shape[2]:
        raise ValueError(f"x and y must have the same point dimension D, got x {list(x.shape)} and y {list(y.shape)}")
    dtype = np.result_type(x.dtype, y.dtype)
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False), x_lengths, y_lengths, False


def _progress(progress, seconds):
    return seconds > _PROGRESS_SECONDS if progress is None else bool(progress)


def _pair_indices(S, R, symmetric):
    """(s, r) of every pair to compute: all of them, or s < r when y is x."""
    if symmetric:
        return np.triu_indices(S, 1)
    s, r = np.meshgrid(np.arange(S), np.arange(R), indexing="ij")
    return s.ravel(), r.ravel()


def _over_pairs(distance, x, y, x_lengths, y_lengths, symmetric, batch, show, desc):
    """[S, R] of distance(a [P, N, D], b [P, M, D], a_lengths, b_lengths) -> [P], over batches of P
    cloud pairs (memory O(P (N + M)) for the gathered clouds). With symmetric, s < r only, mirrored,
    and 0 on the diagonal."""
    from tqdm import tqdm
    S, R = x.shape[0], y.shape[0]
    out = np.zeros((S, R))
    s_idx, r_idx = _pair_indices(S, R, symmetric)
    x_t, y_t = tf.constant(x), tf.constant(y)
    with tqdm(total=len(s_idx), desc=desc, unit="pair", disable=not show) as bar:
        for start in range(0, len(s_idx), batch):
            si, ri = s_idx[start:start + batch], r_idx[start:start + batch]
            values = distance(tf.gather(x_t, si), tf.gather(y_t, ri), x_lengths[si], y_lengths[ri])
            out[si, ri] = np.asarray(values, np.float64)
            if symmetric:
                out[ri, si] = out[si, ri]
            bar.update(len(si))
    return out


def pairwise_chamfer(x, y=None, *, x_lengths=None, y_lengths=None, progress=None):
    """Chamfer distance of every cloud of x [S, N, D] to every cloud of y [R, M, D] -> [S, R] float64.

    Entry (s, r) is chamfer_distance(x[s], y[r]) with its defaults: the mean squared distance from each
    point to its nearest neighbour in the other cloud, both ways, summed (over the valid points where
    x_lengths [S] / y_lengths [R] are given). y=None compares x with itself: each pair once, mirrored,
    0 on the diagonal. On the CPU every cloud's search tree is built once and serves all its pairs (in
    rows of at least 32 clouds when a progress bar is shown); with a usable GPU the pairs run in batches
    through the CUDA nearest-neighbour kernel. Memory is O((S + R) (N + M)) besides the result.
    progress: None shows a bar for long jobs; True or False forces it.
    """
    x, y, x_lengths, y_lengths, symmetric = _both(x, y, x_lengths, y_lengths)
    (S, N, _), (R, M, _) = x.shape, y.shape
    pairs = S * (S - 1) // 2 if symmetric else S * R
    show = _progress(progress, pairs * N * M / _CHAMFER_PAIRS_PER_S)
    ops = _backend.compiled_ops()
    if ops is not None and not _backend.cuda_kernels_active():
        return _chamfer_matrix_on_cpu(ops, x, y, x_lengths, y_lengths, symmetric, show)

    def distance(a, b, a_lengths, b_lengths):
        return chamfer_distance(a, b, a_lengths=a_lengths, b_lengths=b_lengths, batch_reduction=None)
    # The reference path broadcasts [P, N, M]: batches of about 2^26 point pairs.
    batch = 256 if ops is not None else max(1, 2**26 // (N * M))
    return _over_pairs(distance, x, y, x_lengths, y_lengths, symmetric, batch, show, "pairwise_chamfer")


def _chamfer_matrix_on_cpu(ops, x, y, x_lengths, y_lengths, symmetric, show):
    """The PointopsPairwiseChamfer kernel: one call, or rows of clouds when a progress bar is shown (each
    row block rebuilds the trees of the clouds it is compared with, so rows are at least 32 high)."""
    from tqdm import tqdm
    S, R = x.shape[0], y.shape[0]
    if not show:
        with tf.device("/CPU:0"):
            return ops.pointops_pairwise_chamfer(x, x if symmetric else y, x_lengths, y_lengths,
                                                 symmetric=symmetric).numpy().astype(np.float64)
    out = np.zeros((S, R))
    rows = max(32, math.ceil(S / 20))
    with tqdm(total=S, desc="pairwise_chamfer", unit="cloud") as bar, tf.device("/CPU:0"):
        for s0 in range(0, S, rows):
            s1 = min(S, s0 + rows)
            # Without symmetry: the rows against every y. With it: against x[s0:] (the upper triangle).
            r0 = s0 if symmetric else 0
            block = ops.pointops_pairwise_chamfer(x[s0:s1], y[r0:], x_lengths[s0:s1], y_lengths[r0:])
            out[s0:s1, r0:] = block.numpy()
            if symmetric:
                out[r0:, s0:s1] = out[s0:s1, r0:].T
            bar.update(s1 - s0)
    if symmetric:
        np.fill_diagonal(out, 0.0)
    return out


def pairwise_emd(x, y=None, *, x_lengths=None, y_lengths=None, eps=None, progress=None):
    """EMD of every cloud of x [S, N, D] to every cloud of y [R, N, D] -> [S, R] float64.

    Entry (s, r) is emd(x[s], y[r]) with its defaults: the mean Euclidean distance of the optimal
    one-to-one matching, within the certified relative gap eps (default 1e-3). The pairs run in batches
    through the auction kernels (every core busy, or the GPU when one is usable). This EMD needs clouds
    of equal sizes: every x_lengths[s] must equal every y_lengths[r]. y=None compares x with itself:
    each pair once, mirrored, 0 on the diagonal. progress: None shows a bar for long jobs.
    """
    x, y, x_lengths, y_lengths, symmetric = _both(x, y, x_lengths, y_lengths)
    (S, N, _), (R, M, _) = x.shape, y.shape
    sizes = np.union1d(x_lengths, y_lengths)
    if N != M or sizes.size > 1:
        raise ValueError(f"pairwise_emd: this EMD matches clouds one to one, so every cloud needs the same number of "
                         f"points; got x {list(x.shape)} and y {list(y.shape)} with cloud sizes {sizes.tolist()[:8]}")
    pairs = S * (S - 1) // 2 if symmetric else S * R
    show = _progress(progress, pairs * N * N / _EMD_PAIRS_PER_S)

    def distance(a, b, a_lengths, b_lengths):
        return emd(a, b, eps=eps, a_lengths=a_lengths, b_lengths=b_lengths, batch_reduction=None)
    # Enough pairs per batch to keep every core (or the GPU) busy; the pure-TF fallback holds [P, N, N].
    if _backend.compiled_ops() is None:
        batch = max(1, 2**26 // (N * N))
    else:
        batch = 256 if _backend.cuda_kernels_active() else 64
    return _over_pairs(distance, x, y, x_lengths, y_lengths, symmetric, batch, show, "pairwise_emd")


def _distance_matrix(name, d, shape=None):
    d = np.asarray(d, np.float64)
    if d.ndim != 2 or (shape is not None and d.shape != shape) or 0 in d.shape:
        want = f" {list(shape)}" if shape is not None else " [S, R] with S, R >= 1"
        raise ValueError(f"{name} must be a distance matrix{want}, got shape {list(d.shape)}")
    if np.isnan(d).any():
        raise ValueError(f"{name} contains NaN")
    return d


def mmd_cov(d_sr):
    """(MMD, COV) from d_sr [S, R], the distances from each sample s to each reference r.

    MMD = mean over r of min over s of d_sr[s, r]: how close the closest sample comes to each reference.
    COV = |{argmin over r of d_sr[s, r] : s}| / R: the fraction of references that are the closest
    reference of at least one sample (ties go to the lowest index).
    """
    d = _distance_matrix("d_sr", d_sr)
    mmd = float(np.mean(np.min(d, axis=0)))
    cov = np.unique(np.argmin(d, axis=1)).size / d.shape[1]
    return mmd, float(cov)


def one_nn_accuracy(d_ss, d_sr, d_rr):
    """Leave-one-out 1-nearest-neighbour accuracy over samples and references (two classes).

    d_ss [S, S], d_sr [S, R], d_rr [R, R]: distances among samples, from samples to references, among
    references. Each of the S + R clouds is given the class of its nearest other cloud (ties go to the
    lowest index, samples first); the result is the fraction classified correctly. 0.5 means the two
    sets cannot be told apart; 1.0 that every cloud's nearest neighbour is of its own set.
    """
    d_sr = _distance_matrix("d_sr", d_sr)
    S, R = d_sr.shape
    full = np.block([[_distance_matrix("d_ss", d_ss, (S, S)), d_sr],
                     [d_sr.T, _distance_matrix("d_rr", d_rr, (R, R))]])
    np.fill_diagonal(full, np.inf)
    labels = np.r_[np.zeros(S, bool), np.ones(R, bool)]
    return float(np.mean(labels[np.argmin(full, axis=1)] == labels))


def ball_grid(resolution):
    """Centres of the resolution^3 grid over [-0.5, 0.5]^3 (spacing 1 / (resolution - 1)) that lie in
    the inscribed ball (norm <= 0.5), [G, 3] float64: PointFlow's unit_cube_grid_point_cloud(clip_sphere)."""
    if int(resolution) != resolution or resolution < 2:
        raise ValueError(f"jsd resolution must be an integer >= 2, got {resolution!r}")
    axis = np.arange(resolution) / (resolution - 1) - 0.5
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    return grid[np.linalg.norm(grid, axis=1) <= 0.5]


def occupancy(clouds, resolution=28):
    """How many points of clouds [S, N, 3] fall in each cell of ball_grid(resolution) (nearest centre;
    ties go to the lowest index) -> [G] counts."""
    grid = ball_grid(resolution)
    points = np.asarray(clouds, np.float64).reshape(-1, 3)
    # The compiled search takes any number of points; the pure-TF fallback broadcasts [chunk, G].
    chunk = 2**20 if _backend.compiled_ops() is not None else max(1, 2**25 // len(grid))
    counts = np.zeros(len(grid), np.int64)
    for start in range(0, len(points), chunk):
        _, idx, _, _ = nn_distance(points[None, start:start + chunk], grid[None])
        counts += np.bincount(idx.numpy()[0], minlength=len(grid))
    return counts


def _entropy2(p):
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def jsd(samples, refs, resolution=28):
    """Jensen-Shannon divergence (base 2) between the occupancy distributions of two sets of clouds
    [S, N, 3] and [R, M, 3]: every point is counted in the cell of ball_grid(resolution) with the nearest
    centre, the counts of each set are normalised to P and Q, and JSD = H((P + Q) / 2) - (H(P) + H(Q)) / 2.
    The grid covers [-0.5, 0.5]^3: clouds reaching outside it get a warning (normalise them with
    --normalize unit-box, see docs/generative_metrics.md), and their outer points fall in the border cells.
    """
    sets = []
    for name, clouds in (("samples", samples), ("refs", refs)):
        clouds = np.asarray(clouds, np.float64)
        if clouds.ndim != 3 or clouds.shape[2] != 3 or 0 in clouds.shape:
            raise ValueError(f"jsd: {name} must have shape [clouds, points, 3], got {list(clouds.shape)}")
        if not np.isfinite(clouds).all():
            raise ValueError(f"jsd: {name} has a non-finite coordinate")
        reach = float(np.max(np.abs(clouds)))
        if reach > 0.5 + 1e-3:
            warnings.warn(f"jsd: {name} reach outside the unit cube [-0.5, 0.5]^3 (largest |coordinate| {reach:.3g}); "
                          "the occupancy grid covers only the ball of radius 0.5 in it, so the JSD is not comparable "
                          "with published values. Normalise the clouds (e.g. unit-box) first.", RuntimeWarning,
                          stacklevel=2)
        sets.append(occupancy(clouds, resolution).astype(np.float64))
    p, q = sets[0] / sets[0].sum(), sets[1] / sets[1].sum()
    return max(0.0, _entropy2((p + q) / 2) - (_entropy2(p) + _entropy2(q)) / 2)


def generative_metrics(samples, refs, *, jsd_resolution=28, eps=None, progress=None):
    """The table of point-cloud generation papers, as PointFlow's compute_all_metrics defines it, for
    generated samples [S, N, 3] against reference clouds [R, N, 3] -> dict of floats:
    mmd_chamfer, cov_chamfer, 1nna_chamfer, mmd_emd, cov_emd, 1nna_emd, jsd.

    Chamfer is pairwise_chamfer's (mean squared distance both ways, summed), EMD pairwise_emd's (mean
    Euclidean distance, exact within eps); MMD and COV come from mmd_cov, 1-NNA from one_nn_accuracy,
    JSD from jsd at jsd_resolution. Neither set is normalised here (the command line can).
    """
    results = {}
    for name, pairwise in (("chamfer", functools.partial(pairwise_chamfer, progress=progress)),
                           ("emd", functools.partial(pairwise_emd, eps=eps, progress=progress))):
        d_sr, d_ss, d_rr = pairwise(samples, refs), pairwise(samples), pairwise(refs)
        results[f"mmd_{name}"], results[f"cov_{name}"] = mmd_cov(d_sr)
        results[f"1nna_{name}"] = one_nn_accuracy(d_ss, d_sr, d_rr)
    results["jsd"] = jsd(samples, refs, jsd_resolution)
    return results
