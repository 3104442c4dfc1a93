"""Property-based: drawn shapes, dimensions, lengths, dtypes and duplicate points against numpy."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pointops


@st.composite
def clouds(draw):
    B = draw(st.integers(1, 3))
    N, M = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    D = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    grid = draw(st.booleans())  # small integer grids give duplicates and exact ties
    make = (lambda shape: rng.integers(0, 3, size=shape).astype(np.float64)) if grid else rng.standard_normal
    a, b = make((B, N, D)), make((B, M, D))
    a_len = rng.integers(1, N + 1, size=B).astype(np.int32)
    b_len = rng.integers(1, M + 1, size=B).astype(np.int32)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    algorithm = draw(st.sampled_from(["auto", "brute", "tree"]))
    return a.astype(dtype), b.astype(dtype), a_len, b_len, algorithm


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clouds())
def test_nn_distance_matches_numpy(case):
    a, b, a_len, b_len, algorithm = case
    dist_ab, idx_ab, dist_ba, idx_ba = [x.numpy() for x in pointops.nn_distance(a, b, a_len, b_len, algorithm=algorithm)]
    rtol = 1e-5 if a.dtype == np.float32 else 1e-12
    for k in range(a.shape[0]):
        n, m = a_len[k], b_len[k]
        d = ((a[k, :n, None].astype(np.float64) - b[k, None, :m]) ** 2).sum(-1)
        np.testing.assert_allclose(dist_ab[k, :n], d.min(1), rtol=rtol, atol=1e-6)
        np.testing.assert_allclose(dist_ba[k, :m], d.min(0), rtol=rtol, atol=1e-6)
        # The chosen neighbour is a nearest one, and the lowest index among exact ties.
        chosen = d[np.arange(n), idx_ab[k, :n]]
        np.testing.assert_allclose(chosen, d.min(1), rtol=rtol, atol=1e-6)
        if a.dtype == np.float64:
            np.testing.assert_array_equal(idx_ab[k, :n], d.argmin(1))
            np.testing.assert_array_equal(idx_ba[k, :m], d.argmin(0))
        assert (idx_ab[k, n:] == -1).all() and (dist_ab[k, n:] == 0).all()
        assert (idx_ba[k, m:] == -1).all() and (dist_ba[k, m:] == 0).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(2, 3), st.integers(0, 2**31 - 1), st.booleans())
def test_emd_is_a_permutation_within_its_bound(n, batch, dim, seed, duplicates):
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, (batch, n, dim)).astype(np.float64) if duplicates else rng.random((batch, n, dim))
    b = rng.random((batch, n, dim))
    assignment, gap = [x.numpy() for x in pointops.emd_match(a, b)]
    for k in range(batch):
        assert sorted(assignment[k]) == list(range(n))
        cost = cdist(a[k], b[k])
        rows, cols = linear_sum_assignment(cost)
        excess = cost[np.arange(n), assignment[k]].mean() - cost[rows, cols].mean()
        assert excess <= gap[k] + 1e-9


@st.composite
def scaled_clouds(draw):
    """Clouds of coordinates in [1, 2) in magnitude (random signs) scaled by 2^s, s drawn over the
    dtype's range (float32: -120..120, float64: -1000..1000), and the unit-size clouds they stand for."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    s = draw(st.integers(-120, 120) if dtype == np.float32 else st.integers(-1000, 1000))
    B, N, M, D = draw(st.integers(1, 2)), draw(st.integers(1, 50)), draw(st.integers(1, 50)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    make = lambda n: np.ldexp(rng.choice([-1.0, 1.0], (B, n, D)) * (1 + rng.random((B, n, D))), s).astype(dtype)
    a, b = make(N), make(M)
    return a, b, s, np.ldexp(a.astype(np.float64), -s), np.ldexp(b.astype(np.float64), -s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scaled_clouds(), st.sampled_from([pointops, pointops.reference]))
def test_nearest_neighbours_and_cd_l1_at_any_scale(case, ops):
    """Scale is a parameter: indices and CD-L1 against float64 numpy on the clouds scaled back."""
    a, b, s, ua, ub = case
    _, idx_ab, _, idx_ba = [x.numpy() for x in ops.nn_distance(a, b)]
    d = np.sqrt(((ua[:, :, None] - ub[:, None]) ** 2).sum(-1))
    # Ties (equal distances at unit scale) may go either way only where float32 rounding merges them.
    np.testing.assert_allclose(np.take_along_axis(d, idx_ab[..., None], 2)[..., 0], d.min(2), rtol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(d, idx_ba[:, None], 1)[:, 0], d.min(1), rtol=1e-6)
    cd1 = ops.chamfer_distance(a, b, squared=False, batch_reduction=None).numpy()
    true = np.ldexp(d.min(2).mean(1) + d.min(1).mean(1), s)
    np.testing.assert_allclose(cd1, true, rtol=1e-5 if a.dtype == np.float32 else 1e-12)
