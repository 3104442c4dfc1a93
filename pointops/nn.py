"""nn_distance and chamfer_distance on the compiled kernels, with their registered gradients."""
import tensorflow as tf

from pointops import _backend, _chamfer, _density, _inputs, reference
from pointops.knn import knn


def nn_distance(a, b, a_lengths=None, b_lengths=None, *, algorithm="auto"):
    """Nearest neighbour of every point in the other set, both ways.

    a: [B, N, D], b: [B, M, D] (D in 1..8; float16, bfloat16, float32 or float64);
    a_lengths, b_lengths: optional [B] ints for padded batches (points past them are ignored).
    Returns (dist_ab [B, N], idx_ab [B, N] int32, dist_ba [B, M], idx_ba [B, M] int32): squared
    Euclidean distances (in the input dtype) and neighbour indices; padded points get 0 and -1.
    Ties go to the lowest index. A NaN coordinate gives NaN distances (NaN in, NaN out).
    Gradients flow to a and b through the distances. `algorithm` ("auto", "brute", "tree") picks
    the CPU search and never changes the result.
    """
    return _nearest(a, b, a_lengths, b_lengths, True, algorithm)


def _nearest(a, b, a_lengths, b_lengths, squared, algorithm="auto"):
    """nn_distance with squared (True) or Euclidean (False) distances, for chamfer_distance and f_score. The
    CPU kernel computes Euclidean distances itself, right at any scale (csrc/core/common/pair_scale.h); the
    CUDA kernels have squared ones only (not yet scaled), whose square roots are taken here."""
    ops = _backend.compiled_ops()
    if ops is None:
        return reference.nearest(a, b, a_lengths, b_lengths, squared, algorithm)
    code = _inputs.nn_algorithm(algorithm)
    a, b, a_len, b_len, dtype = _inputs.prepare("nn_distance", a, b, a_lengths, b_lengths)
    kernel_squared = squared or not _backend.kernels_run_on_cpu()
    with _backend.kernel_device():
        dist_ab, idx_ab, dist_ba, idx_ba = ops.pointops_nn_distance(a, b, a_len, b_len, algorithm=code,
                                                                    squared=kernel_squared)
    if kernel_squared and not squared:
        dist_ab, dist_ba = _chamfer.safe_sqrt(dist_ab), _chamfer.safe_sqrt(dist_ba)
    return tf.cast(dist_ab, dtype), idx_ab, tf.cast(dist_ba, dtype), idx_ba


def _chamfer_mean(a, b):
    """chamfer_distance's default on full clouds, mean_i min_j |a_i - b_j|^2 + mean_j min_i, both
    means over the whole batch, as one op (PointopsChamferMean, summed in double). None where it does
    not apply: no compiled library, kernels on a GPU (the op has only a CPU kernel), or half inputs
    (whose distances the other path rounds to the input dtype before the means)."""
    ops = _backend.compiled_ops()
    if ops is None or not _backend.kernels_run_on_cpu():
        return None
    a, b, dtype = _inputs.prepare_points("nn_distance", a, b)
    if dtype != a.dtype:
        return None
    with _backend.kernel_device():
        return ops.pointops_chamfer_mean(a, b)[0]


def chamfer_distance(a, b, *, squared=True, direction="bi", point_reduction="mean", batch_reduction="mean",
                     a_lengths=None, b_lengths=None, norm=2, weights=None, a_normals=None, b_normals=None,
                     abs_cosine=True):
    """Chamfer distance between a [B, N, D] and b [B, M, D].

    The default is mean_i min_j |a_i - b_j|^2 + mean_j min_i |a_i - b_j|^2, averaged over the
    batch. squared=False uses Euclidean distances (CD-L1); norm=1 the L1 distance |a_i - b_j|_1
    (PyTorch3D's norm=1). direction "a_to_b" or "b_to_a" gives one side. point_reduction "mean"
    (over valid points), "sum", "max" (the larger side's largest distance: with squared=False the
    Hausdorff distance) or None ([B, N] per point; with direction "bi" a pair (a side, b side));
    batch_reduction "mean", "sum" or None ([B]). weights [B] >= 0 scale each cloud's value, and the
    batch mean is then divided by their sum (PyTorch3D's rule).

    With a_normals [B, N, U] and b_normals [B, M, U] the result is a pair (chamfer, normals): the
    second is 1 - |cos| of the angle between each point's normal and its nearest neighbour's
    (1 - cos with abs_cosine=False), reduced like the first (not with "max").
    """
    return _chamfer.chamfer_distance(
        _nearest, knn, _chamfer_mean, a, b, squared=squared, direction=direction, point_reduction=point_reduction,
        batch_reduction=batch_reduction, a_lengths=a_lengths, b_lengths=b_lengths, norm=norm, weights=weights,
        a_normals=a_normals, b_normals=b_normals, abs_cosine=abs_cosine)


def density_aware_chamfer(a, b, alpha=1000.0, n_lambda=1.0, *, batch_reduction="mean", a_lengths=None,
                          b_lengths=None):
    """Density-aware Chamfer distance (Wu et al., NeurIPS 2021) between a [B, N, D] (prediction)
    and b [B, M, D] (ground truth), in [0, 1]; per cloud

        1/2 (mean_i [1 - exp(-alpha d_i) (N/M) / n(j_i)^lambda] + the same from b to a),

    d_i the squared distance from a_i to its nearest neighbour j_i in b (as in the authors' code),
    n(j) how many points of a have j as nearest neighbour (no gradient). batch_reduction "mean",
    "sum" or None ([B]).
    """
    return _density.density_aware_chamfer(_nearest, a, b, alpha, n_lambda, batch_reduction=batch_reduction,
                                          a_lengths=a_lengths, b_lengths=b_lengths)


def f_score(a, b, threshold=0.01, *, a_lengths=None, b_lengths=None):
    """F-score at `threshold` between a prediction a [B, N, D] and a ground truth b [B, M, D]:
    precision = share of a's points within threshold (Euclidean) of b, recall = share of b's
    points within threshold of a, F = 2PR / (P + R) (0 when both are 0). Returns
    (f_score, precision, recall), each [B]. The threshold must be finite and >= 0."""
    return _density.f_score(_nearest, a, b, threshold, a_lengths=a_lengths, b_lengths=b_lengths)


@tf.RegisterGradient("PointopsNnDistance")
def _nn_distance_grad(op, grad_dist_ab, _grad_idx_ab, grad_dist_ba, _grad_idx_ba):
    a, b = op.inputs[0], op.inputs[1]
    grad_dist_ab = tf.zeros_like(op.outputs[0]) if grad_dist_ab is None else grad_dist_ab
    grad_dist_ba = tf.zeros_like(op.outputs[2]) if grad_dist_ba is None else grad_dist_ba
    with _backend.kernel_device():
        grad_a, grad_b = _backend.loaded_library().pointops_nn_distance_grad(
            a, b, op.outputs[1], op.outputs[3], grad_dist_ab, grad_dist_ba, squared=op.get_attr("squared"))
    return grad_a, grad_b, None, None


def _weight_of_every_point(idx, grad):
    """grad / idx's size in every entry of idx's shape: d(mean over all points) / d(each distance)."""
    if idx.shape.is_fully_defined():  # eager code: 2 small ops instead of 5
        size = idx.shape.num_elements()
        return tf.fill(idx.shape, grad * (1 / size)) if size else tf.zeros(idx.shape, grad.dtype)
    return tf.fill(tf.shape(idx), grad / tf.cast(tf.size(idx), grad.dtype))


@tf.RegisterGradient("PointopsChamferMean")
def _chamfer_mean_grad(op, grad, _grad_idx_ab, _grad_idx_ba):
    """The op's value is sum(dist_ab) / (B N) + sum(dist_ba) / (B M): nn_distance's gradient with
    those weights on every point."""
    a, b = op.inputs
    idx_ab, idx_ba = op.outputs[1], op.outputs[2]
    with _backend.kernel_device():
        return _backend.loaded_library().pointops_nn_distance_grad(
            a, b, idx_ab, idx_ba, _weight_of_every_point(idx_ab, grad), _weight_of_every_point(idx_ba, grad))


def _grad_in_tf(a, b, idx_ab, idx_ba, g_ab, g_ba, squared):
    """What PointopsNnDistanceGrad computes, in differentiable TF ops."""
    distance_to = reference.squared_distance_to if squared else _chamfer.euclidean_to
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        total = (tf.reduce_sum(_inputs.widen(g_ab) * _inputs.widen(distance_to(a, b, idx_ab)))
                 + tf.reduce_sum(_inputs.widen(g_ba) * _inputs.widen(distance_to(b, a, idx_ba))))
    return tape.gradient(total, [a, b])


@tf.RegisterGradient("PointopsNnDistanceGrad")
def _nn_distance_grad_grad(op, grad_grad_a, grad_grad_b):
    """Second order: differentiate the TF expression of the gradient op."""
    a, b, idx_ab, idx_ba, g_ab, g_ba = op.inputs
    with tf.GradientTape() as tape:
        tape.watch([a, b, g_ab, g_ba])
        grad_a, grad_b = _grad_in_tf(a, b, idx_ab, idx_ba, g_ab, g_ba, op.get_attr("squared"))
    d_a, d_b, d_g_ab, d_g_ba = tape.gradient(
        [grad_a, grad_b], [a, b, g_ab, g_ba],
        output_gradients=[tf.zeros_like(a) if grad_grad_a is None else grad_grad_a,
                          tf.zeros_like(b) if grad_grad_b is None else grad_grad_b])
    return d_a, d_b, None, None, d_g_ab, d_g_ba
