"""Per-cloud normalisations of clouds [S, N, 3], as generation papers use them (docs/generative_metrics.md):
unit-box centres each cloud's bounding box and makes its longest side 1 (the [-0.5, 0.5]^3 cube that JSD's
grid covers); unit-sphere centres its centroid and puts its farthest point at distance 1; none keeps the
coordinates. A cloud of one repeated point is only centred."""
import numpy as np

NORMALIZATIONS = ("none", "unit-box", "unit-sphere")


def normalize(clouds, how):
    """Every cloud of clouds [S, N, 3] rescaled on its own."""
    if how not in NORMALIZATIONS:
        raise ValueError(f"normalisation must be one of {NORMALIZATIONS}, got {how!r}")
    if how == "none":
        return clouds
    if how == "unit-box":
        lo, hi = clouds.min(axis=1, keepdims=True), clouds.max(axis=1, keepdims=True)
        scale = np.max(hi - lo, axis=2, keepdims=True)
        return (clouds - (lo + hi) / 2) / np.where(scale > 0, scale, 1.0)
    centred = clouds - clouds.mean(axis=1, keepdims=True)
    radius = np.max(np.linalg.norm(centred, axis=2), axis=1)[:, None, None]
    return centred / np.where(radius > 0, radius, 1.0)
