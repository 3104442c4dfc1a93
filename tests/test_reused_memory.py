"""The large working buffers the CPU kernels keep for their next calls (common/reused_memory.h):
results stay right when a call runs in memory another cloud used, repeated calls hold no more
memory, and what is held never passes the module's bound."""
import numpy as np

from pointops import _C
from conftest import kdtree_nn


def check_nearest(a, b):
    """_C.nn_distance on one pair against cKDTree, both ways (float64 clouds: the same indices)."""
    dist_ab, idx_ab, dist_ba, idx_ba = _C.nn_distance(a[None], b[None], algorithm="tree", threads=2)
    for query, ref, dist, idx in ((a, b, dist_ab[0], idx_ab[0]), (b, a, dist_ba[0], idx_ba[0])):
        want_d, want_i = kdtree_nn(query, ref)
        np.testing.assert_array_equal(idx, want_i)
        np.testing.assert_allclose(dist, want_d, rtol=1e-12)


def test_a_cloud_in_another_clouds_memory(rng):
    # The second pair is smaller and shifted: its trees take the first pair's kept blocks, which
    # still hold the first pair's points, ids and boxes.
    check_nearest(rng.random((60_000, 3)), rng.random((60_000, 3)))
    assert _C.held_block_bytes() > 0
    check_nearest(rng.random((45_000, 3)) + 5, rng.random((50_000, 3)) + 5)
    assert _C.held_block_bytes() <= _C.max_held_block_bytes


def test_repeated_calls_hold_no_more(rng):
    # Each call takes the blocks the last one gave back. The two threads' builds overlap more in
    # some calls than in others, so a later call may need a block or two more than the first did,
    # but not a call's worth.
    a, b = rng.random((1, 40_000, 3), np.float32), rng.random((1, 40_000, 3), np.float32)
    _C.nn_distance(a, b)
    after_first = _C.held_block_bytes()
    for _ in range(10):
        _C.nn_distance(a, b)
        assert _C.held_block_bytes() < 1.5 * after_first


def test_the_bound_holds_over_many_sizes(rng):
    # Sizes whose blocks together pass the bound (the longest held go first), then one cloud whose
    # largest block alone is over it (given back at once), then a small pair checked against cKDTree.
    for n in (20_000, 150_000, 70_000, 300_000, 33_000, 1_400_000):
        a, b = rng.random((1, n, 3), np.float32), rng.random((1, n, 3), np.float32)
        _C.nn_distance(a, b)
        assert _C.held_block_bytes() <= _C.max_held_block_bytes
    check_nearest(rng.random((30_000, 3)), rng.random((35_000, 3)))
    assert _C.held_block_bytes() <= _C.max_held_block_bytes


def test_the_op_library_keeps_its_buffers_until_released(rng):
    # The op library has a store of its own (the benchmark releases it before measuring memory).
    import pointops
    from pointops import _backend

    a, b = rng.random((1, 60_000, 3)), rng.random((1, 60_000, 3))
    want = kdtree_nn(a[0], b[0])[0].mean() + kdtree_nn(b[0], a[0])[0].mean()
    np.testing.assert_allclose(pointops.chamfer_distance(a, b).numpy(), want, rtol=1e-12)
    assert 0 < _backend.held_block_bytes() <= _C.max_held_block_bytes
    _backend.release_held_blocks()
    assert _backend.held_block_bytes() == 0
    np.testing.assert_allclose(pointops.chamfer_distance(a, b).numpy(), want, rtol=1e-12)
