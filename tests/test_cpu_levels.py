"""One build for every x86-64 CPU: the CPU kernels exist once per instruction-set level (baseline,
avx, avx2, avx512), the best one this CPU runs is picked at load, POINTOPS_CPU_LEVEL caps it, and
every level gives the oracles' answers, bit-identical to the other levels."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pointops
from pointops import _C

PROBE = Path(__file__).parent / "helpers" / "kernel_probe.py"
C_LIBRARY = str(Path(_C.__file__))
LEVELS = list(_C.cpu_levels())
TESTS = Path(__file__).parent


def probe(tmp_path, level, command_prefix=()):
    out = tmp_path / f"{level or 'default'}.npz"
    env = dict(os.environ, POINTOPS_CPU_LEVEL=level) if level else dict(os.environ)
    # numpy from this environment, whatever interpreter path runs it (qemu needs the real binary)
    env["PYTHONPATH"] = str(Path(np.__file__).parent.parent)
    python = os.path.realpath(sys.executable)
    run = subprocess.run([*command_prefix, python, str(PROBE), C_LIBRARY, str(out)], env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), dict(np.load(out))


def test_levels_reported():
    info = pointops.backend_info()
    assert LEVELS[0] == "baseline"
    assert info["cpu_levels_supported"] == LEVELS
    assert info["cpu_level"] == _C.cpu_level()
    expected = os.environ.get("POINTOPS_CPU_LEVEL")
    assert info["cpu_level"] == (expected if expected in LEVELS else LEVELS[-1])
    if os.uname().machine == "x86_64" and pointops._backend.build_info().get("native") != "ON":
        assert "avx" in LEVELS  # every CPU TensorFlow supports has AVX


def test_every_level_matches_the_oracles_bit_for_bit(tmp_path):
    outputs = {}
    for level in LEVELS:
        report, outputs[level] = probe(tmp_path, level)
        assert report["level"] == level
        assert all(report["checks"].values()), [k for k, ok in report["checks"].items() if not ok]
    first = outputs[LEVELS[0]]
    for level in LEVELS[1:]:
        for key, value in first.items():
            assert np.array_equal(value, outputs[level][key], equal_nan=True), (level, key)


def test_a_level_name_caps_and_an_unknown_one_is_ignored_with_a_warning():
    code = ("import warnings, pointops; print(pointops.backend_info()['cpu_level'])")
    for value, expected in [(LEVELS[0], LEVELS[0]), ("sse9", LEVELS[-1])]:
        run = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, POINTOPS_CPU_LEVEL=value), cwd=TESTS, timeout=300)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split()[-1] == expected
        assert ("is not a CPU level" in run.stderr) == (value == "sse9")


@pytest.mark.parametrize("level", LEVELS[:-1])
def test_oracle_tests_pass_on_lower_levels(level, tmp_path):
    """The suite runs on the best level; the oracle test files run again on each lower one (from a
    folder outside the checkout, whose source package would shadow the installed one)."""
    files = [str(TESTS / name) for name in ("test_nn_values.py", "test_nn_grad.py", "test_emd.py")]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files],
                         capture_output=True, text=True, env=dict(os.environ, POINTOPS_CPU_LEVEL=level),
                         cwd=tmp_path, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:]


QEMU = shutil.which("qemu-x86_64-static") or shutil.which("qemu-x86_64")


@pytest.mark.skipif(QEMU is None or os.uname().machine != "x86_64",
                    reason="qemu's x86-64 user-mode emulator is not installed (.ci/run installs it)")
@pytest.mark.parametrize("cpu,level", [("Nehalem", "baseline"), ("SandyBridge", "avx"), ("Haswell", "avx2")])
def test_runs_on_an_emulated_older_cpu(tmp_path, cpu, level):
    """The build runs, and picks the right level, on CPUs older than this one: a Nehalem without
    AVX (TensorFlow needs AVX, pointops._C does not), an AVX-only Sandy Bridge and an AVX2 Haswell
    (a binary built for AVX-512 would die there with SIGILL)."""
    if level not in LEVELS:
        pytest.skip(f"this build has no {level} level")
    report, outputs = probe(tmp_path, None, (QEMU, "-cpu", cpu))
    assert report["level"] == level
    assert all(report["checks"].values()), [k for k, ok in report["checks"].items() if not ok]
    _, native = probe(tmp_path, level)
    for key, value in native.items():
        assert np.array_equal(value, outputs[key], equal_nan=True), key
