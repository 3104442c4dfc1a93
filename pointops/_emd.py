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
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0 (None for the default), got {max_iter}")
    return eps, max_iter


def matched_cost(a, b, assignment, squared):
    """Cost of each a point to its assigned b point ([B, N]; 0 at padding). The assignment is a
    constant, so gradients flow to a and b through the cost alone; since it is a permutation,
    each b point receives exactly one gradient term (deterministic)."""
    matched = tf.gather(b, tf.maximum(assignment, 0), batch_dims=1)
    d2 = tf.reduce_sum(tf.square(a - matched), axis=-1)
    cost = d2 if squared else _chamfer.safe_sqrt(d2)
    return tf.where(assignment >= 0, cost, tf.zeros_like(cost))


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
        _chamfer.check_reductions(point_reduction, batch_reduction)
        # Checked and converted once; emd_match receives tensors it passes through unchanged.
        a, b, a_len, b_len, dtype = _inputs.prepare("emd", a, b, a_lengths, b_lengths, equal_sizes=True)
        assignment, _ = emd_match(a, b, eps=eps, max_iter=max_iter, squared=squared, a_lengths=a_len,
                                  b_lengths=b_len)
        cost = matched_cost(a, b, assignment, squared)
        per_cloud = _chamfer.reduce_points(cost, _chamfer.valid_counts(cost, a_len), point_reduction)
        distance = per_cloud if point_reduction is None else _chamfer.reduce_batch(per_cloud, batch_reduction)
        distance = tf.cast(distance, dtype)
        return (distance, assignment) if return_assignment else distance

    emd.__qualname__ = emd.__name__
    return emd
