"""Which path pointops runs on, decided here and nowhere else.

The compiled TensorFlow op library (CPU and, when built with CUDA, GPU kernels) is used when it
exists, was built against this TensorFlow's minor version, and loads. Otherwise pointops warns once
and every function runs its pure-TensorFlow twin from pointops.reference.
POINTOPS_BACKEND=reference forces the pure-TensorFlow path.
"""
import json
import os
import warnings
from pathlib import Path

import tensorflow as tf

_HERE = Path(__file__).resolve().parent
_LIBRARY = _HERE / "_pointops_ops.so"
_BUILD_INFO = _HERE / "_build_info.json"


def _minor(version):
    return ".".join(version.split(".")[:2])


def _load():
    """(library or None, reason) for the compiled op library."""
    if os.environ.get("POINTOPS_BACKEND", "").lower() == "reference":
        return None, "POINTOPS_BACKEND=reference forces the pure-TensorFlow path"
    if not _LIBRARY.exists():
        where = (f" (this is the source checkout {_HERE}: `pip install .` builds the library into the installed "
                 "package; run from another folder, or use the `pointops` command)"
                 if (_HERE.parent / "setup.py").exists() else "")
        return None, f"the compiled op library {_LIBRARY.name} is not installed{where}"
    built_for = json.loads(_BUILD_INFO.read_text()).get("tensorflow_version", "") if _BUILD_INFO.exists() else ""
    if _minor(built_for) != _minor(tf.__version__):
        return None, (f"the op library was built against TensorFlow {built_for or 'unknown'} "
                      f"but TensorFlow {tf.__version__} is running; reinstall pointops to rebuild it")
    try:
        return tf.load_op_library(str(_LIBRARY)), "compiled op library loaded"
    except Exception as err:  # a missing symbol, a wrong ABI: any load failure means fallback
        return None, f"the op library failed to load: {err}"


_ops, _reason = _load()
if _ops is None and not os.environ.get("POINTOPS_BACKEND"):
    warnings.warn(f"pointops: using the pure-TensorFlow reference path: {_reason}", RuntimeWarning,
                  stacklevel=2)


_warned_xla = False


def _in_xla_context():
    """True while tracing a function that XLA will compile (tf.function(jit_compile=True), or a
    Keras train step compiled with jit_compile): custom ops have no XLA kernel there."""
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without these internals: assume no XLA
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())


def compiled_ops():
    """The loaded op library, or None when the pure-TF path must run: the library is absent or
    forced off, or the caller is being compiled by XLA (then warns once)."""
    global _warned_xla
    if _ops is None:
        return None
    if not tf.executing_eagerly() and _in_xla_context():
        if not _warned_xla:
            warnings.warn("pointops: inside an XLA-compiled function (jit_compile=True) the compiled kernels "
                          "cannot run, so pointops uses its pure-TensorFlow path (same values, slower, "
                          "O(N*M) memory). For the fast kernels compile without XLA: "
                          "tf.function(jit_compile=False) or model.compile(..., jit_compile=False).",
                          RuntimeWarning, stacklevel=3)
            _warned_xla = True
        return None
    return _ops


def loaded_library():
    """The op library if it loaded (whatever the calling context), for the registered gradients:
    a gradient of a compiled op must call the compiled gradient op even when it is built elsewhere."""
    return _ops


def build_info():
    return json.loads(_BUILD_INFO.read_text()) if _BUILD_INFO.exists() else {}


def backend_info():
    """Which path is active and why, with what the library was built for."""
    info = build_info()
    gpus = tf.config.list_physical_devices("GPU")
    cuda_built = info.get("cuda", "OFF") == "ON"
    if _ops is None:
        active = "reference (pure TensorFlow)"
    elif gpus and cuda_built:
        active = "compiled (CPU and CUDA kernels)"
    else:
        active = "compiled (CPU kernels)"
    return {
        "active": active,
        "reason": _reason,
        "tensorflow": tf.__version__,
        "built_against_tensorflow": info.get("tensorflow_version"),
        "cuda_kernels_built": cuda_built,
        "cuda_archs": info.get("cuda_archs") if cuda_built else None,
        "visible_gpus": [g.name for g in gpus],
    }
