"""The TF1 `tf_approxmatch` module (latent_3d_points, PCN, PointSetGeneration, TopNet).

Conventions kept from the original: approx_match(xyz1 [B, N, 3], xyz2 [B, M, 3]) returns match [B, M, N]
(rows index xyz2, columns xyz1), where each xyz1 point carries mass max(N, M) / N and each xyz2 point
max(N, M) / M; match_cost sums match * Euclidean distance.

What differs: the original's plan is a greedy soft approximation whose cost is above the optimum (about 18%
on mesh-sampled clouds, docs/generative_metrics.md). Here the plan is the optimal one for those masses,
within a relative gap of 1e-3, from pointops' auction: where one size divides the other, the smaller cloud's
points are repeated so that every unit of mass is matched one to one, which is exact. Sizes where neither
divides the other (the original then uses integer division and leaves the masses unbalanced) raise an
error until pointops has a transportation solver.
"""
import tensorflow as tf

from pointops import _chamfer
from pointops.emd import emd_match


def _replicas(xyz1, xyz2):
    """(k1, k2): how often each cloud's points are repeated so both have max(N, M) points."""
    n, m = tf.shape(xyz1)[1], tf.shape(xyz2)[1]
    if xyz1.shape[1] is not None and xyz2.shape[1] is not None:
        big, small = max(xyz1.shape[1], xyz2.shape[1]), min(xyz1.shape[1], xyz2.shape[1])
        if big % small:
            raise ValueError(f"approx_match: sizes N={xyz1.shape[1]} and M={xyz2.shape[1]}, neither a multiple of the "
                             "other, are not supported yet (the original leaves such masses unbalanced)")
    big = tf.maximum(n, m)
    with tf.control_dependencies([tf.debugging.assert_equal(big % tf.minimum(n, m), 0,
                                                            message="approx_match: N and M must divide one another")]):
        return big // n, big // m


def approx_match(xyz1, xyz2):
    """The optimal transport plan between xyz1 [B, N, 3] and xyz2 [B, M, 3] -> match [B, M, N] (see the
    module's text for the masses). No gradient flows through it, as in the original."""
    xyz1, xyz2 = tf.stop_gradient(tf.convert_to_tensor(xyz1)), tf.stop_gradient(tf.convert_to_tensor(xyz2))
    k1, k2 = _replicas(xyz1, xyz2)
    n, m = tf.shape(xyz1)[1], tf.shape(xyz2)[1]
    # Both clouds repeated to max(N, M) points; replica r of point i sits at r * size + i.
    assignment, _ = emd_match(tf.tile(xyz1, [1, k1, 1]), tf.tile(xyz2, [1, k2, 1]))
    batch = tf.shape(xyz1)[0]
    big = tf.shape(assignment)[1]
    b = tf.repeat(tf.range(batch), big)
    i = tf.tile(tf.range(big) % n, [batch])
    j = tf.reshape(assignment, [-1]) % m
    plan = tf.scatter_nd(tf.stack([b, j, i], 1), tf.ones_like(j, xyz1.dtype), tf.stack([batch, m, n]))
    return tf.stop_gradient(plan)


def match_cost(xyz1, xyz2, match):
    """sum over j, i of match[b, j, i] * |xyz2[b, j] - xyz1[b, i]| -> [B] (Euclidean distances).
    Gradients reach xyz1 and xyz2 with the plan held constant; they are 0, not NaN, at coincident points."""
    xyz1, xyz2 = tf.convert_to_tensor(xyz1), tf.convert_to_tensor(xyz2)
    diff = xyz2[:, :, None, :] - xyz1[:, None, :, :]  # [B, M, N, 3], as dense as the original op
    distance = _chamfer.safe_sqrt(tf.reduce_sum(tf.square(diff), -1))
    return tf.reduce_sum(tf.stop_gradient(tf.cast(match, distance.dtype)) * distance, axis=[1, 2])
