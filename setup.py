"""Builds pointops' compiled parts through CMake: the TensorFlow op library (when TensorFlow is
importable at build time; its flags come from tf.sysconfig) and the pybind11 module pointops._C.

Environment: POINTOPS_CUDA=auto|0|1, POINTOPS_CUDA_ARCHS (CMake CUDA architectures),
POINTOPS_NATIVE=0|1 (1: the CPU kernels for this machine only, -march=native), POINTOPS_BUILD_JOBS.
"""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


sys.path.insert(0, str(Path(__file__).resolve().parent / "build_tools"))
from tensorflow_env import target_tensorflow, build_tensorflow  # noqa: E402


def tensorflow_flags():
    """(cflags, lflags, version) of the TensorFlow to build against: the installed one of the target
    environment, else the build's own, else None (pointops._C only)."""
    return target_tensorflow() or build_tensorflow()


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import pybind11

        source_dir = Path(__file__).resolve().parent
        output_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        args = [
            f"-DPOINTOPS_OUTPUT_DIR={output_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DPOINTOPS_CUDA={os.environ.get('POINTOPS_CUDA', 'auto')}",
            f"-DPOINTOPS_NATIVE={'ON' if os.environ.get('POINTOPS_NATIVE') == '1' else 'OFF'}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        if os.environ.get("POINTOPS_CUDA_ARCHS"):
            args.append(f"-DPOINTOPS_CUDA_ARCHS={os.environ['POINTOPS_CUDA_ARCHS']}")
        tf_flags = tensorflow_flags()
        if tf_flags is None:
            print("pointops: no TensorFlow 2.16-2.21 at build time; building pointops._C only",
                  file=sys.stderr)
        else:
            cflags, lflags, version = tf_flags
            args += [f"-DPOINTOPS_TF_CFLAGS={cflags}", f"-DPOINTOPS_TF_LFLAGS={lflags}",
                     f"-DPOINTOPS_TF_VERSION={version}"]
        jobs = os.environ.get("POINTOPS_BUILD_JOBS", str(os.cpu_count() or 2))
        subprocess.check_call(["cmake", "-S", str(source_dir), "-B", str(build_dir), *args])
        subprocess.check_call(["cmake", "--build", str(build_dir), "--parallel", jobs])


setup(ext_modules=[CMakeExtension("pointops._C")], cmdclass={"build_ext": CMakeBuild})
