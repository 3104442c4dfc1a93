"""Scale safety for the pure-TF path, by the kernels' rule (csrc/core/common/pair_scale.h): a cloud pair
whose largest coordinate lies outside a window around 1 is searched on copies scaled by an exact power
of two, so that squared differences neither underflow nor overflow; indices and assignments do not
change under such a scaling, and values computed on the copies are scaled back."""
import tensorflow as tf

_WINDOW = {tf.float32: 30, tf.float64: 250}  # as pair_scale_exponent's


def pair_exponent(a, b, a_lengths, b_lengths):
    """k [B] (float64) to scale each pair of a [B, N, D] and b [B, M, D] by 2^-k: 0 for a pair inside the
    window, with a non-finite coordinate or all zeros, else about log2 of its largest |coordinate|."""
    def largest_and_finite(points, lengths):
        """The largest |valid coordinate| of each cloud (float64) and whether all of them are finite."""
        valid = tf.sequence_mask(lengths, tf.shape(points)[1])[..., None]
        values = tf.where(valid, points, tf.zeros_like(points))
        largest = tf.reduce_max(tf.abs(tf.cast(values, tf.float64)), axis=[1, 2])  # NaN is ignored by max
        return largest, tf.reduce_all(tf.math.is_finite(values), axis=[1, 2])
    (a_largest, a_finite), (b_largest, b_finite) = largest_and_finite(a, a_lengths), largest_and_finite(b, b_lengths)
    magnitude = tf.maximum(a_largest, b_largest)
    usable = a_finite & b_finite & (magnitude > 0)
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
