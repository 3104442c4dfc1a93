"""The benchmark's cases and their clouds."""
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Case:
    op: str  # chamfer_fwd, chamfer_fwd_bwd, emd_fwd, emd_fwd_bwd (and the other sections' own ops)
    B: int
    N: int
    D: int
    clouds: str = "uniform"  # or "mesh": points on the surfaces of generated meshes (pointops.mesh_clouds)


def clouds_of(case, rng):
    """Two float32 batches [B, N, D] for a case: uniform in the unit cube, or sampled from meshes."""
    if case.clouds == "mesh":
        from pointops.mesh_clouds import mesh_clouds
        both = mesh_clouds(2 * case.B, case.N, seed=int(rng.integers(2**31)))[..., :case.D].astype(np.float32)
        return tf.constant(both[:case.B]), tf.constant(both[case.B:])
    return (tf.constant(rng.random((case.B, case.N, case.D), dtype=np.float32)),
            tf.constant(rng.random((case.B, case.N, case.D), dtype=np.float32)))
