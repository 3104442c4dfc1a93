"""Under XLA (tf.function(jit_compile=True)) pointops runs the same compiled kernels through its XLA
lowerings (csrc/tf/xla/): what the kernels compute is bit-identical to the same call without XLA, values
and gradients agree (bit for bit where pointops' own op does the reduction), the HLO holds the custom
call and no [B, N, M] tensor, and no fallback warning is given. The oracle is the call without XLA,
which the rest of the suite checks against scipy, numpy and finite differences."""
import re
import warnings

import numpy as np
import pytest
import tensorflow as tf

import pointops
from pointops.compat import pytorch3d as p3d
from pointops.compat import tf_approxmatch, tf_auctionmatch, tf_nndistance

LENGTHS_A, LENGTHS_B = [40, 7, 31], [33, 20, 1]

# name -> (function of (a, b, c, la, lb), whether all its outputs are kernel outputs or pointops' own reductions
# (then bit-identical), else values reduced by TF ops around the kernels, which XLA may order differently).
CASES = {
    "nn_distance": (lambda a, b, c, la, lb: pointops.nn_distance(a, b, la, lb), True),
    "chamfer_default": (lambda a, b, c, la, lb: pointops.chamfer_distance(a, b), True),
    "chamfer_l1_ragged": (lambda a, b, c, la, lb: pointops.chamfer_distance(a, b, squared=False, a_lengths=la,
                                                                           b_lengths=lb), False),
    "chamfer_norm1": (lambda a, b, c, la, lb: pointops.chamfer_distance(a, b, norm=1), False),
    "hausdorff": (lambda a, b, c, la, lb: pointops.chamfer_distance(a, b, point_reduction="max", squared=False), False),
    "chamfer_none": (lambda a, b, c, la, lb: pointops.chamfer_distance(a, b, point_reduction=None,
                                                                      batch_reduction=None), True),
    "density_aware": (lambda a, b, c, la, lb: pointops.density_aware_chamfer(a, b, alpha=10.0), False),
    "f_score": (lambda a, b, c, la, lb: pointops.f_score(a, b, 0.1), False),
    "knn": (lambda a, b, c, la, lb: pointops.knn(a, b, 4, la, lb), True),
    "emd_default": (lambda a, b, c, la, lb: pointops.emd(a, c), True),
    "emd_ragged": (lambda a, b, c, la, lb: pointops.emd(a, c, a_lengths=la, b_lengths=la), False),
    "emd_n_ne_m": (lambda a, b, c, la, lb: pointops.emd(a, b), False),
    "emd_match": (lambda a, b, c, la, lb: pointops.emd_match(a, c, a_lengths=la, b_lengths=la), True),
    "emd_plan": (lambda a, b, c, la, lb: pointops.emd_plan(a, b, a_lengths=la, b_lengths=lb), True),
    "tf_nndistance": (lambda a, b, c, la, lb: tf_nndistance.nn_distance(a, b), True),
    "tf_approxmatch": (lambda a, b, c, la, lb: tf_approxmatch.match_cost(a, b, tf_approxmatch.approx_match(a, b)),
                       False),
    "tf_auctionmatch": (lambda a, b, c, la, lb: tf_auctionmatch.auction_match(a, c), True),
    "pytorch3d_chamfer": (lambda a, b, c, la, lb: p3d.chamfer_distance(a, b, x_lengths=la, y_lengths=lb)[0], False),
    "pytorch3d_knn": (lambda a, b, c, la, lb: p3d.knn_points(a, b, lengths1=la, lengths2=lb, K=3)[:2], True),
}
RTOL = {tf.float32: 1e-6, tf.float64: 1e-12}


def clouds(rng, dtype, batch=3):
    np_dtype = dtype.as_numpy_dtype
    a, b, c = (tf.constant(rng.random((batch, n, 3)).astype(np_dtype)) for n in (40, 33, 40))
    return a, b, c, tf.constant(LENGTHS_A[:batch], tf.int32), tf.constant(LENGTHS_B[:batch], tf.int32)


def flat(outputs):
    return [x.numpy() for x in tf.nest.flatten(outputs) if x is not None]


def assert_agree(with_xla, without, exact, rtol):
    assert len(with_xla) == len(without)
    for x, y in zip(with_xla, without):
        assert x.dtype == y.dtype and x.shape == y.shape
        if exact or not np.issubdtype(x.dtype, np.floating):
            np.testing.assert_array_equal(x, y)
        else:
            # rtol of each element, or of the array's largest one: a gradient summed from terms that cancel
            # (density-aware Chamfer's) has small elements with fewer correct digits than the rest.
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.nanmax(np.abs(y), initial=0))


def no_fallback_warning(caught):
    return not [w for w in caught if "pointops" in str(w.message)]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_agree_with_and_without_xla(rng, name, dtype):
    fn, exact = CASES[name]
    args = clouds(rng, dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with_xla = flat(tf.function(fn, jit_compile=True)(*args))
    assert no_fallback_warning(caught)
    assert_agree(with_xla, flat(fn(*args)), exact, RTOL[dtype])


GRADIENT_CASES = ["chamfer_default", "chamfer_l1_ragged", "chamfer_norm1", "hausdorff", "chamfer_none", "density_aware",
                  "knn", "emd_default", "emd_ragged", "emd_n_ne_m", "tf_nndistance", "tf_approxmatch",
                  "pytorch3d_chamfer"]


def value_and_gradients(fn, a, b, c, la, lb):
    with tf.GradientTape() as tape:
        tape.watch([a, b, c])
        out = [x for x in tf.nest.flatten(fn(a, b, c, la, lb)) if x is not None and x.dtype.is_floating]
        total = tf.add_n([tf.reduce_sum(x * tf.cast(k + 1, x.dtype)) for k, x in enumerate(out)])
    return [total] + [g if g is not None else tf.zeros_like(v) for g, v in zip(tape.gradient(total, [a, b, c]), [a, b, c])]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", GRADIENT_CASES)
def test_gradients_agree_with_and_without_xla(rng, name, dtype):
    fn = CASES[name][0]
    args = clouds(rng, dtype)
    with_xla = tf.function(lambda *x: value_and_gradients(fn, *x), jit_compile=True)(*args)
    without = value_and_gradients(fn, *args)
    # The gradient ops are ours (bit-identical), but the sums around them are TF's: within rtol.
    assert_agree(flat(with_xla), flat(without), False, RTOL[dtype])
    assert any(np.abs(g.numpy()).max() > 0 for g in with_xla[1:])


def test_default_means_are_bit_identical_and_their_gradients_agree(rng):
    """chamfer_distance's and emd's defaults are one op each, their own reduction in double: the same bits.
    Their gradients are our gradient op (Chamfer) or TF's gathers (EMD) around a weight TF computes."""
    a, _, c, _, _ = clouds(rng, tf.float32)
    for fn in (pointops.chamfer_distance, pointops.emd):
        def step(a, c):
            with tf.GradientTape() as tape:
                tape.watch([a, c])
                value = fn(a, c)
            return [value] + tape.gradient(value, [a, c])
        with_xla, without = flat(tf.function(step, jit_compile=True)(a, c)), flat(step(a, c))
        assert_agree(with_xla[:1], without[:1], True, 0)
        assert_agree(with_xla[1:], without[1:], False, RTOL[tf.float32])


@pytest.mark.parametrize("name", ["nn_distance", "chamfer_default", "knn", "emd_default", "emd_plan", "emd_n_ne_m"])
def test_unknown_batch_and_point_counts(rng, name):
    fn, exact = CASES[name]
    spec = tf.TensorSpec([None, None, 3], tf.float32)
    lengths = tf.TensorSpec([None], tf.int32)
    jitted = tf.function(fn, jit_compile=True, input_signature=[spec, spec, spec, lengths, lengths])
    for batch in (3, 2):
        args = clouds(rng, tf.float32, batch)
        assert_agree(flat(jitted(*args)), flat(fn(*args)), exact, RTOL[tf.float32])


@pytest.mark.parametrize("name", ["nn_distance", "chamfer_none", "knn", "emd_match", "emd_plan", "chamfer_default",
                                  "emd_default"])
def test_empty_batch(rng, name):
    fn = CASES[name][0]
    args = clouds(rng, tf.float64, 0)
    with_xla, without = flat(tf.function(fn, jit_compile=True)(*args)), flat(fn(*args))
    for x, y in zip(with_xla, without):
        assert x.shape == y.shape
        np.testing.assert_array_equal(x, y)  # the means of nothing are NaN on both


def compiled_hlo(fn, *args):
    return tf.function(fn, jit_compile=True).experimental_get_compiler_ir(*args)(stage="hlo")


@pytest.mark.parametrize("name,target", [("chamfer_default", "pointops_chamfer_mean"),
                                         ("chamfer_l1_ragged", "pointops_nn_distance"),
                                         ("emd_default", "pointops_emd_mean"), ("emd_n_ne_m", "pointops_emd_transport"),
                                         ("knn", "pointops_knn")])
def test_hlo_holds_the_custom_call_and_no_pairwise_tensor(rng, name, target):
    fn = CASES[name][0]
    a, b, c, la, lb = clouds(rng, tf.float32)

    def step(a, b, c):
        with tf.GradientTape() as tape:
            tape.watch([a, b, c])
            value = tf.add_n([tf.reduce_sum(x) for x in tf.nest.flatten(fn(a, b, c, la, lb)) if x.dtype.is_floating])
        return tape.gradient(value, [a, b, c], unconnected_gradients="zero")

    hlo = compiled_hlo(step, a, b, c)
    assert f'custom_call_target="{target}"' in hlo
    for n, m in ((40, 33), (33, 40), (40, 40)):
        assert not re.search(rf"\[3,{n},{m}(,\d+)?\]", hlo), f"a [B, {n}, {m}] tensor in the HLO"


def test_lengths_out_of_range_fail_at_run_time_naming_them(rng):
    a, b, _, la, _ = clouds(rng, tf.float32)
    jitted = tf.function(lambda a, b, la, lb: pointops.nn_distance(a, b, la, lb), jit_compile=True)
    with pytest.raises(tf.errors.OpError, match=r"b_lengths\[2\] = 34 is outside \[1, 33\]"):
        jitted(a, b, la, tf.constant([33, 20, 34]))
    emd = tf.function(lambda a, b, la, lb: pointops.emd_match(a, b, a_lengths=la, b_lengths=lb), jit_compile=True)
    with pytest.raises(tf.errors.OpError, match=r"a_lengths\[1\] = 7 but b_lengths\[1\] = 8"):
        emd(a, a, la, tf.constant([40, 8, 31]))


def test_overflowing_emd_costs_raise_under_xla():
    big = tf.constant([[[0.0, 0, 0], [3e19, 0, 0]]], tf.float32)
    with pytest.raises(tf.errors.OpError, match="overflow float32"):
        tf.function(lambda a: pointops.emd(a, a[:, ::-1] * 0.5, squared=True), jit_compile=True)(big)


def test_shape_errors_at_lowering_name_the_shapes():
    """The ops' own checks at XLA compile time, where TF's shape inference cannot see the problem (unknown
    dimensions until XLA specialises the function; the Python wrappers check what they can see first)."""
    ops = pointops._backend.loaded_library()
    unknown = tf.TensorSpec([None, None, None], tf.float32)

    def jitted(fn):
        return tf.function(fn, jit_compile=True, input_signature=[unknown, unknown])

    a, nine = tf.zeros([2, 5, 3]), tf.zeros([2, 5, 9])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"D must be in \[1, 8\].*\[2, 5, 9\]"):
        jitted(lambda a, b: ops.pointops_chamfer_mean(a, b)[0])(nine, nine)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"same point dimension D, got a \[2, 5, 3\]"):
        jitted(lambda a, b: ops.pointops_nn_distance(a, b, [5, 5], [5, 5])[0])(a, nine)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"equal sizes N == M.*\[2, 4, 3\]"):
        jitted(lambda a, b: ops.pointops_emd_match(a, b, [5, 5], [4, 4])[1])(a, tf.zeros([2, 4, 3]))


def test_pairwise_chamfer_op_under_xla(rng):
    ops = pointops._backend.loaded_library()
    x = tf.constant(rng.random((4, 30, 3)).astype(np.float32))
    y = tf.constant(rng.random((3, 20, 3)).astype(np.float32))
    lx, ly = tf.constant([30, 12, 30, 1]), tf.constant([20, 20, 5])
    for args, symmetric in (((x, y, lx, ly), False), ((x, x, lx, lx), True)):
        fn = lambda *v: ops.pointops_pairwise_chamfer(*v, symmetric=symmetric)  # noqa: E731
        np.testing.assert_array_equal(tf.function(fn, jit_compile=True)(*args).numpy(), fn(*args).numpy())


def test_xla_for_a_gpu_without_cuda_kernels_falls_back_and_says_why(rng, monkeypatch):
    """The one place without a lowering: XLA compiling for a GPU that this build's kernels cannot run on (here
    a CPU-only build on a machine made to report a GPU). pointops then warns once, naming the reason, and
    computes the same function on its pure-TF path."""
    from pointops import _backend
    real = tf.config.list_logical_devices
    fake_gpu = tf.config.LogicalDevice(name="/device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: real(kind) + (
        [fake_gpu] if kind in (None, "GPU") else []))
    monkeypatch.setattr(_backend, "build_info", lambda: {"cuda": "OFF"})
    monkeypatch.setattr(_backend, "_warned_xla", False)
    a, b, _, _, _ = clouds(rng, tf.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jitted = tf.function(lambda a, b: pointops.chamfer_distance(a, b, batch_reduction=None), jit_compile=True)
        value = jitted(a, b)
        jitted(a + 1, b)
    reasons = [str(w.message) for w in caught if "pointops" in str(w.message)]
    assert len(reasons) == 1 and "has no CUDA kernels" in reasons[0]
    assert "custom_call" not in jitted.experimental_get_compiler_ir(a, b)(stage="hlo")
    np.testing.assert_allclose(value.numpy(), pointops.chamfer_distance(a, b, batch_reduction=None).numpy(),
                               rtol=1e-6)
