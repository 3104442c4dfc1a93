"""emd_match and emd on the compiled auction kernels."""
import tensorflow as tf

from pointops import _backend, _emd, _inputs, reference

tf.no_gradient("PointopsEmdMatch")
tf.no_gradient("PointopsEmdTransport")


def emd_match(a, b, *, eps=None, max_iter=None, squared=False, a_lengths=None, b_lengths=None):
    """One-to-one assignment between a [B, N, D] and b [B, N, D] by the auction algorithm.

    Returns (assignment [B, N] int32, gap_bound [B]): assignment[k] is a permutation of the valid
    points (padding: -1), and gap_bound[k] is a certified upper bound, from the auction's duality
    gap, on how far the assignment's mean cost is above the optimal mean cost. The auction stops
    once gap_bound <= eps * mean cost (eps default 1e-3), or after max_iter bidding rounds (the
    assignment is then completed greedily and its larger gap reported). A cloud with a NaN or
    infinite coordinate gets the identity assignment and a NaN gap. Any finite coordinates work on the
    CPU (tiny or huge clouds are solved scaled by a power of two); on a GPU, clouds whose squared
    distances overflow the float type (coordinates near 1e19 in float32) raise InvalidArgumentError.
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


def emd_plan(a, b, *, eps=None, max_iter=None, squared=False, a_lengths=None, b_lengths=None):
    """The optimal transport plan between a [B, N, D] and b [B, M, D], any sizes, in sparse form.

    Masses are uniform: 1/N on each point of a and 1/M on each point of b (1/length with a_lengths and
    b_lengths). Returns (plan_i [B, K] int32, plan_j [B, K] int32, mass [B, K], gap_bound [B]) with
    K = N + M - 1: entry k of cloud c moves mass[c, k] from a[c, plan_i[c, k]] to b[c, plan_j[c, k]].
    Each cloud's plan is basic (at most n + m - 1 entries, sorted by (i, j); the rest are -1, -1, 0)
    and its masses sum to 1. gap_bound bounds (plan cost - optimal cost) from above, certified by the
    duality gap of the transportation auction; it stops at gap_bound <= eps * cost (eps default 1e-3).
    Equal sizes give the auction's one-to-one assignment (mass 1/N per pair). CPU and GPU kernels (on a
    GPU the auction runs there and the plan is finished on the host, so the outputs are in host memory
    and the op waits for the GPU); no gradient flows through the plan. Needs the compiled library.
    """
    ops = _backend.compiled_ops()
    if ops is None:
        raise RuntimeError("pointops.emd_plan needs pointops' compiled kernels, which are not usable here (see "
                           "pointops.backend_info(); under XLA on a GPU they need a build with CUDA kernels); "
                           "pointops.emd still works there, on the pure-TF path")
    eps, max_iter = _emd.check_emd_options(eps, max_iter)
    a, b, a_len, b_len, dtype = _inputs.prepare("emd_plan", a, b, a_lengths, b_lengths)
    plan_i, plan_j, mass, gap = ops.pointops_emd_transport(a, b, a_len, b_len, squared=squared, rel_tol=eps,
                                                           max_rounds=max_iter)
    return plan_i, plan_j, tf.cast(mass, dtype), tf.cast(_emd.check_cost_range(gap, a.dtype), dtype)


def _transport(a, b, **options):
    """emd's solver for clouds of different sizes: the compiled plan, or the pure-TF path's."""
    if _backend.compiled_ops() is None:
        return reference.transport(a, b, **options)
    return emd_plan(a, b, **options)


def _emd_mean(a, b, a_lengths, b_lengths, *, eps=None, max_iter=None, squared=False):
    """emd's default of full clouds of equal sizes (a, b and lengths as _inputs.prepare gives them) as
    one op, PointopsEmdMean, where the kernels run on the CPU (it has only a CPU kernel); else None."""
    ops = _backend.compiled_ops()
    if ops is None or not _backend.kernels_run_on_cpu():
        return None
    eps, max_iter = _emd.check_emd_options(eps, max_iter)
    with _backend.kernel_device():
        return ops.pointops_emd_mean(a, b, a_lengths, b_lengths, squared=squared, rel_tol=eps, max_rounds=max_iter)[2]


@tf.RegisterGradient("PointopsEmdMean")
def _emd_mean_grad(op, _grad_assignment, _grad_gap, grad):
    """The gradient of emd's default with the assignment held (_emd.mean_cost_gradient)."""
    a, b, a_lengths, _ = op.inputs
    if grad is None:  # only the gap or the assignment was differentiated: neither depends on a or b
        return tf.zeros_like(a), tf.zeros_like(b), None, None
    grad_a, grad_b = _emd.mean_cost_gradient(a, b, op.outputs[0], a_lengths, op.outputs[1], op.get_attr("squared"), grad)
    return grad_a, grad_b, None, None


def emd(a, b, *, eps=None, max_iter=None, squared=False, point_reduction="mean", batch_reduction="mean",
        return_assignment=False, a_lengths=None, b_lengths=None):
    """Earth Mover's Distance between a [B, N, D] and b [B, M, D]: the optimal transport cost with
    uniform masses, 1/N on each point of a and 1/M on each point of b (1/length with a_lengths and
    b_lengths, which may differ per cloud and between a and b).

    Equal sizes (N == M, no lengths) take the one-to-one assignment of the auction algorithm with
    epsilon scaling; other sizes the transportation auction (see pointops.emd_plan). Either way the
    result is within `eps` (relative, default 1e-3) of the optimum, certified per cloud by the
    duality gap. Cost is the Euclidean distance, or its square with squared=True.
    point_reduction "mean" (the EMD), "sum" (N times it, per cloud) or None ([B, N]: each a point's
    share, whose mean over the cloud is the EMD); batch_reduction "mean", "sum" or None.
    With return_assignment=True returns (distance, assignment [B, N] int32) and needs equal sizes.
    Gradients flow to a and b with the assignment or plan held constant.
    """
    return _emd.emd(emd_match, _transport, _emd_mean, a, b, eps=eps, max_iter=max_iter, squared=squared,
                    point_reduction=point_reduction, batch_reduction=batch_reduction,
                    return_assignment=return_assignment, a_lengths=a_lengths, b_lengths=b_lengths)
