"""pointops.knn (compiled and reference) against cKDTree, a stable numpy sort and finite differences."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial import cKDTree

import pointops
from pointops import reference

KNNS = [pointops.knn, reference.knn]


def sorted_oracle(a, b, k, norm, a_len=None, b_len=None):
    """(dist, idx) [B, N, k] by a stable float64 sort (ties: lower index), 0 and -1 past the clouds."""
    B, N, _ = a.shape
    dist, idx = np.zeros((B, N, k)), np.full((B, N, k), -1)
    for c in range(B):
        n = N if a_len is None else a_len[c]
        m = b.shape[1] if b_len is None else b_len[c]
        diff = a[c, :n, None].astype(np.float64) - b[c, None, :m].astype(np.float64)
        d = (diff ** 2).sum(-1) if norm == 2 else np.abs(diff).sum(-1)
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        idx[c, :n, :order.shape[1]] = order
        dist[c, :n, :order.shape[1]] = np.take_along_axis(d, order, 1)
    return dist, idx


@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("k", [1, 8, 32])
@pytest.mark.parametrize("D", [2, 3, 5])
def test_matches_kdtree(rng, norm, k, D):
    a, b = rng.random((3, 300, D)), rng.random((3, 400, D))
    dist, idx = (t.numpy() for t in pointops.knn(a, b, k, norm=norm))
    for c in range(3):
        want_d, want_i = cKDTree(b[c]).query(a[c], k=k, p=norm)
        want_d, want_i = want_d.reshape(300, k), want_i.reshape(300, k)
        np.testing.assert_allclose(dist[c], want_d ** 2 if norm == 2 else want_d, rtol=1e-12, atol=1e-15)
        assert (idx[c] == want_i).mean() > 0.999  # cKDTree may order exact ties differently


@pytest.mark.parametrize("knn", KNNS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ragged_and_short_clouds(rng, knn, dtype):
    a, b = rng.random((4, 40, 3)).astype(dtype), rng.random((4, 30, 3)).astype(dtype)
    a_len, b_len = np.array([40, 7, 0, 25]), np.array([30, 3, 12, 0])
    dist, idx = knn(a, b, 5, a_len, b_len)
    want_d, want_i = sorted_oracle(a, b, 5, 2, a_len, b_len)
    np.testing.assert_array_equal(idx.numpy(), want_i)
    np.testing.assert_allclose(dist.numpy(), want_d, rtol=1e-6)


def test_compiled_equals_reference_bit_for_bit_with_ties(rng):
    # An integer grid: many equal distances, the lower index first on both paths.
    grid = np.stack(np.meshgrid(*[np.arange(6.0)] * 3), -1).reshape(1, -1, 3)
    a = np.concatenate([grid + 0.5, grid], 1)
    for norm in (1, 2):
        got = pointops.knn(a, grid, 9, norm=norm)
        want = reference.knn(a, grid, 9, norm=norm)
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), sorted_oracle(a, grid, 9, norm)[1])


def test_k_larger_than_the_cloud_and_every_dimension(rng):
    for D in range(1, 9):
        a, b = rng.random((2, 20, D)), rng.random((2, 6, D))
        dist, idx = pointops.knn(a, b, 10)
        want_d, want_i = sorted_oracle(a, b, 10, 2)
        np.testing.assert_array_equal(idx.numpy(), want_i)
        np.testing.assert_allclose(dist.numpy(), want_d, rtol=1e-12)


def test_large_clouds_use_the_tree_and_stay_exact(rng):
    a, b = rng.random((1, 20000, 3)), rng.random((1, 30000, 3))
    dist, idx = pointops.knn(a, b, 4)
    want_d, want_i = cKDTree(b[0]).query(a[0], k=4)
    np.testing.assert_allclose(dist.numpy()[0], want_d ** 2, rtol=1e-12)
    assert (idx.numpy()[0] == want_i).mean() > 0.9999


def test_nan_propagates_and_half_precision_runs(rng):
    a, b = rng.random((1, 10, 3)), rng.random((1, 12, 3))
    a[0, 3, 1] = np.nan
    dist, idx = pointops.knn(a, b, 3)
    assert np.isnan(dist.numpy()[0, 3]).all() and (idx.numpy()[0, 3] == [0, 1, 2]).all()
    assert np.isfinite(dist.numpy()[0, [0, 1, 2, 4]]).all()
    d16, i16 = pointops.knn(a[:, :3].astype(np.float16), b.astype(np.float16), 2)
    assert d16.dtype == tf.float16
    np.testing.assert_array_equal(i16.numpy(), sorted_oracle(a[:, :3].astype(np.float16).astype(np.float32),
                                                             b.astype(np.float16).astype(np.float32), 2, 2)[1])


@pytest.mark.parametrize("knn", KNNS)
@pytest.mark.parametrize("norm", [1, 2])
def test_gradients_match_finite_differences(rng, knn, norm):
    a = tf.constant(rng.random((2, 12, 3)))
    b = tf.constant(rng.random((2, 9, 3)))
    weights = tf.constant(rng.random((2, 12, 4)))

    def loss(x, y):
        return tf.reduce_sum(weights * knn(x, y, 4, [12, 5], [9, 7], norm=norm)[0])

    theoretical, numerical = tf.test.compute_gradient(loss, [a, b], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-6)


def test_tf_function_with_unknown_batch(rng):
    fn = tf.function(lambda a, b: pointops.knn(a, b, 3),
                     input_signature=[tf.TensorSpec([None, None, 3], tf.float32)] * 2)
    a, b = rng.random((2, 15, 3)).astype(np.float32), rng.random((2, 11, 3)).astype(np.float32)
    dist, idx = fn(a, b)
    assert dist.shape == (2, 15, 3)
    np.testing.assert_array_equal(idx.numpy(), sorted_oracle(a, b, 3, 2)[1])


def test_knn_gather_zeroes_missing_neighbours(rng):
    a, b = rng.random((1, 5, 3)), rng.random((1, 2, 3))
    _, idx = pointops.knn(a, b, 3)
    gathered = pointops.knn_gather(b, idx).numpy()
    np.testing.assert_array_equal(gathered[0, :, :2], b[0][idx.numpy()[0, :, :2]])
    assert (gathered[0, :, 2] == 0).all()


@pytest.mark.parametrize("knn", KNNS)
@pytest.mark.parametrize("kwargs,words", [
    ({"k": 0}, "k must be an integer >= 1"),
    ({"k": 2.5}, "k must be an integer >= 1"),
    ({"k": 2, "norm": 3}, "norm must be 1"),
    ({"k": 2, "a_lengths": [-1, 3]}, "a_lengths"),
    ({"k": 2, "b_lengths": [4, 5]}, "b_lengths"),
])
def test_bad_arguments(knn, kwargs, words):
    a = np.zeros((2, 3, 3), np.float32)
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)) as err:
        knn(a, a[:, :4], **kwargs)
    assert words in str(err.value)


@pytest.mark.parametrize("bad", [-2, 7])
def test_knn_gather_rejects_indices_out_of_range(rng, bad):
    from pointops.compat import pytorch3d as p3d
    x = tf.constant(rng.random((2, 7, 3)).astype(np.float32))
    idx = np.zeros((2, 4, 2), np.int32)
    idx[1, 3, 1] = bad
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"knn_gather: idx must be in \[-1, M\)"):
        pointops.knn_gather(x, idx)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"knn_gather: idx must be in \[0, M\)"):
        p3d.knn_gather(x, np.maximum(idx, -1) if bad == -2 else idx)
    kept = pointops.knn_gather(x, np.where(idx == bad, -1, idx))  # -1: no neighbour, a zero row
    np.testing.assert_array_equal(kept.numpy()[1, 3, 1], 0)
