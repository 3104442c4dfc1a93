"""Bad input gets a clear error naming the argument and the shapes, never a crash."""
import re

import numpy as np
import pytest
import tensorflow as tf

import pointops

BACKENDS = [pointops.nn_distance, pointops.reference.nn_distance]


@pytest.mark.parametrize("nn", BACKENDS)
@pytest.mark.parametrize("a_shape,b_shape,words", [
    ((5, 3), (1, 5, 3), "a must have rank 3"),
    ((1, 5, 3), (1, 5, 3, 1), "b must have rank 3"),
    ((1, 5, 3), (1, 5, 2), "same point dimension D"),
    ((2, 5, 3), (3, 5, 3), "same batch size"),
    ((1, 5, 0), (1, 5, 0), "D must be in [1, 8]"),
    ((1, 5, 9), (1, 5, 9), "D must be in [1, 8]"),
    ((1, 0, 3), (1, 5, 3), "must not be empty"),
])
def test_bad_shapes(nn, a_shape, b_shape, words):
    with pytest.raises(ValueError) as err:
        nn(np.zeros(a_shape, np.float32), np.ones(b_shape, np.float32))
    assert words in str(err.value)
    assert str(list(a_shape)) in str(err.value) or str(list(b_shape)) in str(err.value)


@pytest.mark.parametrize("nn", BACKENDS)
@pytest.mark.parametrize("lengths,words", [
    ([0, 5], "a_lengths"),
    ([5, 6], "a_lengths"),
    ([-1, 2], "a_lengths"),
    ([5], "a_lengths"),
])
def test_bad_lengths(nn, lengths, words):
    a = np.zeros((2, 5, 3), np.float32)
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)) as err:
        nn(a, a + 1, a_lengths=np.array(lengths, np.int32))
    assert words in str(err.value)


@pytest.mark.parametrize("a_shape,b_shape,words", [
    ((5, 3), (1, 5, 3), "rank 3"),
    ((1, 5, 3), (1, 5, 2), "same point dimension D"),
    ((1, 0, 3), (1, 5, 3), "must not be empty"),
    ((1, 5, 9), (1, 5, 9), "D must be in [1, 8]"),
])
def test_chamfer_mean_op_checks_its_inputs(a_shape, b_shape, words):
    """The fused op behind chamfer_distance's default, called directly (it is internal, but reachable)."""
    ops = pointops._backend.compiled_ops()
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=re.escape(words)):
        ops.pointops_chamfer_mean(np.zeros(a_shape, np.float32), np.ones(b_shape, np.float32))


def test_unknown_shapes_checked_at_run_time():
    spec = tf.TensorSpec([None, None, None], tf.float32)
    fn = tf.function(pointops.nn_distance, input_signature=[spec, spec])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"same point dimension D, got a \[1, 4, 3\] and b \[1, 4, 2\]"):
        fn(np.zeros((1, 4, 3), np.float32), np.zeros((1, 4, 2), np.float32))


def test_sizes_past_int32_rejected_before_allocation():
    fn = tf.function(pointops.nn_distance)
    with pytest.raises(ValueError, match="below 2\\^31"):
        fn.get_concrete_function(tf.TensorSpec([4, 2**30, 3], tf.float32), tf.TensorSpec([4, 8, 3], tf.float32))


def test_bad_dtype_and_options():
    with pytest.raises(TypeError, match="float16, bfloat16, float32 or float64"):
        pointops.nn_distance(np.zeros((1, 3, 2), np.int32), np.zeros((1, 3, 2), np.int32))
    with pytest.raises(TypeError, match="same dtype"):
        pointops.nn_distance(np.zeros((1, 3, 2), np.float32), np.zeros((1, 3, 2), np.float64))
    a = np.zeros((1, 3, 2), np.float32)
    with pytest.raises(ValueError, match="direction"):
        pointops.chamfer_distance(a, a, direction="up")
    with pytest.raises(ValueError, match="point_reduction"):
        pointops.chamfer_distance(a, a, point_reduction="median")
    with pytest.raises(ValueError, match="point_reduction"):
        pointops.emd(a, a, point_reduction="max")
    with pytest.raises(ValueError, match="norm"):
        pointops.chamfer_distance(a, a, norm=1, squared=False)
    with pytest.raises(ValueError, match="both a_normals and b_normals"):
        pointops.chamfer_distance(a, a, a_normals=a)
    with pytest.raises(ValueError, match="max"):
        pointops.chamfer_distance(a, a, a_normals=a, b_normals=a, point_reduction="max")
    with pytest.raises(ValueError, match="weights cannot be negative"):
        pointops.chamfer_distance(a, a, weights=[-1.0])
    with pytest.raises(ValueError, match="weights must have shape"):
        pointops.chamfer_distance(a, a, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="algorithm"):
        pointops.nn_distance(a, a, algorithm="fast")
