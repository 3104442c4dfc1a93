"""Density-aware Chamfer distance and F-score from any nn_distance (compiled or reference)."""
import tensorflow as tf

from pointops import _chamfer, _inputs


def neighbour_counts(idx, n_targets):
    """How many points have each target as their nearest neighbour, per cloud: idx [B, N] (-1 at
    padding) -> [B, n_targets] int32. One vectorised integer segment sum over the whole batch
    (exact and order-independent; unlike bincount it also compiles under XLA)."""
    batch = tf.shape(idx)[0]
    flat = tf.where(idx >= 0, idx + tf.range(batch)[:, None] * n_targets, batch * n_targets)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(flat), flat, batch * n_targets + 1)
    return tf.reshape(counts[:-1], [batch, n_targets])


def _dcd_side(dist, idx, n_targets, counts_valid, frac, alpha, n_lambda):
    """Mean over valid points of 1 - exp(-alpha d) / (count of its neighbour)^lambda * frac ([B])."""
    counts = tf.gather(neighbour_counts(idx, n_targets), tf.maximum(idx, 0), batch_dims=1)
    weight = frac[:, None] / (tf.cast(counts, dist.dtype) ** n_lambda + 1e-6)
    term = tf.where(idx >= 0, 1.0 - tf.exp(-alpha * dist) * weight, tf.zeros_like(dist))
    return tf.reduce_sum(term, axis=1) / counts_valid


def density_aware_chamfer(nearest, a, b, alpha, n_lambda, *, batch_reduction, a_lengths, b_lengths):
    """pointops.density_aware_chamfer (and pointops.reference's) over the given nearest (as in
    _chamfer.chamfer_distance), with the arguments documented there."""
    if batch_reduction not in ("mean", "sum", None):
        raise ValueError(f"batch_reduction must be 'mean', 'sum' or None, got {batch_reduction!r}")
    alpha = _inputs.check_parameter("density_aware_chamfer", "alpha", alpha, allow_zero=False)
    n_lambda = _inputs.check_parameter("density_aware_chamfer", "n_lambda", n_lambda, allow_zero=True)
    dist_ab, idx_ab, dist_ba, idx_ba = nearest(a, b, a_lengths, b_lengths, True)
    dtype = dist_ab.dtype
    dist_ab, dist_ba = _inputs.widen(dist_ab), _inputs.widen(dist_ba)
    n_a = _chamfer.valid_counts(dist_ab, a_lengths)
    n_b = _chamfer.valid_counts(dist_ba, b_lengths)
    alpha = _inputs.parameter_tensor(alpha, dist_ab.dtype)
    side_a = _dcd_side(dist_ab, idx_ab, tf.shape(dist_ba)[1], n_a, n_a / n_b, alpha, n_lambda)
    side_b = _dcd_side(dist_ba, idx_ba, tf.shape(dist_ab)[1], n_b, n_b / n_a, alpha, n_lambda)
    return tf.cast(_chamfer.reduce_batch((side_a + side_b) / 2, batch_reduction), dtype)


def f_score(nearest, a, b, threshold, *, a_lengths, b_lengths):
    """pointops.f_score (and pointops.reference's) over the given nearest (as in _chamfer.chamfer_distance),
    with the arguments documented there."""
    threshold = _inputs.check_parameter("f_score", "threshold", threshold, allow_zero=True)
    # Euclidean distances, not squared ones: a small threshold's square underflows.
    dist_ab, idx_ab, dist_ba, idx_ba = nearest(a, b, a_lengths, b_lengths, False)
    dtype = dist_ab.dtype
    dist_ab, dist_ba = _inputs.widen(dist_ab), _inputs.widen(dist_ba)
    limit = _inputs.parameter_tensor(threshold, dist_ab.dtype)

    def share(dist, idx, lengths):
        hits = tf.cast((dist < limit) & (idx >= 0), dist.dtype)
        return tf.reduce_sum(hits, axis=1) / _chamfer.valid_counts(dist, lengths)

    precision, recall = share(dist_ab, idx_ab, a_lengths), share(dist_ba, idx_ba, b_lengths)
    total = precision + recall
    f = tf.where(total > 0, 2 * precision * recall / tf.where(total > 0, total, 1), tf.zeros_like(total))
    return tf.cast(f, dtype), tf.cast(precision, dtype), tf.cast(recall, dtype)
