"""Every scale the dtype can answer (issue #31): the same clouds scaled by 2^s, from 2^-120 to 2^120 in
float32 and from 2^-1000 to 2^1000 in float64, against a float64 oracle on the clouds scaled back to
unit size (exact: a power of two), on the compiled path and the pure-TF path.

The clouds' coordinates lie in [1, 2) in magnitude, with random signs, so that every coordinate stays a
normal number at every scale tested (TensorFlow flushes subnormal numbers to zero). A value whose true
size is out of the dtype's range must come out as inf (overflow) or as 0 or subnormal (underflow)."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

import pointops
from pointops import metrics, reference
from pointops.compat import pytorch3d, tf_approxmatch, tf_nndistance

SCALES = [(np.float32, s) for s in (-120, -100, -64, -31, 0, 31, 64, 100, 120)] + \
         [(np.float64, s) for s in (-1000, -600, -251, 0, 251, 600, 1000)]
PATHS = {"compiled": pointops, "reference": reference}
RTOL = {np.float32: 2e-5, np.float64: 1e-11}


def unit_clouds(seed, B=2, N=48, M=40, D=3):
    rng = np.random.default_rng(seed)
    make = lambda n: rng.choice([-1.0, 1.0], size=(B, n, D)) * (1 + rng.random((B, n, D)))
    return make(N), make(M)


def at_scale(x, dtype, s):
    """x * 2^s in dtype, and the unit-size float64 clouds those exact values stand for."""
    scaled = np.ldexp(x, s).astype(dtype)
    return scaled, np.ldexp(scaled.astype(np.float64), -s)


def pair_at_scale(seed, dtype, s, **sizes):
    """unit_clouds(seed, **sizes) at scale 2^s in dtype: (a, b, ua, ub), ua and ub the unit-size float64
    clouds that a and b stand for."""
    a, b = unit_clouds(seed, **sizes)
    (a, ua), (b, ub) = at_scale(a, dtype, s), at_scale(b, dtype, s)
    return a, b, ua, ub


def expected(value, s, power, dtype):
    """The true value at scale s (value * 2^(power s)) rounded to dtype: inf, 0 or subnormal out of range."""
    with np.errstate(over="ignore"):
        return np.ldexp(np.asarray(value, np.float64), power * s).astype(dtype)


def assert_scaled(actual, true, dtype, rtol=None, margin=0):
    """actual (in dtype) against the true values rounded to dtype: equal infinities, 0 or subnormal where
    the true value underflows, else within rtol. margin > 0 widens the underflow zone to 2^margin times
    the smallest normal number, for sums whose terms are subnormal there (TensorFlow flushes those)."""
    actual, true = np.asarray(actual, np.float64), np.asarray(true, np.float64)
    tiny = np.ldexp(np.finfo(dtype).tiny, margin)
    normal = np.isfinite(true) & (np.abs(true) >= tiny)
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(true))
    assert np.all(np.abs(actual[~normal & np.isfinite(true)]) < tiny * 1.01)
    np.testing.assert_allclose(actual[normal], true[normal], rtol=rtol or RTOL[dtype])


def nearest(query, ref):
    """Oracle: (distances, indices) [B, N] of the nearest ref point of each query point (float64)."""
    pairs = [cKDTree(r).query(q) for q, r in zip(query, ref)]
    return np.array([d for d, _ in pairs]), np.array([i for _, i in pairs])


def emd_oracle(a, b):
    """The exact EMD (Euclidean costs) of each pair of equal-size clouds, and with squared costs."""
    out = []
    for squared in (False, True):
        values = []
        for x, y in zip(a, b):
            cost = np.linalg.norm(x[:, None] - y[None], axis=-1) ** (2 if squared else 1)
            rows, cols = linear_sum_assignment(cost)
            values.append(cost[rows, cols].mean())
        out.append(np.array(values))
    return out


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,s", SCALES)
def test_nn_distance_and_chamfer(path, dtype, s):
    ops = PATHS[path]
    a, b, ua, ub = pair_at_scale(1, dtype, s)
    d_ab, i_ab = nearest(ua, ub)
    d_ba, i_ba = nearest(ub, ua)
    dist_ab, idx_ab, dist_ba, idx_ba = (t.numpy() for t in ops.nn_distance(a, b))
    np.testing.assert_array_equal(idx_ab, i_ab)
    np.testing.assert_array_equal(idx_ba, i_ba)
    assert_scaled(dist_ab, expected(d_ab**2, s, 2, dtype), dtype)
    assert_scaled(dist_ba, expected(d_ba**2, s, 2, dtype), dtype)
    squared = (d_ab**2).mean(1) + (d_ba**2).mean(1)
    euclidean = d_ab.mean(1) + d_ba.mean(1)
    assert_scaled(ops.chamfer_distance(a, b), expected(squared.mean(), s, 2, dtype), dtype)
    assert_scaled(ops.chamfer_distance(a, b, squared=False), expected(euclidean.mean(), s, 1, dtype), dtype)
    assert_scaled(ops.chamfer_distance(a, b, squared=False, batch_reduction=None, a_lengths=[48, 48]),
                  expected(euclidean, s, 1, dtype), dtype)
    hausdorff = np.maximum(d_ab.max(1), d_ba.max(1))
    assert_scaled(ops.chamfer_distance(a, b, squared=False, point_reduction="max", batch_reduction=None),
                  expected(hausdorff, s, 1, dtype), dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,s", SCALES)
def test_knn_both_norms(path, dtype, s):
    ops = PATHS[path]
    a, b, ua, ub = pair_at_scale(2, dtype, s)
    for norm in (2, 1):
        dist, idx = (t.numpy() for t in ops.knn(a, b, 4, norm=norm))
        for k in range(len(ua)):
            true, true_idx = cKDTree(ub[k]).query(ua[k], k=4, p=norm)
            np.testing.assert_array_equal(idx[k], true_idx)
            assert_scaled(dist[k], expected(true**norm, s, norm, dtype), dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,s", SCALES)
def test_density_aware_chamfer_and_f_score(path, dtype, s):
    ops = PATHS[path]
    a, b, ua, ub = pair_at_scale(3, dtype, s)
    d_ab, i_ab = nearest(ua, ub)
    d_ba, i_ba = nearest(ub, ua)
    threshold = 0.3
    precision, recall = (d_ab < threshold).mean(1), (d_ba < threshold).mean(1)
    f, p, r = (t.numpy() for t in ops.f_score(a, b, threshold=np.ldexp(threshold, s)))
    np.testing.assert_allclose(p, precision)
    np.testing.assert_allclose(r, recall)
    np.testing.assert_allclose(f, 2 * precision * recall / (precision + recall), rtol=1e-6)
    # alpha scaled with the clouds (2^-2s) keeps alpha d the same: the value is scale-free.
    alpha = np.ldexp(1.0, -2 * s)
    if np.finfo(dtype).tiny <= alpha <= np.finfo(dtype).max:
        def side(d, idx, n_other, frac):
            counts = np.array([np.bincount(row, minlength=n_other)[row] for row in idx])
            return (1 - np.exp(-d**2) * frac / (counts + 1e-6)).mean(1)
        n, m = len(ua[0]), len(ub[0])
        true = (side(d_ab, i_ab, m, n / m) + side(d_ba, i_ba, n, m / n)) / 2
        np.testing.assert_allclose(ops.density_aware_chamfer(a, b, alpha=alpha, batch_reduction=None), true, rtol=1e-4)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,s", SCALES)
def test_emd_and_its_assignment(path, dtype, s):
    ops = PATHS[path]
    a, b, ua, ub = pair_at_scale(4, dtype, s, N=24, M=24)
    euclidean, squared = emd_oracle(ua, ub)
    tol = 2e-3  # the auction's certified relative gap (eps = 1e-3) and float32 rounding
    assert_scaled(ops.emd(a, b, batch_reduction=None), expected(euclidean, s, 1, dtype), dtype, rtol=tol)
    assignment, gap = ops.emd_match(a, b)
    cost = np.linalg.norm(ua[:, :, None] - ub[:, None], axis=-1)
    matched = np.take_along_axis(cost, assignment.numpy()[..., None], 2)[..., 0].mean(1)
    assert np.all(matched <= euclidean * (1 + tol))
    assert np.all(np.isfinite(gap.numpy())) and np.all(gap.numpy() >= 0)
    largest_cost = expected(np.max(cost) ** 2, s, 2, dtype)
    if largest_cost < np.finfo(dtype).max / 2:
        assert_scaled(ops.emd(a, b, squared=True, batch_reduction=None), expected(squared, s, 2, dtype), dtype, rtol=tol)
    else:  # squared costs that truly overflow dtype are refused, with the reason
        with pytest.raises(tf.errors.InvalidArgumentError, match="overflow"):
            ops.emd(a, b, squared=True)


@pytest.mark.parametrize("dtype,s", SCALES)
def test_emd_plan_of_different_sizes(dtype, s):
    a, b, ua, ub = pair_at_scale(5, dtype, s, B=1, N=9, M=6)
    # Oracle: each a point repeated twice and each b point three times (18 units), assigned optimally.
    cost = np.linalg.norm(np.repeat(ua[0], 2, 0)[:, None] - np.repeat(ub[0], 3, 0)[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    true = cost[rows, cols].mean()
    assert_scaled(pointops.emd(a, b), expected(true, s, 1, dtype), dtype, rtol=2e-3)
    plan_i, plan_j, mass, gap = (t.numpy() for t in pointops.emd_plan(a, b))
    valid = plan_i[0] >= 0
    pair = np.linalg.norm(ua[0, plan_i[0, valid]] - ub[0, plan_j[0, valid]], axis=-1)
    assert (mass[0, valid] * pair).sum() <= true * (1 + 2e-3)
    assert np.isfinite(gap).all()


@pytest.mark.parametrize("dtype,s", SCALES)
def test_pairwise_metrics(dtype, s):
    x, y, ux, uy = pair_at_scale(6, dtype, s, B=3, N=20, M=20)
    true = np.array([[(nearest(xi[None], yj[None])[0] ** 2).mean() + (nearest(yj[None], xi[None])[0] ** 2).mean()
                      for yj in uy] for xi in ux])
    assert_scaled(metrics.pairwise_chamfer(x, y), expected(true, s, 2, dtype), dtype)
    emd = np.array([[emd_oracle(xi[None], yj[None])[0][0] for yj in uy] for xi in ux])
    assert_scaled(metrics.pairwise_emd(x, y), expected(emd, s, 1, dtype), dtype, rtol=2e-3)


@pytest.mark.parametrize("dtype,s", SCALES)
def test_compat_modules(dtype, s):
    a, b, ua, ub = pair_at_scale(7, dtype, s, N=30, M=20)
    d_ab, i_ab = nearest(ua, ub)
    dist1, idx1, _, _ = (t.numpy() for t in tf_nndistance.nn_distance(a, b))
    np.testing.assert_array_equal(idx1, i_ab)
    assert_scaled(dist1, expected(d_ab**2, s, 2, dtype), dtype)
    loss, _ = pytorch3d.chamfer_distance(a, b)
    d_ba, _ = nearest(ub, ua)
    assert_scaled(loss, expected(((d_ab**2).mean(1) + (d_ba**2).mean(1)).mean(), s, 2, dtype), dtype)
    match = tf_approxmatch.approx_match(a, b)
    cost = tf_approxmatch.match_cost(a, b, match).numpy()
    plan = match.numpy() / 30  # masses: the original's total is max(N, M) = 30
    true = (plan * np.linalg.norm(ub[:, :, None] - ua[:, None], axis=-1)).sum((1, 2)) * 30
    assert_scaled(cost, expected(true, s, 1, dtype), dtype)


def chamfer_gradient(a, b, idx_ab, idx_ba, squared):
    """Oracle of the gradient of chamfer_distance's default reductions (float64, unit scale):
    each point gets d(its distance)/dx / (n B), its neighbour the opposite."""
    grad_a, grad_b = np.zeros_like(a), np.zeros_like(b)
    B = a.shape[0]
    for k in range(B):
        for x, y, idx, gx, gy in ((a[k], b[k], idx_ab[k], grad_a[k], grad_b[k]),
                                  (b[k], a[k], idx_ba[k], grad_b[k], grad_a[k])):
            diff = x - y[idx]
            slope = 2 * diff if squared else diff / np.linalg.norm(diff, axis=-1, keepdims=True)
            gx += slope / (len(x) * B)
            np.add.at(gy, idx, -slope / (len(x) * B))
    return grad_a, grad_b


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype,s", SCALES)
def test_gradients(path, dtype, s):
    """CD-L1's and EMD's gradients are scale-free (degree 0), the squared Chamfer's scales by 2^s."""
    ops = PATHS[path]
    a, b, ua, ub = pair_at_scale(8, dtype, s, N=32, M=32)
    _, i_ab = nearest(ua, ub)
    _, i_ba = nearest(ub, ua)
    a, b = tf.constant(a), tf.constant(b)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        values = {False: ops.chamfer_distance(a, b, squared=False), True: ops.chamfer_distance(a, b)}
        emd = ops.emd(a, b)
    for squared, value in values.items():
        for got, true in zip(tape.gradient(value, [a, b]), chamfer_gradient(ua, ub, i_ab, i_ba, squared)):
            # The squared distance's gradient at 2^-120 is itself within 2^-5 of float32's smallest normal
            # number, with subnormal terms.
            assert_scaled(got.numpy(), expected(true, s, int(squared), dtype), dtype, rtol=1e-4, margin=8)
    # EMD: each matched pair's unit vector over (N B), whatever the scale.
    grad_a = tape.gradient(emd, a).numpy()
    np.testing.assert_allclose(np.linalg.norm(grad_a, axis=-1) * 32 * 2, 1, rtol=1e-4)


@pytest.mark.parametrize("dtype,s", [(np.float32, -100), (np.float32, 100), (np.float64, -900), (np.float64, 900)])
def test_under_xla(dtype, s):
    """The XLA lowerings run the same kernels: the same indices and values at any scale."""
    a, b, ua, ub = pair_at_scale(9, dtype, s)
    d_ab, i_ab = nearest(ua, ub)
    d_ba, _ = nearest(ub, ua)
    jitted = tf.function(lambda a, b: (pointops.nn_distance(a, b)[1], pointops.chamfer_distance(a, b, squared=False),
                                       pointops.emd(a, b[:, :48])), jit_compile=True)
    idx, cd1, emd = jitted(tf.constant(a), tf.constant(b))
    np.testing.assert_array_equal(idx.numpy(), i_ab)
    assert_scaled(cd1, expected((d_ab.mean(1) + d_ba.mean(1)).mean(), s, 1, dtype), dtype)
    assert np.isfinite(emd.numpy()) and emd.numpy() > 0
