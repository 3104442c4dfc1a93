"""pointops benchmark: pointops against the baselines users have, measured side by side in one run.

    python -m pointops bench [--quick | --full] [--metrics | --knn | --transport | --xla] [--output benchmarks/RESULTS.md]
                             [--plots benchmarks]

Baselines, on the same data in the same run: the broadcast formula from the seed note (what users write
by hand; skipped where it would not fit in memory), pointops' own pure-TF reference path, scipy's cKDTree
(build + query both ways, workers=-1), scipy's exact linear_sum_assignment (cost matrix included) and POT
(ot.emd) when installed. Each row: the median time over repeats after a warm-up, each baseline's time over
pointops' time, the peak extra memory while it ran (TensorFlow's tensors plus the native heap), and for EMD the gap to the exact optimum where
the exact solver is affordable. Writes a markdown table and log-log PNG plots of time against N.
--metrics runs the data-set evaluation benchmark instead (pointops.bench_metrics), --knn the k-nearest-neighbour
benchmark (pointops.bench_knn), --transport EMD between clouds of different sizes against POT (pointops.bench_transport),
--xla the functions with and without XLA (pointops.bench_xla).
"""
import argparse
import ctypes
import datetime
import importlib.util
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import psutil

# TensorFlow reports CPU tensor memory only through its BFC allocator; it must be chosen before the
# first op runs (importing pointops runs none).
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "1")
import tensorflow as tf  # noqa: E402

import pointops
from pointops import _backend
from pointops._scaling_plot import write_scaling_plots

MB = 2**20
MEMORY_LIMIT = 6 * 2**30  # a baseline whose estimated working set is above this is skipped


@dataclass(frozen=True)
class Case:
    op: str  # chamfer_fwd, chamfer_fwd_bwd, emd_fwd, emd_fwd_bwd
    B: int
    N: int
    D: int
    clouds: str = "uniform"  # or "mesh": points on the surfaces of generated meshes (pointops.mesh_clouds)


@dataclass
class Result:
    case: Case
    times: dict = field(default_factory=dict)    # implementation -> median seconds
    memory: dict = field(default_factory=dict)   # implementation -> peak extra bytes
    notes: list = field(default_factory=list)
    gap: float = None                            # EMD: (pointops cost - exact) / exact


def sweep(mode):
    """The cases of a mode: quick (under a minute), default (about four), full."""
    mesh = [Case("chamfer_fwd", 8, 2048, 3, "mesh"), Case("chamfer_fwd_bwd", 8, 2048, 3, "mesh"),
            Case("chamfer_fwd", 1, 100_000, 3, "mesh"), Case("emd_fwd", 1, 2048, 3, "mesh"),
            Case("emd_fwd", 1, 4096, 3, "mesh")]
    if mode == "quick":
        return [Case("chamfer_fwd", 8, 2048, 3), Case("chamfer_fwd_bwd", 8, 2048, 3),
                Case("chamfer_fwd", 1, 100_000, 3), Case("emd_fwd", 1, 1024, 3), mesh[0]]
    if mode == "default":
        cases = [Case(op, B, N, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for B in (1, 8)
                 for N in (1024, 2048, 8192) for D in (2, 3)]
        cases += [Case("chamfer_fwd", 1, 100_000, 3), Case("chamfer_fwd_bwd", 32, 8192, 3)]
        cases += [Case("emd_fwd", 1, N, 3) for N in (1024, 2048, 4096)] + [Case("emd_fwd_bwd", 8, 1024, 3)]
        return cases + mesh
    cases = [Case(op, B, N, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for B in (1, 8, 32)
             for N in (1024, 2048, 8192, 16384) for D in (2, 3)]
    cases += [Case(op, 1, 100_000, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for D in (2, 3)]
    cases += [Case(op, B, N, D) for op in ("emd_fwd", "emd_fwd_bwd") for B in (1, 8, 32)
              for N in (1024, 2048, 8192, 16384) for D in (2, 3) if B * N <= 32 * 2048 or B == 1]
    return cases + mesh


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


def pykdtree_both_ways(a_np, b_np):
    from pykdtree.kdtree import KDTree  # OpenMP: every core
    for k in range(a_np.shape[0]):
        KDTree(b_np[k]).query(a_np[k], k=1)
        KDTree(a_np[k]).query(b_np[k], k=1)


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
    """POT's exact EMD (network simplex on the dense Euclidean cost matrix) of each cloud pair a_np[k]
    [N, D], b_np[k] [M, D] with uniform masses: a list of B values. The iteration cap is lifted: POT's
    default stops before the optimum at N = 8192."""
    import ot
    n, m = a_np.shape[1], b_np.shape[1]
    return [ot.emd2(np.full(n, 1 / n), np.full(m, 1 / m), ot.dist(a_np[k], b_np[k], metric="euclidean"),
                    numItermax=10**9) for k in range(a_np.shape[0])]


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
        if B * N * N <= 2**27:  # the reference's per-cloud [N, N] matrices: seconds beyond this
            impls["pointops.reference"] = (pointops.reference.chamfer_distance if fwd else
                                           with_backward(pointops.reference.chamfer_distance), pairwise * D * 2 // B)
        if fwd:
            impls["scipy cKDTree"] = (lambda a, b: ckdtree_both_ways(a_np, b_np), 0)
            if importlib.util.find_spec("pykdtree") is not None:
                impls["pykdtree"] = (lambda a, b: pykdtree_both_ways(a_np, b_np), 0)
    else:
        fwd = case.op == "emd_fwd"
        impls["pointops"] = (pointops.emd if fwd else with_backward(pointops.emd), 0)
        if B * N <= 1024:  # the dense pure-TF auction takes seconds per cloud at N = 1024
            impls["pointops.reference"] = (pointops.reference.emd if fwd else with_backward(pointops.reference.emd),
                                           pairwise * 8 * 4)
        if fwd and N <= 4096:
            impls["scipy linear_sum_assignment"] = (lambda a, b: exact_assignment(a_np, b_np), pairwise * 2)
            if importlib.util.find_spec("ot") is not None:  # POT, when installed
                impls["POT ot.emd"] = (lambda a, b: pot_emd(a_np, b_np), pairwise * 3)
    return impls


# --- measurement ------------------------------------------------------------------------------

class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _native_heap_in_use():
    """Bytes of C/C++ heap in use (glibc's mallinfo2: malloc'd plus mmap'd blocks), 0 where unavailable."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return 0
    return info.uordblks + info.hblkhd


class PeakMemory:
    """Peak extra memory while the block runs: TensorFlow's tensors (its CPU allocator's peak, from
    tf.config.experimental.get_memory_info with the BFC allocator this module turns on) plus the
    native heap outside TensorFlow (the kernels' own buffers, scipy), sampled every millisecond.
    The two peaks are added, so the figure is an upper bound of the joint peak."""

    def __enter__(self):
        # The compiled ops keep large working buffers for their next calls; freed here, so the block's
        # first call allocates (and is charged for) every buffer it uses.
        _backend.release_held_blocks()
        tf.config.experimental.reset_memory_stats("CPU:0")
        self.tf_base = tf.config.experimental.get_memory_info("CPU:0")["current"]
        self.heap_base = self.heap_peak = _native_heap_in_use()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.heap_peak = max(self.heap_peak, _native_heap_in_use())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.heap_peak = max(self.heap_peak, _native_heap_in_use())
        tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - self.tf_base
        self.extra = max(0, tf_peak) + max(0, self.heap_peak - self.heap_base)


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


def time_and_memory(fn, a, b, budget_s):
    """(time_median's seconds, the peak extra bytes while it ran)."""
    with PeakMemory() as peak:
        seconds = time_median(fn, a, b, budget_s)
    return seconds, peak.extra


def clouds_of(case, rng):
    """Two float32 batches [B, N, D] for a case: uniform in the unit cube, or sampled from meshes."""
    if case.clouds == "mesh":
        from pointops.mesh_clouds import mesh_clouds
        both = mesh_clouds(2 * case.B, case.N, seed=int(rng.integers(2**31)))[..., :case.D].astype(np.float32)
        return tf.constant(both[:case.B]), tf.constant(both[case.B:])
    return (tf.constant(rng.random((case.B, case.N, case.D), dtype=np.float32)),
            tf.constant(rng.random((case.B, case.N, case.D), dtype=np.float32)))


def run_case(case, budget_s, rng):
    a, b = clouds_of(case, rng)
    result = Result(case)
    for name, (fn, estimated) in implementations(case, a, b).items():
        if estimated > MEMORY_LIMIT:
            result.notes.append(f"{name} skipped: needs about {estimated / 2**30:.0f} GiB")
            continue
        result.times[name], result.memory[name] = time_and_memory(fn, a, b, budget_s)
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
             "(higher is better for pointops); memory is the peak extra memory while it ran, inputs "
             "excluded: TensorFlow's tensors (BFC CPU allocator statistics) plus the native heap "
             "(kernel buffers), an upper bound.", ""]
    for op in dict.fromkeys(r.case.op for r in results):
        rows = [r for r in results if r.case.op == op]
        baselines = list(dict.fromkeys(n for r in rows for n in r.times if n != "pointops"))
        header = (["clouds", "B", "N", "D", "pointops", "pointops memory"] + baselines + [f"x {n}" for n in baselines]
                  + [f"{n} memory" for n in baselines])
        if op == "emd_fwd":
            header.append("gap to exact")
        lines += [f"### {op}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            ours = r.times.get("pointops")
            cells = [r.case.clouds, str(r.case.B), str(r.case.N), str(r.case.D), f"{ours * 1e3:.2f} ms",
                     f"{r.memory.get('pointops', 0) / MB:.0f} MB"]
            cells += [f"{r.times[n] * 1e3:.1f} ms" if n in r.times else "skipped" for n in baselines]
            cells += [f"{r.times[n] / ours:.1f}" if n in r.times else "-" for n in baselines]
            cells += [f"{r.memory[n] / MB:.0f} MB" if n in r.memory else "-" for n in baselines]
            if op == "emd_fwd":
                cells.append(f"{r.gap:.1e}" if r.gap is not None else "-")
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"{r.case.clouds} B={r.case.B} N={r.case.N} D={r.case.D}: {note}" for r in rows for note in r.notes]
        lines += [""] + [f"- {note}" for note in notes] + ([""] if notes else [])
    return "\n".join(lines) + "\n"


def write_section(path, name, text):
    """Puts this sweep's results between its markers in the file (other sections are kept)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n## CPU, {name} sweep\n\n{text}{end}"
    old = open(path).read() if os.path.exists(path) else "# pointops benchmark results\n"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(new)


def plot(results, folder):
    """One log-log PNG per op: time against N, a panel per (B, D), a line per implementation."""
    rows = [{"op": r.case.op, "B": r.case.B, "N": r.case.N, "D": r.case.D, "implementation": name, "seconds": t}
            for r in results if r.case.clouds == "uniform" for name, t in r.times.items()]
    return write_scaling_plots(rows, folder, f"CPU ({psutil.cpu_count()} cores)", "cpu")


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
    parser.add_argument("--metrics", action="store_true", help="the data-set evaluation benchmark (pointops.metrics); "
                        "with --full the EMD 1-NNA runs at N=2048 (about 45 minutes on 2 cores)")
    parser.add_argument("--knn", action="store_true", help="the k-nearest-neighbour benchmark (pointops.knn)")
    parser.add_argument("--transport", action="store_true",
                        help="EMD between clouds of different sizes against POT's exact ot.emd2 (a few minutes)")
    parser.add_argument("--xla", action="store_true",
                        help="forward+backward with and without XLA (jit_compile), and a Keras step both ways")
    args = parser.parse_args(argv)
    name = "quick" if args.quick else "full" if args.full else "default"
    if args.metrics or args.knn or args.transport or args.xla:
        if args.xla:
            from pointops import bench_xla
            name, flag, body = "xla", "--xla", bench_xla.run(args.budget or 0.6, log=tqdm.write)
        elif args.knn:
            from pointops import bench_knn
            name, flag, body = "knn", "--knn", bench_knn.run(args.budget or 0.6, log=tqdm.write)
        elif args.transport:
            from pointops import bench_transport
            name, flag, body = "transport", "--transport", bench_transport.run(args.budget or 0.6, log=tqdm.write)
        else:
            from pointops import bench_metrics
            name, flag = "metrics" + (" (full)" if args.full else ""), "--metrics" + (" --full" if args.full else "")
            body = bench_metrics.run(args.full, log=tqdm.write)
        text = f"Machine: {machine()}  \nCommand: `python -m pointops bench {flag}`  \n" \
               f"Date: {datetime.date.today().isoformat()}\n\n" + body
        print("\n" + text)
        if args.output:
            write_section(args.output, name, text)
            print(f"wrote the {name} section of {args.output}")
        return 0
    budget = args.budget or {"quick": 0.3, "default": 0.6, "full": 2.0}[name]
    rng = np.random.default_rng(0)
    results = []
    progress = tqdm(sweep(name), desc=f"pointops bench ({name})", unit="case")
    for case in progress:
        progress.set_postfix_str(f"{case.op} {case.clouds} B={case.B} N={case.N} D={case.D}")
        results.append(run_case(case, budget, rng))
    command = "python -m pointops bench" + {"quick": " --quick", "full": " --full", "default": ""}[name]
    text = markdown(results, command)
    print("\n" + text)
    if args.output:
        write_section(args.output, name, text)
        print(f"wrote the {name} section of {args.output}")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        for path in plot(results, args.plots):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
