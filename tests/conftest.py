import os
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from scipy.spatial import cKDTree

import pointops

# The tests compare the compiled kernels with independent oracles: running them on the fallback by
# accident (an uninstalled or broken build) must fail loudly, not pass quietly.
if os.environ.get("POINTOPS_BACKEND") != "reference":
    assert pointops.backend_info()["active"].startswith("compiled"), (
        f"pointops is on its reference path ({pointops.backend_info()['reason']}); install it with pip first")


@pytest.fixture
def rng(request):
    # A fresh, reproducible stream per test (crc32, not hash(): string hashes change per process).
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def kdtree_nn(query, ref):
    """Independent oracle: squared distance and index of each query point's nearest ref point."""
    dist, idx = cKDTree(ref.astype(np.float64)).query(query.astype(np.float64), k=1)
    return dist**2, idx


def numpy_nn(query, ref):
    """Independent oracle with numpy's tie rule (lowest index): [N], [N]."""
    d = ((query[:, None, :].astype(np.float64) - ref[None, :, :]) ** 2).sum(-1)
    idx = d.argmin(1)
    return d[np.arange(len(query)), idx], idx

# A run with POINTOPS_CPU_LEVEL set (tests/test_cpu_levels.py starts some) must really be on that level.
if os.environ.get("POINTOPS_CPU_LEVEL") and os.environ.get("POINTOPS_BACKEND") != "reference":
    _wanted = os.environ["POINTOPS_CPU_LEVEL"]
    if _wanted in pointops.backend_info()["cpu_levels_supported"]:
        assert pointops.backend_info()["cpu_level"] == _wanted


def check_plan(a, b, plan_i, plan_j, mass, n, m):
    """The entries of one cloud form a basic transport plan with uniform masses; returns its cost."""
    k = n + m - 1
    assert len(plan_i) == a.shape[0] + b.shape[0] - 1
    used = plan_i >= 0
    assert (plan_i[used.sum():] == -1).all() and (plan_j[used.sum():] == -1).all() and (mass[used.sum():] == 0).all()
    assert used.sum() <= k and used[:used.sum()].all()
    i, j, w = plan_i[used], plan_j[used], mass[used].astype(np.float64)
    assert (i < n).all() and (j >= 0).all() and (j < m).all() and (w > 0).all()
    assert (np.diff(i * m + j) > 0).all(), "entries sorted by (i, j), each pair once"
    np.testing.assert_allclose(np.bincount(i, w, n), 1 / n, rtol=1e-5)
    np.testing.assert_allclose(np.bincount(j, w, m), 1 / m, rtol=1e-5)
    return (w * np.linalg.norm(a[i].astype(np.float64) - b[j], axis=1)).sum()
