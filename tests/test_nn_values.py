"""Compiled nearest-neighbour values against independent oracles (cKDTree, numpy) and the reference."""
import numpy as np
import pytest
import tensorflow as tf

import pointops
from conftest import kdtree_nn, numpy_nn


@pytest.mark.parametrize("D", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("algorithm", ["brute", "tree", "auto"])
def test_matches_kdtree(rng, D, algorithm):
    B, N, M = 3, 301, 187  # N != M, neither a multiple of the SIMD width
    a = rng.standard_normal((B, N, D))
    b = rng.standard_normal((B, M, D))
    dist_ab, idx_ab, dist_ba, idx_ba = [x.numpy() for x in pointops.nn_distance(a, b, algorithm=algorithm)]
    for k in range(B):
        for query, ref, dist, idx in ((a[k], b[k], dist_ab[k], idx_ab[k]), (b[k], a[k], dist_ba[k], idx_ba[k])):
            want_d, want_i = kdtree_nn(query, ref)
            np.testing.assert_allclose(dist, want_d, rtol=1e-12, atol=1e-14)
            np.testing.assert_array_equal(idx, want_i)


@pytest.mark.parametrize("dtype,rtol", [(np.float16, 2e-3), (tf.bfloat16, 2e-2), (np.float32, 1e-6), (np.float64, 1e-13)])
def test_every_dtype(rng, dtype, rtol):
    a = rng.standard_normal((2, 64, 3))
    b = rng.standard_normal((2, 50, 3))
    a_t, b_t = tf.cast(a, dtype), tf.cast(b, dtype)
    dist_ab, idx_ab, dist_ba, idx_ba = pointops.nn_distance(a_t, b_t)
    assert dist_ab.dtype == a_t.dtype and idx_ab.dtype == tf.int32
    # The oracle sees the same rounded inputs, computed in float64.
    a_in, b_in = tf.cast(a_t, tf.float64).numpy(), tf.cast(b_t, tf.float64).numpy()
    for k in range(2):
        want_d, _ = numpy_nn(a_in[k], b_in[k])
        np.testing.assert_allclose(tf.cast(dist_ab[k], tf.float64).numpy(), want_d, rtol=rtol, atol=1e-6)
        want_d, _ = numpy_nn(b_in[k], a_in[k])
        np.testing.assert_allclose(tf.cast(dist_ba[k], tf.float64).numpy(), want_d, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("algorithm", ["brute", "tree"])
def test_duplicates_and_coincident_points_take_lowest_index(rng, algorithm):
    grid = rng.integers(0, 4, size=(1, 500, 3)).astype(np.float32)  # many exact ties
    a = grid[:, :300]
    b = grid[:, 200:]
    dist_ab, idx_ab, dist_ba, idx_ba = [x.numpy() for x in pointops.nn_distance(a, b, algorithm=algorithm)]
    want_d, want_i = numpy_nn(a[0], b[0])
    np.testing.assert_array_equal(dist_ab[0], want_d)
    np.testing.assert_array_equal(idx_ab[0], want_i)
    want_d, want_i = numpy_nn(b[0], a[0])
    np.testing.assert_array_equal(idx_ba[0], want_i)


@pytest.mark.parametrize("algorithm", ["brute", "tree"])
def test_squares_that_overflow_still_find_the_nearest(rng, algorithm):
    """Finite float32 clouds about 2e20 apart: most squared distances overflow float32. The kernels search
    a copy scaled by a power of two (issue #31), so every query gets its true nearest neighbour (float64
    oracle) and a distance that is inf exactly where the true square overflows. A shared point and its
    neighbours keep finite distances."""
    a = (rng.random((1, 1500, 3)) * 1e20 + 1e20).astype(np.float32)
    b = (-rng.random((1, 1200, 3)) * 1e20 - 1e20).astype(np.float32)
    b[0, 100] = a[0, 5]
    got = [x.numpy()[0] for x in pointops.nn_distance(a, b, algorithm=algorithm)]
    for query, ref, dist, idx in ((a[0], b[0], got[0], got[1]), (b[0], a[0], got[2], got[3])):
        d = ((query[:, None, :].astype(np.float64) - ref[None, :, :]) ** 2).sum(-1)
        want_i = d.argmin(1)
        with np.errstate(over="ignore"):
            want_d = d.min(1).astype(np.float32)
        assert np.isinf(want_d).mean() > 0.5  # the case under test: true squares beyond float32
        np.testing.assert_array_equal(idx, want_i)
        np.testing.assert_array_equal(np.isinf(dist), np.isinf(want_d))
        np.testing.assert_allclose(dist[~np.isinf(dist)], want_d[~np.isinf(want_d)], rtol=1e-6)


@pytest.mark.parametrize("D", [2, 3])
def test_paths_are_bit_identical(rng, D):
    a = rng.standard_normal((2, 3000, D)).astype(np.float32)
    b = rng.standard_normal((2, 2500, D)).astype(np.float32)
    brute = [x.numpy() for x in pointops.nn_distance(a, b, algorithm="brute")]
    tree = [x.numpy() for x in pointops.nn_distance(a, b, algorithm="tree")]
    for x, y in zip(brute, tree):
        np.testing.assert_array_equal(x, y)


def hard_clouds(kind, rng):
    """Clouds that have broken spatial searches: a slab 1e-9 thick, clouds far apart, points on surfaces,
    an integer grid (ties everywhere), one cloud inside the other's empty middle."""
    if kind == "thin slab":
        a, b = rng.random((2, 1, 1500, 3))
        a[..., 2] *= 1e-9
        b[..., 2] *= 1e-9
    elif kind == "far apart":
        a, b = rng.random((1, 1200, 3)), rng.random((1, 900, 3)) + 1e3
    elif kind == "mesh surfaces":
        from pointops.mesh_clouds import mesh_clouds
        a, b = mesh_clouds(2, 1500, seed=int(rng.integers(100)))[:, None]
    elif kind == "integer grid":
        a, b = rng.integers(0, 6, (2, 1, 1000, 3)).astype(np.float64)
    else:  # a sphere shell around a small central blob
        shell = rng.standard_normal((1, 1000, 3))
        a, b = shell / np.linalg.norm(shell, axis=-1, keepdims=True), rng.standard_normal((1, 800, 3)) * 0.01
    return a.astype(np.float32), b.astype(np.float32)


@pytest.mark.parametrize("kind", ["thin slab", "far apart", "mesh surfaces", "integer grid", "shell and blob"])
def test_paths_are_bit_identical_on_hard_shapes(rng, kind):
    a, b = hard_clouds(kind, rng)
    brute = [x.numpy() for x in pointops.nn_distance(a, b, algorithm="brute")]
    tree = [x.numpy() for x in pointops.nn_distance(a, b, algorithm="tree")]
    for x, y in zip(brute, tree):
        np.testing.assert_array_equal(x, y)
    want_d, want_i = numpy_nn(a[0], b[0])
    np.testing.assert_array_equal(tree[1][0], want_i)


def test_padded_batches(rng):
    B, N, M, D = 4, 120, 90, 3
    a = rng.standard_normal((B, N, D)).astype(np.float32)
    b = rng.standard_normal((B, M, D)).astype(np.float32)
    a_len = np.array([120, 1, 57, 99], np.int32)
    b_len = np.array([90, 33, 1, 2], np.int32)
    dist_ab, idx_ab, dist_ba, idx_ba = [x.numpy() for x in pointops.nn_distance(a, b, a_len, b_len)]
    for k in range(B):
        n, m = a_len[k], b_len[k]
        want_d, want_i = numpy_nn(a[k, :n], b[k, :m])
        np.testing.assert_allclose(dist_ab[k, :n], want_d, rtol=1e-6)
        np.testing.assert_array_equal(idx_ab[k, :n], want_i)
        assert (dist_ab[k, n:] == 0).all() and (idx_ab[k, n:] == -1).all()
        want_d, want_i = numpy_nn(b[k, :m], a[k, :n])
        np.testing.assert_allclose(dist_ba[k, :m], want_d, rtol=1e-6)
        np.testing.assert_array_equal(idx_ba[k, :m], want_i)
        assert (dist_ba[k, m:] == 0).all() and (idx_ba[k, m:] == -1).all()


def test_matches_reference(rng):
    a = rng.standard_normal((3, 200, 3)).astype(np.float32)
    b = rng.standard_normal((3, 150, 3)).astype(np.float32)
    lens = (np.array([200, 10, 123]), np.array([1, 150, 77]))
    got = pointops.nn_distance(a, b, *lens)
    want = pointops.reference.nn_distance(a, b, *lens)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-6)


def test_chamfer_default_is_the_seed_formula(rng):
    a = rng.standard_normal((4, 100, 2)).astype(np.float32)
    b = rng.standard_normal((4, 70, 2)).astype(np.float32)
    d = ((a[:, :, None].astype(np.float64) - b[:, None]) ** 2).sum(-1)
    seed = d.min(2).mean(1).mean() + d.min(1).mean(1).mean()
    np.testing.assert_allclose(pointops.chamfer_distance(a, b).numpy(), seed, rtol=1e-6)


@pytest.mark.parametrize("B,N,M", [(4, 100, 70), (1, 1, 1), (3, 5000, 3)])
def test_default_chamfer_in_float64_against_numpy(rng, B, N, M):
    """The default of full clouds (one op on the CPU, summed in double) to the last bits."""
    a, b = rng.standard_normal((B, N, 3)), rng.standard_normal((B, M, 3)) * 1e3
    d = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
    np.testing.assert_allclose(pointops.chamfer_distance(a, b).numpy(), d.min(2).mean() + d.min(1).mean(), rtol=1e-13)


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("direction", ["bi", "a_to_b", "b_to_a"])
@pytest.mark.parametrize("point_reduction,batch_reduction", [("mean", "mean"), ("sum", "sum"), ("mean", None), ("sum", None)])
def test_chamfer_options_against_numpy(rng, squared, direction, point_reduction, batch_reduction):
    a = rng.standard_normal((3, 40, 3))
    b = rng.standard_normal((3, 30, 3))
    a_len, b_len = np.array([40, 5, 21]), np.array([30, 30, 2])
    got = pointops.chamfer_distance(a, b, squared=squared, direction=direction, point_reduction=point_reduction,
                                    batch_reduction=batch_reduction, a_lengths=a_len, b_lengths=b_len).numpy()
    per_cloud = []
    for k in range(3):
        d = ((a[k, :a_len[k], None] - b[k, None, :b_len[k]]) ** 2).sum(-1)
        ab, ba = d.min(1), d.min(0)
        if not squared:
            ab, ba = np.sqrt(ab), np.sqrt(ba)
        red = np.mean if point_reduction == "mean" else np.sum
        total = {"bi": red(ab) + red(ba), "a_to_b": red(ab), "b_to_a": red(ba)}[direction]
        per_cloud.append(total)
    want = {"mean": np.mean, "sum": np.sum, None: np.asarray}[batch_reduction](per_cloud)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_per_point_chamfer(rng):
    a = rng.standard_normal((2, 10, 3))
    b = rng.standard_normal((2, 12, 3))
    ab, ba = pointops.chamfer_distance(a, b, point_reduction=None, batch_reduction=None)
    dist_ab, _, dist_ba, _ = pointops.nn_distance(a, b)
    np.testing.assert_array_equal(ab.numpy(), dist_ab.numpy())
    np.testing.assert_array_equal(ba.numpy(), dist_ba.numpy())


def test_non_finite_input_gives_nan(rng):
    a = rng.standard_normal((2, 20, 3)).astype(np.float32)
    b = rng.standard_normal((2, 25, 3)).astype(np.float32)
    a[0, 3, 1] = np.nan   # a NaN query point: its own distance is NaN
    b[1, 7, 0] = np.inf   # an inf reference point is simply far away ...
    b[1, 9, 2] = np.nan   # ... but a NaN reference point makes every distance to that cloud NaN
    dist_ab, idx_ab, dist_ba, idx_ba = [x.numpy() for x in pointops.nn_distance(a, b)]
    assert np.isnan(dist_ab[0, 3]) and np.isfinite(np.delete(dist_ab[0], 3)).all()
    assert np.isnan(dist_ba[0]).all()  # every b point sees the NaN point of a
    assert np.isnan(dist_ab[1]).all() and (idx_ab[1] == 9).all()
    assert dist_ba[1, 7] == np.inf and np.isnan(dist_ba[1, 9])
    assert np.isfinite(np.delete(dist_ba[1], [7, 9])).all()


def test_non_finite_input_gives_nan_chamfer():
    a = np.zeros((1, 4, 3), np.float32)
    a[0, 2, 0] = np.nan
    for squared in (True, False):
        assert np.isnan(pointops.chamfer_distance(a, a + 1, squared=squared).numpy())


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_inputs_with_more_points_than_float16_can_count(rng, dtype):
    """70,000 points: a float16 count is inf (the largest float16 is 65504), so means, the F-score's
    shares and DCD's N/M must be taken in float32; the oracle is numpy in float64 on the same rounded
    inputs and the kernel's distances."""
    a_t = tf.cast(rng.random((1, 70_000, 3)), dtype)
    b_t = tf.cast(rng.random((1, 60_000, 3)), dtype)
    dist_ab, idx_ab, dist_ba, _ = [tf.cast(x, tf.float64).numpy() for x in pointops.nn_distance(a_t, b_t)]
    tol = 1e-2 if dtype == tf.bfloat16 else 2e-3
    chamfer = pointops.chamfer_distance(a_t, b_t)
    assert chamfer.dtype == dtype
    np.testing.assert_allclose(float(tf.cast(chamfer, tf.float64)), dist_ab.mean() + dist_ba.mean(), rtol=tol)
    f, precision, recall = pointops.f_score(a_t, b_t, threshold=0.01)
    np.testing.assert_allclose(float(tf.cast(precision[0], tf.float64)), (dist_ab < 1e-4).mean(), rtol=tol, atol=2e-3)
    np.testing.assert_allclose(float(tf.cast(recall[0], tf.float64)), (dist_ba < 1e-4).mean(), rtol=tol, atol=2e-3)
    dcd = float(tf.cast(pointops.density_aware_chamfer(a_t, b_t, alpha=50.0), tf.float64))
    assert 0.0 < dcd < 1.0
