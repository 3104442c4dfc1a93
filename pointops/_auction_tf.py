"""The auction algorithm in pure TensorFlow (dense cost matrix; for pointops.reference.emd_match).

Jacobi bidding as in the CUDA kernel: every unassigned person bids for its best object, each object
takes the highest bid (ties to the lowest person), prices rise by (best - second best + eps).
Epsilon scaling with the schedule of csrc/core/emd/auction_schedule.h; each phase ends when everyone
is assigned, and a cloud stops once its duality gap meets the target.
"""
import numpy as np
import tensorflow as tf

EPS_FACTOR = 5.0
DEFAULT_MAX_ROUNDS = 10000
_FLOOR = 16 * float(np.finfo(np.float32).eps)


def _cost_matrix(a, b, squared):
    d2 = tf.reduce_sum(tf.square(a[:, :, None, :] - b[:, None, :, :]), axis=-1)
    return d2 if squared else tf.sqrt(d2)


def _complete(assign, owner, valid):
    """Unassigned valid persons take the free valid objects in index order (rank r gets rank r)."""
    n = tf.shape(assign)[1]
    person_free = valid & (assign < 0)
    object_free = valid & (owner < 0)
    person_rank = tf.cumsum(tf.cast(person_free, tf.int32), axis=1, exclusive=True)
    object_rank = tf.cumsum(tf.cast(object_free, tf.int32), axis=1, exclusive=True)
    # For each rank r, the index of the free object with that rank.
    object_of_rank = tf.argmax(
        tf.cast(object_free[:, None, :] & tf.equal(object_rank[:, None, :], tf.range(n)[None, :, None]), tf.int32),
        axis=2, output_type=tf.int32)
    filled = tf.gather(object_of_rank, person_rank, batch_dims=1)
    return tf.where(person_free, filled, assign)


@tf.function(reduce_retracing=True)
def auction(a, b, lengths, squared, rel_tol, max_rounds):
    """a, b: [B, N, D] float64; lengths [B] int32 -> (assignment [B, N] int32, gap [B] float64)."""
    max_rounds = max_rounds or DEFAULT_MAX_ROUNDS
    B, N = tf.shape(a)[0], tf.shape(a)[1]
    valid = tf.sequence_mask(lengths, N)
    pair_valid = valid[:, :, None] & valid[:, None, :]
    cost = _cost_matrix(a, b, squared)
    finite = tf.reduce_all(tf.math.is_finite(tf.where(pair_valid, cost, 0.0)), axis=[1, 2])
    max_cost = tf.reduce_max(tf.where(pair_valid & finite[:, None, None], cost, 0.0), axis=[1, 2])
    # Padded objects are out of reach; padded persons never bid.
    cost = tf.where(valid[:, None, :], tf.where(finite[:, None, None], cost, 0.0), tf.constant(np.inf, a.dtype))
    n_valid = tf.cast(lengths, a.dtype)
    floor = tf.maximum(max_cost, 1e-30) * _FLOOR
    person = tf.zeros_like(a[..., 0], tf.int32) + tf.range(N)[None, :]  # [B, N], static shape kept
    flat_base = tf.range(B)[:, None] * N
    no_bid = tf.constant(-np.inf, a.dtype)

    def one_round(price, assign, owner, eps, active):
        values = -cost - price[:, None, :]
        top = tf.math.top_k(values, k=tf.minimum(2, N))
        w1, j1 = top.values[..., 0], top.indices[..., 0]
        w2 = top.values[..., -1]  # with one (reachable) object, w2 = w1: its price rises by eps
        w2 = tf.where(tf.math.is_inf(w2), w1, w2)
        bidders = active[:, None] & valid & (assign < 0)
        bid = tf.where(bidders, tf.gather(price, j1, batch_dims=1) + (w1 - w2) + eps[:, None], no_bid)
        segment = tf.where(bidders, flat_base + j1, B * N)
        best = tf.math.unsorted_segment_max(bid, segment, B * N + 1)[:-1]
        top_bidder = bidders & tf.equal(bid, tf.gather(best, segment % (B * N)))
        winner = tf.math.unsorted_segment_min(tf.where(top_bidder, person, N), segment, B * N + 1)[:-1]
        winner = tf.reshape(winner, tf.shape(price))
        won = winner < N
        # The previous owners of the objects won become unassigned, then the winners are assigned.
        loser_idx = tf.where(won & (owner >= 0))
        losers = tf.gather_nd(owner, loser_idx)
        assign = tf.tensor_scatter_nd_update(assign, tf.stack([loser_idx[:, 0], tf.cast(losers, tf.int64)], 1),
                                             -tf.ones_like(losers))
        win_idx = tf.where(won)
        winners = tf.gather_nd(winner, win_idx)
        assign = tf.tensor_scatter_nd_update(assign, tf.stack([win_idx[:, 0], tf.cast(winners, tf.int64)], 1),
                                             tf.cast(win_idx[:, 1], tf.int32))
        price = tf.where(won, tf.reshape(best, tf.shape(price)), price)
        owner = tf.where(won, winner, owner)
        return price, assign, owner

    def phase(price, eps, active, gap, rounds):
        assign = owner = -tf.ones_like(person)

        def round_cond(price, assign, owner, rounds):
            return tf.reduce_any(active[:, None] & valid & (assign < 0)) & (rounds < max_rounds)

        def round_body(price, assign, owner, rounds):
            price, assign, owner = one_round(price, assign, owner, eps, active)
            return price, assign, owner, rounds + 1

        price, assign, owner, rounds = tf.while_loop(round_cond, round_body, (price, assign, owner, rounds))
        aborted = tf.reduce_any(active[:, None] & valid & (assign < 0))
        assign = _complete(assign, owner, valid)
        values = tf.where(valid[:, None, :], -cost - price[:, None, :], no_bid)
        pi = tf.where(valid, tf.reduce_max(values, axis=2), 0.0)
        matched = tf.where(valid, tf.gather(cost, tf.maximum(assign, 0), batch_dims=2), 0.0)
        primal = tf.reduce_sum(matched, axis=1)
        dual = tf.reduce_sum(pi, axis=1) + tf.reduce_sum(tf.where(valid, price, 0.0), axis=1)
        phase_gap = tf.maximum((dual + primal) / n_valid, 0.0)
        done = active & ((phase_gap <= rel_tol * primal / n_valid) | (eps <= floor) | aborted)
        gap = tf.where(done, phase_gap, gap)
        eps = tf.where(active & ~done, tf.maximum(eps / EPS_FACTOR, floor), eps)
        return price, eps, active & ~done, gap, rounds, assign

    def outer_cond(price, eps, active, gap, rounds, assign):
        return tf.reduce_any(active)

    def outer_body(price, eps, active, gap, rounds, assign):
        price, eps, still, gap, rounds, new_assign = phase(price, eps, active, gap, rounds)
        return price, eps, still, gap, rounds, tf.where(active[:, None], new_assign, assign)

    init = (tf.zeros_like(a[..., 0]), tf.maximum(max_cost / 4, 1e-30), finite,
            tf.fill([B], tf.constant(np.nan, a.dtype)), tf.constant(0), -tf.ones_like(person))
    _, _, _, gap, _, assign = tf.while_loop(outer_cond, outer_body, init)
    assign = tf.where(finite[:, None], assign, person)  # non-finite input: identity
    return tf.where(valid, assign, -1), gap
