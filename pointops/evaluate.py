"""python -m pointops eval PRED GT [--threshold 0.01] [--json out.json]

Distances between predicted and ground-truth point clouds: files (.npy, .ply, .xyz, .pts) or folders of
them paired by name. Prints, per pair and as means over the evaluated pairs: CD-L1 and CD-L2 (pointops'
chamfer_distance with Euclidean and squared distances: the sum of both directions' means), EMD (Euclidean,
the optimal transport with uniform masses, also between files of different sizes), DCD (density-aware Chamfer, alpha=1000) and the F-score at the threshold. Files that
cannot be read are reported by name and skipped, and the means say how many pairs they cover; the exit
status is 1 when anything was skipped.
"""
import argparse
import json
import sys

import numpy as np
import tensorflow as tf

import pointops
from pointops._cli_args import plain_error, positive_number
from pointops.io import PointFileError, pair_files, read_points

COLUMNS = ("CD-L1", "CD-L2", "EMD", "DCD", "F-score")


def distances(pred, gt, threshold):
    a, b = pred[None], gt[None]
    row = {"CD-L1": float(pointops.chamfer_distance(a, b, squared=False)),
           "CD-L2": float(pointops.chamfer_distance(a, b)),
           "EMD": float(pointops.emd(a, b)),
           "DCD": float(pointops.density_aware_chamfer(a, b)),
           "F-score": float(pointops.f_score(a, b, threshold)[0][0])}
    return row


def main(argv=None):
    from tqdm import tqdm
    parser = argparse.ArgumentParser(prog="python -m pointops eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pred", help="predicted point cloud file, or a folder of them")
    parser.add_argument("gt", help="ground-truth point cloud file, or a folder of them")
    parser.add_argument("--threshold", type=positive_number, default=0.01,
                        help="F-score distance threshold, a finite number > 0 (default 0.01)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    try:
        pairs, unmatched = pair_files(args.pred, args.gt)
    except FileNotFoundError as err:
        parser.exit(2, f"pointops eval: {err}\n")
    rows, skipped = {}, {name: "present on one side only" for name in unmatched}
    for name, pred_path, gt_path in tqdm(pairs, desc="pointops eval", unit="pair", disable=len(pairs) < 2):
        try:
            clouds = [read_points(path) for path in (pred_path, gt_path)]
        except PointFileError as err:
            skipped[name] = str(err)
            continue
        pred, gt = clouds
        if pred.shape[1] != gt.shape[1]:
            skipped[name] = f"dimensions differ: {pred_path} has D={pred.shape[1]}, {gt_path} has D={gt.shape[1]}"
            continue
        try:
            rows[name] = distances(pred, gt, args.threshold)
        except (tf.errors.OpError, ValueError) as err:  # e.g. coordinates whose squared distances overflow
            skipped[name] = f"not evaluated: {plain_error(err)}"

    means = {c: float(np.mean([r[c] for r in rows.values()])) if rows else None for c in COLUMNS}
    width = max([len(n) for n in rows] + [12])
    fmt = lambda v: f"{v:10.6f}" if v is not None else f"{'n/a':>10s}"
    print(f"{'pair':{width}s} " + " ".join(f"{c:>10s}" for c in COLUMNS))
    for name, row in rows.items():
        print(f"{name:{width}s} " + " ".join(fmt(row[c]) for c in COLUMNS))
    print(f"{'mean':{width}s} " + " ".join(fmt(means[c]) for c in COLUMNS))
    print(f"means over {len(rows)} of {len(rows) + len(skipped)} pairs (F-score at threshold {args.threshold})")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threshold": args.threshold, "pairs": rows, "means": means, "skipped": skipped}, f, indent=1)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
