"""Chamfer distance from any nn_distance implementation (compiled or reference): the
reductions live here once, so both paths share them."""
import tensorflow as tf

from pointops import _inputs

_POINT_REDUCTIONS = ("mean", "sum", None)
_BATCH_REDUCTIONS = ("mean", "sum", None)
_DIRECTIONS = ("bi", "a_to_b", "b_to_a")


def safe_sqrt(x):
    """sqrt with gradient 0 (not NaN or inf) where x == 0; NaN stays NaN."""
    zero = tf.equal(x, 0)
    return tf.where(zero, tf.zeros_like(x), tf.sqrt(tf.where(zero, tf.ones_like(x), x)))


def valid_counts(per_point, lengths):
    """Number of valid points per cloud, [B], in the dtype of per_point [B, N]."""
    if lengths is None:
        return _inputs.full_lengths(per_point, per_point.dtype)
    return tf.cast(lengths, per_point.dtype)


def reduce_points(per_point, counts, point_reduction):
    """per_point [B, N] (0 at padding) -> [B] by mean over valid points or sum; None keeps it."""
    if point_reduction is None:
        return per_point
    total = tf.reduce_sum(per_point, axis=1)
    # A product with the reciprocal, not a division: TF's eager gradient of a product of equal shapes
    # is two multiplications, that of a division about 0.5 ms of shape bookkeeping.
    return total * (1 / counts) if point_reduction == "mean" else total


def reduce_batch(per_cloud, batch_reduction):
    if batch_reduction is None:
        return per_cloud
    total = tf.reduce_sum(per_cloud)
    if batch_reduction == "sum":
        return total
    # As above: reduce_mean's eager gradient costs about 0.5 ms, a sum times a constant much less.
    size = per_cloud.shape[0]
    if size is None:
        return total * (1 / tf.cast(tf.size(per_cloud), total.dtype))
    return total * (1 / size if size else float("nan"))  # an empty batch's mean is NaN, as reduce_mean's


def check_reductions(point_reduction, batch_reduction):
    if point_reduction not in _POINT_REDUCTIONS:
        raise ValueError(f"point_reduction must be one of {_POINT_REDUCTIONS}, got {point_reduction!r}")
    if batch_reduction not in _BATCH_REDUCTIONS:
        raise ValueError(f"batch_reduction must be one of {_BATCH_REDUCTIONS}, got {batch_reduction!r}")
    if point_reduction is None and batch_reduction is not None:
        raise ValueError("point_reduction=None keeps per-point values; it needs batch_reduction=None")


def make_chamfer_distance(nn_distance):
    def chamfer_distance(a, b, *, squared=True, direction="bi", point_reduction="mean",
                         batch_reduction="mean", a_lengths=None, b_lengths=None):
        """Chamfer distance between a [B, N, D] and b [B, M, D].

        The default is mean_i min_j |a_i - b_j|^2 + mean_j min_i |a_i - b_j|^2, averaged over the
        batch. squared=False uses Euclidean distances (CD-L1). direction "a_to_b" or "b_to_a" gives
        one side. point_reduction "mean" (over valid points), "sum" or None ([B, N] per point; with
        direction "bi" a pair (a side, b side)); batch_reduction "mean", "sum" or None ([B]).
        """
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
        check_reductions(point_reduction, batch_reduction)
        dist_ab, _, dist_ba, _ = nn_distance(a, b, a_lengths, b_lengths)
        dtype = dist_ab.dtype
        dist_ab, dist_ba = _inputs.widen(dist_ab), _inputs.widen(dist_ba)
        if not squared:
            dist_ab, dist_ba = safe_sqrt(dist_ab), safe_sqrt(dist_ba)
        sides = []
        if direction in ("bi", "a_to_b"):
            sides.append(reduce_points(dist_ab, valid_counts(dist_ab, a_lengths), point_reduction))
        if direction in ("bi", "b_to_a"):
            sides.append(reduce_points(dist_ba, valid_counts(dist_ba, b_lengths), point_reduction))
        if point_reduction is None:
            sides = [tf.cast(side, dtype) for side in sides]
            return tuple(sides) if len(sides) == 2 else sides[0]
        return tf.cast(reduce_batch(tf.add_n(sides), batch_reduction), dtype)

    chamfer_distance.__qualname__ = chamfer_distance.__name__
    return chamfer_distance
