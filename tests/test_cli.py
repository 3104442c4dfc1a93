"""python -m pointops info / eval, and the point-file readers."""
import json
import re
import os
import subprocess
import sys

import numpy as np
import ot
import pytest
import tensorflow as tf

import pointops
from pointops._cli_args import plain_error
from pointops.io import PointFileError, read_points


def run(*args):
    # From a neutral folder, so that the installed package runs, not a source checkout beside it.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "pointops", *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(os.path.dirname(pointops.__file__)))


def write_ply(path, points, binary):
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0", f"element vertex {len(points)}",
              "property float x", "property float y", "property float z", "property uchar red", "end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode())
        if binary:
            rec = np.zeros(len(points), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1")])
            rec["x"], rec["y"], rec["z"] = points.T
            f.write(rec.tobytes())
        else:
            for p in points:
                f.write(f"{p[0]} {p[1]} {p[2]} 7\n".encode())


@pytest.mark.parametrize("suffix", [".npy", ".xyz", ".pts", ".ply-ascii", ".ply-binary"])
def test_readers(tmp_path, rng, suffix):
    points = rng.random((17, 3)).astype(np.float32).astype(np.float64)
    path = tmp_path / ("cloud" + suffix.split("-")[0])
    if suffix == ".npy":
        np.save(path, points)
    elif suffix in (".xyz", ".pts"):
        np.savetxt(path, points)
    else:
        write_ply(path, points, binary=suffix.endswith("binary"))
    np.testing.assert_allclose(read_points(path), points, rtol=1e-6)


def test_bad_files_are_named(tmp_path):
    (tmp_path / "empty.xyz").write_text("")
    (tmp_path / "wide.xyz").write_text("1 2 3 4 5 6 7 8 9\n")
    (tmp_path / "junk.ply").write_bytes(b"not a ply")
    for name in ("empty.xyz", "wide.xyz", "junk.ply"):
        with pytest.raises(PointFileError, match=name):
            read_points(tmp_path / name)


def test_eval_folders(tmp_path, rng):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    clouds = {}
    for k in range(3):
        a, b = rng.random((40, 3)), rng.random((40 if k < 2 else 30, 3))
        np.save(pred / f"shape{k}.npy", a)
        np.savetxt(gt / f"shape{k}.xyz", b)
        clouds[f"shape{k}"] = (a, b)
    (pred / "broken.xyz").write_text("1 2\n3\n")   # unreadable: must be reported, not dropped silently
    np.save(gt / "broken.npy", rng.random((5, 3)))
    np.save(pred / "lonely.npy", rng.random((5, 3)))
    out = run("eval", pred, gt, "--threshold", 0.1, "--json", tmp_path / "out.json")
    assert out.returncode == 1, out.stderr
    assert "skipped broken" in out.stderr and "broken.xyz" in out.stderr and "skipped lonely" in out.stderr
    assert "means over 3 of 5 pairs" in out.stdout
    report = json.loads((tmp_path / "out.json").read_text())
    assert set(report["pairs"]) == {"shape0", "shape1", "shape2"}
    for name, (a, b) in clouds.items():
        row = report["pairs"][name]
        d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
        np.testing.assert_allclose(row["CD-L1"], d.min(1).mean() + d.min(0).mean(), rtol=1e-9)
        np.testing.assert_allclose(row["CD-L2"], (d.min(1) ** 2).mean() + (d.min(0) ** 2).mean(), rtol=1e-9)
        p, r = (d.min(1) < 0.1).mean(), (d.min(0) < 0.1).mean()
        np.testing.assert_allclose(row["F-score"], 2 * p * r / (p + r) if p + r else 0, rtol=1e-9)
        # EMD also where the sizes differ (shape2: 40 against 30 points), against POT's exact solver.
        exact = ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), d)
        assert exact * (1 - 1e-9) <= row["EMD"] <= exact * (1 + 1e-3)
    for column in ("CD-L2", "EMD"):
        np.testing.assert_allclose(report["means"][column], np.mean([r[column] for r in report["pairs"].values()]))


def test_eval_single_files(tmp_path, rng):
    np.save(tmp_path / "a.npy", rng.random((20, 2)))
    np.save(tmp_path / "b.npy", rng.random((20, 2)))
    out = run("eval", tmp_path / "a.npy", tmp_path / "b.npy")
    assert out.returncode == 0, out.stderr
    assert "means over 1 of 1 pairs" in out.stdout


def test_info():
    out = run("info")
    assert out.returncode == 0, out.stderr
    assert "active" in out.stdout and pointops.__version__ in out.stdout


def test_eval_gen_table(tmp_path):
    from pointops.mesh_clouds import mesh_clouds
    from pointops.metrics import generative_metrics
    samples, refs = mesh_clouds(5, 96, seed=1) * 4 + 1, mesh_clouds(4, 96, seed=2) * 2
    np.save(tmp_path / "samples.npy", samples)
    (tmp_path / "refs").mkdir()
    for k, cloud in enumerate(refs):
        np.savetxt(tmp_path / "refs" / f"{k}.xyz", cloud)
    result = run("eval-gen", tmp_path / "samples.npy", tmp_path / "refs", "--normalize", "unit-box",
                 "--jsd-resolution", "12", "--json", tmp_path / "out.json", "--markdown", tmp_path / "out.md")
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "out.json").read_text())
    # unit-box, written out here: centre of the bounding box to 0, longest side to 1.
    box = lambda c: (c - (c.min(1, keepdims=True) + c.max(1, keepdims=True)) / 2) / np.ptp(c, axis=1).max(1)[:, None, None]
    want = generative_metrics(box(samples), box(refs), jsd_resolution=12)
    for key, value in want.items():
        assert saved["metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
    table = (tmp_path / "out.md").read_text()
    assert table in result.stdout and "| 1-NNA-EMD |" in table and "normalisation unit-box" in table


@pytest.mark.parametrize("setup, words", [
    ("ragged", "the clouds differ in shape"),
    ("text", "expected a folder of point files or a .npy array"),
    ("flat", r"expected clouds \[clouds, points, 3\], got shape \[4, 3\]"),
])
def test_eval_gen_rejects_bad_sets(tmp_path, setup, words):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((2, 8, 3)))
    bad = tmp_path / {"ragged": "ragged", "text": "clouds.txt", "flat": "flat.npy"}[setup]
    if setup == "ragged":
        bad.mkdir()
        np.save(bad / "a.npy", np.zeros((8, 3)))
        np.save(bad / "b.npy", np.zeros((9, 3)))
    elif setup == "text":
        bad.write_text("1 2 3\n")
    else:
        np.save(bad, np.zeros((4, 3)))
    result = run("eval-gen", good, bad)
    assert result.returncode == 2 and re.search(words, result.stderr), result.stderr


@pytest.mark.parametrize("command,flag,value", [("eval", "--threshold", "nan"), ("eval", "--threshold", "-0.1"),
                                                ("eval", "--threshold", "inf"), ("eval-gen", "--eps", "0"),
                                                ("eval-gen", "--jsd-resolution", "0"),
                                                ("eval-gen", "--normalize", "unit-cube")])
def test_bad_arguments_stop_at_once_naming_the_argument(tmp_path, command, flag, value):
    """Exit status 2 with one line that names the argument, before any pair is read (the files here do not
    even exist: reading them would give another message)."""
    out = run(command, tmp_path / "missing_a", tmp_path / "missing_b", flag, value)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("python -m pointops")]
    assert len(errors) == 1 and f"argument {flag}" in errors[0], out.stderr[-2000:]
    assert "missing_a" not in out.stderr


def test_unsupported_ply_type_is_named_in_words(tmp_path, rng):
    header = ["ply", "format ascii 1.0", "element vertex 2", "property float128 x", "property float y", "end_header"]
    (tmp_path / "odd.ply").write_text("\n".join(header) + "\n1 2\n3 4\n")
    with pytest.raises(PointFileError, match="PLY property type 'float128' is not supported"):
        read_points(tmp_path / "odd.ply")


def test_far_clouds_are_evaluated(tmp_path):
    """Clouds spanning 1e160 (whose squared distances overflow float64) are evaluated, not skipped: the
    kernels scale them (issue #31)."""
    for side, shift in (("pred", 0.0), ("gt", 3e159)):
        (tmp_path / side).mkdir()
        np.save(tmp_path / side / "far.npy", np.array([[0, 0, 0], [1e160, 0, 0]]) + [shift, 0, 0])
    out = run("eval", tmp_path / "pred", tmp_path / "gt", "--json", tmp_path / "out.json")
    assert out.returncode == 0, out.stderr
    row = json.loads((tmp_path / "out.json").read_text())["pairs"]["far"]
    assert row["EMD"] == pytest.approx(3e159, rel=1e-3)


def test_error_message_has_no_tensorflow_internals():
    """What eval prints for a pair the kernel refuses (here squared costs that truly overflow float64)
    is the kernel's reason in words, without TensorFlow's function-node prefix."""
    far = np.array([[[0.0, 0, 0], [1e160, 0, 0]]])
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        pointops.emd(far, far[:, ::-1], squared=True)
    assert "function_node" in str(caught.value)  # what the message would carry
    reason = plain_error(caught.value)
    assert "overflow float64" in reason
    assert "{{" not in reason and "function_node" not in reason and "job:localhost" not in reason
