"""Regression tests for inputs that used to crash, hang or give wrong numbers. Each runs in its own
process: a crash there fails the test instead of killing the run."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

TIMEOUT = 300


def run_python(code, **env):
    """Runs code in a fresh interpreter; returns the CompletedProcess (a crash shows as a signal)."""
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=TIMEOUT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
                         cwd=Path(__file__).parent)
    assert run.returncode >= 0, f"killed by signal {-run.returncode}: {run.stderr[-2000:]}"
    return run


def expect_ok(code, **env):
    run = run_python(code, **env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.mark.parametrize("dtype,scale", [("float32", 1e20), ("float64", 1e200)])
def test_emd_costs_that_overflow_are_an_error_naming_the_magnitude(dtype, scale):
    expect_ok(f"""
        import numpy as np, pytest, tensorflow as tf, pointops
        from pointops import _C
        rng = np.random.default_rng(0)
        a = (rng.random((2, 50, 3)) * {scale}).astype("{dtype}")
        b = (rng.random((2, 50, 3)) * {scale}).astype("{dtype}")
        # Squared costs beyond the dtype are refused, with the magnitude; Euclidean ones fit and are solved
        # on the clouds scaled by a power of two (issue #31), which gives the scaled-down clouds' value.
        with pytest.raises(ValueError, match=r"cloud 0 overflow {dtype}: its points span [0-9.]+e\\+[0-9]+, whose square exceeds"):
            _C.emd_match(a, b, squared=True)
        with pytest.raises(tf.errors.InvalidArgumentError, match="overflow {dtype}"):
            pointops.emd(a, b, squared=True)
        small = pointops.emd(a / {scale}, b / {scale}).numpy()
        assert np.isfinite(small) and small > 0
        np.testing.assert_allclose(pointops.emd(a, b).numpy() / {scale}, small, rtol=2e-3)
    """)


def test_eval_skips_and_counts_a_pair_whose_costs_overflow(tmp_path):
    """Clouds at 1e200 are evaluated (scaled by the kernels, issue #31); clouds spanning -1.5e308 to 1.5e308,
    whose EMD costs themselves overflow float64, are skipped with the reason."""
    rng = np.random.default_rng(1)
    for folder in ("pred", "gt"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "huge.npy", (rng.random((40, 3)) * 2 - 1) * 1.5e308)
        np.save(tmp_path / folder / "big.npy", rng.random((40, 3)) * 1e200)
        np.save(tmp_path / folder / "fine.npy", rng.random((40, 3)))
    run = subprocess.run([sys.executable, "-m", "pointops", "eval", str(tmp_path / "pred"), str(tmp_path / "gt")],
                         capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "means over 2 of 3 pairs" in run.stdout
    assert "skipped huge" in run.stderr and "overflow float64" in run.stderr


def test_empty_batch_is_a_no_op_everywhere():
    expect_ok("""
        import numpy as np, pointops
        from pointops import _C
        a = np.zeros((0, 7, 3), np.float32)
        assignment, gap, rounds = _C.emd_match(a, a)
        assert assignment.shape == (0, 7) and gap.shape == (0,) and rounds == 0
        d_ab, i_ab, d_ba, i_ba = _C.nn_distance(a, np.zeros((0, 5, 3), np.float32))
        assert d_ab.shape == (0, 7) and i_ba.shape == (0, 5)
        assert _C.nn_distance_grad(a, a, np.zeros((0, 7), np.int32), np.zeros((0, 7), np.int32),
                                   np.zeros((0, 7), np.float32), np.zeros((0, 7), np.float32))[0].shape == (0, 7, 3)
        assignment, gap = pointops.emd_match(a, a)
        assert assignment.shape == (0, 7) and gap.shape == (0,)
        assert pointops.emd(a, a, batch_reduction=None).shape == (0,)
        assert pointops.chamfer_distance(a, a, batch_reduction=None).shape == (0,)
        assert pointops.nn_distance(a, a)[1].shape == (0, 7)
    """)


def test_a_huge_max_iter_is_no_budget_overflow():
    expect_ok("""
        import numpy as np, pointops
        from scipy.optimize import linear_sum_assignment
        from scipy.spatial.distance import cdist
        rng = np.random.default_rng(2)
        a, b = rng.random((1, 300, 3)), rng.random((1, 300, 3))
        cost = cdist(a[0], b[0])
        exact = cost[linear_sum_assignment(cost)].mean()
        for max_iter in (2**62, 2**63 - 1):
            assignment, gap = pointops.emd_match(a, b, max_iter=max_iter)
            ours = cost[np.arange(300), assignment.numpy()[0]].mean()
            assert ours - exact <= 1e-3 * exact, (max_iter, ours, exact)
            assert 0 <= gap.numpy()[0] <= 1e-3 * ours
    """)


def test_lengths_past_int32_are_out_of_range_not_truncated():
    expect_ok("""
        import numpy as np, pytest, tensorflow as tf, pointops
        from pointops import _C
        a = np.zeros((2, 5, 3), np.float32)
        huge = np.array([2**32 + 5, 5], np.int64)  # truncated to int32 it would read as 5
        with pytest.raises(ValueError, match=r"a_lengths\\[0\\] = 4294967301 is outside \\[1, 5\\]"):
            _C.nn_distance(a, a, a_lengths=huge)
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="a_lengths"):
            pointops.nn_distance(a, a, a_lengths=huge)
        with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="a_lengths"):
            pointops.emd(a, a, a_lengths=huge, b_lengths=huge)
        with pytest.raises(TypeError, match="a_lengths must be an integer array"):
            _C.nn_distance(a, a, a_lengths=np.array([2.5, 5.0]))
    """)


def test_nan_in_ignored_padding_leaves_emd_gradients_finite():
    expect_ok("""
        import numpy as np, tensorflow as tf, pointops
        rng = np.random.default_rng(3)
        a, b = rng.random((2, 8, 3)), rng.random((2, 8, 3))
        a[0, 6:], b[0, 6:] = np.nan, np.inf  # padding of cloud 0 (length 6)
        lengths = np.array([6, 8])
        for emd in (pointops.emd, pointops.reference.emd):
            at, bt = tf.constant(a), tf.constant(b)
            with tf.GradientTape() as tape:
                tape.watch([at, bt])
                loss = emd(at, bt, a_lengths=lengths, b_lengths=lengths)
            ga, gb = tape.gradient(loss, [at, bt])
            assert np.isfinite(loss.numpy())
            assert np.isfinite(ga.numpy()[0, :6]).all() and np.isfinite(gb.numpy()[0, :6]).all()
            assert np.isfinite(ga.numpy()[1]).all() and np.isfinite(gb.numpy()[1]).all()
    """)


def test_allocation_failure_in_a_worker_is_a_memory_error():
    expect_ok("""
        import resource, numpy as np, pytest
        from pointops import _C
        rng = np.random.default_rng(4)
        a = rng.random((2, 3_000_000, 3), dtype=np.float32)
        b = rng.random((2, 3_000_000, 3), dtype=np.float32)
        _C.nn_distance(a[:, :1000], b[:, :1000], threads=2)  # threads and pools warmed up
        used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + 64 * 2**20, resource.RLIM_INFINITY))
        with pytest.raises(MemoryError):
            _C.nn_distance(a, b, algorithm="tree", threads=2)  # the trees need ~200 MB
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(_C.nn_distance(a[:, :100], b[:, :100])[0].shape)  # still alive and working
    """)


def test_allocation_failure_in_a_tf_kernel_is_resource_exhausted():
    """Under an address-space limit 400 MB above what the process uses, TF's outputs (192 MB) fit and
    the kernel's two k-d trees (860 MB, D = 8) do not, whatever slack malloc's arenas hold: the
    std::bad_alloc of a worker becomes ResourceExhaustedError, and the process goes on."""
    out = expect_ok("""
        import resource, numpy as np, pytest, tensorflow as tf, pointops
        rng = np.random.default_rng(4)
        a = tf.constant(rng.random((1, 12_000_000, 8), dtype=np.float32))
        b = tf.constant(rng.random((1, 12_000_000, 8), dtype=np.float32))
        pointops.nn_distance(a[:, :1000], b[:, :1000])
        used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + 400 * 2**20, resource.RLIM_INFINITY))
        with pytest.raises(tf.errors.ResourceExhaustedError) as err:
            pointops.nn_distance(a, b, algorithm="tree")
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(err.value.message.split("}}")[-1].strip()[:80])
        print(pointops.nn_distance(a[:, :100], b[:, :100])[0].shape)
    """)
    assert "(1, 100)" in out
    assert "out of memory in the CPU kernel" in out


def test_keras_classes_are_registered_after_a_plain_import():
    """So that keras.saving.load_model finds them in a model saved with them (tests/test_keras.py loads one)."""
    out = expect_ok("""
        import keras, pointops
        print(keras.saving.get_registered_object("pointops>ChamferLoss").__name__, type(pointops.keras.EMDLoss()).__name__)
    """)
    assert out.strip() == "ChamferLoss EMDLoss"


def test_eval_skips_and_counts_malformed_files(tmp_path):
    bad = {"strings": np.array([["a", "b", "c"]] * 4), "records": np.zeros(4, dtype=[("x", "f4"), ("y", "f4")]),
           "complex": np.ones((4, 3)) * (1 + 2j), "bools": np.ones((4, 3), bool), "scalar": np.float64(3.0)}
    for folder in ("pred", "gt"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "good.npy", np.random.default_rng(5).random((16, 3)))
        for name, array in bad.items():
            np.save(tmp_path / folder / f"{name}.npy", array)
        (tmp_path / folder / "garbage.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1\n")
        (tmp_path / folder / "truncated.npy").write_bytes(b"\x93NUMPY\x01\x00")
    run = subprocess.run(["pointops", "eval", str(tmp_path / "pred"), str(tmp_path / "gt")], capture_output=True,
                         text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "means over 1 of 8 pairs" in run.stdout
    for name in [*bad, "garbage", "truncated"]:
        assert f"skipped {name}:" in run.stderr
    assert "expected real numbers, got dtype complex128" in run.stderr


def test_command_hides_tensorflow_start_up_log():
    run = subprocess.run(["pointops", "info"], capture_output=True, text=True, timeout=TIMEOUT,
                         env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert run.returncode == 0
    assert "cpu_level" in run.stdout
    assert "oneDNN" not in run.stderr and "absl" not in run.stderr and "cuda" not in run.stderr.lower()


def test_parameters_out_of_range_are_errors_not_other_answers():
    """A negative F-score threshold used to act as its absolute value (it is squared); an int64
    neighbour index past int32 used to wrap into range (now it is an error that names it)."""
    expect_ok(r"""
        import numpy as np, pytest, tensorflow as tf, pointops
        from pointops import _C
        a = np.random.default_rng(6).random((1, 20, 3)).astype(np.float32)
        for bad in (-0.1, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="threshold must be finite and >= 0"):
                pointops.f_score(a, a[:, ::-1], bad)
            with pytest.raises(ValueError, match="threshold"):
                pointops.reference.f_score(a, a[:, ::-1], bad)
        with pytest.raises(tf.errors.InvalidArgumentError, match="threshold must be >= 0"):
            pointops.f_score(a, a, tf.constant(-0.1))
        for bad in (0.0, -5.0, float("nan")):
            with pytest.raises(ValueError, match="alpha must be finite and > 0"):
                pointops.density_aware_chamfer(a, a, alpha=bad)
        with pytest.raises(ValueError, match="n_lambda"):
            pointops.density_aware_chamfer(a, a, n_lambda=-1.0)
        b = a[:, ::-1] + np.float32(0.01)
        _, idx_ab, _, idx_ba = _C.nn_distance(a, b)
        wrapped = idx_ab.astype(np.int64) + 2**32  # would read as the same indices if wrapped
        g = np.ones((1, 20), np.float32)
        with pytest.raises(ValueError, match=r"idx_ab\[0, 0\] = 2147483647 is outside \[0, 20\)"):
            _C.nn_distance_grad(a, b, wrapped, idx_ba, g, g)  # saturated, so still out of range: an error
        padded = _C.nn_distance_grad(a, b, np.full_like(idx_ab, -1), idx_ba, g, g)  # -1: padding, no term
        in_range = _C.nn_distance_grad(a, b, idx_ab, idx_ba, g, g)
        assert not np.array_equal(padded[0], in_range[0])
    """)

