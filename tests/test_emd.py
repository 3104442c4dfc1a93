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
