"""PyTorch3D's `chamfer_distance`, `knn_points` and `knn_gather` on TensorFlow tensors, for code ported
from PyTorch: replace `from pytorch3d.loss import chamfer_distance` (or `from pytorch3d.ops import
knn_points, knn_gather`) with `from pointops.compat.pytorch3d import ...`. The semantics are PyTorch3D's
current ones (norm, weights, "max" and None reductions, single_directional, abs_cosine, its errors); the
work is done by pointops.knn and pointops.chamfer_distance. Differences are listed in docs/porting.md.
"""
import collections

import numpy as np
import tensorflow as tf

from pointops import _inputs
from pointops.knn import knn as _knn
from pointops.nn import chamfer_distance as _chamfer_distance

KNN = collections.namedtuple("KNN", ["dists", "idx", "knn"])


def knn_gather(x, idx, lengths=None):
    """x [N, M, U] at idx [N, L, K] -> [N, L, K, U]; entries k >= lengths[n] are 0 (PyTorch3D's rule)."""
    x = tf.convert_to_tensor(x)
    idx = tf.convert_to_tensor(idx)
    if x.shape[0] is not None and idx.shape[0] is not None and x.shape[0] != idx.shape[0]:
        raise ValueError("x and idx must have same batch dimension.")
    idx = tf.cast(idx, tf.int32)
    with tf.control_dependencies(_inputs.assert_indices("knn_gather", idx, tf.shape(x)[1], lowest=0)):
        out = tf.gather(x, idx, batch_dims=1)
    if lengths is None:
        return out
    past = tf.cast(lengths, tf.int64)[:, None] <= tf.range(tf.shape(idx, out_type=tf.int64)[2])[None, :]  # [N, K]
    return tf.where(past[:, None, :, None], tf.zeros_like(out), out)


def knn_points(p1, p2, lengths1=None, lengths2=None, norm=2, K=1, version=-1, return_nn=False, return_sorted=True):
    """The K nearest points of p2 [N, P2, D] for each point of p1 [N, P1, D], as PyTorch3D's knn_points:
    KNN(dists [N, P1, K] (squared for norm 2, L1 for norm 1), idx [N, P1, K] int64, knn [N, P1, K, D] or
    None). Entries past a cloud of p2 and padded points of p1 get distance 0 and index 0. The results
    are always sorted (return_sorted=False allows any order); `version` picks nothing here. Gradients
    reach p1 and p2 through dists."""
    del version, return_sorted
    p1 = tf.convert_to_tensor(p1)
    p2 = tf.convert_to_tensor(p2)
    if p1.shape[0] is not None and p2.shape[0] is not None and p1.shape[0] != p2.shape[0]:
        raise ValueError("pts1 and pts2 must have the same batch dimension.")
    if p1.shape[2] is not None and p2.shape[2] is not None and p1.shape[2] != p2.shape[2]:
        raise ValueError("pts1 and pts2 must have the same point dimension.")
    if norm not in (1, 2):
        raise ValueError("Support for 1 or 2 norm.")
    dists, idx = _knn(p1, p2, K, lengths1, lengths2, norm=norm)
    idx = tf.cast(tf.maximum(idx, 0), tf.int64)  # PyTorch3D pads with index 0
    return KNN(dists=dists, idx=idx, knn=knn_gather(p2, idx, lengths2) if return_nn else None)


def _check_cloud(points, lengths, normals, name):
    """PyTorch3D's _handle_pointcloud_input checks (Pointclouds objects do not exist here); each message
    starts with PyTorch3D's and then names the argument."""
    points = tf.convert_to_tensor(points)
    if points.shape.rank != 3:
        raise ValueError(f"Expected points to be of shape (N, P, D) (rank 3); {name} has shape {points.shape.as_list()}")
    if lengths is not None:
        lengths = tf.convert_to_tensor(lengths)
        if lengths.shape.rank != 1 or (None not in (lengths.shape[0], points.shape[0]) and lengths.shape[0] != points.shape[0]):
            raise ValueError(f"Expected lengths to be of shape (N,); {name}_lengths has shape {lengths.shape.as_list()} "
                             f"for {name} of shape {points.shape.as_list()}")
        if tf.executing_eagerly() and points.shape[1] is not None and np.asarray(lengths).max(initial=0) > points.shape[1]:
            raise ValueError(f"A length value was too long: {name}_lengths {np.asarray(lengths).tolist()} for "
                             f"{points.shape[1]} points")
    if normals is not None and tf.convert_to_tensor(normals).shape.rank != 3:
        raise ValueError(f"Expected normals to be of shape (N, P, 3; {name}_normals has shape "
                         f"{tf.convert_to_tensor(normals).shape.as_list()}")
    return points


def _check_reductions(batch_reduction, point_reduction):
    if batch_reduction is not None and batch_reduction not in ["mean", "sum"]:
        raise ValueError('batch_reduction must be one of ["mean", "sum"] or None')
    if point_reduction is not None and point_reduction not in ["mean", "sum", "max"]:
        raise ValueError('point_reduction must be one of ["mean", "sum", "max"] or None')
    if point_reduction is None and batch_reduction is not None:
        raise ValueError("Batch reduction must be None if point_reduction is None")


def _all_zero_weights_result(x, y, weights, batch_reduction, point_reduction, single_directional):
    """What PyTorch3D returns when the weights sum to 0: zeros shaped [N, N] (x.sum((1, 2)) times the
    weights as a column, times 0), also for the normals, summed when batch_reduction is set."""
    w = tf.cast(weights, x.dtype)[:, None]
    zero_x = tf.reduce_sum(x, axis=[1, 2])[None, :] * w * 0.0
    if single_directional:
        loss, normals = zero_x, zero_x
    else:
        zero_y = tf.reduce_sum(y, axis=[1, 2])[None, :] * w * 0.0
        if point_reduction == "max":
            loss, normals = tf.maximum(zero_x, zero_y), None
        elif point_reduction is None:
            loss, normals = (zero_x, zero_y), (zero_x, zero_y)
        else:
            loss, normals = zero_x + zero_y, zero_x + zero_y
    if batch_reduction is None:
        return loss, normals
    return tf.reduce_sum(loss), None if normals is None else tf.reduce_sum(normals)


def chamfer_distance(x, y, x_lengths=None, y_lengths=None, x_normals=None, y_normals=None, weights=None,
                     batch_reduction="mean", point_reduction="mean", norm=2, single_directional=False,
                     abs_cosine=True):
    """PyTorch3D's chamfer_distance: (loss, loss_normals or None). x [N, P1, D], y [N, P2, D]; norm 2
    (squared Euclidean) or 1 (L1); point_reduction "mean", "sum", "max" (the Hausdorff-style maximum)
    or None (per-point terms, a pair unless single_directional); batch_reduction "mean" (divided by
    the weights' sum when weights are given), "sum" or None; normals give 1 - |cos| (1 - cos without
    abs_cosine) of each point's normal with its nearest neighbour's."""
    _check_reductions(batch_reduction, point_reduction)
    if not ((norm == 1) or (norm == 2)):
        raise ValueError("Support for 1 or 2 norm.")
    if point_reduction == "max" and (x_normals is not None or y_normals is not None):
        raise ValueError('Normals must be None if point_reduction is "max"')
    x = _check_cloud(x, x_lengths, x_normals, "x")
    y = _check_cloud(y, y_lengths, y_normals, "y")
    if (None not in (x.shape[0], y.shape[0]) and y.shape[0] != x.shape[0]) or (
            None not in (x.shape[2], y.shape[2]) and y.shape[2] != x.shape[2]):
        raise ValueError(f"y does not have the correct shape.: x {x.shape.as_list()} and y {y.shape.as_list()} must have "
                         "the same batch size and the same point dimension")
    if x_normals is None or y_normals is None:  # PyTorch3D uses normals only when both are given
        x_normals = y_normals = None
    if weights is not None:
        weights = tf.convert_to_tensor(weights)
        if weights.shape.rank != 1 or (None not in (weights.shape[0], x.shape[0]) and weights.shape[0] != x.shape[0]):
            raise ValueError("weights must be of shape (N,).")
        if tf.executing_eagerly():
            values = np.asarray(weights)
            if not (values >= 0).all():
                raise ValueError("weights cannot be negative.")
            if values.sum() == 0.0:
                return _all_zero_weights_result(x, y, weights, batch_reduction, point_reduction, single_directional)
    result = _chamfer_distance(x, y, direction="a_to_b" if single_directional else "bi",
                               point_reduction=point_reduction, batch_reduction=batch_reduction, a_lengths=x_lengths,
                               b_lengths=y_lengths, norm=norm, weights=weights, a_normals=x_normals,
                               b_normals=y_normals, abs_cosine=abs_cosine)
    return result if x_normals is not None else (result, None)
