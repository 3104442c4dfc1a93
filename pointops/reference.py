"""pointops in pure TensorFlow: the same functions, signatures and semantics as the compiled path.

This is the oracle for the tests and the fallback when the compiled library is absent. It builds
the [N, M] distance matrix one cloud at a time (tf.map_fn over the batch), so memory is
O(N * M * D) per cloud rather than for the whole batch; the nearest indices are found without
gradient and the distances recomputed from them, so gradients go to the chosen neighbour only,
exactly as in the compiled op. Ties go to the lowest index (tf.argmin), as in the compiled op;
non-finite input is not given the compiled op's NaN rule here.
"""
import tensorflow as tf

from pointops import _auction_tf, _chamfer, _density, _emd, _inputs


def _nearest_one(args):
    """Index of the nearest valid ref point for each query point of one cloud; -1 for padding."""
    query, ref, query_len, ref_len = args  # [N, D], [M, D], scalars
    d = tf.reduce_sum(tf.square(query[:, None, :] - ref[None, :, :]), axis=-1)  # [N, M]
    valid_ref = tf.sequence_mask(ref_len, tf.shape(ref)[0])
    d = tf.where(valid_ref[None, :], d, tf.constant(float("inf"), d.dtype))
    idx = tf.argmin(d, axis=1, output_type=tf.int32)
    return tf.where(tf.sequence_mask(query_len, tf.shape(query)[0]), idx, -1)


def _nearest(query, ref, query_len, ref_len):
    query, ref = tf.stop_gradient(query), tf.stop_gradient(ref)
    if query.shape[0] == 0:  # map_fn cannot stack zero [None]-shaped results
        return tf.zeros(tf.shape(query)[:2], tf.int32)
    return tf.map_fn(_nearest_one, (query, ref, query_len, ref_len),
                     fn_output_signature=tf.TensorSpec([None], tf.int32))


def squared_distance_to(query, ref, idx):
    """|query_i - ref_idx[i]|^2 per point ([B, N]); 0 where idx is -1. Differentiable in both."""
    neighbours = tf.gather(ref, tf.maximum(idx, 0), batch_dims=1)
    d = tf.reduce_sum(tf.square(query - neighbours), axis=-1)
    return tf.where(idx >= 0, d, tf.zeros_like(d))


def nn_distance(a, b, a_lengths=None, b_lengths=None):
    """Nearest neighbours both ways: a [B, N, D], b [B, M, D] ->
    (dist_ab [B, N], idx_ab [B, N] int32, dist_ba [B, M], idx_ba [B, M] int32)."""
    a, b, a_len, b_len, dtype = _inputs.prepare("nn_distance", a, b, a_lengths, b_lengths)
    checks = (_inputs.assert_lengths("nn_distance", a, a_len, "a_lengths")
              + _inputs.assert_lengths("nn_distance", b, b_len, "b_lengths"))
    with tf.control_dependencies(checks):
        idx_ab = _nearest(a, b, a_len, b_len)
        idx_ba = _nearest(b, a, b_len, a_len)
    dist_ab = squared_distance_to(a, b, idx_ab)
    dist_ba = squared_distance_to(b, a, idx_ba)
    return tf.cast(dist_ab, dtype), idx_ab, tf.cast(dist_ba, dtype), idx_ba


chamfer_distance = _chamfer.make_chamfer_distance(nn_distance)
density_aware_chamfer = _density.make_density_aware_chamfer(nn_distance)
f_score = _density.make_f_score(nn_distance)


def emd_match(a, b, *, eps=None, max_iter=None, squared=False, a_lengths=None, b_lengths=None):
    """The auction assignment on a dense cost matrix (float64): (assignment [B, N] int32, gap_bound [B])."""
    rel_tol, max_rounds = _emd.check_emd_options(eps, max_iter)
    a, b, a_len, b_len, dtype = _inputs.prepare("emd", a, b, a_lengths, b_lengths, equal_sizes=True)
    checks = (_inputs.assert_lengths("emd", a, a_len, "a_lengths") + _inputs.assert_lengths("emd", b, b_len, "b_lengths")
              + [tf.debugging.assert_equal(a_len, b_len, message="emd: EMD here needs equal sizes (a_lengths == b_lengths)"),
                 _emd.assert_costs_fit(a, b, a_len, a.dtype)])
    with tf.control_dependencies(checks):
        assignment, gap = _auction_tf.auction(tf.cast(a, tf.float64), tf.cast(b, tf.float64), a_len, squared,
                                              rel_tol, max_rounds)
    return assignment, tf.cast(gap, dtype)


emd = _emd.make_emd(emd_match)
