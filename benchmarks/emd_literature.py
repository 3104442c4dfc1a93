"""How pointops' exact EMD compares with the approximate EMD behind published tables, under the
normalisations papers use. Prints the markdown tables of docs/generative_metrics.md.

    python benchmarks/emd_literature.py [--clouds 10] [--points 1024]

The approximate EMD is the TF1-era `approx_match` + `match_cost` (latent_3d_points, PointFlow's
StructuralLosses), ported here to numpy from its CPU reference for this comparison only: a soft matching
refined over 11 temperature levels. Its cost is not the optimum: usually above it, and below it where the
plan leaves some mass unmatched.
"""
import argparse

import numpy as np

from pointops import metrics
from pointops.mesh_clouds import mesh_clouds
from pointops.normalization import normalize


def approx_match(xyz1, xyz2):
    """The TF1 approx_match for one pair: xyz1 [n, 3], xyz2 [m, 3] -> match [n, m] (a transport plan with
    masses max(n,m)/n and max(n,m)/m, integer division as in the original)."""
    n, m = len(xyz1), len(xyz2)
    sat_l = np.full(n, float(max(n, m) // n))
    sat_r = np.full(m, float(max(n, m) // m))
    d2 = ((xyz1[:, None, :] - xyz2[None, :, :]) ** 2).sum(-1)
    match = np.zeros((n, m))
    for j in range(8, -3, -1):
        level = 0.0 if j == -2 else -(4.0 ** j)
        weight = np.exp(level * d2) * sat_r[None, :]
        weight = weight / (weight.sum(1, keepdims=True) + 1e-9) * sat_l[:, None]
        column = weight.sum(0) + 1e-9
        weight *= np.minimum(sat_r / column, 1.0)[None, :]
        sat_l = np.maximum(sat_l - weight.sum(1), 0.0)
        sat_r = np.maximum(sat_r - weight.sum(0), 0.0)
        match += weight
    return match


def approx_emd(a, b):
    """match_cost / n: the approximate plan's mean Euclidean cost, as latent_3d_points and PointFlow report it."""
    match = approx_match(a, b)
    return float((match * np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))).sum() / len(a))


NORMALISATIONS = {
    "unit-box (longest side 1)": lambda c: normalize(c, "unit-box"),
    "unit-sphere (radius 1)": lambda c: normalize(c, "unit-sphere"),
    "global std (PointFlow's ShapeNet15k)": lambda c: (c - c.reshape(-1, 3).mean(0)) / c.reshape(-1).std(),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clouds", type=int, default=10, help="samples and references per set")
    parser.add_argument("--points", type=int, default=1024)
    args = parser.parse_args()
    raw_samples = mesh_clouds(args.clouds, args.points, seed=11)
    raw_refs = mesh_clouds(args.clouds, args.points, seed=12)
    print(f"{args.clouds} samples and {args.clouds} references, {args.points} points, mesh-sampled "
          "(pointops.mesh_clouds); every sample-reference pair.\n")
    print("| normalisation | exact EMD, mean of pairs | approximate EMD | approx / exact | MMD-EMD exact | "
          "MMD-EMD approx | MMD-CD |")
    print("|---|---|---|---|---|---|---|")
    for name, normalise in NORMALISATIONS.items():
        both = normalise(np.concatenate([raw_samples, raw_refs]))
        samples, refs = both[:args.clouds], both[args.clouds:]
        exact = metrics.pairwise_emd(samples, refs, progress=False)
        approx = np.array([[approx_emd(s, r) for r in refs] for s in samples])
        chamfer = metrics.pairwise_chamfer(samples, refs)
        ratio = np.mean(approx / exact)
        print(f"| {name} | {exact.mean():.4f} | {approx.mean():.4f} | {ratio:.3f} | "
              f"{metrics.mmd_cov(exact)[0]:.4f} | {metrics.mmd_cov(approx)[0]:.4f} | {metrics.mmd_cov(chamfer)[0]:.5f} |")


if __name__ == "__main__":
    main()
