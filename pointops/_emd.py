"""EMD from any emd_match implementation (compiled or reference): the matched cost, its
gradient and the reductions live here once."""
import math

import tensorflow as tf

from pointops import _chamfer, _gather, _inputs, _scale

DEFAULT_EPS = 1e-3
MAX_LCM_UNITS = 8192  # the pure-TF path's transport: the largest dense assignment it builds


def check_emd_options(eps, max_iter):
    eps = DEFAULT_EPS if eps is None else float(eps)
    if not eps > 0:
        raise ValueError(f"eps (the target relative gap) must be > 0, got {eps}")
    max_iter = 0 if max_iter is None else int(max_iter)
    if not 0 <= max_iter < 2**63:
        raise ValueError(f"max_iter must be in [0, 2**63) (None for the default), got {max_iter}")
    return eps, max_iter


def _pair_cost(a_points, b_points, valid, squared):
    """Cost between paired points [B, K, D] where valid [B, K] (0 elsewhere; None: every pair is
    valid). Invalid pairs are replaced by zeros before any arithmetic, so that whatever padding holds
    (NaN, inf) cannot reach the gradient of a valid point through 0 * NaN."""
    if valid is not None:
        valid = valid[..., None]
        a_points = tf.where(valid, a_points, tf.zeros_like(a_points))
        b_points = tf.where(valid, b_points, tf.zeros_like(b_points))
    # In float64: float32 points' differences may be subnormal, which TensorFlow flushes to zero.
    diff = _inputs.widen(a_points) - _inputs.widen(b_points)
    return tf.reduce_sum(tf.square(diff), axis=-1) if squared else _chamfer.euclidean_norm(diff)


def matched_cost(a, b, assignment, squared, padded=True):
    """Cost of each a point to its assigned b point ([B, N]; 0 at padding). The assignment is a
    constant, so gradients flow to a and b through the cost alone; since it is a permutation,
    each b point receives exactly one gradient term (deterministic). padded=False: full clouds,
    whose assignment has no -1 (the same values in 7 fewer eager ops, about 0.2 ms a call)."""
    if not padded:
        return _pair_cost(a, _gather.gather_points(b, assignment), None, squared)
    matched = _gather.gather_points(b, tf.maximum(assignment, 0))
    return _pair_cost(a, matched, assignment >= 0, squared)


def plan_cost(a, b, plan_i, plan_j, mass, squared):
    """mass x cost of each plan entry ([B, K]; 0 at padding), differentiable in a and b with the plan
    held constant. A point in several entries receives one gradient term per entry (summed by the
    gather's gradient, a segment sum: deterministic on the CPU, on a GPU only under op determinism)."""
    a_points = _gather.gather_points(a, tf.maximum(plan_i, 0))
    b_points = _gather.gather_points(b, tf.maximum(plan_j, 0))
    return _inputs.widen(mass) * _inputs.widen(_pair_cost(a_points, b_points, plan_i >= 0, squared))


def _overflow_message(dtype):
    return (f"emd: the pair costs of a cloud overflow {dtype.name} (its squared distances exceed "
            f"{dtype.max:.2g}); scale the clouds down" + (" or use float64" if dtype != tf.float64 else ""))


def assert_costs_fit(a, b, lengths, exponent, squared, dtype):
    """For the reference path, which has no kernel to tell: an error when a cloud's pair costs at its
    own scale overflow dtype, by the CPU kernels' rule (auction_schedule.h costs_fit_unscaled). a, b:
    [B, N, D] float64 clouds scaled by 2^-exponent ([B]), lengths [B]; NaN clouds pass (NaN gap)."""
    valid = tf.sequence_mask(lengths, tf.shape(a)[1])[..., None]
    points, mask = tf.concat([a, b], 1), tf.concat([valid, valid], 1)
    hi = tf.reduce_max(tf.where(mask, points, tf.constant(-float("inf"), a.dtype)), 1)
    lo = tf.reduce_min(tf.where(mask, points, tf.constant(float("inf"), a.dtype)), 1)
    span2 = tf.reduce_sum(tf.square(hi - lo), -1)
    largest = _scale.ldexp(span2 if squared else tf.sqrt(span2), exponent * (2 if squared else 1))
    overflow = tf.math.is_finite(span2) & ~(largest < dtype.max / 2)
    return tf.debugging.Assert(~tf.reduce_any(overflow), [_overflow_message(dtype)])


def check_cost_range(gap, dtype):
    """The CUDA kernels give a cloud whose pair costs overflow the float type an infinite gap (the CPU
    kernels scale such a cloud instead: csrc/core/common/pair_scale.h): an error, never a silently
    wrong assignment."""
    fits = tf.reduce_all(tf.not_equal(gap, tf.constant(float("inf"), gap.dtype)))  # NaN (NaN input) passes
    with tf.control_dependencies([tf.debugging.Assert(fits, [_overflow_message(dtype)])]):
        return tf.identity(gap)


def _per_point(weighted, plan_i, a_lengths, n):
    """[B, N]: each a point's share of the plan's cost, scaled so that the mean over the cloud's
    points is the EMD (for equal sizes: the cost of its matched pair)."""
    batch = tf.shape(weighted)[0]
    rows = tf.range(batch)[:, None] * n + tf.maximum(plan_i, 0)
    total = tf.math.unsorted_segment_sum(weighted, rows, batch * n)
    return tf.reshape(total, [batch, n]) * tf.cast(a_lengths, weighted.dtype)[:, None]


def lcm_transport(emd_match, a, b, *, eps, max_iter, squared, a_lengths, b_lengths):
    """The pure-TF path's transport over emd_match (pointops.reference.transport). Equal sizes N == M,
    or sizes unknown until it runs: emd_match's assignment (ragged lengths as it takes them). Different
    static sizes N and M (full clouds, no ragged lengths): every point of a repeated M/g times and every
    point of b N/g times (g = gcd(N, M)) gives two clouds of T = N M / g points of mass 1/T each, whose
    optimal assignment (emd_match) is the optimal transport. Entries are unit pairs (K = T, not a basic plan), which is all emd needs."""
    n, m = a.shape[1], b.shape[1]
    if n is None or m is None or n == m:
        # Equal sizes (or sizes known only when it runs, which must then be equal): the assignment
        # as entries, ragged lengths as emd_match takes them.
        assignment, gap = emd_match(a, b, eps=eps, max_iter=max_iter, squared=squared, a_lengths=a_lengths,
                                    b_lengths=b_lengths)
        valid = assignment >= 0
        plan_i = tf.where(valid, tf.range(tf.shape(a)[1], dtype=tf.int32)[None], -1)
        lengths = _inputs.full_lengths(a) if a_lengths is None else a_lengths
        mass = tf.where(valid, 1 / tf.cast(lengths, a.dtype)[:, None], tf.zeros([], a.dtype))
        return plan_i, assignment, mass, gap
    g = math.gcd(n, m)
    units = n * (m // g)
    if units > MAX_LCM_UNITS:
        raise ValueError(f"emd: on the pure-TF path, clouds of different sizes N={n} and M={m} need "
                         f"lcm(N, M) = {units} <= {MAX_LCM_UNITS} (a dense assignment of that size); the "
                         "compiled kernels have no such limit")
    message = ("emd: on the pure-TF path, clouds of different sizes cannot have lengths (ragged clouds need "
               "the compiled kernels)")
    full = [check for lengths, points, name in ((a_lengths, a, "a_lengths"), (b_lengths, b, "b_lengths"))
            if lengths is not None
            for check in _inputs.assert_lengths("emd", points, lengths, name)
            + [tf.debugging.assert_equal(lengths, tf.shape(points)[1], message=message)]]
    with tf.control_dependencies(full):
        assignment, gap = emd_match(tf.tile(a, [1, m // g, 1]), tf.tile(b, [1, n // g, 1]), eps=eps,
                                    max_iter=max_iter, squared=squared)
    batch = tf.shape(a)[0]
    plan_i = tf.tile(tf.range(units, dtype=tf.int32)[None] % n, [batch, 1])
    mass = tf.fill([batch, units], tf.constant(1 / units, a.dtype))
    return plan_i, assignment % m, mass, gap


def assignment_per_cloud(a, b, assignment, a_lengths, squared, point_reduction, padded=True):
    """An assignment's cost reduced over each cloud's valid points ([B]; [B, N] for None)."""
    cost = _inputs.widen(matched_cost(a, b, assignment, squared, padded=padded))
    return _chamfer.reduce_points(cost, _chamfer.valid_counts(cost, a_lengths), point_reduction)


def mean_cost_gradient(a, b, assignment, a_lengths, gap, squared, grad):
    """The gradient (to a and b) of grad times emd's default, the mean over the batch of each cloud's
    mean matched cost, with the assignment held; as plain ops, since TF's eager gradients of the cost's
    dozen ops took 3.5 ms at B=8 N=1024. a, b: [B, N, D]; assignment: [B, N] (-1 at padding); a_lengths,
    gap: [B]. As on the other path: 0 where matched points coincide (safe_sqrt), 0 for a cloud with a
    NaN gap except at its NaN points."""
    valid = (assignment >= 0)[..., None]
    matched = tf.maximum(assignment, 0)  # padding (-1) points at row 0; their terms are zeroed below
    diff = a - tf.gather(b, matched, batch_dims=1)
    if squared:
        slope = 2 * diff
    else:
        slope = tf.math.divide_no_nan(diff, _chamfer.euclidean_norm(diff)[..., None])
    weight = grad / (tf.cast(tf.shape(a)[0], a.dtype) * tf.cast(a_lengths, a.dtype))
    weight = tf.where(tf.math.is_nan(gap), tf.zeros_like(weight), weight)[:, None, None]
    grad_a = tf.where(valid, slope * weight, tf.zeros_like(slope))
    return grad_a, -_gather.add_rows(grad_a, matched, b)


def nan_where_gap_is_nan(per_cloud, gap):
    """A cloud with a non-finite coordinate (NaN gap) has a NaN distance, whatever its identity
    assignment's (or north-west-corner plan's) cost would be. per_cloud: [B] or [B, N]."""
    nan_gap = tf.math.is_nan(gap)
    if per_cloud.shape.rank == 2:
        nan_gap = nan_gap[:, None]
    return tf.where(nan_gap, tf.constant(float("nan"), per_cloud.dtype), per_cloud)


def emd(emd_match, transport, emd_mean, a, b, *, eps, max_iter, squared, point_reduction, batch_reduction,
        return_assignment, a_lengths, b_lengths):
    """pointops.emd (and pointops.reference's) over an assignment implementation emd_match (equal sizes)
    and a transport implementation (any sizes: (plan_i, plan_j, mass, gap) entries, padded with -1, -1, 0), with
    the arguments documented there. emd_mean(a, b, a_lengths, b_lengths, eps=, max_iter=, squared=), where
    not None, computes the default reductions of full clouds of equal sizes in one step, or returns None
    where it cannot."""
    _chamfer.check_reductions(point_reduction, batch_reduction, ("mean", "sum", None))
    one_to_one_possible = a_lengths is None and b_lengths is None
    # Checked and converted once; the implementations receive tensors they pass through unchanged.
    a, b, a_len, b_len, dtype = _inputs.prepare("emd", a, b, a_lengths, b_lengths, equal_sizes=return_assignment)
    n, m = a.shape[1], b.shape[1]
    one_to_one = return_assignment or (one_to_one_possible and n is not None and n == m)
    if (emd_mean is not None and one_to_one and one_to_one_possible and not return_assignment
            and point_reduction == "mean" and batch_reduction == "mean"):
        distance = emd_mean(a, b, a_len, b_len, eps=eps, max_iter=max_iter, squared=squared)
        if distance is not None:
            return tf.cast(distance, dtype)
    if one_to_one:
        assignment, gap = emd_match(a, b, eps=eps, max_iter=max_iter, squared=squared, a_lengths=a_len,
                                    b_lengths=b_len)
        per_cloud = assignment_per_cloud(a, b, assignment, a_len, squared, point_reduction,
                                         padded=not one_to_one_possible)
    else:
        plan_i, plan_j, mass, gap = transport(a, b, eps=eps, max_iter=max_iter, squared=squared,
                                              a_lengths=a_len, b_lengths=b_len)
        weighted = plan_cost(a, b, plan_i, plan_j, mass, squared)
        if point_reduction is None:
            per_cloud = _per_point(weighted, plan_i, a_len, tf.shape(a)[1])
        else:
            per_cloud = tf.reduce_sum(weighted, axis=1)
            if point_reduction == "sum":
                per_cloud *= tf.cast(a_len, per_cloud.dtype)
    per_cloud = nan_where_gap_is_nan(per_cloud, gap)
    distance = per_cloud if point_reduction is None else _chamfer.reduce_batch(per_cloud, batch_reduction)
    distance = tf.cast(distance, dtype)
    return (distance, assignment) if return_assignment else distance
