"""pointops._C (the TF-free module) on numpy arrays against numpy and cKDTree."""
import numpy as np
import pytest

from pointops import _C
from conftest import kdtree_nn, numpy_nn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["brute", "tree"])
def test_nn_distance(rng, dtype, algorithm):
    a = rng.standard_normal((2, 500, 3)).astype(dtype)
    b = rng.standard_normal((2, 400, 3)).astype(dtype)
    dist_ab, idx_ab, dist_ba, idx_ba = _C.nn_distance(a, b, algorithm=algorithm, threads=2)
    assert dist_ab.dtype == dtype and idx_ab.dtype == np.int32
    for k in range(2):
        want_d, want_i = kdtree_nn(a[k], b[k])
        np.testing.assert_array_equal(idx_ab[k], want_i)
        np.testing.assert_allclose(dist_ab[k], want_d, rtol=1e-6 if dtype == np.float32 else 1e-12)
        want_d, want_i = kdtree_nn(b[k], a[k])
        np.testing.assert_array_equal(idx_ba[k], want_i)


def test_lengths_and_grad(rng):
    a = rng.standard_normal((2, 30, 2))
    b = rng.standard_normal((2, 20, 2))
    a_len, b_len = np.array([30, 4], np.int32), np.array([7, 20], np.int32)
    dist_ab, idx_ab, dist_ba, idx_ba = _C.nn_distance(a, b, a_len, b_len)
    assert (idx_ab[1, 4:] == -1).all() and (idx_ba[0, 7:] == -1).all()
    g_ab, g_ba = rng.standard_normal((2, 30)), rng.standard_normal((2, 20))
    grad_a, grad_b = _C.nn_distance_grad(a, b, idx_ab, idx_ba, g_ab, g_ba)
    want_a, want_b = np.zeros_like(a), np.zeros_like(b)
    for k in range(2):
        for i in range(a_len[k]):
            j = numpy_nn(a[k, i:i + 1], b[k, :b_len[k]])[1][0]
            want_a[k, i] += 2 * g_ab[k, i] * (a[k, i] - b[k, j])
            want_b[k, j] += 2 * g_ab[k, i] * (b[k, j] - a[k, i])
        for j in range(b_len[k]):
            i = numpy_nn(b[k, j:j + 1], a[k, :a_len[k]])[1][0]
            want_b[k, j] += 2 * g_ba[k, j] * (b[k, j] - a[k, i])
            want_a[k, i] += 2 * g_ba[k, j] * (a[k, i] - b[k, j])
    np.testing.assert_allclose(grad_a, want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_b, want_b, rtol=1e-12, atol=1e-12)


def test_errors():
    a = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"same batch size, got a \[2, 5, 3\] and b \[1, 5, 3\]"):
        _C.nn_distance(a, a[:1])
    with pytest.raises(ValueError, match=r"b_lengths\[1\] = 6"):
        _C.nn_distance(a, a, None, np.array([5, 6], np.int32))
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.nn_distance(a.astype(np.int64), a.astype(np.int64))
    with pytest.raises(ValueError, match="algorithm"):
        _C.nn_distance(a, a, algorithm="magic")
