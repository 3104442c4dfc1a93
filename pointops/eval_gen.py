"""python -m pointops eval-gen SAMPLES REFS [--normalize none|unit-box|unit-sphere] [--json F] [--markdown F]

The generative-model table (MMD, COV and 1-NNA under Chamfer and EMD, and JSD; PointFlow's definitions,
see docs/generative_metrics.md) for generated clouds SAMPLES against reference clouds REFS. Each is a .npy
array [clouds, points, 3] or a folder of point files (.npy, .ply, .xyz, .pts; all with the same number
of points). --normalize rescales every cloud on its own first (pointops.normalization): unit-box centres
its bounding box and makes its longest side 1 (the [-0.5, 0.5]^3 cube that JSD's grid covers);
unit-sphere centres its centroid and puts its farthest point at distance 1; none (the default) keeps the
coordinates.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pointops._cli_args import positive_integer, positive_number
from pointops.io import SUFFIXES, PointFileError, read_points
from pointops.normalization import NORMALIZATIONS, normalize

ROWS = (("MMD-CD", "mmd_chamfer"), ("COV-CD", "cov_chamfer"), ("1-NNA-CD", "1nna_chamfer"),
        ("MMD-EMD", "mmd_emd"), ("COV-EMD", "cov_emd"), ("1-NNA-EMD", "1nna_emd"), ("JSD", "jsd"))


class CloudSetError(ValueError):
    """A SAMPLES or REFS argument that is not a set of equal-size 3D clouds; the message says why."""


def read_cloud_set(path):
    """[clouds, points, 3] float64 from a .npy array or a folder of point files."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
        if not files:
            raise CloudSetError(f"{path}: no point files ({', '.join(SUFFIXES)})")
        clouds = [read_points(p) for p in files]
        sizes = {c.shape for c in clouds}
        if len(sizes) > 1:
            raise CloudSetError(f"{path}: the clouds differ in shape ({sorted(sizes)[:4]}); resample them to one size")
        clouds = np.stack(clouds)
    elif path.suffix == ".npy":
        clouds = np.load(path, allow_pickle=False)
        if clouds.dtype.kind not in "iuf":
            raise CloudSetError(f"{path}: expected real numbers, got dtype {clouds.dtype}")
        clouds = clouds.astype(np.float64)
    else:
        raise CloudSetError(f"{path}: expected a folder of point files or a .npy array [clouds, points, 3]")
    if clouds.ndim != 3 or clouds.shape[2] != 3 or 0 in clouds.shape:
        raise CloudSetError(f"{path}: expected clouds [clouds, points, 3], got shape {list(clouds.shape)}")
    if not np.isfinite(clouds).all():
        raise CloudSetError(f"{path}: non-finite coordinates")
    return clouds


def markdown_table(results, samples_shape, refs_shape, normalization):
    lines = [f"Samples {list(samples_shape)}, references {list(refs_shape)}, normalisation {normalization}.", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {label} | {results[key]:.6g} |" for label, key in ROWS]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pointops eval-gen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", help="generated clouds: a .npy [clouds, points, 3] or a folder of point files")
    parser.add_argument("refs", help="reference clouds, the same way")
    parser.add_argument("--normalize", choices=NORMALIZATIONS, default="none", help="per-cloud normalisation")
    parser.add_argument("--jsd-resolution", type=positive_integer, default=28, help="JSD grid resolution (default 28)")
    parser.add_argument("--eps", type=positive_number, default=None, help="EMD's relative gap, > 0 (default 1e-3)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--markdown", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    try:
        samples, refs = (normalize(read_cloud_set(p), args.normalize) for p in (args.samples, args.refs))
    except (CloudSetError, PointFileError, OSError, ValueError) as err:
        print(f"pointops eval-gen: {err}", file=sys.stderr)
        return 2
    from pointops.metrics import generative_metrics  # imports TensorFlow: after the arguments are checked
    results = generative_metrics(samples, refs, jsd_resolution=args.jsd_resolution, eps=args.eps)
    table = markdown_table(results, samples.shape, refs.shape, args.normalize)
    print(table, end="")
    if args.markdown:
        Path(args.markdown).write_text(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": args.samples, "refs": args.refs, "normalize": args.normalize,
                       "jsd_resolution": args.jsd_resolution, "metrics": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
