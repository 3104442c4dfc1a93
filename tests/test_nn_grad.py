"""Gradients of the compiled op against finite differences, numpy's explicit formula and the
reference's autodiff; determinism; the sqrt at zero; second order."""
import numpy as np
import pytest
import tensorflow as tf

import pointops
from conftest import numpy_nn


def test_against_finite_differences(rng):
    a = tf.constant(rng.standard_normal((2, 7, 3)))
    b = tf.constant(rng.standard_normal((2, 5, 3)))
    weights = tf.constant(rng.standard_normal((2, 7))), tf.constant(rng.standard_normal((2, 5)))

    def f(a, b):
        dist_ab, _, dist_ba, _ = pointops.nn_distance(a, b)
        return tf.reduce_sum(dist_ab * weights[0]) + tf.reduce_sum(dist_ba * weights[1])

    theoretical, numerical = tf.test.compute_gradient(f, [a, b], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-7)


def numpy_chamfer_grad(a, b, g_ab, g_ba):
    """Explicit gradient of sum g_ab*d_ab + sum g_ba*d_ba with numpy's argmin neighbours."""
    grad_a, grad_b = np.zeros_like(a), np.zeros_like(b)
    _, i_ab = numpy_nn(a, b)
    _, i_ba = numpy_nn(b, a)
    for i, j in enumerate(i_ab):
        grad_a[i] += 2 * g_ab[i] * (a[i] - b[j])
        grad_b[j] += 2 * g_ab[i] * (b[j] - a[i])
    for j, i in enumerate(i_ba):
        grad_b[j] += 2 * g_ba[j] * (b[j] - a[i])
        grad_a[i] += 2 * g_ba[j] * (a[i] - b[j])
    return grad_a, grad_b


@pytest.mark.parametrize("algorithm", ["brute", "tree"])
def test_against_explicit_formula_with_duplicates(rng, algorithm):
    pts = rng.integers(0, 3, size=(1, 200, 2)).astype(np.float64)  # ties everywhere
    a, b = pts[:, :120], pts[:, 80:] + 0.25
    g_ab, g_ba = rng.standard_normal((1, 120)), rng.standard_normal((1, 120))
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        dist_ab, _, dist_ba, _ = pointops.nn_distance(a_t, b_t, algorithm=algorithm)
        loss = tf.reduce_sum(dist_ab * g_ab) + tf.reduce_sum(dist_ba * g_ba)
    got_a, got_b = tape.gradient(loss, [a_t, b_t])
    want_a, want_b = numpy_chamfer_grad(a[0], b[0], g_ab[0], g_ba[0])
    np.testing.assert_allclose(got_a.numpy()[0], want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_b.numpy()[0], want_b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("squared", [True, False])
def test_against_reference_autodiff_with_lengths(rng, squared):
    a = tf.constant(rng.standard_normal((3, 50, 3)).astype(np.float32))
    b = tf.constant(rng.standard_normal((3, 40, 3)).astype(np.float32))
    lens = dict(a_lengths=[50, 3, 20], b_lengths=[1, 40, 33])
    grads = []
    for fn in (pointops.chamfer_distance, pointops.reference.chamfer_distance):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            loss = fn(a, b, squared=squared, **lens)
        grads.append(tape.gradient(loss, [a, b]))
    for got, want in zip(*grads):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-7)


def test_deterministic(rng):
    # Many points share one neighbour, so the scatter sums are long.
    a = tf.constant(rng.standard_normal((4, 3000, 3)).astype(np.float32))
    b = tf.constant(rng.standard_normal((4, 40, 3)).astype(np.float32) * 0.01)

    def grads():
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            loss = pointops.chamfer_distance(a, b)
        return [g.numpy() for g in tape.gradient(loss, [a, b])]

    first, second = grads(), grads()
    for x, y in zip(first, second):
        assert x.tobytes() == y.tobytes()


def test_sqrt_gradient_at_zero_distance_is_zero():
    a = tf.constant([[[0.0, 0.0], [1.0, 1.0]]])
    b = tf.constant([[[0.0, 0.0], [2.0, 1.0]]])  # a[0] and b[0] coincide
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        loss = pointops.chamfer_distance(a, b, squared=False)
    grad_a, grad_b = tape.gradient(loss, [a, b])
    assert np.isfinite(grad_a.numpy()).all() and np.isfinite(grad_b.numpy()).all()
    assert (grad_a.numpy()[0, 0] == 0).all() and (grad_b.numpy()[0, 0] == 0).all()


@pytest.mark.parametrize("squared", [False, True])  # True: the default, one op on the CPU
def test_second_order_matches_reference(rng, squared):
    a = tf.constant(rng.standard_normal((2, 20, 3)))
    b = tf.constant(rng.standard_normal((2, 15, 3)))
    results = []
    for fn in (pointops.chamfer_distance, pointops.reference.chamfer_distance):
        with tf.GradientTape() as outer:
            outer.watch([a, b])
            with tf.GradientTape() as inner:
                inner.watch(a)
                loss = fn(a, b, squared=squared)
            grad_norm = tf.reduce_sum(tf.square(inner.gradient(loss, a)))
        results.append([g.numpy() for g in outer.gradient(grad_norm, [a, b])])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_in_tf_function_with_unknown_shapes(rng):
    spec = tf.TensorSpec([None, None, 3], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def loss_and_grad(a, b):
        with tf.GradientTape() as tape:
            tape.watch(a)
            loss = pointops.chamfer_distance(a, b)
        return loss, tape.gradient(loss, a)

    a = rng.standard_normal((2, 30, 3)).astype(np.float32)
    b = rng.standard_normal((2, 20, 3)).astype(np.float32)
    loss, grad = loss_and_grad(a, b)
    np.testing.assert_allclose(loss.numpy(), pointops.reference.chamfer_distance(a, b).numpy(), rtol=1e-6)
    assert grad.shape == a.shape


# The default chamfer_distance of full clouds runs as one op on the CPU (PointopsChamferMean), with a
# gradient of its own: the tests below take that path wherever the kernels run on the CPU.

def test_default_chamfer_is_one_op_where_kernels_run_on_the_cpu():
    fn = tf.function(pointops.chamfer_distance)
    graph = fn.get_concrete_function(tf.TensorSpec([2, 9, 3], tf.float32), tf.TensorSpec([2, 7, 3], tf.float32)).graph
    found = {op.type for op in graph.get_operations() if op.type.startswith("Pointops")}
    assert found == ({"PointopsChamferMean"} if pointops._backend.kernels_run_on_cpu() else {"PointopsNnDistance"})


def test_default_chamfer_gradient_against_finite_differences(rng):
    a = tf.constant(rng.standard_normal((2, 7, 3)))
    b = tf.constant(rng.standard_normal((2, 5, 3)))
    theoretical, numerical = tf.test.compute_gradient(lambda a, b: pointops.chamfer_distance(a, b), [a, b], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-7)


def test_default_chamfer_gradient_against_explicit_formula(rng):
    B, N, M = 3, 60, 45
    a = rng.integers(0, 4, size=(B, N, 2)).astype(np.float64)  # duplicates: ties to the lowest index
    b = rng.standard_normal((B, M, 2))
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        loss = pointops.chamfer_distance(a_t, b_t)
    got_a, got_b = tape.gradient(loss, [a_t, b_t])
    for k in range(B):
        want_a, want_b = numpy_chamfer_grad(a[k], b[k], np.full(N, 1 / (B * N)), np.full(M, 1 / (B * M)))
        np.testing.assert_allclose(got_a.numpy()[k], want_a, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got_b.numpy()[k], want_b, rtol=1e-12, atol=1e-15)


def test_default_chamfer_of_an_empty_batch_is_nan_with_empty_gradients():
    a, b = tf.zeros((0, 5, 3)), tf.zeros((0, 4, 3))
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        loss = pointops.chamfer_distance(a, b)
    assert np.isnan(loss.numpy())
    assert [g.shape for g in tape.gradient(loss, [a, b])] == [a.shape, b.shape]
