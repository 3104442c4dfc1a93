"""Times the CPU kernels of two pointops builds side by side, interleaved in one process, at the
Chamfer shapes of the benchmark's default sweep: the fair way to compare builds (the portable one
against a -march=native one, say) on a noisy machine, since both see the same load at the same time.

    python benchmarks/compare_builds.py FOLDER_A FOLDER_B [--rounds 21] [--json out.json]

Each FOLDER holds a built pointops/_C*.so (an installed package's folder or a `pip install --target`
one). The TensorFlow glue is the same code in both, so the kernels are what differs. Prints one row per
case: the median time of each build over the rounds (they alternate call by call) and B's time over A's.
"""
import argparse
import glob
import importlib.machinery
import importlib.util
import json
import statistics
import time

import numpy as np

CASES = [(B, N, D) for B in (1, 8) for N in (1024, 2048, 8192) for D in (2, 3)] + [(1, 100_000, 3), (32, 8192, 3)]


def load(folder, alias):
    """pointops._C from folder, under the module name alias._C (two builds can then live side by side)."""
    path = glob.glob(f"{folder}/pointops/_C*.so") or glob.glob(f"{folder}/_C*.so")
    loader = importlib.machinery.ExtensionFileLoader(f"{alias}._C", path[0])
    spec = importlib.util.spec_from_file_location(f"{alias}._C", path[0], loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def forward_backward(C, a, b):
    d_ab, i_ab, d_ba, i_ba = C.nn_distance(a, b)
    C.nn_distance_grad(a, b, i_ab, i_ba, np.ones_like(d_ab), np.ones_like(d_ba))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    builds = [load(args.a, "build_a"), load(args.b, "build_b")]
    print(f"A: {args.a} (level {getattr(builds[0], 'cpu_level', lambda: 'native (before levels)')()})")
    print(f"B: {args.b} (level {getattr(builds[1], 'cpu_level', lambda: 'native (before levels)')()})\n")
    print("| op | B | N | D | A | B | B / A |\n|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    rows = []
    for op, fn in (("chamfer_fwd", lambda C, a, b: C.nn_distance(a, b)), ("chamfer_fwd_bwd", forward_backward)):
        for B, N, D in CASES:
            a = rng.random((B, N, D), dtype=np.float32)
            b = rng.random((B, N, D), dtype=np.float32)
            times = [[], []]
            for C in builds:
                fn(C, a, b)  # warm-up
            for _ in range(args.rounds):
                for k, C in enumerate(builds):
                    start = time.perf_counter()
                    fn(C, a, b)
                    times[k].append(time.perf_counter() - start)
            ta, tb = (statistics.median(t) for t in times)
            rows.append({"op": op, "B": B, "N": N, "D": D, "a_s": ta, "b_s": tb})
            print(f"| {op} | {B} | {N} | {D} | {ta * 1e3:.2f} ms | {tb * 1e3:.2f} ms | {tb / ta:.2f} |", flush=True)
    ratios = [r["b_s"] / r["a_s"] for r in rows]
    print(f"\nB / A: median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}, best {min(ratios):.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
