"""Density-aware Chamfer and F-score against independent numpy implementations."""
import numpy as np
import pytest
import tensorflow as tf

import pointops


def numpy_dcd(x, gt, alpha, n_lambda):
    """The authors' calc_dcd (Wu et al. 2021) for one cloud, in numpy: x prediction, gt ground truth."""
    d = ((x[:, None, :] - gt[None, :, :]) ** 2).sum(-1)
    idx_x, dist_x = d.argmin(1), d.min(1)      # x -> gt
    idx_gt, dist_gt = d.argmin(0), d.min(0)    # gt -> x
    frac_12, frac_21 = len(x) / len(gt), len(gt) / len(x)
    w_gt = 1 / (np.bincount(idx_gt, minlength=len(x))[idx_gt] ** n_lambda + 1e-6) * frac_21
    w_x = 1 / (np.bincount(idx_x, minlength=len(gt))[idx_x] ** n_lambda + 1e-6) * frac_12
    loss_gt = (1 - np.exp(-alpha * dist_gt) * w_gt).mean()
    loss_x = (1 - np.exp(-alpha * dist_x) * w_x).mean()
    return (loss_gt + loss_x) / 2


def numpy_fscore(x, gt, threshold):
    d = np.sqrt(((x[:, None, :] - gt[None, :, :]) ** 2).sum(-1))
    precision = (d.min(1) < threshold).mean()
    recall = (d.min(0) < threshold).mean()
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return f, precision, recall


@pytest.mark.parametrize("module", [pointops, pointops.reference], ids=["compiled", "reference"])
@pytest.mark.parametrize("alpha,n_lambda", [(1000, 1), (50, 0.5), (5, 2)])
def test_density_aware_chamfer(rng, module, alpha, n_lambda):
    a = rng.random((3, 60, 3)) * 0.2
    b = rng.random((3, 45, 3)) * 0.2
    b[:, :10] = b[:, :1]  # clustered points: counts above one
    got = module.density_aware_chamfer(a, b, alpha=alpha, n_lambda=n_lambda, batch_reduction=None).numpy()
    want = [numpy_dcd(a[k], b[k], alpha, n_lambda) for k in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(module.density_aware_chamfer(a, b, alpha=alpha, n_lambda=n_lambda).numpy(),
                               np.mean(want), rtol=1e-10)


def test_density_aware_chamfer_with_lengths(rng):
    a, b = rng.random((2, 30, 2)), rng.random((2, 25, 2))
    a_len, b_len = np.array([30, 7]), np.array([11, 25])
    got = pointops.density_aware_chamfer(a, b, alpha=20, batch_reduction=None, a_lengths=a_len, b_lengths=b_len).numpy()
    want = [numpy_dcd(a[k, :a_len[k]], b[k, :b_len[k]], 20, 1) for k in range(2)]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_density_aware_chamfer_gradient(rng):
    a = tf.constant(rng.random((2, 12, 3)))
    b = tf.constant(rng.random((2, 9, 3)))
    theoretical, numerical = tf.test.compute_gradient(
        lambda a, b: pointops.density_aware_chamfer(a, b, alpha=10.0), [a, b], delta=1e-6)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("module", [pointops, pointops.reference], ids=["compiled", "reference"])
@pytest.mark.parametrize("threshold", [0.01, 0.1, 0.3])
def test_f_score(rng, module, threshold):
    a, b = rng.random((3, 80, 3)), rng.random((3, 70, 3))
    f, p, r = [x.numpy() for x in module.f_score(a, b, threshold)]
    for k in range(3):
        np.testing.assert_allclose([f[k], p[k], r[k]], numpy_fscore(a[k], b[k], threshold), rtol=1e-12)


def test_f_score_with_lengths_and_no_hits(rng):
    a, b = rng.random((2, 20, 2)), rng.random((2, 20, 2)) + 10  # far apart: F = 0, not NaN
    f, p, r = [x.numpy() for x in pointops.f_score(a, b, 0.5, a_lengths=[20, 3], b_lengths=[4, 20])]
    assert (f == 0).all() and (p == 0).all() and (r == 0).all()
    a_len = np.array([20, 3])
    f, p, r = [x.numpy() for x in pointops.f_score(a, a.copy(), 0.5, a_lengths=a_len, b_lengths=a_len)]
    np.testing.assert_array_equal(f, [1.0, 1.0])
