"""emd_match and emd on the compiled auction kernels."""
import tensorflow as tf

from pointops import _backend, _emd, _inputs, reference

tf.no_gradient("PointopsEmdMatch")


def emd_match(a, b, *, eps=None, max_iter=None, squared=False, a_lengths=None, b_lengths=None):
    """One-to-one assignment between a [B, N, D] and b [B, N, D] by the auction algorithm.

    Returns (assignment [B, N] int32, gap_bound [B]): assignment[k] is a permutation of the valid
    points (padding: -1), and gap_bound[k] is a certified upper bound, from the auction's duality
    gap, on how far the assignment's mean cost is above the optimal mean cost. The auction stops
    once gap_bound <= eps * mean cost (eps default 1e-3), or after max_iter bidding rounds (the
    assignment is then completed greedily and its larger gap reported). A cloud with a NaN or
    infinite coordinate gets the identity assignment and a NaN gap. Clouds whose squared distances
    overflow the float type (coordinates near 1e19 in float32) raise InvalidArgumentError.
    """
    ops = _backend.compiled_ops()
    if ops is None:
        return reference.emd_match(a, b, eps=eps, max_iter=max_iter, squared=squared, a_lengths=a_lengths,
                                   b_lengths=b_lengths)
    eps, max_iter = _emd.check_emd_options(eps, max_iter)
    a, b, a_len, b_len, dtype = _inputs.prepare("emd", a, b, a_lengths, b_lengths, equal_sizes=True)
    with _backend.kernel_device():
        assignment, gap = ops.pointops_emd_match(a, b, a_len, b_len, squared=squared, rel_tol=eps,
                                                 max_rounds=max_iter)
    return assignment, tf.cast(_emd.check_cost_range(gap, a.dtype), dtype)


emd = _emd.make_emd(emd_match)
