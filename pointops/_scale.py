"""Scale safety for the pure-TF path, by the kernels' rule (csrc/core/common/pair_scale.h): a cloud pair
whose largest coordinate lies outside a window around 1 is searched on copies scaled by an exact power
of two, so that squared differences neither underflow nor overflow; indices and assignments do not
change under such a scaling, and values computed on the copies are scaled back."""
import tensorflow as tf

_WINDOW = {tf.float32: 30, tf.float64: 250}  # as pair_scale_exponent's


def pair_exponent(a, b, a_lengths, b_lengths):
    """k [B] (float64) to scale each pair of a [B, N, D] and b [B, M, D] by 2^-k: 0 for a pair inside the
    window, with a non-finite coordinate or all zeros, else about log2 of its largest |coordinate|."""
    def largest(points, lengths):
        valid = tf.sequence_mask(lengths, tf.shape(points)[1])[..., None]
        values = tf.abs(tf.cast(tf.where(valid, points, tf.zeros_like(points)), tf.float64))
        return tf.reduce_max(values, axis=[1, 2])  # NaN is ignored by max: checked below
    def finite(points, lengths):
        valid = tf.sequence_mask(lengths, tf.shape(points)[1])[..., None]
        return tf.reduce_all(tf.math.is_finite(tf.where(valid, points, tf.zeros_like(points))), axis=[1, 2])
    magnitude = tf.maximum(largest(a, a_lengths), largest(b, b_lengths))
    usable = finite(a, a_lengths) & finite(b, b_lengths) & (magnitude > 0)
    exponent = tf.floor(tf.math.log(tf.where(usable, magnitude, 1.0)) / tf.math.log(tf.constant(2.0, tf.float64)))
    outside = tf.abs(exponent) > _WINDOW[a.dtype.base_dtype]
    return tf.where(usable & outside, exponent, tf.zeros_like(exponent))


def ldexp(x, k):
    """x [B, ...] times 2^k[b] per batch element (k [B] float64 integers), exactly where the result is a
    normal number: two factors of half the exponent each, so that neither leaves float64's range."""
    k = tf.reshape(k, [-1] + [1] * (x.shape.rank - 1))
    half = tf.floor(k / 2)
    two = tf.constant(2.0, tf.float64)
    return tf.cast(tf.cast(x, tf.float64) * tf.pow(two, half) * tf.pow(two, k - half), x.dtype)
