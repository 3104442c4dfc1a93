"""knn: the k nearest neighbours on the compiled kernels (PointopsKnn). The gradient is taken in
TensorFlow from the indices, through distances recomputed as differentiable ops."""
import tensorflow as tf

from pointops import _backend, _inputs, _knn_args, reference


def knn(a, b, k, a_lengths=None, b_lengths=None, *, norm=2):
    """The k nearest points of b for every point of a.

    a: [B, N, D], b: [B, M, D] (D in 1..8; float16, bfloat16, float32 or float64); a_lengths,
    b_lengths: optional [B] ints in [0, N] and [0, M] for padded batches (0: an empty cloud).
    norm 2 ranks by squared Euclidean distance, 1 by L1 distance.
    Returns (dists [B, N, k] ascending, in the input dtype; idx [B, N, k] int32). Ties go to the lower
    index. Where a cloud of b has fewer than k points, the entries past them are 0 and -1; a padded
    point of a gets 0 and -1 in every entry. Gradients flow to a and b through dists (with the
    indices held), as in nn_distance.
    """
    ops = _backend.compiled_ops()
    if ops is None:
        return reference.knn(a, b, k, a_lengths, b_lengths, norm=norm)
    k, norm = _knn_args.check_k_norm("knn", k, norm)
    a, b, a_len, b_len, dtype = _inputs.prepare("knn", a, b, a_lengths, b_lengths)
    with _backend.kernel_device():
        dist, idx = ops.pointops_knn(a, b, a_len, b_len, k=k, norm=norm)
    return tf.cast(dist, dtype), idx


def knn_gather(x, idx):
    """x [B, M, U] at the indices idx [B, N, k] (from knn) -> [B, N, k, U]; 0 where idx is -1. An index
    outside [-1, M) raises InvalidArgumentError (checked where the function runs eagerly or in a graph;
    XLA drops such checks)."""
    x = tf.convert_to_tensor(x)
    idx = tf.convert_to_tensor(idx)
    with tf.control_dependencies(_inputs.assert_indices("knn_gather", idx, tf.shape(x)[1])):
        gathered = tf.gather(x, tf.maximum(idx, 0), batch_dims=1)
    return tf.where((idx >= 0)[..., None], gathered, tf.zeros_like(gathered))


@tf.RegisterGradient("PointopsKnn")
def _knn_grad(op, grad_dist, _grad_idx):
    a, b = op.inputs[0], op.inputs[1]
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        total = tf.reduce_sum(grad_dist * reference.distance_to_neighbours(a, b, op.outputs[1], op.get_attr("norm")))
    grad_a, grad_b = tape.gradient(total, [a, b])
    return grad_a, grad_b, None, None
