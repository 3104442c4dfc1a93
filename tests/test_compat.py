"""pointops.compat: the TF1 op modules by name, and the loss functions of the projects that use them
(reproduced here as docs/porting.md shows them), against scipy oracles."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from pointops.compat import tf_approxmatch, tf_auctionmatch, tf_nndistance
from pointops.compat.structural_losses.tf_approxmatch import approx_match, match_cost
from pointops.compat.structural_losses.tf_nndistance import nn_distance
from pointops.mesh_clouds import mesh_clouds


def clouds(b, n, m, seed):
    both = mesh_clouds(2 * b, max(n, m), seed=seed).astype(np.float32)
    return both[:b, :n], both[b:, :m]


def exact_emd_sum(a, b):
    cost = cdist(a.astype(np.float64), b.astype(np.float64))
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols].sum()


# --- the projects' loss functions, as docs/porting.md shows them -------------------------------------
def pcn_chamfer(pcd1, pcd2):  # PCN, tf_util.py
    dist1, _, dist2, _ = tf_nndistance.nn_distance(pcd1, pcd2)
    dist1 = tf.reduce_mean(tf.sqrt(dist1))
    dist2 = tf.reduce_mean(tf.sqrt(dist2))
    return (dist1 + dist2) / 2


def pcn_earth_mover(pcd1, pcd2):  # PCN, tf_util.py
    num_points = tf.cast(tf.shape(pcd1)[1], tf.float32)
    match = tf_approxmatch.approx_match(pcd1, pcd2)
    cost = tf_approxmatch.match_cost(pcd1, pcd2, match)
    return tf.reduce_mean(cost / num_points)


def topnet_chamfer(pcd1, pcd2):  # TopNet (completion3d), tensorflow/utils/net_util.py
    dist1, _, dist2, _ = tf_nndistance.nn_distance(pcd1, pcd2)
    mdist1 = tf.reduce_mean(dist1)
    mdist2 = tf.reduce_mean(dist2)
    return dist1, dist2, (mdist1 + mdist2)


def topnet_emd(pcd1, pcd2):  # TopNet (completion3d), tensorflow/utils/net_util.py
    assert pcd1.shape[1] == pcd2.shape[1]
    num_points = tf.cast(pcd1.shape[1], tf.float32)
    match = tf_approxmatch.approx_match(pcd1, pcd2)
    cost = tf_approxmatch.match_cost(pcd1, pcd2, match)
    return cost / num_points


def latent_3d_points_losses(x_reconstr, gt):  # latent_3d_points, point_net_ae.py
    cost_p1_p2, _, cost_p2_p1, _ = nn_distance(x_reconstr, gt)
    chamfer = tf.reduce_mean(cost_p1_p2) + tf.reduce_mean(cost_p2_p1)
    match = approx_match(x_reconstr, gt)
    emd = tf.reduce_mean(match_cost(x_reconstr, gt, match))
    return chamfer, emd


def pu_net_emd_loss(pred, gt, radius):  # PU-Net, model_utils.py (gather_point is tf.gather here)
    matchl_out, matchr_out = tf_auctionmatch.auction_match(pred, gt)
    matched_out = tf.gather(gt, matchl_out, batch_dims=1)
    dist = tf.reshape((pred - matched_out) ** 2, shape=(tf.shape(pred)[0], -1))
    dist = tf.reduce_mean(dist, axis=1, keepdims=True)
    dist_norm = dist / radius
    return tf.reduce_mean(dist_norm), matchl_out, matchr_out


def point_set_generation_chamfer(gt, x):  # PointSetGeneration, train_nn.py
    dists_forward, _, dists_backward, _ = tf_nndistance.nn_distance(gt, x)
    return tf.reduce_mean(dists_forward) + tf.reduce_mean(dists_backward)


# --- the modules -----------------------------------------------------------------------------------------
def test_nn_distance_conventions():
    a, b = clouds(2, 300, 200, 1)
    dist1, idx1, dist2, idx2 = tf_nndistance.nn_distance(a, b)
    assert idx1.dtype == tf.int32 and dist1.shape == (2, 300) and dist2.shape == (2, 200)
    for k in range(2):
        want_d, want_i = cKDTree(b[k].astype(np.float64)).query(a[k].astype(np.float64))
        np.testing.assert_allclose(dist1[k], want_d ** 2, rtol=1e-5, atol=1e-9)  # squared
        np.testing.assert_array_equal(idx1[k], want_i)
        want_d, want_i = cKDTree(a[k].astype(np.float64)).query(b[k].astype(np.float64))
        np.testing.assert_allclose(dist2[k], want_d ** 2, rtol=1e-5, atol=1e-9)
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        total = tf.reduce_sum(tf_nndistance.nn_distance(a_t, b_t)[0])
    grad_a, grad_b = tape.gradient(total, [a_t, b_t])
    want_a = 2 * (a - np.take_along_axis(b, idx1.numpy()[..., None], 1))
    np.testing.assert_allclose(grad_a, want_a, rtol=1e-4, atol=1e-6)
    assert np.abs(grad_b.numpy()).sum() > 0


def test_auction_match_is_an_optimal_permutation_of_any_size():
    a, b = clouds(2, 5000, 5000, 2)  # past the original's 4096
    matchl, matchr = tf_auctionmatch.auction_match(a[:, :700], b[:, :700])
    for k in range(2):
        assert sorted(matchl[k].numpy()) == list(range(700))
        np.testing.assert_array_equal(matchr[k].numpy()[matchl[k].numpy()], np.arange(700))
        ours = np.linalg.norm(a[k, :700] - b[k, :700][matchl[k].numpy()], axis=1).sum()
        exact = exact_emd_sum(a[k, :700], b[k, :700])
        assert exact * (1 - 1e-6) <= ours <= exact * (1 + 1e-3)
    big_l, big_r = tf_auctionmatch.auction_match(a[:1], b[:1])
    assert sorted(big_l[0].numpy()) == list(range(5000)) and (big_r.numpy() >= 0).all()


@pytest.mark.parametrize("n, m", [(96, 96), (64, 128), (120, 40), (30, 45), (37, 53)])
def test_approx_match_is_the_optimal_plan_for_the_masses(n, m):
    a, b = clouds(2, n, m, 3)
    match = approx_match(a, b).numpy()
    assert match.shape == (2, m, n)
    big = max(n, m)
    for k in range(2):
        np.testing.assert_allclose(match[k].sum(0), big / n, rtol=1e-6)  # each xyz1 point (column) carries max/N
        np.testing.assert_allclose(match[k].sum(1), big / m, rtol=1e-6)  # each xyz2 point (row) carries max/M
        cost = cdist(b[k].astype(np.float64), a[k].astype(np.float64))  # [M, N]
        # The transportation problem itself, solved by scipy's LP solver: an independent oracle.
        rows = np.kron(np.eye(m), np.ones(n))
        cols = np.kron(np.ones(m), np.eye(n))
        lp = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.r_[np.full(m, big / m), np.full(n, big / n)],
                     bounds=(0, None), method="highs")
        ours = float(match_cost(a[k:k + 1], b[k:k + 1], match[k:k + 1])[0])
        assert lp.fun * (1 - 1e-6) <= ours <= lp.fun * (1 + 1e-3)
        np.testing.assert_allclose(ours, (match[k] * cost).sum(), rtol=1e-5)


def test_match_cost_gradient_is_finite_at_coincident_points():
    a, _ = clouds(1, 50, 50, 5)
    a_t, b_t = tf.constant(a), tf.constant(a.copy())
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        cost = tf.reduce_sum(match_cost(a_t, b_t, approx_match(a_t, b_t)))
    grads = tape.gradient(cost, [a_t, b_t])
    assert float(cost) == 0.0 and all(np.isfinite(g.numpy()).all() for g in grads)


# --- the projects' losses ------------------------------------------------------------------------------
def test_pcn_losses_in_a_graph_with_unknown_batch():
    a, b = clouds(3, 128, 128, 6)
    spec = tf.TensorSpec([None, 128, 3], tf.float32)
    chamfer = tf.function(pcn_chamfer, input_signature=[spec, spec])(a, b)
    emd = tf.function(pcn_earth_mover, input_signature=[spec, spec])(a, b)
    want_cd = np.mean([(cKDTree(y).query(x)[0].mean() + cKDTree(x).query(y)[0].mean()) / 2 for x, y in zip(a, b)])
    want_emd = np.mean([exact_emd_sum(x, y) / 128 for x, y in zip(a, b)])
    assert float(chamfer) == pytest.approx(want_cd, rel=1e-5)
    assert want_emd * (1 - 1e-6) <= float(emd) <= want_emd * (1 + 1e-3)


def test_topnet_losses_in_a_graph_with_unknown_batch_and_gradients():
    a, b = clouds(3, 96, 96, 9)
    spec = tf.TensorSpec([None, 96, 3], tf.float32)
    dist1, dist2, loss = tf.function(topnet_chamfer, input_signature=[spec, spec])(a, b)
    emd = tf.function(topnet_emd, input_signature=[spec, spec])(a, b)
    assert emd.shape == (3,)
    for k in range(3):
        np.testing.assert_allclose(dist1[k], cKDTree(b[k]).query(a[k])[0] ** 2, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(dist2[k], cKDTree(a[k]).query(b[k])[0] ** 2, rtol=1e-5, atol=1e-9)
        want = exact_emd_sum(a[k], b[k]) / 96
        assert want * (1 - 1e-6) <= float(emd[k]) <= want * (1 + 1e-3)
    assert float(loss) == pytest.approx(float(tf.reduce_mean(dist1) + tf.reduce_mean(dist2)), rel=1e-6)
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        total = topnet_chamfer(a_t, b_t)[2] + tf.reduce_mean(topnet_emd(a_t, b_t))
    grads = tape.gradient(total, [a_t, b_t])
    assert all(g is not None and np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 0 for g in grads)


def test_latent_3d_points_losses_with_gradients():
    x, gt = clouds(2, 256, 256, 7)
    x_t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        chamfer, emd = latent_3d_points_losses(x_t, tf.constant(gt))
        total = chamfer + emd
    grad = tape.gradient(total, x_t)
    want_cd = np.mean([(cKDTree(g).query(p)[0] ** 2).mean() + (cKDTree(p).query(g)[0] ** 2).mean() for p, g in zip(x, gt)])
    want_emd = np.mean([exact_emd_sum(p, g) for p, g in zip(x, gt)])
    assert float(chamfer) == pytest.approx(want_cd, rel=1e-5)
    assert want_emd * (1 - 1e-6) <= float(emd) <= want_emd * (1 + 1e-3)
    assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0


def test_pu_net_emd_loss():
    pred, gt = clouds(2, 200, 200, 8)
    loss, matchl, matchr = pu_net_emd_loss(tf.constant(pred), tf.constant(gt), radius=1.0)
    matched = np.take_along_axis(gt, matchl.numpy()[..., None], 1)
    np.testing.assert_allclose(float(loss), np.mean(((pred - matched) ** 2).reshape(2, -1).mean(1)), rtol=1e-5)
    for k in range(2):
        assert sorted(matchr[k].numpy()) == list(range(200))


def test_point_set_generation_chamfer_in_graph_mode():
    gt, x = clouds(2, 100, 150, 9)
    graph = tf.Graph()
    with graph.as_default():
        gt_ph = tf.compat.v1.placeholder(tf.float32, [None, 100, 3])
        x_ph = tf.compat.v1.placeholder(tf.float32, [None, 150, 3])
        loss = point_set_generation_chamfer(gt_ph, x_ph)
        with tf.compat.v1.Session(graph=graph) as session:
            value = session.run(loss, {gt_ph: gt, x_ph: x})
    want = np.mean([(cKDTree(b).query(a)[0] ** 2).mean() for a, b in zip(gt, x)]) + \
        np.mean([(cKDTree(a).query(b)[0] ** 2).mean() for a, b in zip(gt, x)])
    assert value == pytest.approx(want, rel=1e-5)
