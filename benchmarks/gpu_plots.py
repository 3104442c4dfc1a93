"""The GPU benchmark's log-log plots (time against N), drawn from the JSON that gpu_bench.py writes.

    python benchmarks/gpu_plots.py benchmarks/gpu_runs/v7_gpu_bench.json [--out benchmarks]

Needs only matplotlib (no PyTorch, no TensorFlow), so a saved run can be drawn anywhere; gpu_bench.py
calls it at the end of every run.
"""
import argparse
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (plotted op, implementation label, key in a gpu_bench row)
SERIES = {
    "chamfer": [("chamfer_fwd", "pointops, per call", "fwd_s"),
                ("chamfer_fwd", "pointops, GPU time (graph)", "fwd_graph_s"),
                ("chamfer_fwd", "PyTorch cdist", "cdist_fwd_s"),
                ("chamfer_fwd_bwd", "pointops, per call", "fwd_bwd_s"),
                ("chamfer_fwd_bwd", "pointops, GPU time (graph)", "fwd_bwd_graph_s"),
                ("chamfer_fwd_bwd", "PyTorch cdist", "cdist_fwd_bwd_s"),
                ("chamfer_fwd_bwd", "floor (FP32 lane rate)", "floor_s")],
    "emd": [("emd_fwd", "pointops, per call", "fwd_s"),
            ("emd_fwd", "PyTorch dense auction", "torch_auction_s")],
}


def _scaling_plot():
    """pointops/_scaling_plot.py by path: importing the pointops package would need TensorFlow."""
    spec = importlib.util.spec_from_file_location("pointops_scaling_plot", ROOT / "pointops" / "_scaling_plot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plot_rows(rows, device, folder):
    """rows: gpu_bench's result rows (op chamfer or emd, B, N, D and the timing keys it measured)."""
    series = [{"op": op, "B": row["B"], "N": row["N"], "D": row["D"], "implementation": label, "seconds": row[key]}
              for row in rows if row["op"] in SERIES for op, label, key in SERIES[row["op"]] if key in row]
    Path(folder).mkdir(parents=True, exist_ok=True)
    return _scaling_plot().write_scaling_plots(series, str(folder), f"GPU ({device})", "gpu")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", help="a gpu_bench.json")
    parser.add_argument("--out", default=str(ROOT / "benchmarks"), help="folder for the PNG plots")
    args = parser.parse_args()
    run = json.loads(Path(args.json).read_text())
    for path in plot_rows(run["rows"], run["device"], args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
