"""The benchmark's pieces on tiny cases: rows, ratios, gaps, the markdown section and the plots."""
import numpy as np

from pointops import bench


def test_rows_markdown_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    cases = [bench.Case("chamfer_fwd", 2, n, 3) for n in (64, 128)] + [bench.Case("emd_fwd", 1, 64, 3)]
    results = [bench.run_case(case, 0.01, rng) for case in cases]
    chamfer = results[0]
    assert {"pointops", "broadcast (seed)", "pointops.reference", "scipy cKDTree"} <= set(chamfer.times)
    assert all(t > 0 for t in chamfer.times.values())
    emd = results[2]
    assert "scipy linear_sum_assignment" in emd.times
    assert -1e-6 <= emd.gap <= 1e-3  # against the exact optimum (float32 rounding can make it -0)
    text = bench.markdown(results, "test")
    assert "### chamfer_fwd" in text and "x scipy cKDTree" in text and "gap to exact" in text
    out = tmp_path / "RESULTS.md"
    bench.write_section(str(out), "quick", text)
    bench.write_section(str(out), "quick", text)  # replaced, not appended twice
    assert out.read_text().count("<!-- bench:quick:start -->") == 1
    paths = bench.plot(results, str(tmp_path))
    assert paths and all(open(p, "rb").read(4) == b"\x89PNG" for p in paths)
