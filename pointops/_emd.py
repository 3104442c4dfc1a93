"""EMD from any emd_match implementation (compiled or reference): the matched cost, its
gradient and the reductions live here once."""
import tensorflow as tf

from pointops import _chamfer, _inputs

DEFAULT_EPS = 1e-3


def check_emd_options(eps, max_iter):
    eps = DEFAULT_EPS if eps is None else float(eps)
    if not eps > 0:
        raise ValueError(f"eps (the target relative gap) must be > 0, got {eps}")
    max_iter = 0 if max_iter is None else int(max_iter)
    if not 0 <= max_iter < 2**63:
        raise ValueError(f"max_iter must be in [0, 2**63) (None for the default), got {max_iter}")
    return eps, max_iter


def matched_cost(a, b, assignment, squared):
    """Cost of each a point to its assigned b point ([B, N]; 0 at padding). The assignment is a
    constant, so gradients flow to a and b through the cost alone; since it is a permutation,
    each b point receives exactly one gradient term (deterministic)."""
    valid = (assignment >= 0)[..., None]
    # Padding is replaced by zeros before any arithmetic, so that whatever it holds (NaN, inf)
    # cannot reach the gradient of a valid point through 0 * NaN.
    matched = tf.where(valid, tf.gather(b, tf.maximum(assignment, 0), batch_dims=1), tf.zeros_like(a))
    a = tf.where(valid, a, tf.zeros_like(a))
    d2 = tf.reduce_sum(tf.square(a - matched), axis=-1)
    return d2 if squared else _chamfer.safe_sqrt(d2)


def _overflow_message(dtype):
    return (f"emd: the pair costs of a cloud overflow {dtype.name} (its squared distances exceed "
            f"{dtype.max:.2g}); scale the clouds down" + (" or use float64" if dtype != tf.float64 else ""))


def assert_costs_fit(a, b, lengths, dtype):
    """For the reference path, which has no kernel to tell: an error when a cloud with finite
    coordinates spans so far that its squared distances overflow dtype (a [B, N, D], lengths [B])."""
    valid = tf.sequence_mask(lengths, tf.shape(a)[1])[..., None]
    points, mask = tf.concat([a, b], 1), tf.concat([valid, valid], 1)
    hi = tf.reduce_max(tf.where(mask, points, tf.constant(-float("inf"), a.dtype)), 1)
    lo = tf.reduce_min(tf.where(mask, points, tf.constant(float("inf"), a.dtype)), 1)
    finite = tf.reduce_all(tf.math.is_finite(hi) & tf.math.is_finite(lo), -1)
    span2 = tf.reduce_sum(tf.square(tf.cast(hi, tf.float64) - tf.cast(lo, tf.float64)), -1)
    overflow = finite & ~(span2 < dtype.max / 2)
    return tf.debugging.Assert(~tf.reduce_any(overflow), [_overflow_message(dtype)])


def check_cost_range(gap, dtype):
    """The kernels give a cloud whose pair costs overflow the float type an infinite gap (the CPU
    op raises by itself, naming the magnitude; on a GPU only the gap tells): an error, never a
    silently wrong assignment."""
    fits = tf.reduce_all(tf.not_equal(gap, tf.constant(float("inf"), gap.dtype)))  # NaN (NaN input) passes
    with tf.control_dependencies([tf.debugging.Assert(fits, [_overflow_message(dtype)])]):
        return tf.identity(gap)


def make_emd(emd_match):
    def emd(a, b, *, eps=None, max_iter=None, squared=False, point_reduction="mean", batch_reduction="mean",
            return_assignment=False, a_lengths=None, b_lengths=None):
        """Earth Mover's Distance between equal-size sets a [B, N, D] and b [B, N, D].

        The one-to-one assignment comes from the auction algorithm with epsilon scaling; its mean
        cost is within `eps` (relative, default 1e-3) of the optimum, certified per cloud by
        emd_match's gap_bound. Cost is the Euclidean distance, or its square with squared=True.
        point_reduction "mean", "sum" or None ([B, N]); batch_reduction "mean", "sum" or None.
        With return_assignment=True returns (distance, assignment [B, N] int32).
        Gradients flow to a and b with the assignment held constant.
        """
        _chamfer.check_reductions(point_reduction, batch_reduction, ("mean", "sum", None))
        # Checked and converted once; emd_match receives tensors it passes through unchanged.
        a, b, a_len, b_len, dtype = _inputs.prepare("emd", a, b, a_lengths, b_lengths, equal_sizes=True)
        assignment, gap = emd_match(a, b, eps=eps, max_iter=max_iter, squared=squared, a_lengths=a_len,
                                    b_lengths=b_len)
        cost = matched_cost(a, b, assignment, squared)
        per_cloud = _chamfer.reduce_points(cost, _chamfer.valid_counts(cost, a_len), point_reduction)
        # A cloud with a non-finite coordinate (NaN gap) has a NaN distance, whatever its identity
        # assignment's cost would be.
        nan_gap = tf.math.is_nan(gap)
        if point_reduction is None:  # per point [B, N]
            nan_gap = nan_gap[:, None]
        per_cloud = tf.where(nan_gap, tf.constant(float("nan"), per_cloud.dtype), per_cloud)
        distance = per_cloud if point_reduction is None else _chamfer.reduce_batch(per_cloud, batch_reduction)
        distance = tf.cast(distance, dtype)
        return (distance, assignment) if return_assignment else distance

    emd.__qualname__ = emd.__name__
    return emd
