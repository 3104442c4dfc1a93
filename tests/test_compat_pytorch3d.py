"""pointops.compat.pytorch3d against PyTorch3D's semantics, written out in numpy from its source
(pytorch3d/loss/chamfer.py and pytorch3d/ops/knn.py), over every option combination."""
import itertools

import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial import cKDTree

from pointops.compat import pytorch3d as p3d


def nearest(x, y, norm):
    """Distance and index of each x point's nearest y point (lowest index on ties), float64."""
    diff = x[:, None].astype(np.float64) - y[None].astype(np.float64)
    d = (diff ** 2).sum(-1) if norm == 2 else np.abs(diff).sum(-1)
    j = d.argmin(1)
    return d[np.arange(len(x)), j], j


def cosine(u, v, eps=1e-6):
    """torch.nn.functional.cosine_similarity: each vector over max(its norm, eps), then the dot product."""
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), eps)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)
    return (u * v).sum(-1)


def one_direction(x, y, xl, yl, xn, yn, weights, point_reduction, norm, abs_cosine):
    """PyTorch3D's _chamfer_distance_single_direction in numpy (weights not all zero)."""
    N, P1, _ = x.shape
    cham = np.zeros((N, P1))
    cham_n = np.zeros((N, P1)) if xn is not None else None
    for c in range(N):
        d, j = nearest(x[c, :xl[c]], y[c, :yl[c]], norm)
        cham[c, :xl[c]] = d
        if xn is not None:
            cos = cosine(xn[c, :xl[c]].astype(np.float64), yn[c, j].astype(np.float64))
            cham_n[c, :xl[c]] = 1 - (np.abs(cos) if abs_cosine else cos)
    if weights is not None:
        cham = cham * weights[:, None]
        cham_n = None if cham_n is None else cham_n * weights[:, None]
    if point_reduction == "max":
        return cham.max(1), None
    if point_reduction is not None:
        cham = cham.sum(1)
        cham_n = None if cham_n is None else cham_n.sum(1)
        if point_reduction == "mean":
            cham = cham / np.maximum(xl, 1)
            cham_n = None if cham_n is None else cham_n / np.maximum(xl, 1)
    return cham, cham_n


def oracle(x, y, xl, yl, xn, yn, weights, batch_reduction, point_reduction, norm, single, abs_cosine):
    cx, nx = one_direction(x, y, xl, yl, xn, yn, weights, point_reduction, norm, abs_cosine)
    if single:
        loss, normals = cx, nx
    else:
        cy, ny = one_direction(y, x, yl, xl, yn, xn, weights, point_reduction, norm, abs_cosine)
        if point_reduction == "max":
            loss, normals = np.maximum(cx, cy), None
        elif point_reduction is not None:
            loss, normals = cx + cy, None if nx is None else nx + ny
        else:
            loss, normals = (cx, cy), None if nx is None else (nx, ny)
    if batch_reduction is None:
        return loss, normals
    loss, normals = loss.sum(), None if normals is None else normals.sum()
    if batch_reduction == "mean":
        div = weights.sum() if weights is not None else max(x.shape[0], 1)
        loss, normals = loss / div, None if normals is None else normals / div
    return loss, normals


def assert_close(got, want, rtol, atol):
    if want is None:
        assert got is None
    elif isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_close(g, w, rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


POINT_REDUCTIONS = ["mean", "sum", "max", None]
BATCH_REDUCTIONS = ["mean", "sum", None]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("point_reduction", POINT_REDUCTIONS)
def test_chamfer_every_option_combination(rng, dtype, norm, point_reduction):
    B, P1, P2 = 3, 17, 23
    x, y = rng.random((B, P1, 3)).astype(dtype), rng.random((B, P2, 3)).astype(dtype)
    xn, yn = rng.normal(size=(B, P1, 3)).astype(dtype), rng.normal(size=(B, P2, 3)).astype(dtype)
    ragged = (np.array([17, 5, 11]), np.array([23, 23, 2]))
    # float32: a per-point 1 - |cos| near 0 carries float32's absolute rounding of the cosine (~1e-7).
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-13)
    for batch_reduction, single, abs_cosine, normals, weighted, lengths in itertools.product(
            BATCH_REDUCTIONS, [False, True], [True, False], [False, True], [False, True], [False, True]):
        if point_reduction is None and batch_reduction is not None:
            continue  # an error, tested below
        if normals and point_reduction == "max":
            continue  # an error, tested below
        if not normals and not abs_cosine:
            continue  # abs_cosine only acts on normals
        weights = rng.random(B).astype(dtype) + 0.1 if weighted else None
        xl, yl = ragged if lengths else (None, None)
        got = p3d.chamfer_distance(x, y, x_lengths=xl, y_lengths=yl, x_normals=xn if normals else None,
                                   y_normals=yn if normals else None, weights=weights,
                                   batch_reduction=batch_reduction, point_reduction=point_reduction, norm=norm,
                                   single_directional=single, abs_cosine=abs_cosine)
        want = oracle(x, y, xl if lengths else np.full(B, P1), yl if lengths else np.full(B, P2),
                      xn if normals else None, yn if normals else None, weights, batch_reduction, point_reduction,
                      norm, single, abs_cosine)
        assert isinstance(got, tuple) and len(got) == 2
        assert_close(got[0], want[0], rtol, atol)
        assert_close(got[1], want[1], rtol, atol)


@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("point_reduction", ["mean", "max"])
def test_chamfer_gradients_match_finite_differences(rng, norm, point_reduction):
    x = tf.constant(rng.random((2, 9, 3)))
    y = tf.constant(rng.random((2, 7, 3)))
    normals = point_reduction != "max"
    xn, yn = (tf.constant(rng.normal(size=s)) for s in ((2, 9, 3), (2, 7, 3)))

    def loss(a, b, na, nb):
        dist, normal = p3d.chamfer_distance(a, b, x_lengths=[9, 4], x_normals=na if normals else None,
                                            y_normals=nb if normals else None, weights=[0.5, 2.0], norm=norm,
                                            point_reduction=point_reduction)
        return dist + (normal if normals else 0.0)

    theoretical, numerical = tf.test.compute_gradient(loss, [x, y, xn, yn], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-6)


def test_all_zero_weights_give_pytorch3d_zeros(rng):
    x, y = rng.random((3, 5, 3)), rng.random((3, 4, 3))
    zeros = np.zeros(3)
    loss, normals = p3d.chamfer_distance(x, y, weights=zeros, batch_reduction=None)
    assert loss.shape == (3, 3) and normals.shape == (3, 3) and not np.asarray(loss).any()
    loss, normals = p3d.chamfer_distance(x, y, weights=zeros, point_reduction="max")
    assert float(loss) == 0.0 and normals is None
    loss, normals = p3d.chamfer_distance(x, y, weights=zeros)
    assert float(loss) == 0.0 and float(normals) == 0.0


@pytest.mark.parametrize("kwargs,words", [
    ({"norm": 3}, "Support for 1 or 2 norm."),
    ({"point_reduction": "median"}, "point_reduction must be one of"),
    ({"batch_reduction": "max"}, "batch_reduction must be one of"),
    ({"point_reduction": None}, "Batch reduction must be None if point_reduction is None"),
    ({"point_reduction": "max", "x_normals": np.ones((2, 5, 3))}, 'Normals must be None if point_reduction is "max"'),
    ({"weights": np.array([1.0, -1.0])}, "weights cannot be negative."),
    ({"weights": np.array([1.0, 1.0, 1.0])}, "weights must be of shape (N,)."),
    ({"x_lengths": np.array([5, 6])}, "A length value was too long"),
    ({"x_lengths": np.array([[5], [5]])}, "Expected lengths to be of shape (N,)"),
])
def test_chamfer_errors_are_pytorch3ds(kwargs, words):
    x, y = np.ones((2, 5, 3)), np.zeros((2, 4, 3))
    with pytest.raises(ValueError) as err:
        p3d.chamfer_distance(x, y, **kwargs)
    assert str(err.value).startswith(words)


def test_chamfer_shape_errors():
    with pytest.raises(ValueError, match=r"Expected points to be of shape \(N, P, D\)"):
        p3d.chamfer_distance(np.ones((5, 3)), np.ones((1, 5, 3)))
    with pytest.raises(ValueError, match="y does not have the correct shape."):
        p3d.chamfer_distance(np.ones((2, 5, 3)), np.ones((2, 5, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("K", [1, 8, 32])
def test_knn_points(rng, dtype, norm, K):
    p1, p2 = rng.random((3, 50, 3)).astype(dtype), rng.random((3, 40, 3)).astype(dtype)
    l1, l2 = np.array([50, 12, 30]), np.array([40, 20, 3])
    out = p3d.knn_points(p1, p2, lengths1=l1, lengths2=l2, norm=norm, K=K, return_nn=True)
    assert out.idx.dtype == tf.int64 and out.dists.shape == (3, 50, K) and out.knn.shape == (3, 50, K, 3)
    for c in range(3):
        kk = min(K, l2[c])
        want_d, want_i = cKDTree(p2[c, :l2[c]].astype(np.float64)).query(p1[c, :l1[c]].astype(np.float64), k=kk, p=norm)
        want_d, want_i = want_d.reshape(l1[c], kk), want_i.reshape(l1[c], kk)
        np.testing.assert_allclose(out.dists.numpy()[c, :l1[c], :kk], want_d ** norm if norm == 2 else want_d,
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)
        assert (out.idx.numpy()[c, :l1[c], :kk] == want_i).mean() > 0.99
        # PyTorch3D's padding: 0 distance and index 0 past the cloud of p2 and for padded p1 points.
        assert not out.dists.numpy()[c, :, kk:].any() and not out.idx.numpy()[c, :, kk:].any()
        assert not out.dists.numpy()[c, l1[c]:].any() and not out.idx.numpy()[c, l1[c]:].any()
        # knn: the neighbours' coordinates, 0 for k >= lengths2.
        np.testing.assert_array_equal(out.knn.numpy()[c, :l1[c], :kk], p2[c][out.idx.numpy()[c, :l1[c], :kk]])
        assert not out.knn.numpy()[c, :, kk:].any()


def test_knn_points_gradients_and_errors(rng):
    p1, p2 = tf.constant(rng.random((2, 8, 3))), tf.constant(rng.random((2, 6, 3)))
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, b: tf.reduce_sum(p3d.knn_points(a, b, lengths2=[6, 2], K=3).dists ** 2), [p1, p2], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pts1 and pts2 must have the same batch dimension."):
        p3d.knn_points(np.ones((2, 5, 3)), np.ones((3, 5, 3)))
    with pytest.raises(ValueError, match="pts1 and pts2 must have the same point dimension."):
        p3d.knn_points(np.ones((2, 5, 3)), np.ones((2, 5, 2)))
    with pytest.raises(ValueError, match="Support for 1 or 2 norm."):
        p3d.knn_points(np.ones((2, 5, 3)), np.ones((2, 5, 3)), norm=3)
    with pytest.raises(ValueError, match="x and idx must have same batch dimension."):
        p3d.knn_gather(np.ones((2, 5, 3)), np.zeros((3, 5, 1), np.int64))
