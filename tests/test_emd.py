"""EMD against scipy's exact linear_sum_assignment on the same costs."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import pointops


def exact(a, b, squared):
    cost = cdist(a, b, "sqeuclidean" if squared else "euclidean")
    rows, cols = linear_sum_assignment(cost)
    return cost, cost[rows, cols].mean()


def check_against_exact(a, b, assignment, gap, squared, rel_tol=1e-3, lengths=None):
    for k in range(a.shape[0]):
        n = a.shape[1] if lengths is None else lengths[k]
        perm = assignment[k, :n]
        assert sorted(perm.tolist()) == list(range(n)), "not a permutation"
        assert (assignment[k, n:] == -1).all()
        cost, optimum = exact(a[k, :n], b[k, :n], squared)
        ours = cost[np.arange(n), perm].mean()
        slack = 1e-5 * max(optimum, 1e-6)  # float32 rounding of the kernel's costs
        assert ours - optimum <= rel_tol * optimum + slack
        assert ours - optimum <= gap[k] + slack, "the reported bound does not hold"


@pytest.mark.parametrize("N", [1, 2, 10, 777, 1000, 2048])
@pytest.mark.parametrize("D", [2, 3])
def test_compiled_against_linear_sum_assignment(rng, N, D):
    B = 2 if N <= 1000 else 1
    a = rng.random((B, N, D)).astype(np.float32)
    b = rng.random((B, N, D)).astype(np.float32)
    assignment, gap = pointops.emd_match(a, b)
    check_against_exact(a.astype(np.float64), b.astype(np.float64), assignment.numpy(), gap.numpy(), False)


@pytest.mark.parametrize("squared", [False, True])
def test_squared_cost_and_duplicates(rng, squared):
    pts = rng.integers(0, 3, size=(3, 200, 3)).astype(np.float64)  # many coincident points
    a, b = pts, pts[:, ::-1] + rng.integers(0, 2, size=pts.shape)
    assignment, gap = pointops.emd_match(a, b, squared=squared)
    check_against_exact(a, b, assignment.numpy(), gap.numpy(), squared)


@pytest.mark.parametrize("D", [1, 2, 5, 8])
def test_clustered_clouds_every_dimension(rng, D):
    """Tight clusters far apart and a cloud spread over a line: the CPU bid search prunes k-d tree
    subtrees by distance and lowest price, and here most subtrees are priced very differently."""
    centres = rng.random((4, D)) * 10
    a = centres[rng.integers(0, 4, (2, 300))] + 1e-3 * rng.standard_normal((2, 300, D))
    b = np.concatenate([centres[rng.integers(0, 4, (2, 150))] + 1e-3 * rng.standard_normal((2, 150, D)),
                        np.linspace(0, 10, 150)[None, :, None] * np.ones((2, 1, D))], axis=1)
    for squared in (False, True):
        assignment, gap = pointops.emd_match(a, b, squared=squared)
        check_against_exact(a, b, assignment.numpy(), gap.numpy(), squared)


def test_tighter_target(rng):
    a, b = rng.random((2, 300, 3)), rng.random((2, 300, 3))
    assignment, gap = pointops.emd_match(a, b, eps=1e-5)
    check_against_exact(a, b, assignment.numpy(), gap.numpy(), False, rel_tol=1e-5)


def test_padded_batches(rng):
    a, b = rng.random((3, 50, 2)), rng.random((3, 50, 2))
    lengths = np.array([50, 1, 17])
    assignment, gap = pointops.emd_match(a, b, a_lengths=lengths, b_lengths=lengths)
    check_against_exact(a, b, assignment.numpy(), gap.numpy(), False, lengths=lengths)
    dist = pointops.emd(a, b, a_lengths=lengths, b_lengths=lengths, batch_reduction=None).numpy()
    for k in range(3):
        n = lengths[k]
        np.testing.assert_allclose(dist[k], np.linalg.norm(a[k, :n] - b[k, assignment.numpy()[k, :n]], axis=1).mean())


def test_distance_is_the_cost_of_the_assignment(rng):
    a, b = rng.random((4, 64, 3)).astype(np.float32), rng.random((4, 64, 3)).astype(np.float32)
    for squared in (False, True):
        dist, assignment = pointops.emd(a, b, squared=squared, batch_reduction=None, return_assignment=True)
        d2 = ((a - np.take_along_axis(b, assignment.numpy()[..., None], 1)) ** 2).sum(-1)
        want = (d2 if squared else np.sqrt(d2)).mean(1)
        np.testing.assert_allclose(dist.numpy(), want, rtol=1e-6)


def test_reference_path_against_linear_sum_assignment(rng):
    a, b = rng.random((2, 40, 3)), rng.random((2, 40, 3))
    lengths = np.array([40, 13])
    for squared in (False, True):
        assignment, gap = pointops.reference.emd_match(a, b, squared=squared, a_lengths=lengths, b_lengths=lengths)
        check_against_exact(a, b, assignment.numpy(), gap.numpy(), squared, lengths=lengths)


def test_gradient_against_finite_differences(rng):
    a = tf.constant(rng.random((2, 12, 3)))
    b = tf.constant(rng.random((2, 12, 3)))
    assignment, _ = pointops.emd_match(a, b, eps=1e-9)
    assignment = assignment.numpy()

    def matched_cost(a, b):  # the cost of the fixed assignment, differentiated numerically
        matched = tf.gather(b, assignment, batch_dims=1)
        return tf.reduce_mean(tf.norm(a - matched, axis=-1))

    with tf.GradientTape() as tape:
        tape.watch([a, b])
        loss = pointops.emd(a, b, eps=1e-9)
    got = tape.gradient(loss, [a, b])
    _, numerical = tf.test.compute_gradient(matched_cost, [a, b], delta=1e-6)
    for g, n in zip(got, numerical):
        np.testing.assert_allclose(g.numpy().ravel(), n.ravel(), rtol=1e-5, atol=1e-8)


def test_gradient_finite_where_matched_points_coincide(rng):
    a = tf.constant(rng.random((1, 20, 3)).astype(np.float32))
    b = tf.identity(a)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        loss = pointops.emd(a, b)
    grad_a, grad_b = tape.gradient(loss, [a, b])
    assert np.isfinite(grad_a.numpy()).all() and np.isfinite(grad_b.numpy()).all()


def test_deterministic(rng):
    a, b = rng.random((4, 500, 3)).astype(np.float32), rng.random((4, 500, 3)).astype(np.float32)
    first = [x.numpy() for x in pointops.emd_match(a, b)]
    second = [x.numpy() for x in pointops.emd_match(a, b)]
    for x, y in zip(first, second):
        assert x.tobytes() == y.tobytes()


def test_half_precision(rng):
    a, b = rng.random((2, 100, 3)), rng.random((2, 100, 3))
    for dtype in (tf.float16, tf.bfloat16):
        dist = pointops.emd(tf.cast(a, dtype), tf.cast(b, dtype))
        assert dist.dtype == dtype
        np.testing.assert_allclose(float(tf.cast(dist, tf.float64)), float(pointops.emd(a, b)), rtol=2e-2)


def test_non_finite_gives_nan(rng):
    a, b = rng.random((2, 10, 3)), rng.random((2, 10, 3))
    a[1, 4, 0] = np.nan
    assignment, gap = pointops.emd_match(a, b)
    assert np.isfinite(gap.numpy()[0]) and np.isnan(gap.numpy()[1])
    assert (assignment.numpy()[1] == np.arange(10)).all()
    assert np.isnan(pointops.emd(a, b, batch_reduction=None).numpy()[1])


@pytest.mark.parametrize("fn", [pointops.emd, pointops.reference.emd])
def test_errors(fn):
    a = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"needs equal sizes.*\[2, 5, 3\].*\[2, 6, 3\]"):
        fn(a, np.zeros((2, 6, 3), np.float32), return_assignment=True)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="equal sizes|a_lengths"):
        fn(a, a, a_lengths=[5, 4], b_lengths=[5, 5], return_assignment=True)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="a_lengths"):
        fn(a, a, a_lengths=[5, 6])
    with pytest.raises(ValueError, match="eps"):
        fn(a, a, eps=0)
    with pytest.raises(ValueError, match="D must be in"):
        fn(np.zeros((1, 3, 9)), np.zeros((1, 3, 9)))


# emd's default on full clouds runs as one op on the CPU (PointopsEmdMean), with a gradient of its own
# (test_gradient_against_finite_differences above takes it too).

def test_default_emd_is_one_op_where_kernels_run_on_the_cpu():
    fn = tf.function(pointops.emd)
    graph = fn.get_concrete_function(tf.TensorSpec([2, 9, 3], tf.float32), tf.TensorSpec([2, 9, 3], tf.float32)).graph
    found = {op.type for op in graph.get_operations() if op.type.startswith("Pointops")}
    assert found == ({"PointopsEmdMean"} if pointops._backend.kernels_run_on_cpu() else {"PointopsEmdMatch"})


@pytest.mark.parametrize("squared", [False, True])
def test_default_emd_against_linear_sum_assignment(rng, squared):
    a, b = rng.random((3, 400, 3)), rng.random((3, 400, 3))
    optimum = np.mean([exact(a[k], b[k], squared)[1] for k in range(3)])
    got = float(pointops.emd(a, b, squared=squared))
    assert optimum - 1e-12 <= got <= optimum * (1 + 1e-3)


def test_default_emd_is_the_mean_cost_of_its_assignment(rng):
    a, b = rng.standard_normal((4, 300, 3)), rng.standard_normal((4, 300, 3)) * 1e3
    for squared in (False, True):
        _, assignment = pointops.emd(a, b, squared=squared, return_assignment=True)
        d2 = ((a - np.take_along_axis(b, assignment.numpy()[..., None], 1)) ** 2).sum(-1)
        want = (d2 if squared else np.sqrt(d2)).mean()
        np.testing.assert_allclose(pointops.emd(a, b, squared=squared).numpy(), want, rtol=1e-13)


def test_default_emd_of_non_finite_or_empty_batches_is_nan(rng):
    a, b = rng.random((2, 10, 3)), rng.random((2, 10, 3))
    a[1, 4, 0] = np.inf
    assert np.isnan(pointops.emd(a, b).numpy())
    assert np.isnan(pointops.emd(np.zeros((0, 5, 3)), np.zeros((0, 5, 3))).numpy())


def test_default_emd_of_overflowing_costs_raises():
    """Squared costs of 1e40 overflow float32: refused. The Euclidean costs (1e20) fit: solved (issue #31)."""
    a = np.zeros((1, 4, 3), np.float32)
    a[0, 0, 0] = 1e20
    with pytest.raises(tf.errors.InvalidArgumentError, match="overflow"):
        pointops.emd(a, np.zeros((1, 4, 3), np.float32), squared=True)
    assert pointops.emd(a, np.zeros((1, 4, 3), np.float32)).numpy() == pytest.approx(1e20 / 4, rel=1e-6)


def test_emd_mean_op_checks_its_inputs():
    """The fused op behind emd's default, called directly (it is internal, but reachable)."""
    ops = pointops._backend.compiled_ops()
    a = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"PointopsEmdMean: EMD here needs equal sizes; a_lengths\[1\]"):
        ops.pointops_emd_mean(a, a, [5, 4], [5, 5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="PointopsEmdMean: rel_tol must be > 0"):
        ops.pointops_emd_mean(a, a, [5, 5], [5, 5], rel_tol=0.0)


def numpy_mean_cost_gradient(a, b, assignment, lengths, squared):
    """Explicit gradient of the mean over clouds of each cloud's mean matched cost."""
    grad_a, grad_b = np.zeros_like(a), np.zeros_like(b)
    for k in range(a.shape[0]):
        for i in range(lengths[k]):
            j = assignment[k, i]
            diff = a[k, i] - b[k, j]
            norm = np.linalg.norm(diff)
            slope = 2 * diff if squared else (diff / norm if norm > 0 else 0 * diff)
            grad_a[k, i] += slope / (a.shape[0] * lengths[k])
            grad_b[k, j] -= slope / (a.shape[0] * lengths[k])
    return grad_a, grad_b


@pytest.mark.parametrize("squared", [False, True])
def test_default_emd_gradient_against_explicit_formula(rng, squared):
    a = rng.integers(0, 3, size=(3, 40, 2)).astype(np.float64)
    b = np.concatenate([a[:, :10], rng.random((3, 30, 2))], 1)  # coincident matched points: slope 0
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        loss = pointops.emd(a_t, b_t, squared=squared)
    got = tape.gradient(loss, [a_t, b_t])
    _, assignment = pointops.emd(a, b, squared=squared, return_assignment=True)
    want = numpy_mean_cost_gradient(a, b, assignment.numpy(), [40] * 3, squared)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-15)


def test_emd_mean_op_gradient_with_lengths_against_explicit_formula(rng):
    """Called directly with ragged lengths (chamfer's default never passes them, the op allows them)."""
    ops = pointops._backend.compiled_ops()
    a, b = tf.constant(rng.random((3, 30, 3))), tf.constant(rng.random((3, 30, 3)))
    lengths = [30, 1, 17]
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        assignment, _, distance = ops.pointops_emd_mean(a, b, lengths, lengths)
    got = tape.gradient(distance, [a, b])
    want = numpy_mean_cost_gradient(a.numpy(), b.numpy(), assignment.numpy(), lengths, False)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-15)


def test_default_emd_gradient_of_a_non_finite_cloud(rng):
    a, b = tf.constant(rng.random((2, 10, 3))), tf.constant(rng.random((2, 10, 3)))
    a = tf.tensor_scatter_nd_update(a, [[1, 4, 0]], [np.nan])
    grads = []
    for reduction in ("mean", "sum"):  # "sum" takes the path without the fused op
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            loss = pointops.emd(a, b, batch_reduction=reduction)
        grads.append([g.numpy() / (2 if reduction == "sum" else 1) for g in tape.gradient(loss, [a, b])])
    for fused, other in zip(*grads):
        np.testing.assert_allclose(fused[0], other[0], rtol=1e-13)  # the finite cloud: the same gradient
        for grad in (fused, other):  # the other: nothing but at its NaN point, matched to itself
            assert (np.delete(grad[1], 4, axis=0) == 0).all() and np.isnan(grad[1, 4]).any()
