"""Which path pointops runs on, decided here and nowhere else.

The compiled TensorFlow op library (CPU and, when built with CUDA, GPU kernels) is used when it
exists, was built against this TensorFlow's minor version, and loads. Otherwise pointops warns once
and every function runs its pure-TensorFlow twin from pointops.reference.
POINTOPS_BACKEND=reference forces the pure-TensorFlow path.

The compiled CPU kernels exist once per instruction-set level (baseline, avx, avx2, avx512); the
library runs the best one this processor supports, and POINTOPS_CPU_LEVEL=<level> caps it.
"""
import contextlib
import ctypes
import functools
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


CPU_LEVELS = ("baseline", "avx", "avx2", "avx512", "native")
_cpu_cap = os.environ.get("POINTOPS_CPU_LEVEL")
if _cpu_cap is not None and _cpu_cap not in CPU_LEVELS:
    warnings.warn(f"pointops: POINTOPS_CPU_LEVEL={_cpu_cap!r} is not a CPU level ({', '.join(CPU_LEVELS)}); "
                  "it is ignored", RuntimeWarning, stacklevel=2)


def cpu_levels():
    """(level in use, every level this build has that this CPU runs) of the compiled CPU kernels, from
    pointops._C (the op library chooses the same way), or (None, []) where it is not built."""
    try:
        from pointops import _C
    except ImportError:
        return None, []
    return _C.cpu_level(), list(_C.cpu_levels())


_ops, _reason = _load()
if _ops is None and not os.environ.get("POINTOPS_BACKEND"):
    warnings.warn(f"pointops: using the pure-TensorFlow reference path: {_reason}", RuntimeWarning,
                  stacklevel=2)


def cuda_driver_problem(built_cuda_version, driver_version):
    """Why the CUDA kernels cannot run with this driver, or None. built_cuda_version: the toolkit
    the library was built with ("13.0.88"); driver_version: cudaDriverGetVersion's number (13000
    for CUDA 13.0; 0 when no driver is installed, where there is no GPU to protect). The static
    CUDA runtime of major version X needs a driver for CUDA X.0 or newer."""
    if not built_cuda_version or driver_version <= 0:
        return None
    major = int(built_cuda_version.split(".")[0])
    if driver_version >= major * 1000:
        return None
    driver = {12: "R525", 13: "R580"}.get(major, f"one for CUDA {major}.0")
    return (f"the CUDA kernels were built with CUDA {built_cuda_version}, which needs an NVIDIA driver for CUDA "
            f"{major}.0 or newer ({driver} or later), but this driver supports CUDA "
            f"{driver_version // 1000}.{driver_version % 1000 // 10}")


def _check_cuda_driver():
    """The reason the GPU kernels must not run (warned once, here), or None."""
    info = build_info()
    if _ops is None or info.get("cuda") != "ON":
        return None
    try:
        from pointops import _C
        driver = _C.cuda_driver_version()
    except (ImportError, AttributeError):
        return None
    problem = cuda_driver_problem(info.get("cuda_version"), driver)
    if problem and tf.config.list_physical_devices("GPU"):
        warnings.warn(f"pointops: {problem}; pointops runs its CPU kernels instead (update the driver, or "
                      "build pointops with the CUDA toolkit your driver supports)", RuntimeWarning, stacklevel=2)
    return problem


NO_CUDA_KERNELS = "this pointops build has no CUDA kernels (nvcc was not found when it was built)"


def gpu_without_cuda_kernels(cuda_built, gpus):
    """The warning for a machine whose GPUs this build cannot use (cuda_built: the build has CUDA kernels;
    gpus: TensorFlow's physical GPUs), or None."""
    if cuda_built or not gpus:
        return None
    return (f"pointops: TensorFlow sees {len(gpus)} GPU(s), but {NO_CUDA_KERNELS}, so every op runs on the CPU "
            "kernels. For the GPU kernels, install the CUDA toolkit (nvcc on PATH) and reinstall pointops: "
            "pip install --no-build-isolation --force-reinstall --no-deps .")


def kernel_device():
    """Where the compiled ops must run: the CPU when the driver is too old for the CUDA kernels
    (tf.device('/CPU:0')), else wherever TensorFlow places them."""
    return tf.device("/CPU:0") if _cuda_problem else contextlib.nullcontext()


_warned_xla = False


def _in_xla_context():
    """True while tracing a function that XLA will compile (tf.function(jit_compile=True), or a
    Keras train step compiled with jit_compile)."""
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without these internals: assume no XLA
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())


def _xla_gpu_problem():
    """Why XLA on this machine's GPU cannot run the kernels, or None. Every op has an XLA lowering to
    the same kernels (csrc/tf/xla/): the host's always, the GPU's where the library has CUDA kernels
    that this driver runs. A GPU without them (a CPU-only build, a driver too old) has none, and XLA
    compiles a function for the GPU whenever one is visible (Keras' jit_compile="auto")."""
    if not tf.config.list_logical_devices("GPU"):
        return None
    if build_info().get("cuda", "OFF") != "ON":
        return NO_CUDA_KERNELS
    return _cuda_problem


def compiled_ops():
    """The loaded op library, or None when the pure-TF path must run: the library is absent or
    forced off, or XLA compiles the caller for a GPU that the kernels cannot run on (then warns once)."""
    global _warned_xla
    if _ops is None:
        return None
    if not tf.executing_eagerly() and _in_xla_context():
        problem = _xla_gpu_problem()
        if problem is not None:
            if not _warned_xla:
                warnings.warn(f"pointops: inside an XLA-compiled function on a GPU the compiled kernels cannot run: "
                              f"{problem}. pointops uses its pure-TensorFlow path there (same values, slower, "
                              "O(N*M) memory); compile with jit_compile=False to run the CPU kernels instead.",
                              RuntimeWarning, stacklevel=3)
                _warned_xla = True
            return None
    return _ops


def loaded_library():
    """The op library if it loaded (whatever the calling context), for the registered gradients:
    a gradient of a compiled op must call the compiled gradient op even when it is built elsewhere."""
    return _ops


@functools.lru_cache(maxsize=None)
def _library_exports():
    """The op library's C entry points (csrc/tf/memory_exports.cc), or None when it is not loaded."""
    # ctypes opens the file TensorFlow already loaded, so it reaches the same memory store.
    if _ops is None:
        return None
    exports = ctypes.CDLL(str(_LIBRARY))
    exports.pointops_held_block_bytes.restype = ctypes.c_size_t
    return exports


def held_block_bytes():
    """Bytes of working buffers the compiled ops keep for their next calls (at most 32 MiB; see
    csrc/core/common/reused_memory.h); 0 without the library."""
    exports = _library_exports()
    return 0 if exports is None else exports.pointops_held_block_bytes()


def release_held_blocks():
    """Frees the working buffers the compiled ops keep (the benchmark does, before it measures a call's
    memory)."""
    exports = _library_exports()
    if exports is not None:
        exports.pointops_release_held_blocks()


def build_info():
    return json.loads(_BUILD_INFO.read_text()) if _BUILD_INFO.exists() else {}


def cuda_kernels_active():
    """True when the compiled ops run their CUDA kernels: the library is loaded and built with CUDA, a
    GPU is visible, and the driver can run the kernels."""
    return (_ops is not None and build_info().get("cuda", "OFF") == "ON" and _cuda_problem is None
            and bool(tf.config.list_physical_devices("GPU")))


@functools.lru_cache(maxsize=None)
def kernels_run_on_cpu():
    """True when the compiled ops run on the CPU wherever they are called: the library has no CUDA
    kernels, the driver cannot run them, or TensorFlow has no GPU (none present, or all hidden by
    tf.config.set_visible_devices). Ops with only a CPU kernel (PointopsChamferMean, PointopsEmdMean)
    are used only then. Cached: TensorFlow's logical devices are fixed once its runtime has started,
    which listing them does."""
    return (build_info().get("cuda", "OFF") != "ON" or _cuda_problem is not None
            or not tf.config.list_logical_devices("GPU"))


def backend_info():
    """Which path is active and why, with what the library was built for."""
    info = build_info()
    gpus = tf.config.list_physical_devices("GPU")
    cuda_built = info.get("cuda", "OFF") == "ON"
    level, levels = cpu_levels()
    if _ops is None:
        active = "reference (pure TensorFlow)"
    elif cuda_kernels_active():
        active = "compiled (CPU and CUDA kernels)"
    else:
        active = "compiled (CPU kernels)"
    return {
        "active": active,
        "reason": _reason,
        "tensorflow": tf.__version__,
        "built_against_tensorflow": info.get("tensorflow_version"),
        "cpu_level": level,
        "cpu_levels_supported": levels,
        "cuda_kernels_built": cuda_built,
        "cuda_built_with": info.get("cuda_version") if cuda_built else None,
        "cuda_kernels_usable": cuda_built and _cuda_problem is None,
        "cuda_problem": _cuda_problem,
        "cuda_archs": info.get("cuda_archs") if cuda_built else None,
        "visible_gpus": [g.name for g in gpus],
    }


_cuda_problem = _check_cuda_driver()
if _ops is not None and build_info().get("cuda", "OFF") != "ON":  # GPUs are listed only where it matters
    _no_gpu_kernels = gpu_without_cuda_kernels(False, tf.config.list_physical_devices("GPU"))
    if _no_gpu_kernels:
        warnings.warn(_no_gpu_kernels, RuntimeWarning, stacklevel=2)
