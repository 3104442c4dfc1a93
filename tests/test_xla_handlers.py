"""pointops._C exports the XLA custom-call handlers (csrc/tf/xla/) for XLA clients without TensorFlow (JAX on
the GPU machine). Called here as XLA calls a host custom call (ctypes, the legacy API with status), they give
what _C's own functions give, and they refuse a descriptor that is not theirs."""
import ctypes

import numpy as np
import pytest

from pointops import _C

ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t,
                         ctypes.c_void_p)


def entry(name):
    capsule = _C.xla_targets("cpu")[name]
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ENTRY(get(capsule, b"xla._CUSTOM_CALL_TARGET"))


def pointers(arrays):
    return (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])


def test_every_host_target_is_exported():
    assert set(_C.xla_targets("cpu")) == {
        "pointops_nn_distance", "pointops_nn_distance_grad", "pointops_chamfer_mean", "pointops_knn",
        "pointops_emd_match", "pointops_emd_mean", "pointops_emd_transport", "pointops_pairwise_chamfer"}
    with pytest.raises(ValueError, match="platform must be"):
        _C.xla_targets("tpu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nn_distance_handler_matches_the_direct_call(rng, dtype):
    B, N, M, D = 3, 50, 40, 3
    a, b = rng.random((B, N, D)).astype(dtype), rng.random((B, M, D)).astype(dtype)
    la, lb = np.array([50, 9, 1], np.int32), np.array([40, 40, 3], np.int32)
    outs = [np.full((B, N), -7, dtype), np.full((B, N), -7, np.int32), np.full((B, M), -7, dtype),
            np.full((B, M), -7, np.int32)]
    descriptor = _C.xla_call_descriptor(np.dtype(dtype).itemsize, B, N, M, D).encode()
    entry("pointops_nn_distance")(ctypes.cast(pointers(outs), ctypes.c_void_p), pointers([a, b, la, lb]), descriptor,
                                  len(descriptor), None)
    for got, want in zip(outs, _C.nn_distance(a, b, la, lb)):
        np.testing.assert_array_equal(got, want)


def test_emd_mean_handler_gives_the_mean_of_its_assignment(rng):
    B, N, D = 2, 64, 3
    a, b = rng.random((B, N, D)), rng.random((B, N, D))
    lengths = np.full(B, N, np.int32)
    assignment, gap, distance = np.zeros((B, N), np.int32), np.zeros(B), np.zeros(())
    descriptor = _C.xla_call_descriptor(8, B, N, N, D).encode()
    entry("pointops_emd_mean")(ctypes.cast(pointers([assignment, gap, distance]), ctypes.c_void_p),
                               pointers([a, b, lengths, lengths]), descriptor, len(descriptor), None)
    assert all(sorted(row) == list(range(N)) for row in assignment)
    cost = np.linalg.norm(a - np.take_along_axis(b, assignment[..., None], 1), axis=-1).mean()
    np.testing.assert_allclose(distance, cost, rtol=1e-13)
    want_assignment, want_gap = _C.emd_match(a, b, lengths)[:2]
    np.testing.assert_array_equal(assignment, want_assignment)
    np.testing.assert_array_equal(gap, want_gap)


def test_foreign_descriptor_is_refused_without_touching_the_outputs(capfd):
    out = np.full(4, -7.0)
    descriptor = b"not a pointops call"
    entry("pointops_chamfer_mean")(ctypes.cast(pointers([out]), ctypes.c_void_p), pointers([out]), descriptor,
                                   len(descriptor), None)
    assert (out == -7.0).all()
    assert "is not of this pointops build" in capfd.readouterr().err
