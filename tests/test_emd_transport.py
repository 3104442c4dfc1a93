"""EMD between clouds of different sizes (the transportation auction) against POT's exact network
simplex (ot.emd) and finite differences of its exact cost."""
import numpy as np
import ot
import pytest
import tensorflow as tf
from scipy.spatial.distance import cdist

import pointops
from conftest import check_plan


def exact_emd(a, b, squared=False):
    """POT's exact optimal transport cost with uniform masses (float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cost = cdist(a, b, "sqeuclidean" if squared else "euclidean")
    return ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), cost, numItermax=10**8)


@pytest.mark.parametrize("n, m", [(1, 5), (5, 1), (3, 7), (64, 128), (120, 40), (97, 101), (300, 200), (1000, 2048)])
@pytest.mark.parametrize("D", [2, 3])
def test_emd_matches_pot_for_different_sizes(rng, n, m, D):
    a = rng.random((2, n, D)).astype(np.float32)
    b = rng.random((2, m, D)).astype(np.float32)
    ours = pointops.emd(a, b, batch_reduction=None).numpy()
    plan_i, plan_j, mass, gap = (x.numpy() for x in pointops.emd_plan(a, b))
    for k in range(2):
        optimum = exact_emd(a[k], b[k])
        plan_cost = check_plan(a[k], b[k], plan_i[k], plan_j[k], mass[k], n, m)
        slack = 1e-5 * optimum  # float32 rounding of the kernel's costs
        assert optimum - slack <= ours[k] <= optimum * (1 + 1e-3) + slack
        assert ours[k] - optimum <= gap[k] + slack, "the reported bound does not hold"
        np.testing.assert_allclose(plan_cost, ours[k], rtol=1e-5)


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ragged_lengths_that_differ_per_cloud_and_side(rng, squared, dtype):
    a = rng.random((4, 60, 3)).astype(dtype)
    b = rng.random((4, 45, 3)).astype(dtype)
    a_len, b_len = np.array([60, 17, 1, 45]), np.array([45, 44, 9, 45])
    a[1, 17:] = np.nan  # padding is never read
    ours = pointops.emd(a, b, squared=squared, a_lengths=a_len, b_lengths=b_len, batch_reduction=None).numpy()
    _, _, _, gap = pointops.emd_plan(a, b, squared=squared, a_lengths=a_len, b_lengths=b_len)
    for k in range(4):
        optimum = exact_emd(a[k, :a_len[k]], b[k, :b_len[k]], squared)
        assert optimum * (1 - 1e-5) <= ours[k] <= optimum * (1 + 1e-3) + 1e-12
        assert ours[k] - optimum <= gap.numpy()[k] + 1e-5 * optimum


def test_equal_sizes_keep_the_assignment_values(rng):
    a, b = rng.random((3, 200, 3)), rng.random((3, 200, 3))
    today = pointops.emd(a, b, batch_reduction=None).numpy()
    assignment, _ = pointops.emd_match(a, b)
    through_lengths = pointops.emd(a, b, a_lengths=[200] * 3, b_lengths=[200] * 3, batch_reduction=None).numpy()
    np.testing.assert_allclose(through_lengths, today, rtol=1e-12)
    plan_i, plan_j, mass, _ = (x.numpy() for x in pointops.emd_plan(a, b))
    assert (plan_i[:, :200] == np.arange(200)).all() and (plan_i[:, 200:] == -1).all()
    np.testing.assert_array_equal(plan_j[:, :200], assignment.numpy())
    np.testing.assert_allclose(mass[:, :200], 1 / 200)


def test_reductions_and_per_point_shares(rng):
    a, b = rng.random((2, 30, 3)), rng.random((2, 50, 3))
    mean = pointops.emd(a, b, batch_reduction=None).numpy()
    total = pointops.emd(a, b, point_reduction="sum", batch_reduction=None).numpy()
    per_point = pointops.emd(a, b, point_reduction=None, batch_reduction=None).numpy()
    assert per_point.shape == (2, 30) and (per_point >= 0).all()
    np.testing.assert_allclose(per_point.mean(1), mean, rtol=1e-10)
    np.testing.assert_allclose(total, 30 * mean, rtol=1e-10)
    assert float(pointops.emd(a, b)) == pytest.approx(mean.mean(), rel=1e-12)


def test_gradient_is_the_derivative_of_the_exact_cost(rng):
    """Central differences of POT's exact EMD (an independent solver) against the gradient through the plan."""
    a, b = rng.random((1, 7, 3)), rng.random((1, 5, 3))
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        value = pointops.emd(a_t, b_t, eps=1e-7)
    grad_a, grad_b = (g.numpy() for g in tape.gradient(value, [a_t, b_t]))
    h = 1e-6
    for points, grad, which in ((a, grad_a, 0), (b, grad_b, 1)):
        numeric = np.zeros_like(points)
        for idx in np.ndindex(points.shape):
            up, down = points.copy(), points.copy()
            up[idx] += h
            down[idx] -= h
            args_up = (up[0], b[0]) if which == 0 else (a[0], up[0])
            args_down = (down[0], b[0]) if which == 0 else (a[0], down[0])
            numeric[idx] = (exact_emd(*args_up) - exact_emd(*args_down)) / (2 * h)
        np.testing.assert_allclose(grad, numeric, atol=1e-6)


def test_gradient_reaches_both_inputs_through_keras_and_tf_function(rng):
    pred, target = rng.random((2, 64, 3)).astype(np.float32), rng.random((2, 100, 3)).astype(np.float32)
    spec_a, spec_b = tf.TensorSpec([None, 64, 3], tf.float32), tf.TensorSpec([None, 100, 3], tf.float32)
    graph_emd = tf.function(lambda x, y: pointops.emd(x, y), input_signature=[spec_a, spec_b])
    assert float(graph_emd(pred, target)) == pytest.approx(float(pointops.emd(pred, target)), rel=1e-6)
    loss = pointops.keras.EMDLoss()
    metric = pointops.keras.EMDMetric()
    p = tf.Variable(pred)
    with tf.GradientTape() as tape:
        value = loss(target, p)
    grad = tape.gradient(value, p).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
    metric.update_state(target, pred)
    want = np.mean([exact_emd(x, y) for x, y in zip(pred, target)])
    assert want * (1 - 1e-5) <= float(metric.result()) <= want * (1 + 1e-3)


def test_reference_path_solves_small_different_sizes(rng):
    a, b = rng.random((2, 6, 3)), rng.random((2, 9, 3))
    ours = pointops.reference.emd(a, b, batch_reduction=None).numpy()
    for k in range(2):
        optimum = exact_emd(a[k], b[k])
        assert optimum * (1 - 1e-9) <= ours[k] <= optimum * (1 + 1e-3)
    with pytest.raises(ValueError, match="lcm"):
        pointops.reference.emd(rng.random((1, 97, 3)), rng.random((1, 101, 3)))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="cannot have lengths"):
        pointops.reference.emd(a, b, a_lengths=[6, 5])


def test_errors_and_extremes(rng):
    a, b = rng.random((2, 5, 3)), rng.random((2, 8, 3))
    with pytest.raises(ValueError, match=r"needs equal sizes.*\[2, 5, 3\].*\[2, 8, 3\]"):
        pointops.emd(a, b, return_assignment=True)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="b_lengths"):
        pointops.emd_plan(a, b, b_lengths=[8, 9])
    with pytest.raises(ValueError, match="D must be in"):
        pointops.emd_plan(np.zeros((1, 3, 9)), np.zeros((1, 4, 9)))
    with pytest.raises(ValueError, match="eps"):
        pointops.emd_plan(a, b, eps=0)
    nan_a = a.copy()
    nan_a[1, 2, 0] = np.nan
    values = pointops.emd(nan_a, b, batch_reduction=None).numpy()
    assert np.isfinite(values[0]) and np.isnan(values[1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="overflow"):
        pointops.emd(a.astype(np.float32) * 1e20, b.astype(np.float32), squared=True)
    # B = 0, single points, all points equal.
    assert pointops.emd(a[:0], b[:0], batch_reduction=None).shape == (0,)
    np.testing.assert_allclose(pointops.emd(a[:, :1], b, batch_reduction=None).numpy(),
                               np.linalg.norm(b - a[:, :1], axis=-1).mean(1), rtol=1e-12)
    assert float(pointops.emd(np.ones((1, 4, 3)), np.ones((1, 7, 3)))) == 0.0


def test_tf_free_module_door(rng):
    """pointops._C.emd_transport (the module the GPU machine uses without TensorFlow)."""
    from pointops import _C
    a, b = rng.random((2, 40, 2)), rng.random((2, 70, 2))
    plan_i, plan_j, mass, gap, rounds = _C.emd_transport(a, b, a_lengths=np.array([40, 33], np.int32))
    assert rounds >= 1 and plan_i.shape == (2, 109)
    for k, n in enumerate((40, 33)):
        cost = check_plan(a[k], b[k], plan_i[k], plan_j[k], mass[k], n, 70)
        optimum = exact_emd(a[k, :n], b[k])
        assert optimum * (1 - 1e-9) <= cost <= optimum + gap[k] + 1e-12
    with pytest.raises(ValueError, match="b_lengths"):
        _C.emd_transport(a, b, b_lengths=np.array([70, 0]))
