"""pointops._C (the TF-free module) on numpy arrays against numpy and cKDTree."""
import numpy as np
import pytest

from pointops import _C
from conftest import kdtree_nn, numpy_nn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["brute", "tree"])
def test_nn_distance(rng, dtype, algorithm):
    a = rng.standard_normal((2, 500, 3)).astype(dtype)
    b = rng.standard_normal((2, 400, 3)).astype(dtype)
    dist_ab, idx_ab, dist_ba, idx_ba = _C.nn_distance(a, b, algorithm=algorithm, threads=2)
    assert dist_ab.dtype == dtype and idx_ab.dtype == np.int32
    for k in range(2):
        want_d, want_i = kdtree_nn(a[k], b[k])
        np.testing.assert_array_equal(idx_ab[k], want_i)
        np.testing.assert_allclose(dist_ab[k], want_d, rtol=1e-6 if dtype == np.float32 else 1e-12)
        want_d, want_i = kdtree_nn(b[k], a[k])
        np.testing.assert_array_equal(idx_ba[k], want_i)


def test_lengths_and_grad(rng):
    a = rng.standard_normal((2, 30, 2))
    b = rng.standard_normal((2, 20, 2))
    a_len, b_len = np.array([30, 4], np.int32), np.array([7, 20], np.int32)
    dist_ab, idx_ab, dist_ba, idx_ba = _C.nn_distance(a, b, a_len, b_len)
    assert (idx_ab[1, 4:] == -1).all() and (idx_ba[0, 7:] == -1).all()
    g_ab, g_ba = rng.standard_normal((2, 30)), rng.standard_normal((2, 20))
    grad_a, grad_b = _C.nn_distance_grad(a, b, idx_ab, idx_ba, g_ab, g_ba)
    want_a, want_b = np.zeros_like(a), np.zeros_like(b)
    for k in range(2):
        for i in range(a_len[k]):
            j = numpy_nn(a[k, i:i + 1], b[k, :b_len[k]])[1][0]
            want_a[k, i] += 2 * g_ab[k, i] * (a[k, i] - b[k, j])
            want_b[k, j] += 2 * g_ab[k, i] * (b[k, j] - a[k, i])
        for j in range(b_len[k]):
            i = numpy_nn(b[k, j:j + 1], a[k, :a_len[k]])[1][0]
            want_b[k, j] += 2 * g_ba[k, j] * (b[k, j] - a[k, i])
            want_a[k, i] += 2 * g_ba[k, j] * (a[k, i] - b[k, j])
    np.testing.assert_allclose(grad_a, want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_b, want_b, rtol=1e-12, atol=1e-12)


def test_errors():
    a = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"same batch size, got a \[2, 5, 3\] and b \[1, 5, 3\]"):
        _C.nn_distance(a, a[:1])
    with pytest.raises(ValueError, match=r"b_lengths\[1\] = 6"):
        _C.nn_distance(a, a, None, np.array([5, 6], np.int32))
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.nn_distance(a.astype(np.int64), a.astype(np.int64))
    with pytest.raises(ValueError, match="algorithm"):
        _C.nn_distance(a, a, algorithm="magic")


def test_threads_do_not_change_results(rng):
    """Big enough for the module's pool to start a second thread (small calls stay on the caller's):
    the same bits as one thread, for every CPU entry point."""
    a, b = rng.standard_normal((8, 5000, 3)), rng.standard_normal((8, 4500, 3))
    for algorithm in ("brute", "tree"):
        one = _C.nn_distance(a, b, algorithm=algorithm, threads=1)
        two = _C.nn_distance(a, b, algorithm=algorithm, threads=2)
        assert all(x.tobytes() == y.tobytes() for x, y in zip(one, two))
    g_ab, g_ba = rng.standard_normal((8, 5000)), rng.standard_normal((8, 4500))
    grads = [_C.nn_distance_grad(a, b, one[1], one[3], g_ab, g_ba, threads=t) for t in (1, 2)]
    assert all(x.tobytes() == y.tobytes() for x, y in zip(*grads))
    a, b = rng.random((4, 600, 3)), rng.random((4, 600, 3))
    emd = [_C.emd_match(a, b, threads=t) for t in (1, 2)]
    assert emd[0][0].tobytes() == emd[1][0].tobytes() and emd[0][1].tobytes() == emd[1][1].tobytes()
    # One cloud: a second thread shares its batches of bids and its gaps' searches (BatchHelper). The
    # same bits as one thread, and as the same cloud solved beside another in one call.
    a, b = rng.random((2, 2048, 3)).astype(np.float32), rng.random((2, 2048, 3)).astype(np.float32)
    alone = [_C.emd_match(a[:1], b[:1], threads=t) for t in (1, 2)]
    beside = _C.emd_match(a, b, threads=2)
    for k in (0, 1):
        assert alone[0][k].tobytes() == alone[1][k].tobytes() == beside[k][:1].tobytes()


class FakeDeviceArray:
    """Exposes a numpy array as __cuda_array_interface__ (host pointer): only the CUDA doors' argument
    checks may look at it, and they must raise before any kernel or copy touches the pointer."""

    def __init__(self, array, strides=None):
        self.array = array
        self.__cuda_array_interface__ = {"data": (array.ctypes.data, False), "shape": array.shape,
                                         "typestr": array.dtype.str, "strides": strides, "version": 3}


cuda_door = pytest.mark.skipif(not _C.cuda_built, reason="pointops._C was built without CUDA")


def device_outputs(B, N, M, dtype):
    return [FakeDeviceArray(np.zeros(shape, dt)) for shape, dt in
            (((B, N), dtype), ((B, N), np.int32), ((B, M), dtype), ((B, M), np.int32))]


@cuda_door
def test_cuda_doors_reject_bad_arguments_before_touching_the_device():
    a32, b64 = FakeDeviceArray(np.zeros((2, 5, 3), np.float32)), FakeDeviceArray(np.zeros((2, 4, 3), np.float64))
    b32 = FakeDeviceArray(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(TypeError, match=r"nn_distance_cuda: a and b must both be .* got <f4 and <f8"):
        _C.nn_distance_cuda(a32, b64, None, None, *device_outputs(2, 5, 4, np.float32))
    with pytest.raises(TypeError, match="b must be a CUDA device array"):
        _C.nn_distance_cuda(a32, np.zeros((2, 4, 3), np.float32), None, None, *device_outputs(2, 5, 4, np.float32))
    wrong = device_outputs(2, 5, 4, np.float32)
    wrong[2] = FakeDeviceArray(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"dist_ba must be <f4 with shape \[2, 4\], got <f4 \[2, 5\]"):
        _C.nn_distance_cuda(a32, b32, None, None, *wrong)
    with pytest.raises(ValueError, match="a_lengths"):
        _C.nn_distance_cuda(a32, b32, np.array([5, 6], np.int32), None, *device_outputs(2, 5, 4, np.float32))
    transposed = FakeDeviceArray(np.zeros((2, 5, 3), np.float32), strides=(60, 4, 20))
    with pytest.raises(ValueError, match="a must be C-contiguous"):
        _C.nn_distance_cuda(transposed, b32, None, None, *device_outputs(2, 5, 4, np.float32))
    idx_ab, idx_ba = FakeDeviceArray(np.zeros((2, 5), np.int32)), FakeDeviceArray(np.zeros((2, 4), np.int32))
    g_ab, g_ba = FakeDeviceArray(np.zeros((2, 5), np.float64)), FakeDeviceArray(np.zeros((2, 4), np.float64))
    with pytest.raises(TypeError, match=r"nn_distance_grad_cuda: .* got <f4 and <f8"):
        _C.nn_distance_grad_cuda(a32, b64, idx_ab, idx_ba, g_ab, g_ba, a32, b64)
    with pytest.raises(ValueError, match=r"g_ab must be <f4 with shape \[2, 5\]"):
        _C.nn_distance_grad_cuda(a32, b32, idx_ab, idx_ba, g_ab, g_ba, a32, b32)
    assignment, gap = FakeDeviceArray(np.zeros((2, 5), np.int32)), FakeDeviceArray(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="emd_match_cuda"):  # EMD needs N == M
        _C.emd_match_cuda(a32, b32, None, assignment, gap)
    with pytest.raises(TypeError, match=r"emd_match_cuda: .* got <f4 and <f8"):
        _C.emd_match_cuda(a32, FakeDeviceArray(np.zeros((2, 5, 3), np.float64)), None, assignment, gap)
    with pytest.raises(TypeError, match=r"emd_transport_cuda: .* got <f4 and <f8"):
        _C.emd_transport_cuda(a32, b64)
    with pytest.raises(ValueError, match="emd_transport_cuda.*b_lengths"):
        _C.emd_transport_cuda(a32, b32, None, np.array([4, 5], np.int32))
    with pytest.raises(ValueError, match="emd_transport_cuda: rel_tol must be > 0"):
        _C.emd_transport_cuda(a32, b32, rel_tol=0.0)
    with pytest.raises(TypeError, match="a must be a CUDA device array"):
        _C.emd_transport_cuda(np.zeros((2, 5, 3), np.float32), b32)


@pytest.mark.parametrize("which,bad", [("idx_ab", 5), ("idx_ab", -2), ("idx_ba", 6), ("idx_ba", 2**40)])
def test_nn_distance_grad_rejects_indices_out_of_range(rng, which, bad):
    """An index past the other cloud (or below -1, which marks padding) would silently add nothing: every
    door that takes indices names it (pointops._C, the TF op's CPU kernel, its XLA lowering)."""
    import tensorflow as tf

    import pointops
    B, N, M = 2, 6, 5
    a, b = rng.random((B, N, 3)), rng.random((B, M, 3))
    idx = {"idx_ab": np.zeros((B, N), np.int64), "idx_ba": np.zeros((B, M), np.int64)}
    idx[which][1, 2] = bad
    g_ab, g_ba = np.ones((B, N)), np.ones((B, M))
    limit = M if which == "idx_ab" else N
    shown = bad if bad < 2**31 else 2**31 - 1  # wider integers are saturated to int32 first
    pattern = rf"{which}\[1, 2\] = {shown} is outside \[0, {limit}\)"
    with pytest.raises(ValueError, match=pattern):
        _C.nn_distance_grad(a, b, idx["idx_ab"], idx["idx_ba"], g_ab, g_ba)
    if bad < 2**31:
        ops = pointops._backend.loaded_library()
        args = (a, b, idx["idx_ab"].astype(np.int32), idx["idx_ba"].astype(np.int32), g_ab, g_ba)
        with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
            ops.pointops_nn_distance_grad(*args)
        with pytest.raises(tf.errors.OpError, match=pattern):
            tf.function(lambda *x: ops.pointops_nn_distance_grad(*x), jit_compile=True)(*args)
