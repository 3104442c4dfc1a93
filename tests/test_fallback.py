"""Without the compiled library (hidden, or forced off) pointops imports, warns once, reports why,
and gives the same values through the reference path."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

import pointops

SCRIPT = """
import json, warnings, numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import pointops
rng = np.random.default_rng(0)
a, b = rng.standard_normal((2, 30, 3)), rng.standard_normal((2, 20, 3))
print(json.dumps({"info": pointops.backend_info(), "warnings": [str(w.message) for w in caught],
                  "chamfer": float(pointops.chamfer_distance(a, b).numpy())}))
"""


def run_isolated(package_dir, env_extra):
    env = dict(os.environ, PYTHONPATH=str(package_dir), **env_extra)
    env.pop("POINTOPS_BACKEND", None) if "POINTOPS_BACKEND" not in env_extra else None
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True,
                         cwd=package_dir)
    return json.loads(out.stdout.strip().splitlines()[-1])


def expected_chamfer():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 30, 3)), rng.standard_normal((2, 20, 3))
    return float(pointops.chamfer_distance(a, b).numpy())


def test_library_missing(tmp_path):
    copy = tmp_path / "pointops"
    shutil.copytree(Path(pointops.__file__).parent, copy, ignore=shutil.ignore_patterns("_pointops_ops*.so"))
    result = run_isolated(tmp_path, {})
    assert result["info"]["active"].startswith("reference")
    assert "not installed" in result["info"]["reason"]
    assert len([w for w in result["warnings"] if "reference path" in w]) == 1
    np.testing.assert_allclose(result["chamfer"], expected_chamfer(), rtol=1e-12)


def test_library_built_for_another_tensorflow(tmp_path):
    copy = tmp_path / "pointops"
    shutil.copytree(Path(pointops.__file__).parent, copy)
    info = json.loads((copy / "_build_info.json").read_text())
    info["tensorflow_version"] = "2.5.0"
    (copy / "_build_info.json").write_text(json.dumps(info))
    result = run_isolated(tmp_path, {})
    assert result["info"]["active"].startswith("reference")
    assert "2.5.0" in result["info"]["reason"]
    np.testing.assert_allclose(result["chamfer"], expected_chamfer(), rtol=1e-12)


def test_forced_reference(tmp_path):
    result = run_isolated(Path(pointops.__file__).parent.parent, {"POINTOPS_BACKEND": "reference"})
    assert "POINTOPS_BACKEND" in result["info"]["reason"]
    assert result["warnings"] == [] or all("reference path" not in w for w in result["warnings"])
    np.testing.assert_allclose(result["chamfer"], expected_chamfer(), rtol=1e-12)


def test_a_gpu_without_cuda_kernels_is_warned_about():
    """Issue #32: a machine whose TensorFlow sees a GPU, with a pointops built without nvcc, is told why its
    ops run on the CPU and what to install (warned once at import; here the message itself)."""
    from pointops import _backend
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    message = _backend.gpu_without_cuda_kernels(False, [gpu])
    assert "sees 1 GPU(s)" in message and "no CUDA kernels" in message and "nvcc" in message
    assert _backend.gpu_without_cuda_kernels(True, [gpu]) is None  # built with them
    assert _backend.gpu_without_cuda_kernels(False, []) is None  # no GPU: nothing to say
