"""pointops.keras: losses that train, metrics equal to the functions, XLA fallback, mixed precision."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import pointops
import pointops.keras as pk
from pointops import _backend


def autoencoder(points=16, dims=2):
    inputs = keras.Input((points, dims))
    h = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Reshape((points, dims))(keras.layers.Dense(points * dims)(h))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("loss", [pk.ChamferLoss(), pk.EMDLoss(), pk.DensityAwareChamferLoss(alpha=20.0)],
                         ids=["chamfer", "emd", "dcd"])
def test_fit_lowers_the_loss(rng, loss):
    keras.utils.set_random_seed(0)
    x = rng.random((128, 16, 2)).astype(np.float32)
    model = autoencoder()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, jit_compile=False)
    history = model.fit(x, x, epochs=6, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.8 * history[0], history


def test_metrics_match_the_functions(rng):
    y_true = rng.random((6, 20, 3)).astype(np.float32)
    y_pred = rng.random((6, 20, 3)).astype(np.float32)
    checks = [(pk.ChamferMetric(), pointops.reference.chamfer_distance(y_pred, y_true)),
              (pk.ChamferMetric(squared=False), pointops.reference.chamfer_distance(y_pred, y_true, squared=False)),
              (pk.ChamferMetric(norm=1, point_reduction="max"), hausdorff_l1(y_pred, y_true)),
              (pk.FScore(0.2), tf.reduce_mean(pointops.reference.f_score(y_pred, y_true, 0.2)[0])),
              (pk.EMDMetric(), pointops.emd(y_pred, y_true))]
    for metric, want in checks:
        metric.update_state(y_true[:4], y_pred[:4])
        metric.update_state(y_true[4:], y_pred[4:])  # accumulates over batches
        np.testing.assert_allclose(float(metric.result()), float(want), rtol=1e-5)
        metric.reset_state()
        assert float(metric.result()) == 0.0


def hausdorff_l1(a, b):
    """The batch mean of max(largest L1 nearest distance a -> b, the same b -> a), in numpy."""
    d = np.abs(a[:, :, None].astype(np.float64) - b[:, None]).sum(-1)
    return np.maximum(d.min(2).max(1), d.min(1).max(1)).mean()


def test_hausdorff_loss_per_cloud(rng):
    y_true, y_pred = rng.random((3, 12, 3)).astype(np.float32), rng.random((3, 9, 3)).astype(np.float32)
    got = pk.ChamferLoss(squared=False, point_reduction="max", reduction=None)(y_true, y_pred)
    d = np.sqrt(((y_pred[:, :, None].astype(np.float64) - y_true[:, None]) ** 2).sum(-1))
    np.testing.assert_allclose(got, np.maximum(d.min(2).max(1), d.min(1).max(1)), rtol=1e-6)
    with pytest.raises(ValueError, match="point_reduction"):
        pk.ChamferLoss(point_reduction=None)


def test_losses_serialize():
    for loss in (pk.ChamferLoss(squared=False, direction="a_to_b"), pk.ChamferLoss(norm=1, point_reduction="max"), pk.EMDLoss(eps=1e-4), pk.DensityAwareChamferLoss(alpha=5.0)):
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


# EMD: the XLA fallback runs the reference auction, another algorithm than the compiled one; both are
# certified within eps = 1e-3 of the optimum, so that is how far apart they may be (seen: 3.5e-5).
@pytest.mark.parametrize("fn,rtol", [
    (lambda a, b: pointops.chamfer_distance(a, b), 1e-5),
    (lambda a, b: pointops.emd(a, b), 1e-3),
    (lambda a, b: pointops.density_aware_chamfer(a, b, alpha=10.0), 1e-5),
    (lambda a, b: pointops.f_score(a, b, 0.2)[0], 1e-5),
], ids=["chamfer", "emd", "dcd", "fscore"])
def test_xla_falls_back_to_the_same_value(rng, fn, rtol, monkeypatch):
    monkeypatch.setattr(_backend, "_warned_xla", False)
    a = tf.constant(rng.random((2, 24, 3)).astype(np.float32))
    b = tf.constant(rng.random((2, 24, 3)).astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jitted = tf.function(fn, jit_compile=True)
        first = jitted(a, b)
        jitted(a + 0.5, b)
    xla_warnings = [w for w in caught if "jit_compile=False" in str(w.message)]
    assert len(xla_warnings) == 1
    np.testing.assert_allclose(first.numpy(), fn(a, b).numpy(), rtol=rtol)


def test_mixed_float16_policy(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        x = rng.random((64, 16, 2)).astype(np.float32)
        model = autoencoder()
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=pk.ChamferLoss(), jit_compile=False)
        assert model.layers[-2].compute_dtype == "float16"
        history = model.fit(x, x, epochs=5, batch_size=16, verbose=0).history["loss"]
        assert np.isfinite(history).all() and history[-1] < history[0]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    half = tf.cast(x[:4], tf.float16)
    value = pointops.chamfer_distance(half, half[::-1])
    assert value.dtype == tf.float16
    np.testing.assert_allclose(float(value), float(pointops.chamfer_distance(tf.cast(half, tf.float32),
                                                                              tf.cast(half[::-1], tf.float32))), rtol=1e-3)
