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
