"""What was built: both libraries, no CUDA runtime symbol left undefined (it is linked in statically
and hidden, so it cannot bind to the CUDA runtime inside libtensorflow_framework), the CUDA targets,
the GPU kernel registrations, and the TensorFlow and driver requirements."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pointops

LIBRARIES = sorted(Path(pointops.__file__).parent.glob("*.so"))


def test_both_libraries_installed():
    names = {lib.name.split(".")[0] for lib in LIBRARIES}
    assert {"_C", "_pointops_ops"} <= names


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
@pytest.mark.parametrize("library", LIBRARIES, ids=lambda p: p.name)
def test_no_undefined_cuda_symbols(library):
    undefined = subprocess.run(["nm", "-u", "-D", str(library)], capture_output=True, text=True, check=True).stdout
    cuda = [line for line in undefined.splitlines() if line.split()[-1].lstrip("_").startswith("cuda")]
    assert cuda == []


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_xla_header_shims_leave_nothing_to_link():
    """csrc/tf/xla/shim declares highwayhash and farmhash names that TF's XLA headers mention; the op library
    must use none of them (a user's TensorFlow need not provide them)."""
    library = next(lib for lib in LIBRARIES if lib.name.startswith("_pointops_ops"))
    undefined = subprocess.run(["nm", "-u", "-D", "-C", str(library)], capture_output=True, text=True,
                               check=True).stdout
    assert [line for line in undefined.splitlines() if "highwayhash" in line or "util::Fingerprint" in line] == []
    assert "CustomCallTargetRegistry::Register" in undefined  # the lowerings' targets are registered with TF's


def test_tensorflow_range_is_stated_once_in_each_place():
    """pyproject's runtime requirement and the build's range (build_tools/tensorflow_env.py) agree."""
    import tomllib
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "build_tools"))
    try:
        import tensorflow_env
    finally:
        sys.path.pop(0)
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert tensorflow_env.REQUIREMENT in dependencies
    assert tensorflow_env.supported("2.16.2") and tensorflow_env.supported("2.21.0")
    assert not tensorflow_env.supported("2.15.1") and not tensorflow_env.supported("2.22.0")


def test_library_matches_the_running_tensorflow():
    import tensorflow as tf
    built = pointops.backend_info()["built_against_tensorflow"]
    assert built.split(".")[:2] == tf.__version__.split(".")[:2]


@pytest.mark.parametrize("built,driver,problem", [
    ("13.0.88", 13000, None), ("13.0.88", 13020, None), ("12.4.1", 12020, None), ("12.4.1", 12040, None),
    ("13.0.88", 12080, "R580"), ("12.4.1", 11080, "R525"), ("13.0.88", 0, None), (None, 12000, None)])
def test_cuda_driver_requirement(built, driver, problem):
    """A driver older than the CUDA major version the kernels were built with means CPU kernels and
    one warning naming the driver needed, never a failure inside a training step."""
    found = pointops._backend.cuda_driver_problem(built, driver)
    if problem is None:
        assert found is None
    else:
        assert problem in found and built in found


CUDA_BUILT = pointops._backend.build_info().get("cuda") == "ON"


@pytest.mark.skipif(not CUDA_BUILT, reason="this build has no CUDA kernels")
def test_cuda_kernels_are_registered_for_the_gpu():
    """Registered GPU kernels, not a CPU kernel reached through soft placement."""
    from tensorflow.python.framework import kernels
    for op in ("PointopsNnDistance", "PointopsNnDistanceGrad", "PointopsEmdMatch"):
        devices = {k.device_type for k in kernels.get_registered_kernels_for_op(op).kernel}
        assert {"CPU", "GPU"} <= devices, (op, devices)


def find_cuobjdump():
    """cuobjdump on PATH, in the CUDA toolkit, or from the nvidia-cuda-cuobjdump wheel (the test extras)."""
    candidates = [shutil.which("cuobjdump"), "/usr/local/cuda/bin/cuobjdump"]
    try:
        import nvidia
        candidates += [str(Path(p) / sub / "bin" / "cuobjdump") for p in nvidia.__path__ for sub in ("cu13", "cu12")]
    except ImportError:
        pass
    return next((c for c in candidates if c and Path(c).exists()), None)


CUOBJDUMP = find_cuobjdump()


@pytest.mark.skipif(not CUDA_BUILT or CUOBJDUMP is None, reason="no CUDA kernels built, or no cuobjdump")
@pytest.mark.parametrize("library", LIBRARIES, ids=lambda p: p.name)
def test_cuda_targets(library):
    """SASS for every listed architecture (sm_70 too where the toolkit still builds it) and PTX for
    the newest, which later GPUs compile when they load it."""
    elf = subprocess.run([CUOBJDUMP, "--list-elf", str(library)], capture_output=True, text=True).stdout
    ptx = subprocess.run([CUOBJDUMP, "--list-ptx", str(library)], capture_output=True, text=True).stdout
    archs = {int(a) for a in re.findall(r"sm_(\d+)", elf)}
    want = {75, 80, 86, 89, 90} | ({70} if int(pointops.backend_info()["cuda_built_with"].split(".")[0]) < 13 else set())
    assert want <= archs, elf
    assert re.findall(r"sm_(\d+)", ptx) and max(int(a) for a in re.findall(r"sm_(\d+)", ptx)) == max(want), ptx
