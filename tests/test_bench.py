"""The benchmark's pieces on tiny cases: rows, ratios, gaps, the markdown section and the plots."""
import importlib.util
from pathlib import Path

import numpy as np

from pointops.bench import cases, report, sweeps

ROOT = Path(__file__).resolve().parent.parent


def test_rows_markdown_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    tiny = [cases.Case("chamfer_fwd", 2, n, 3) for n in (64, 128)] + [cases.Case("emd_fwd", 1, 64, 3)]
    results = [sweeps.run_case(case, 0.01, rng) for case in tiny]
    chamfer = results[0]
    assert {"pointops", "broadcast (seed)", "pointops.reference", "scipy cKDTree"} <= set(chamfer.times)
    assert all(t > 0 for t in chamfer.times.values())
    emd = results[2]
    assert "scipy linear_sum_assignment" in emd.times
    assert -1e-6 <= emd.gap <= 1e-3  # against the exact optimum (float32 rounding can make it -0)
    text = report.markdown(results, "test")
    assert "### chamfer_fwd" in text and "x scipy cKDTree" in text and "gap to exact" in text
    out = tmp_path / "RESULTS.md"
    report.write_section(str(out), "quick", text)
    report.write_section(str(out), "quick", text)  # replaced, not appended twice
    assert out.read_text().count("<!-- bench:quick:start -->") == 1
    paths = report.plot(results, str(tmp_path))
    assert paths and all(open(p, "rb").read(4) == b"\x89PNG" for p in paths)


def test_xla_section_on_tiny_cases():
    from pointops.bench import xla as bench_xla
    text = bench_xla.run(0.01, log=lambda _: None, cases=[("chamfer", 2, 64, True), ("emd", 1, 32, False)],
                         keras_points=32)
    rows = [line for line in text.splitlines() if line.startswith("| chamfer") or line.startswith("| emd")]
    assert len(rows) == 2 and "skipped" not in rows[0] and "skipped" in rows[1]
    assert "jit_compile=True" in text and "per step" in text


def test_gpu_plots_from_saved_rows(tmp_path):
    """benchmarks/gpu_plots.py draws gpu_bench's rows without PyTorch or TensorFlow: one PNG per op
    that has a (B, D) with two N or more, none for an op measured at one N only."""
    spec = importlib.util.spec_from_file_location("gpu_plots", ROOT / "benchmarks" / "gpu_plots.py")
    gpu_plots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_plots)
    timings = {"fwd_s": 2e-4, "fwd_graph_s": 1e-4, "fwd_bwd_s": 3e-4, "fwd_bwd_graph_s": 2e-4, "floor_s": 8e-5}
    rows = [{"op": "chamfer", "B": 32, "N": n, "D": 3, **{k: v * n / 1024 for k, v in timings.items()}}
            for n in (1024, 2048)]
    rows.append({"op": "emd", "B": 32, "N": 2048, "D": 3, "fwd_s": 0.15})
    paths = gpu_plots.plot_rows(rows, "a test GPU", tmp_path)
    assert sorted(Path(p).name for p in paths) == ["bench_chamfer_fwd_bwd_gpu.png", "bench_chamfer_fwd_gpu.png"]
    assert all(open(p, "rb").read(4) == b"\x89PNG" for p in paths)
