"""pointops benchmark: pointops against the baselines users have, measured side by side in one run.

    python -m pointops bench [--quick | --full] [--metrics | --knn | --transport | --xla] [--output benchmarks/RESULTS.md]
                             [--plots benchmarks]

Baselines, on the same data in the same run: the broadcast formula from the seed note (what users write
by hand; skipped where it would not fit in memory), pointops' own pure-TF reference path, scipy's cKDTree
(build + query both ways, workers=-1), scipy's exact linear_sum_assignment (cost matrix included) and POT
(ot.emd) when installed. Each row: the median time over repeats after a warm-up, each baseline's time over
pointops' time, the peak extra memory while it ran (TensorFlow's tensors plus the native heap), and for
EMD the gap to the exact optimum where the exact solver is affordable. Writes a markdown table and log-log PNG plots of time against N.
--metrics runs the data-set evaluation benchmark instead (pointops.bench.metrics), --knn the k-nearest-neighbour
benchmark (pointops.bench.knn), --transport EMD between clouds of different sizes against POT (pointops.bench.transport),
--xla the functions with and without XLA (pointops.bench.xla).
"""
import argparse
import datetime
import os

import numpy as np

from pointops.bench.report import machine, markdown, plot, write_section
from pointops.bench.sweeps import run_case, sweep


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
            from pointops.bench import xla as bench_xla
            name, flag, body = "xla", "--xla", bench_xla.run(args.budget or 0.6, log=tqdm.write)
        elif args.knn:
            from pointops.bench import knn as bench_knn
            name, flag, body = "knn", "--knn", bench_knn.run(args.budget or 0.6, log=tqdm.write)
        elif args.transport:
            from pointops.bench import transport as bench_transport
            name, flag, body = "transport", "--transport", bench_transport.run(args.budget or 0.6, log=tqdm.write)
        else:
            from pointops.bench import metrics as bench_metrics
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
