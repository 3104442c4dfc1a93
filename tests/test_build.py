"""The built libraries leave no CUDA runtime symbol undefined (it is linked in statically and
hidden, so it cannot bind to the CUDA runtime inside libtensorflow_framework)."""
import shutil
import subprocess
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
