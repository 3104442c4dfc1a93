"""pointops.metrics against independent oracles: scipy's cKDTree and linear_sum_assignment for the
matrices, and the definitions of MMD, COV, 1-NNA and JSD written out here in plain numpy/scipy."""
import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist, jensenshannon

from pointops import metrics
from pointops.mesh_clouds import mesh_clouds


def oracle_chamfer(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.mean(cKDTree(b).query(a)[0] ** 2) + np.mean(cKDTree(a).query(b)[0] ** 2)


def oracle_emd(a, b):
    cost = cdist(a.astype(np.float64), b.astype(np.float64))
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols].mean()


def oracle_matrix(distance, x, y, x_len=None, y_len=None):
    x_len = [len(c) for c in x] if x_len is None else x_len
    y_len = [len(c) for c in y] if y_len is None else y_len
    return np.array([[distance(a[:n], b[:m]) for b, m in zip(y, y_len)] for a, n in zip(x, x_len)])


# --- the definitions, from PointFlow's evaluation code, in loops ------------------------------------
def oracle_mmd_cov(d_sr):
    S, R = d_sr.shape
    mmd = np.mean([min(d_sr[s, r] for s in range(S)) for r in range(R)])
    closest = {min(range(R), key=lambda r: (d_sr[s, r], r)) for s in range(S)}
    return mmd, len(closest) / R


def oracle_1nna(d_ss, d_sr, d_rr):
    S, R = d_sr.shape
    def d(i, j):  # over samples (0..S-1) then references (S..S+R-1)
        if i < S and j < S:
            return d_ss[i, j]
        if i >= S and j >= S:
            return d_rr[i - S, j - S]
        return d_sr[i, j - S] if i < S else d_sr[j, i - S]
    correct = 0
    for i in range(S + R):
        nearest = min((j for j in range(S + R) if j != i), key=lambda j: (d(i, j), j))
        correct += (nearest < S) == (i < S)
    return correct / (S + R)


def oracle_jsd(samples, refs, resolution):
    spacing = 1.0 / (resolution - 1)
    grid = [(i * spacing - 0.5, j * spacing - 0.5, k * spacing - 0.5)
            for i in range(resolution) for j in range(resolution) for k in range(resolution)]
    grid = np.array([g for g in grid if np.linalg.norm(g) <= 0.5])
    tree = cKDTree(grid)
    counts = [np.bincount(tree.query(c.reshape(-1, 3))[1], minlength=len(grid)) for c in (samples, refs)]
    return jensenshannon(counts[0], counts[1], base=2) ** 2  # scipy gives the square root


# --- matrices -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_chamfer_matches_kdtree_on_mesh_clouds(dtype):
    x = mesh_clouds(5, 700, seed=1).astype(dtype)
    y = mesh_clouds(4, 500, seed=2).astype(dtype)
    got = metrics.pairwise_chamfer(x, y)
    assert got.shape == (5, 4) and got.dtype == np.float64
    np.testing.assert_allclose(got, oracle_matrix(oracle_chamfer, x, y), rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_pairwise_chamfer_uniform_ragged_and_one_cloud(rng):
    x, y = rng.random((3, 90, 3)), rng.random((1, 60, 3))
    x_len, y_len = np.array([90, 1, 33]), np.array([7])
    got = metrics.pairwise_chamfer(x, y, x_lengths=x_len, y_lengths=y_len)
    np.testing.assert_allclose(got, oracle_matrix(oracle_chamfer, x, y, x_len, y_len), rtol=1e-12)


@pytest.mark.parametrize("progress", [False, True])  # True computes in row blocks
def test_pairwise_chamfer_symmetric(progress, rng):
    x = rng.standard_normal((40, 64, 2))
    got = metrics.pairwise_chamfer(x, progress=progress)
    want = oracle_matrix(oracle_chamfer, x, x)
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert np.array_equal(got, got.T)


def test_pairwise_chamfer_far_apart_and_duplicate_clouds(rng):
    """Clouds far from each other (no pruning can help) and exact duplicates (distance 0)."""
    x = rng.random((3, 50, 3))
    y = np.stack([x[0], x[1] + 1e4, x[2] * 1e-6])
    np.testing.assert_allclose(metrics.pairwise_chamfer(x, y), oracle_matrix(oracle_chamfer, x, y), rtol=1e-9)
    assert metrics.pairwise_chamfer(x, y)[0, 0] == 0.0


def test_pairwise_chamfer_equals_chamfer_distance(rng):
    import pointops
    x, y = rng.random((4, 128, 3)).astype(np.float32), rng.random((3, 100, 3)).astype(np.float32)
    loop = np.array([[float(pointops.chamfer_distance(a[None], b[None])) for b in y] for a in x])
    np.testing.assert_allclose(metrics.pairwise_chamfer(x, y), loop, rtol=1e-6)


def test_pairwise_emd_matches_linear_sum_assignment():
    x, y = mesh_clouds(4, 120, seed=3), mesh_clouds(3, 120, seed=4)
    got = metrics.pairwise_emd(x, y)
    want = oracle_matrix(oracle_emd, x, y)
    assert np.all(got >= want * (1 - 1e-9)) and np.all(got <= want * (1 + 1e-3))
    sym = metrics.pairwise_emd(x)
    want_sym = oracle_matrix(oracle_emd, x, x)
    assert np.array_equal(sym, sym.T) and np.all(np.diag(sym) == 0)
    off = ~np.eye(4, dtype=bool)
    assert np.all(sym[off] <= want_sym[off] * (1 + 1e-3)) and np.all(sym[off] >= want_sym[off] * (1 - 1e-9))


def test_pairwise_emd_needs_equal_sizes(rng):
    with pytest.raises(ValueError, match="same number of points"):
        metrics.pairwise_emd(rng.random((2, 30, 3)), rng.random((2, 40, 3)))
    with pytest.raises(ValueError, match=r"cloud sizes \[20, 30\]"):
        metrics.pairwise_emd(rng.random((2, 30, 3)), rng.random((2, 30, 3)), x_lengths=[30, 20])


@pytest.mark.parametrize("call, words", [
    (lambda r: metrics.pairwise_chamfer(r.random((2, 5))), r"x must have shape \[clouds, points, D\], got \[2, 5\]"),
    (lambda r: metrics.pairwise_chamfer(r.random((2, 5, 3)), r.random((2, 5, 2))), "same point dimension"),
    (lambda r: metrics.pairwise_chamfer(r.random((2, 5, 9))), r"D must be in \[1, 8\]"),
    (lambda r: metrics.pairwise_chamfer(np.full((2, 5, 3), np.nan)), r"x\[0\] has a non-finite coordinate"),
    (lambda r: metrics.pairwise_chamfer(r.random((2, 5, 3)), x_lengths=[5, 6]), r"x_lengths\[1\] = 6"),
    (lambda r: metrics.pairwise_chamfer(r.random((2, 5, 3)), x_lengths=[5]), "x_lengths must be 2 integers"),
    (lambda r: metrics.pairwise_chamfer(r.random((2, 5, 3)), y_lengths=[5, 5]), "y_lengths needs y"),
    (lambda r: metrics.pairwise_chamfer(np.array([[["a"]]])), "real numbers"),
    (lambda r: metrics.mmd_cov(np.zeros((0, 3))), "distance matrix"),
    (lambda r: metrics.one_nn_accuracy(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 2))), r"d_rr .*\[3, 3\]"),
    (lambda r: metrics.mmd_cov(np.full((2, 2), np.nan)), "NaN"),
    (lambda r: metrics.ball_grid(1), "resolution"),
])
def test_bad_input_names_the_argument(call, words, rng):
    with pytest.raises((ValueError, TypeError), match=words):
        call(rng)


def test_padding_may_hold_anything(rng):
    x = rng.random((2, 20, 3))
    x[1, 10:] = np.nan  # past x_lengths: ignored
    got = metrics.pairwise_chamfer(x, x[:1, :15], x_lengths=[20, 10])
    np.testing.assert_allclose(got, oracle_matrix(oracle_chamfer, x, x[:1, :15], [20, 10]), rtol=1e-12)


# --- metrics -----------------------------------------------------------------------------------------
def test_mmd_cov_and_1nna_match_the_definitions(rng):
    d_sr = rng.random((7, 5))
    d_ss, d_rr = rng.random((7, 7)), rng.random((5, 5))
    d_ss, d_rr = d_ss + d_ss.T, d_rr + d_rr.T
    assert np.allclose(metrics.mmd_cov(d_sr), oracle_mmd_cov(d_sr))
    assert metrics.one_nn_accuracy(d_ss, d_sr, d_rr) == oracle_1nna(d_ss, d_sr, d_rr)


def test_metrics_with_equal_distances_and_single_clouds():
    ties = np.ones((3, 4))
    assert metrics.mmd_cov(ties) == (1.0, 0.25)  # every sample picks reference 0
    # Equal distances everywhere: every cloud's nearest is index 0 (a sample), so only samples are right.
    assert metrics.one_nn_accuracy(np.ones((3, 3)), ties, np.ones((4, 4))) == oracle_1nna(
        np.ones((3, 3)), ties, np.ones((4, 4))) == 3 / 7
    one = np.array([[0.5]])
    assert metrics.mmd_cov(one) == (0.5, 1.0)
    assert metrics.one_nn_accuracy(np.zeros((1, 1)), one, np.zeros((1, 1))) == 0.0


def test_identical_sets_are_indistinguishable():
    clouds = mesh_clouds(6, 200, seed=5)
    d = metrics.pairwise_chamfer(clouds)
    assert metrics.mmd_cov(d) == (0.0, 1.0)


@pytest.mark.parametrize("resolution", [28, 9])
def test_jsd_matches_scipy(resolution):
    samples, refs = mesh_clouds(4, 300, seed=6), mesh_clouds(5, 250, seed=7) * 0.8
    assert metrics.jsd(samples, refs, resolution) == pytest.approx(oracle_jsd(samples, refs, resolution), abs=1e-12)
    assert metrics.jsd(samples, samples, resolution) == pytest.approx(0.0, abs=1e-12)


def test_jsd_warns_outside_the_unit_cube(rng):
    inside = mesh_clouds(2, 100, seed=8)
    with pytest.warns(RuntimeWarning, match="outside the unit cube"):
        value = metrics.jsd(inside * 3, inside, 12)
    assert value == pytest.approx(oracle_jsd(inside * 3, inside, 12), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.jsd(inside, inside, 12)


def test_generative_metrics_against_oracles():
    samples, refs = mesh_clouds(6, 96, seed=9), mesh_clouds(5, 96, seed=10)
    got = metrics.generative_metrics(samples, refs, jsd_resolution=12)
    for name, distance in (("chamfer", oracle_chamfer), ("emd", oracle_emd)):
        d_sr, d_ss, d_rr = (oracle_matrix(distance, *pair) for pair in ((samples, refs), (samples, samples), (refs, refs)))
        mmd, cov = oracle_mmd_cov(d_sr)
        assert got[f"mmd_{name}"] == pytest.approx(mmd, rel=1e-3 if name == "emd" else 1e-9)
        assert got[f"cov_{name}"] == cov
        assert got[f"1nna_{name}"] == oracle_1nna(d_ss, d_sr, d_rr)
    assert got["jsd"] == pytest.approx(oracle_jsd(samples, refs, 12), abs=1e-12)
    assert set(got) == {"mmd_chamfer", "cov_chamfer", "1nna_chamfer", "mmd_emd", "cov_emd", "1nna_emd", "jsd"}


# --- the compiled doors, each case that could crash in its own process --------------------------------
DOOR_CASES = {
    "pybind lengths 0": ("_C.pairwise_chamfer(x, y, x_lengths=[0, 5])", "ValueError", r"x_lengths\[0\] = 0 is outside"),
    "pybind lengths past N": ("_C.pairwise_chamfer(x, y, y_lengths=[9])", "ValueError", r"y_lengths\[0\] = 9"),
    "pybind rank": ("_C.pairwise_chamfer(x[0], y)", "ValueError", r"x must have rank 3 \[S, N, D\], got x \[5, 3\]"),
    "pybind D": ("_C.pairwise_chamfer(x, y[..., :2])", "ValueError", "same point dimension"),
    "pybind empty": ("_C.pairwise_chamfer(x[:, :0], y)", "ValueError", "must not be empty"),
    "pybind dtype": ("_C.pairwise_chamfer(x, y.astype(np.float32))", "TypeError", "same dtype"),
    "tf lengths": ("ops.pointops_pairwise_chamfer(x, y, [5, 6], [5])", "tf.errors.InvalidArgumentError",
                   r"x_lengths\[1\] = 6 is outside \[1, 5\]"),
    "tf lengths shape": ("ops.pointops_pairwise_chamfer(x, y, [5], [5])", "tf.errors.InvalidArgumentError",
                         r"x_lengths must have shape \[2\]"),
    "tf symmetric": ("ops.pointops_pairwise_chamfer(x, y, [5, 5], [5], symmetric=True)",
                     "tf.errors.InvalidArgumentError", "symmetric needs y to be x"),
}


@pytest.mark.parametrize("case", sorted(DOOR_CASES))
def test_compiled_doors_reject_bad_input(case):
    from test_robustness import expect_ok
    call, error, words = DOOR_CASES[case]
    expect_ok(f"""
        import numpy as np, pytest, tensorflow as tf
        from pointops import _C, _backend
        ops = _backend.compiled_ops()
        x, y = np.random.default_rng(0).random((2, 5, 3)), np.random.default_rng(1).random((1, 5, 3))
        with pytest.raises({error}, match={words!r}):
            {call}
    """)


def test_compiled_doors_take_empty_sets_and_huge_coordinates():
    from test_robustness import expect_ok
    expect_ok("""
        import numpy as np
        from pointops import _C, metrics
        x = np.random.default_rng(0).random((3, 40, 3))
        assert _C.pairwise_chamfer(x[:0], x).shape == (0, 3) and _C.pairwise_chamfer(x, x[:0]).shape == (3, 0)
        assert metrics.pairwise_chamfer(x[:0]).shape == (0, 0)
        big = (x * 1e30).astype(np.float32)  # squared distances overflow float32: inf, never garbage
        assert np.isinf(_C.pairwise_chamfer(big[:1], big[1:])).all()
        tiny = x * 1e-300  # squared distances underflow to 0 in float64
        assert (_C.pairwise_chamfer(tiny) == 0).all()
        one = x[:, :1]
        assert np.allclose(_C.pairwise_chamfer(one), 2 * ((one[:, None, 0] - one[None, :, 0]) ** 2).sum(-1))
    """)


def test_reference_path_gives_the_same_matrices():
    """Without the compiled library the matrices come from the pure-TF path, batched by pairs."""
    from test_robustness import expect_ok
    expect_ok("""
        import numpy as np
        from scipy.spatial import cKDTree
        from scipy.optimize import linear_sum_assignment
        from scipy.spatial.distance import cdist
        import pointops
        from pointops import metrics
        assert pointops.backend_info()["active"].startswith("reference")
        rng = np.random.default_rng(3)
        x, y = rng.random((3, 40, 3)), rng.random((2, 40, 3))
        cd = lambda a, b: np.mean(cKDTree(b).query(a)[0] ** 2) + np.mean(cKDTree(a).query(b)[0] ** 2)
        np.testing.assert_allclose(metrics.pairwise_chamfer(x, y), [[cd(a, b) for b in y] for a in x], rtol=1e-9)
        sym = metrics.pairwise_chamfer(x, x_lengths=[40, 20, 5])
        np.testing.assert_allclose(sym[0, 2], cd(x[0], x[2, :5]), rtol=1e-9)
        assert np.array_equal(sym, sym.T)
        def exact(a, b):
            c = cdist(a, b)
            return c[linear_sum_assignment(c)].mean()
        want = np.array([[exact(a, b) for b in y] for a in x])
        got = metrics.pairwise_emd(x, y)
        assert np.all(got >= want * (1 - 1e-9)) and np.all(got <= want * (1 + 1e-3))
    """, POINTOPS_BACKEND="reference")
