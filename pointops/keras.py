"""Keras 3 losses and metrics over pointops' distances (y_pred is a, y_true is b).

    model.compile(optimizer="adam", loss=pointops.keras.ChamferLoss(), metrics=[pointops.keras.FScore(0.01)])

Each loss returns one value per cloud and lets Keras reduce over the batch. Under XLA (Keras'
jit_compile=True, and the "auto" default on GPUs) they run the same compiled kernels through the ops' XLA
lowerings. `import pointops` registers these classes with Keras, so saved models that use them load after it.
"""
import keras
import tensorflow as tf

import pointops

_PACKAGE = "pointops"


@keras.saving.register_keras_serializable(_PACKAGE)
class ChamferLoss(keras.losses.Loss):
    """Chamfer distance per cloud; arguments as pointops.chamfer_distance (point_reduction "mean",
    "sum" or "max", the last with squared=False the Hausdorff distance; norm 1 or 2)."""

    def __init__(self, squared=True, direction="bi", point_reduction="mean", norm=2, name="chamfer", **kwargs):
        super().__init__(name=name, **kwargs)
        if point_reduction not in ("mean", "sum", "max"):
            raise ValueError(f"ChamferLoss: point_reduction must be 'mean', 'sum' or 'max', got {point_reduction!r}")
        self.squared, self.direction, self.point_reduction, self.norm = squared, direction, point_reduction, norm

    def call(self, y_true, y_pred):
        return pointops.chamfer_distance(y_pred, y_true, squared=self.squared, direction=self.direction,
                                         point_reduction=self.point_reduction, norm=self.norm, batch_reduction=None)

    def get_config(self):
        return {**super().get_config(), "squared": self.squared, "direction": self.direction,
                "point_reduction": self.point_reduction, "norm": self.norm}


@keras.saving.register_keras_serializable(_PACKAGE)
class EMDLoss(keras.losses.Loss):
    """Earth Mover's Distance per cloud (any sizes: y_true and y_pred may have different numbers of
    points); arguments as pointops.emd."""

    def __init__(self, eps=None, max_iter=None, squared=False, name="emd", **kwargs):
        super().__init__(name=name, **kwargs)
        self.eps, self.max_iter, self.squared = eps, max_iter, squared

    def call(self, y_true, y_pred):
        return pointops.emd(y_pred, y_true, eps=self.eps, max_iter=self.max_iter, squared=self.squared,
                            batch_reduction=None)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps, "max_iter": self.max_iter, "squared": self.squared}


@keras.saving.register_keras_serializable(_PACKAGE)
class DensityAwareChamferLoss(keras.losses.Loss):
    """Density-aware Chamfer distance per cloud; arguments as pointops.density_aware_chamfer."""

    def __init__(self, alpha=1000.0, n_lambda=1.0, name="density_aware_chamfer", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha, self.n_lambda = alpha, n_lambda

    def call(self, y_true, y_pred):
        return pointops.density_aware_chamfer(y_pred, y_true, alpha=self.alpha, n_lambda=self.n_lambda,
                                              batch_reduction=None)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "n_lambda": self.n_lambda}


class _CloudMean(keras.metrics.Metric):
    """Mean over all clouds seen of a per-cloud value ([B]), weighted by sample_weight."""

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def per_cloud(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        # Both clouds in the metric's dtype (float32 by default), as Keras' own metrics do: under
        # mixed_float16 predictions are float16 while targets stay float32.
        y_true, y_pred = tf.cast(y_true, self.dtype), tf.cast(y_pred, self.dtype)
        values = tf.cast(self.per_cloud(y_true, y_pred), self.dtype)
        weights = tf.ones_like(values) if sample_weight is None else tf.cast(
            tf.broadcast_to(tf.reshape(sample_weight, [-1]), tf.shape(values)), self.dtype)
        self.total.assign_add(tf.reduce_sum(values * weights))
        self.count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)


@keras.saving.register_keras_serializable(_PACKAGE)
class ChamferMetric(_CloudMean):
    def __init__(self, squared=True, point_reduction="mean", norm=2, name="chamfer", **kwargs):
        super().__init__(name=name, **kwargs)
        self.squared, self.point_reduction, self.norm = squared, point_reduction, norm

    def per_cloud(self, y_true, y_pred):
        return pointops.chamfer_distance(y_pred, y_true, squared=self.squared, point_reduction=self.point_reduction,
                                         norm=self.norm, batch_reduction=None)

    def get_config(self):
        return {**super().get_config(), "squared": self.squared, "point_reduction": self.point_reduction,
                "norm": self.norm}


@keras.saving.register_keras_serializable(_PACKAGE)
class EMDMetric(_CloudMean):
    def __init__(self, eps=None, squared=False, name="emd", **kwargs):
        super().__init__(name=name, **kwargs)
        self.eps, self.squared = eps, squared

    def per_cloud(self, y_true, y_pred):
        return pointops.emd(y_pred, y_true, eps=self.eps, squared=self.squared, batch_reduction=None)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps, "squared": self.squared}


@keras.saving.register_keras_serializable(_PACKAGE)
class FScore(_CloudMean):
    """Mean F-score at `threshold` (Euclidean distance) between predictions and targets."""

    def __init__(self, threshold=0.01, name="f_score", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold

    def per_cloud(self, y_true, y_pred):
        return pointops.f_score(y_pred, y_true, self.threshold)[0]

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
