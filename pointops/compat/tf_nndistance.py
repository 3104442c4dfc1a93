"""The TF1 `tf_nndistance` module (PointSetGeneration, PCN, PU-Net, TopNet, latent_3d_points)."""
from pointops.nn import nn_distance as _nn_distance


def nn_distance(xyz1, xyz2):
    """Nearest neighbours both ways, as the original op: xyz1 [B, N, 3], xyz2 [B, M, 3] ->
    dist1 [B, N], idx1 [B, N] int32 (from xyz1 to xyz2), dist2 [B, M], idx2 [B, M] int32 (the other way).
    The distances are squared; gradients reach both inputs. Any batch size, known or not."""
    return _nn_distance(xyz1, xyz2)
