"""The TF1 `tf_approxmatch` module (latent_3d_points, PCN, PointSetGeneration, TopNet).

Conventions kept from the original: approx_match(xyz1 [B, N, 3], xyz2 [B, M, 3]) returns match [B, M, N]
(rows index xyz2, columns xyz1), where each xyz1 point carries mass max(N, M) / N and each xyz2 point
max(N, M) / M; match_cost sums match * Euclidean distance.

What differs: the original's plan is a greedy soft approximation whose cost is above the optimum (about 18%
on mesh-sampled clouds, docs/generative_metrics.md). Here the plan is the optimal one for those masses,
within a relative gap of 1e-3, from pointops' transportation auction (pointops.emd_plan), for any sizes. The
original computes the masses with integer division, so where neither size divides the other its masses do not
balance (part of the mass is never matched); here they always balance, so match sums to max(N, M) and the
true EMD is lower than what the old approximation reported.
"""
import tensorflow as tf

from pointops import _chamfer, _inputs
from pointops.emd import _transport


def approx_match(xyz1, xyz2):
    """The optimal transport plan between xyz1 [B, N, 3] and xyz2 [B, M, 3] -> match [B, M, N] (see the
    module's text for the masses). No gradient flows through it, as in the original."""
    xyz1, xyz2, _, _, dtype = _inputs.prepare("approx_match", tf.stop_gradient(xyz1), tf.stop_gradient(xyz2))
    plan_i, plan_j, mass, _ = _transport(xyz1, xyz2)
    batch, n, m = tf.shape(xyz1)[0], tf.shape(xyz1)[1], tf.shape(xyz2)[1]
    valid = plan_i >= 0
    cloud = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(plan_i))
    # Every entry, padding included (as mass 0 at (0, 0)): static shapes, so that XLA compiles it too. A
    # cloud's valid entries are distinct pairs; scatter_nd sums repeated ones, and adding 0 changes nothing.
    index = tf.stack([cloud, tf.maximum(plan_j, 0), tf.maximum(plan_i, 0)], -1)
    # Plan masses sum to 1 per cloud; the original's total is max(N, M).
    scale = tf.cast(tf.maximum(n, m), mass.dtype)
    plan = tf.scatter_nd(index, tf.where(valid, mass * scale, tf.zeros_like(mass)), tf.stack([batch, m, n]))
    return tf.stop_gradient(tf.cast(plan, dtype))


def match_cost(xyz1, xyz2, match):
    """sum over j, i of match[b, j, i] * |xyz2[b, j] - xyz1[b, i]| -> [B] (Euclidean distances).
    Gradients reach xyz1 and xyz2 with the plan held constant; they are 0, not NaN, at coincident points."""
    xyz1, xyz2 = tf.convert_to_tensor(xyz1), tf.convert_to_tensor(xyz2)
    diff = xyz2[:, :, None, :] - xyz1[:, None, :, :]  # [B, M, N, 3], as dense as the original op
    distance = _inputs.widen(_chamfer.euclidean_norm(diff))  # right at any scale; summed in float64
    cost = tf.reduce_sum(tf.stop_gradient(_inputs.widen(match)) * distance, axis=[1, 2])
    return tf.cast(cost, xyz1.dtype)
