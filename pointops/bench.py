"""pointops benchmark: pointops against the baselines users have, measured side by side in one run.

    python -m pointops bench [--quick | --full] [--output benchmarks/RESULTS.md] [--plots benchmarks]

Baselines, on the same data in the same run: the broadcast formula from the seed note (what users write
by hand; skipped where it would not fit in memory), pointops' own pure-TF reference path, scipy's cKDTree
(build + query both ways, workers=-1), scipy's exact linear_sum_assignment (cost matrix included) and POT
(ot.emd) when installed. Each row: the median time over repeats after a warm-up, each baseline's time over
pointops' time, the peak extra resident memory while it ran, and for EMD the gap to the exact optimum where
the exact solver is affordable. Writes a markdown table and log-log PNG plots of time against N.
"""
import argparse
import datetime
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import psutil
import tensorflow as tf

import pointops

MB = 2**20
MEMORY_LIMIT = 6 * 2**30  # a baseline whose estimated working set is above this is skipped


@dataclass(frozen=True)
class Case:
    op: str  # chamfer_fwd, chamfer_fwd_bwd, emd_fwd, emd_fwd_bwd
    B: int
    N: int
    D: int


@dataclass
class Result:
    case: Case
    times: dict = field(default_factory=dict)    # implementation -> median seconds
    memory: dict = field(default_factory=dict)   # implementation -> peak extra RSS bytes
    notes: list = field(default_factory=list)
    gap: float = None                            # EMD: (pointops cost - exact) / exact


def sweep(mode):
    """The cases of a mode: quick (under a minute), default (under three), full."""
    if mode == "quick":
        return [Case("chamfer_fwd", 8, 2048, 3), Case("chamfer_fwd_bwd", 8, 2048, 3),
                Case("chamfer_fwd", 1, 100_000, 3), Case("emd_fwd", 1, 1024, 3)]
    if mode == "default":
        cases = [Case(op, B, N, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for B in (1, 8)
                 for N in (1024, 2048, 8192) for D in (2, 3)]
        cases += [Case("chamfer_fwd", 1, 100_000, 3), Case("chamfer_fwd_bwd", 32, 8192, 3)]
        cases += [Case("emd_fwd", 1, N, 3) for N in (1024, 2048)] + [Case("emd_fwd_bwd", 8, 1024, 3)]
        return cases
    cases = [Case(op, B, N, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for B in (1, 8, 32)
             for N in (1024, 2048, 8192, 16384) for D in (2, 3)]
    cases += [Case(op, 1, 100_000, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for D in (2, 3)]
    cases += [Case(op, B, N, D) for op in ("emd_fwd", "emd_fwd_bwd") for B in (1, 8, 32)
              for N in (1024, 2048, 8192, 16384) for D in (2, 3) if B * N <= 32 * 2048 or B == 1]
    return cases


# --- implementations: each returns a function running the case once ---------------------------

def seed_chamfer(a, b):
    """The seed note's formula: the [B, N, M, D] broadcast."""
    diffs = tf.expand_dims(a, 2) - tf.expand_dims(b, 1)
    d = tf.reduce_sum(diffs**2, axis=-1)
    return tf.reduce_mean(tf.reduce_mean(tf.reduce_min(d, 2), 1)) + tf.reduce_mean(tf.reduce_mean(tf.reduce_min(d, 1), 1))


def with_backward(loss_fn):
    def run(a, b):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            loss = loss_fn(a, b)
        return tape.gradient(loss, [a, b])
    return run


def ckdtree_both_ways(a_np, b_np):
    from scipy.spatial import cKDTree
    for k in range(a_np.shape[0]):
        cKDTree(b_np[k]).query(a_np[k], workers=-1)
        cKDTree(a_np[k]).query(b_np[k], workers=-1)


def exact_assignment(a_np, b_np):
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist
    out = []
    for k in range(a_np.shape[0]):
        cost = cdist(a_np[k], b_np[k])
        rows, cols = linear_sum_assignment(cost)
        out.append(cost[rows, cols].mean())
    return out


def pot_emd(a_np, b_np):
    import ot
    for k in range(a_np.shape[0]):
        n = a_np.shape[1]
        ot.emd(np.full(n, 1 / n), np.full(n, 1 / n), ot.dist(a_np[k], b_np[k], metric="euclidean"))


def implementations(case, a, b):
    """name -> (callable, estimated peak bytes or 0); the first entry is pointops itself."""
    a_np, b_np = a.numpy(), b.numpy()
    B, N, D = case.B, case.N, case.D
    pairwise = B * N * N * 4
    impls = {}
    if case.op.startswith("chamfer"):
        fwd = case.op == "chamfer_fwd"
        impls["pointops"] = (pointops.chamfer_distance if fwd else with_backward(pointops.chamfer_distance), 0)
        impls["broadcast (seed)"] = (seed_chamfer if fwd else with_backward(seed_chamfer), pairwise * (D + 2) * (1 if fwd else 3))
        impls["pointops.reference"] = (pointops.reference.chamfer_distance if fwd else
                                       with_backward(pointops.reference.chamfer_distance), pairwise * D * 2 // B)
        if fwd:
            impls["scipy cKDTree"] = (lambda a, b: ckdtree_both_ways(a_np, b_np), 0)
    else:
        fwd = case.op == "emd_fwd"
        impls["pointops"] = (pointops.emd if fwd else with_backward(pointops.emd), 0)
        if N <= 1024 and B <= 8:
            impls["pointops.reference"] = (pointops.reference.emd if fwd else with_backward(pointops.reference.emd),
                                           pairwise * 8 * 4)
        if fwd and N <= 4096:
            impls["scipy linear_sum_assignment"] = (lambda a, b: exact_assignment(a_np, b_np), pairwise * 2)
            try:
                import ot  # noqa: F401
                impls["POT ot.emd"] = (lambda a, b: pot_emd(a_np, b_np), pairwise * 3)
            except ImportError:
                pass
    return impls


# --- measurement ------------------------------------------------------------------------------

class PeakRss:
    """Peak resident memory above the level at entry, sampled every millisecond."""

    def __enter__(self):
        self.process = psutil.Process()
        self.base = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.extra = self.peak - self.base


def time_median(fn, a, b, budget_s):
    fn(a, b)  # warm-up: tracing, thread pools, allocator
    times = []
    while len(times) < 3 or (sum(times) < budget_s and len(times) < 20):
        start = time.perf_counter()
        result = fn(a, b)
        if isinstance(result, (list, tuple)):
            [r.numpy() for r in result if hasattr(r, "numpy")]
        elif hasattr(result, "numpy"):
            result.numpy()
        times.append(time.perf_counter() - start)
        if times[0] > budget_s:  # one slow baseline run is enough
            break
    return statistics.median(times)


def run_case(case, budget_s, rng):
    a = tf.constant(rng.random((case.B, case.N, case.D), dtype=np.float32))
    b = tf.constant(rng.random((case.B, case.N, case.D), dtype=np.float32))
    result = Result(case)
    for name, (fn, estimated) in implementations(case, a, b).items():
        if estimated > MEMORY_LIMIT:
            result.notes.append(f"{name} skipped: needs about {estimated / 2**30:.0f} GiB")
            continue
        with PeakRss() as rss:
            result.times[name] = time_median(fn, a, b, budget_s)
        result.memory[name] = rss.extra
    if case.op == "emd_fwd" and "scipy linear_sum_assignment" in result.times:
        _, assignment = pointops.emd(a, b, batch_reduction=None, return_assignment=True)
        ours = np.linalg.norm(a.numpy() - np.take_along_axis(b.numpy(), assignment.numpy()[..., None], 1), axis=-1).mean(1)
        exact = np.array(exact_assignment(a.numpy(), b.numpy()))
        result.gap = float(((ours - exact) / exact).max())
    return result


# --- output -------------------------------------------------------------------------------------

def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"pointops backend: {pointops.backend_info()['active']}")


def markdown(results, command):
    lines = [f"Machine: {machine()}  ", f"Command: `{command}`  ",
             f"Date: {datetime.date.today().isoformat()}", "",
             "Times are medians after a warm-up; `x` columns are the baseline's time over pointops' time "
             "(higher is better for pointops); memory is the peak extra resident memory while the "
             "implementation ran.", ""]
    for op in dict.fromkeys(r.case.op for r in results):
        rows = [r for r in results if r.case.op == op]
        baselines = list(dict.fromkeys(n for r in rows for n in r.times if n != "pointops"))
        header = ["B", "N", "D", "pointops", "pointops memory"] + [f"{n}" for n in baselines] + [f"x {n}" for n in baselines]
        if op == "emd_fwd":
            header.append("gap to exact")
        lines += [f"### {op}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            ours = r.times.get("pointops")
            cells = [str(r.case.B), str(r.case.N), str(r.case.D), f"{ours * 1e3:.2f} ms",
                     f"{r.memory.get('pointops', 0) / MB:.0f} MB"]
            cells += [f"{r.times[n] * 1e3:.1f} ms" if n in r.times else "skipped" for n in baselines]
            cells += [f"{r.times[n] / ours:.1f}" if n in r.times else "-" for n in baselines]
            if op == "emd_fwd":
                cells.append(f"{r.gap:.1e}" if r.gap is not None else "-")
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"B={r.case.B} N={r.case.N} D={r.case.D}: {note}" for r in rows for note in r.notes]
        lines += [""] + [f"- {note}" for note in notes] + ([""] if notes else [])
    return "\n".join(lines) + "\n"


def plot(results, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    for op in dict.fromkeys(r.case.op for r in results):
        rows = [r for r in results if r.case.op == op]
        fig, ax = plt.subplots(figsize=(7, 5))
        for (B, D) in sorted({(r.case.B, r.case.D) for r in rows}):
            group = sorted((r for r in rows if (r.case.B, r.case.D) == (B, D)), key=lambda r: r.case.N)
            if len(group) < 2:
                continue
            for name in dict.fromkeys(n for r in group for n in r.times):
                points = [(r.case.N, r.times[name]) for r in group if name in r.times]
                if len(points) >= 2:
                    ax.plot(*zip(*points), marker="o", label=f"{name} (B={B}, D={D})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("points per cloud N (= M)")
        ax.set_ylabel("median time [s]")
        ax.set_title(f"{op} on CPU ({psutil.cpu_count()} cores)")
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
            path = os.path.join(folder, f"bench_{op}_cpu.png")
            fig.savefig(path, dpi=120, bbox_inches="tight")
            paths.append(path)
        plt.close(fig)
    return paths


def main(argv=None):
    from tqdm import tqdm
    parser = argparse.ArgumentParser(prog="python -m pointops bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a few cases, under a minute")
    mode.add_argument("--full", action="store_true", help="every case of the sweep")
    parser.add_argument("--output", default="benchmarks/RESULTS.md", help="markdown file to write")
    parser.add_argument("--plots", default="benchmarks", help="folder for the PNG plots")
    parser.add_argument("--budget", type=float, default=None, help="seconds of repeats per measurement")
    args = parser.parse_args(argv)
    name = "quick" if args.quick else "full" if args.full else "default"
    budget = args.budget or {"quick": 0.3, "default": 0.6, "full": 2.0}[name]
    rng = np.random.default_rng(0)
    results = []
    progress = tqdm(sweep(name), desc=f"pointops bench ({name})", unit="case")
    for case in progress:
        progress.set_postfix_str(f"{case.op} B={case.B} N={case.N} D={case.D}")
        results.append(run_case(case, budget, rng))
    command = "python -m pointops bench" + {"quick": " --quick", "full": " --full", "default": ""}[name]
    text = markdown(results, command)
    print("\n" + text)
    if args.output:
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        with open(args.output, "w") as f:
            f.write(f"# pointops benchmark results ({name} sweep)\n\n" + text)
        print(f"wrote {args.output}")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        for path in plot(results, args.plots):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
