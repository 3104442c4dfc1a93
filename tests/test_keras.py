"""pointops.keras: losses that train, metrics equal to the functions, training under XLA, mixed precision."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import pointops
import pointops.keras as pk


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


def forbid_the_reference_path(monkeypatch):
    """Under XLA on the CPU pointops must run its kernels (the lowerings), never the pure-TF twin."""
    def refuse(*args, **kwargs):
        raise AssertionError("the pure-TF path ran")
    for name in ("chamfer_distance", "nn_distance", "emd", "emd_match", "knn", "transport"):
        monkeypatch.setattr(pointops.reference, name, refuse)


@pytest.mark.parametrize("loss", [pk.ChamferLoss(), pk.EMDLoss(), pk.DensityAwareChamferLoss(alpha=20.0)],
                         ids=["chamfer", "emd", "dcd"])
def test_fit_under_xla_runs_the_kernels(rng, loss, monkeypatch):
    forbid_the_reference_path(monkeypatch)
    keras.utils.set_random_seed(0)
    x = rng.random((128, 16, 2)).astype(np.float32)
    model = autoencoder()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss, metrics=[pk.EMDMetric(), pk.FScore(0.1)],
                  jit_compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, x, epochs=6, batch_size=16, verbose=0).history["loss"]
    assert model.jit_compile
    assert not [w for w in caught if "pointops" in str(w.message)]
    assert history[-1] < 0.8 * history[0], history


def test_auto_jit_compile_on_a_machine_that_reports_a_gpu(rng, monkeypatch):
    """Keras' default, jit_compile="auto", picks XLA when TensorFlow lists a GPU. Here TF's list is made to
    report one to Keras (the functions then still run on the CPU, with the host lowerings)."""
    real = tf.config.list_physical_devices
    fake_gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: real(kind) + ([fake_gpu] if kind in (None, "GPU") else []))
    forbid_the_reference_path(monkeypatch)
    model = autoencoder()
    model.compile(optimizer="adam", loss=pk.ChamferLoss())
    assert model.jit_compile is True
    x = rng.random((32, 16, 2)).astype(np.float32)
    assert np.isfinite(model.fit(x, x, epochs=1, batch_size=16, verbose=0).history["loss"]).all()


KERAS_LOAD = """
import json, keras, numpy as np
import pointops
model = keras.saving.load_model({path!r})
x = np.random.default_rng(1).random((8, 16, 2)).astype(np.float32)
print(json.dumps({{"loss": model.evaluate(x, x, batch_size=8, verbose=0, return_dict=True),
                   "jit": bool(model.jit_compile)}}))
"""


def test_keras_model_compiled_with_xla_saves_and_loads(rng, tmp_path):
    from test_tf_integration import run_python
    keras.utils.set_random_seed(0)
    model = autoencoder()
    model.compile(optimizer="adam", loss=pk.ChamferLoss(), metrics=[pk.EMDMetric()], jit_compile=True)
    x = rng.random((32, 16, 2)).astype(np.float32)
    model.fit(x, x, epochs=1, batch_size=16, verbose=0)
    path = str(tmp_path / "xla.keras")
    model.save(path)
    loaded = run_python(KERAS_LOAD.format(path=path))
    x1 = np.random.default_rng(1).random((8, 16, 2)).astype(np.float32)
    want = model.evaluate(x1, x1, batch_size=8, verbose=0, return_dict=True)
    assert loaded["jit"]
    for name, value in want.items():
        np.testing.assert_allclose(loaded["loss"][name], value, rtol=1e-5)


def test_mixed_float16_policy(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        x = rng.random((64, 16, 2)).astype(np.float32)
        model = autoencoder()
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=pk.ChamferLoss(), jit_compile=True,
                      metrics=[pk.FScore(0.1), pk.EMDMetric(), pk.ChamferMetric()])
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
