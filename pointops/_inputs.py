"""Argument checks and dtype handling shared by every public function (compiled and reference).

Static problems (ranks, D, batch) raise ValueError when the shapes are known; what only the
values can show (lengths) is checked by the compiled op, or by assertions on the reference path.
Half types (float16, bfloat16) are computed in float32 and the results cast back.
"""
import tensorflow as tf

MAX_DIM = 8
INT32_MAX = 2**31 - 1
_COMPUTE_DTYPE = {tf.float16: tf.float32, tf.bfloat16: tf.float32, tf.float32: tf.float32,
                  tf.float64: tf.float64}


def _static_shape_error(op, a_shape, b_shape, equal_sizes):
    sa, sb = a_shape.as_list() if a_shape.rank is not None else None, b_shape.as_list() if b_shape.rank is not None else None
    shapes = f"got a {sa} and b {sb}"
    if sa is not None and len(sa) != 3:
        return f"{op}: a must have rank 3 [B, N, D], {shapes}"
    if sb is not None and len(sb) != 3:
        return f"{op}: b must have rank 3 [B, M, D], {shapes}"
    if sa is None or sb is None:
        return None
    (ba, n, da), (bb, m, db) = sa, sb
    if None not in (ba, bb) and ba != bb:
        return f"{op}: a and b must have the same batch size, {shapes}"
    if None not in (da, db) and da != db:
        return f"{op}: a and b must have the same point dimension D, {shapes}"
    if da is not None and not 1 <= da <= MAX_DIM:
        return f"{op}: point dimension D must be in [1, {MAX_DIM}], {shapes}"
    if (n is not None and n < 1) or (m is not None and m < 1):
        return f"{op}: point sets must not be empty, {shapes}"
    if equal_sizes and None not in (n, m) and n != m:
        return f"{op}: EMD here needs equal sizes N == M (a one-to-one assignment), {shapes}"
    batch = ba if ba is not None else bb
    if batch is not None and max(n or 0, m or 0) * batch > INT32_MAX - 1024:
        return f"{op}: B * N and B * M must be below 2^31 - 1024, {shapes}"
    return None


def prepare(op, a, b, a_lengths=None, b_lengths=None, equal_sizes=False):
    """(a, b, a_lengths, b_lengths, result_dtype) ready for a kernel: float32/float64 tensors,
    int32 lengths [B] (full sizes where None)."""
    a, b, result_dtype = prepare_points(op, a, b, equal_sizes)
    a_lengths = _lengths(op, "a_lengths", a_lengths, a)
    b_lengths = _lengths(op, "b_lengths", b_lengths, b)
    return a, b, a_lengths, b_lengths, result_dtype


def prepare_points(op, a, b, equal_sizes=False):
    """(a, b, result_dtype): the point sets checked and as float32/float64 tensors."""
    a = tf.convert_to_tensor(a)
    b = tf.convert_to_tensor(b)
    if a.dtype not in _COMPUTE_DTYPE:
        raise TypeError(f"{op}: a must be float16, bfloat16, float32 or float64, got {a.dtype.name}")
    if b.dtype != a.dtype:
        raise TypeError(f"{op}: a and b must have the same dtype, got {a.dtype.name} and {b.dtype.name}")
    error = _static_shape_error(op, a.shape, b.shape, equal_sizes)
    if error:
        raise ValueError(error)
    result_dtype = a.dtype
    return tf.cast(a, _COMPUTE_DTYPE[a.dtype]), tf.cast(b, _COMPUTE_DTYPE[b.dtype]), result_dtype


def widen(x):
    """x in the dtype its sums and counts need: float64. float16's largest value, 65504, is below the
    point counts users have, and float32's sums of distances near its largest value overflow, or their
    terms divided by the count underflow (TensorFlow flushes subnormal numbers to zero), where the mean
    itself is representable."""
    return tf.cast(x, tf.float64)


def full_lengths(points, dtype=tf.int32):
    """[B] filled with N, the lengths of unpadded points [B, N, ...], in dtype. A constant when the
    shape is static: in eager code that is one small tensor instead of four ops (tf.shape, two
    slices, tf.fill), which cost more than the kernel itself on small clouds."""
    batch, size = points.shape[0], points.shape[1]
    if batch is not None and size is not None:
        return tf.constant([size] * batch, dtype)
    shape = tf.shape(points)
    return tf.cast(tf.fill(shape[:1], shape[1]), dtype)


def _lengths(op, name, lengths, points):
    if lengths is None:
        return full_lengths(points)
    lengths = tf.convert_to_tensor(lengths)
    if not lengths.dtype.is_integer:
        raise TypeError(f"{op}: {name} must be integers, got {lengths.dtype.name}")
    if lengths.shape.rank is not None and lengths.shape.rank != 1:
        raise ValueError(f"{op}: {name} must have shape [B], got {lengths.shape.as_list()} "
                         f"for points of shape {points.shape.as_list()}")
    if lengths.shape.rank == 1 and None not in (lengths.shape[0], points.shape[0]) \
            and lengths.shape[0] != points.shape[0]:
        # Known here; in a graph TF's shape inference would otherwise fail later, on an op that names neither.
        raise ValueError(f"{op}: {name} must have shape [B] = [{points.shape[0]}], got {lengths.shape.as_list()} "
                         f"for points of shape {points.shape.as_list()}")
    if lengths.dtype.size > 4 or lengths.dtype == tf.uint32:
        # Saturate instead of wrapping: 2**32 + 5 must stay out of range, not become 5.
        lengths = tf.cast(tf.clip_by_value(tf.cast(lengths, tf.float64), -1.0, float(INT32_MAX)), tf.int64)
    return tf.cast(lengths, tf.int32)


def assert_lengths(op, points, lengths, name, minimum=1):
    """Run-time check of lengths for the reference path (the compiled op checks its own)."""
    shape = tf.shape(points)
    return [
        tf.debugging.assert_equal(tf.shape(lengths)[0], shape[0],
                                  message=f"{op}: {name} must have shape [B]"),
        tf.debugging.assert_greater_equal(lengths, minimum, message=f"{op}: {name} must be >= {minimum}"),
        tf.debugging.assert_less_equal(lengths, shape[1],
                                       message=f"{op}: {name} must be <= the padded size"),
    ]


def assert_indices(op, idx, limit, lowest=-1):
    """Run-time checks that indices idx are in [lowest, limit) (pointops: -1 marks no neighbour), as a
    list of control dependencies; an index outside would select another cloud's point or nothing at all."""
    message = f"{op}: idx must be in [{lowest}, M), M being the number of points it indexes"
    return [tf.debugging.assert_greater_equal(idx, tf.constant(lowest, idx.dtype), message=message),
            tf.debugging.assert_less(idx, tf.cast(limit, idx.dtype), message=message)]


# NnAlgorithm in csrc/core/nn/nn.h: the CPU kernel's search, which never changes the result.
NN_ALGORITHMS = {"auto": 0, "brute": 1, "tree": 2}


def nn_algorithm(algorithm):
    """nn_distance's `algorithm` as the kernel's number, checked (both paths take it)."""
    if algorithm not in NN_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {tuple(NN_ALGORITHMS)}, got {algorithm!r}")
    return NN_ALGORITHMS[algorithm]


def check_parameter(op, name, value, allow_zero):
    """A Python or numpy number must be finite and > 0 (>= 0 with allow_zero); a tensor is checked
    when it runs. Returns the value or the tensor with its check attached."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = tf.convert_to_tensor(value)
        check = (tf.debugging.assert_non_negative if allow_zero else tf.debugging.assert_positive)(
            value, message=f"{op}: {name} must be {'>= 0' if allow_zero else '> 0'}")
        with tf.control_dependencies([check]):
            return tf.identity(value)
    number = float(value)
    if not (number >= 0 if allow_zero else number > 0) or number == float("inf"):
        raise ValueError(f"{op}: {name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return number


def parameter_tensor(value, dtype):
    """check_parameter's result as a tensor of dtype. A Python number goes straight to dtype: tf.cast
    would first make it a float32 tensor, in which 1e-169 is 0 and 1e40 is inf."""
    return tf.cast(value, dtype) if isinstance(value, tf.Tensor) else tf.constant(value, dtype)
