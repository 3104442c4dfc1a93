"""The arguments of knn checked once for the compiled and the reference path."""
import numbers

NORMS = (1, 2)


def check_k_norm(op, k, norm):
    """k: an int >= 1; norm: 1 (L1) or 2 (squared Euclidean). Returns (k, norm) as ints."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{op}: k must be an integer >= 1, got {k!r}")
    if isinstance(norm, bool) or norm not in NORMS:
        raise ValueError(f"{op}: norm must be 1 (L1) or 2 (squared Euclidean), got {norm!r}")
    return int(k), int(norm)
