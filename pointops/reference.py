"""pointops in pure TensorFlow: the same functions, signatures and semantics as the compiled path.

This is the oracle for the tests and the fallback when the compiled library is absent. It builds
the [N, M] distance matrix one cloud at a time (tf.map_fn over the batch), so memory is
O(N * M * D) per cloud rather than for the whole batch; the nearest indices are found without
gradient and the distances recomputed from them, so gradients go to the chosen neighbour only,
exactly as in the compiled op. Ties go to the lowest index (tf.math.top_k), as in the compiled op;
non-finite input is not given the compiled op's NaN rule here.
"""
import tensorflow as tf

from pointops import _auction_tf, _chamfer, _density, _emd, _inputs, _knn_args, _scale


def squared_distance_to(query, ref, idx):
    """|query_i - ref_idx[i]|^2 per point ([B, N]) for idx [B, N]; 0 where idx is -1."""
    return distance_to_neighbours(query, ref, idx[..., None], 2)[..., 0]


def distance_to_neighbours(query, ref, idx, norm):
    """The distances from query [B, N, D] to ref [B, M, D] at idx [B, N, k]: squared Euclidean (norm
    2) or L1 (norm 1), [B, N, k]; 0 where idx is -1. Differentiable in query and ref (the gradient of
    |x| at 0 is 0). Computed in float64, where float32 points' differences and their squares are neither
    subnormal (which TensorFlow flushes to zero) nor overflowing, and rounded once to the points' dtype."""
    neighbours = tf.gather(_inputs.widen(ref), tf.maximum(idx, 0), batch_dims=1)  # [B, N, k, D]
    diff = _inputs.widen(query)[:, :, None, :] - neighbours
    d = tf.reduce_sum(tf.square(diff) if norm == 2 else tf.abs(diff), axis=-1)
    return tf.cast(tf.where(idx >= 0, d, tf.zeros_like(d)), query.dtype)


def _k_nearest_one(k, norm):
    def nearest(args):
        """Indices [N, k] of the k nearest valid ref points of one cloud; -1 past them and at padding."""
        query, ref, query_len, ref_len = args
        diff = query[:, None, :] - ref[None, :, :]
        d = tf.reduce_sum(tf.square(diff) if norm == 2 else tf.abs(diff), axis=-1)  # [N, M]
        m = tf.shape(ref)[0]
        d = tf.where(tf.sequence_mask(ref_len, m)[None, :], d, tf.constant(float("inf"), d.dtype))
        d = tf.pad(d, [[0, 0], [0, tf.maximum(k - m, 0)]], constant_values=float("inf"))
        # top_k puts the lower index first among equal values: ties go to the lower index.
        idx = tf.math.top_k(-d, k).indices
        valid = tf.sequence_mask(query_len, tf.shape(query)[0])[:, None] & (tf.range(k) < ref_len)[None, :]
        return tf.where(valid, idx, -1)
    return nearest


def _k_nearest(query, ref, query_len, ref_len, k, norm):
    """Indices [B, N, k] of the k nearest valid ref points, one cloud at a time, without gradient; each
    pair searched at the kernels' scale (_scale)."""
    if query.shape[0] == 0:  # map_fn cannot stack zero results
        return tf.zeros([0, tf.shape(query)[1], k], tf.int32)
    query, ref = tf.stop_gradient(query), tf.stop_gradient(ref)
    exponent = _scale.pair_exponent(query, ref, query_len, ref_len)
    query, ref = _scale.ldexp(query, -exponent), _scale.ldexp(ref, -exponent)
    return tf.map_fn(_k_nearest_one(k, norm), (query, ref, query_len, ref_len),
                     fn_output_signature=tf.TensorSpec([None, k], tf.int32))


def knn(a, b, k, a_lengths=None, b_lengths=None, *, norm=2):
    """The k nearest points of b for every point of a: (dists [B, N, k], idx [B, N, k] int32)."""
    k, norm = _knn_args.check_k_norm("knn", k, norm)
    a, b, a_len, b_len, dtype = _inputs.prepare("knn", a, b, a_lengths, b_lengths)
    checks = (_inputs.assert_lengths("knn", a, a_len, "a_lengths", minimum=0)
              + _inputs.assert_lengths("knn", b, b_len, "b_lengths", minimum=0))
    with tf.control_dependencies(checks):
        idx = _k_nearest(a, b, a_len, b_len, k, norm)
    return tf.cast(distance_to_neighbours(a, b, idx, norm), dtype), idx


def nn_distance(a, b, a_lengths=None, b_lengths=None, *, algorithm="auto"):
    """Nearest neighbours both ways: a [B, N, D], b [B, M, D] ->
    (dist_ab [B, N], idx_ab [B, N] int32, dist_ba [B, M], idx_ba [B, M] int32). `algorithm` is checked as
    pointops.nn_distance checks it; this path has one search."""
    return nearest(a, b, a_lengths, b_lengths, True, algorithm)


def nearest(a, b, a_lengths, b_lengths, squared, algorithm="auto"):
    """nn_distance with squared (True) or Euclidean (False) distances (euclidean_to: right at any scale)."""
    _inputs.nn_algorithm(algorithm)
    a, b, a_len, b_len, dtype = _inputs.prepare("nn_distance", a, b, a_lengths, b_lengths)
    checks = (_inputs.assert_lengths("nn_distance", a, a_len, "a_lengths")
              + _inputs.assert_lengths("nn_distance", b, b_len, "b_lengths"))
    with tf.control_dependencies(checks):
        idx_ab = _k_nearest(a, b, a_len, b_len, 1, 2)[..., 0]
        idx_ba = _k_nearest(b, a, b_len, a_len, 1, 2)[..., 0]
    distance_to = squared_distance_to if squared else _chamfer.euclidean_to
    dist_ab, dist_ba = distance_to(a, b, idx_ab), distance_to(b, a, idx_ba)
    return tf.cast(dist_ab, dtype), idx_ab, tf.cast(dist_ba, dtype), idx_ba


def chamfer_distance(a, b, *, squared=True, direction="bi", point_reduction="mean", batch_reduction="mean",
                     a_lengths=None, b_lengths=None, norm=2, weights=None, a_normals=None, b_normals=None,
                     abs_cosine=True):
    """pointops.chamfer_distance in pure TensorFlow: the same arguments, values and gradients."""
    return _chamfer.chamfer_distance(
        nearest, knn, None, a, b, squared=squared, direction=direction, point_reduction=point_reduction,
        batch_reduction=batch_reduction, a_lengths=a_lengths, b_lengths=b_lengths, norm=norm, weights=weights,
        a_normals=a_normals, b_normals=b_normals, abs_cosine=abs_cosine)


def density_aware_chamfer(a, b, alpha=1000.0, n_lambda=1.0, *, batch_reduction="mean", a_lengths=None,
                          b_lengths=None):
    """pointops.density_aware_chamfer in pure TensorFlow."""
    return _density.density_aware_chamfer(nearest, a, b, alpha, n_lambda, batch_reduction=batch_reduction,
                                          a_lengths=a_lengths, b_lengths=b_lengths)


def f_score(a, b, threshold=0.01, *, a_lengths=None, b_lengths=None):
    """pointops.f_score in pure TensorFlow."""
    return _density.f_score(nearest, a, b, threshold, a_lengths=a_lengths, b_lengths=b_lengths)


def emd_match(a, b, *, eps=None, max_iter=None, squared=False, a_lengths=None, b_lengths=None):
    """The auction assignment on a dense cost matrix (float64): (assignment [B, N] int32, gap_bound [B])."""
    rel_tol, max_rounds = _emd.check_emd_options(eps, max_iter)
    a, b, a_len, b_len, dtype = _inputs.prepare("emd", a, b, a_lengths, b_lengths, equal_sizes=True)
    checks = (_inputs.assert_lengths("emd", a, a_len, "a_lengths") + _inputs.assert_lengths("emd", b, b_len, "b_lengths")
              + [tf.debugging.assert_equal(a_len, b_len, message="emd: EMD here needs equal sizes (a_lengths == b_lengths)")])
    with tf.control_dependencies(checks):
        # At the kernels' scale (_scale), where the costs fit; the gap is scaled back.
        exponent = _scale.pair_exponent(a, b, a_len, b_len)
        a64, b64 = (_scale.ldexp(tf.cast(x, tf.float64), -exponent) for x in (a, b))
        with tf.control_dependencies([_emd.assert_costs_fit(a64, b64, a_len, exponent, squared, a.dtype)]):
            assignment, gap = _auction_tf.auction(a64, b64, a_len, squared, rel_tol, max_rounds)
    return assignment, tf.cast(_scale.ldexp(gap, exponent * (2 if squared else 1)), dtype)


def transport(a, b, *, eps=None, max_iter=None, squared=False, a_lengths=None, b_lengths=None):
    """The transport that pointops.emd uses for clouds of different sizes, in pure TensorFlow
    (_emd.lcm_transport): (plan_i, plan_j, mass, gap) entries."""
    return _emd.lcm_transport(emd_match, a, b, eps=eps, max_iter=max_iter, squared=squared, a_lengths=a_lengths,
                              b_lengths=b_lengths)


def emd(a, b, *, eps=None, max_iter=None, squared=False, point_reduction="mean", batch_reduction="mean",
        return_assignment=False, a_lengths=None, b_lengths=None):
    """pointops.emd in pure TensorFlow: the same arguments, values (within the certified gap) and gradients."""
    return _emd.emd(emd_match, transport, None, a, b, eps=eps, max_iter=max_iter, squared=squared,
                    point_reduction=point_reduction, batch_reduction=batch_reduction,
                    return_assignment=return_assignment, a_lengths=a_lengths, b_lengths=b_lengths)
