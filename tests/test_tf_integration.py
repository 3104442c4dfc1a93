"""SavedModel round trips, MirroredStrategy, tf.data with unknown shapes."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import pointops


def run_python(code, env_extra=None):
    # From the installed package's folder: `python -c` puts the working directory first on sys.path,
    # and a source checkout there would shadow the installed (compiled) package.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(pointops.__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


SAVE = """
import json, sys, numpy as np, tensorflow as tf, pointops
class Model(tf.Module):
    def __init__(self):
        self.shift = tf.Variable(0.1)
    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)] * 2, jit_compile={jit})
    def loss(self, a, b):
        return pointops.chamfer_distance(a + self.shift, b) + pointops.emd(a + self.shift, b)
tf.saved_model.save(Model(), sys.argv[1] if len(sys.argv) > 1 else {path!r})
print(json.dumps({{"active": pointops.backend_info()["active"]}}))
"""

LOAD = """
import json, numpy as np, tensorflow as tf
{imports}
model = tf.saved_model.load({path!r})
rng = np.random.default_rng(0)
a = tf.constant(rng.random((2, 30, 3), dtype=np.float32)); b = tf.constant(rng.random((2, 30, 3), dtype=np.float32))
with tf.GradientTape() as tape:
    tape.watch(a)
    value = model.loss(a, b)
grad = tape.gradient(value, a)
print(json.dumps({{"value": float(value), "grad_norm": float(tf.norm(grad))}}))
"""


def expected():
    rng = np.random.default_rng(0)
    a = tf.constant(rng.random((2, 30, 3), dtype=np.float32))
    b = tf.constant(rng.random((2, 30, 3), dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(a)
        value = pointops.reference.chamfer_distance(a + 0.1, b) + pointops.emd(a + 0.1, b)
    return float(value), float(tf.norm(tape.gradient(value, a)))


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_saved_model_with_compiled_ops_loads_after_import(tmp_path, jit):
    """Also XLA-compiled (the function keeps jit_compile in the SavedModel and runs the lowerings when loaded)."""
    path = str(tmp_path / "compiled")
    saved = run_python(SAVE.format(path=path, jit=jit))
    assert saved["active"].startswith("compiled")
    loaded = run_python(LOAD.format(path=path, imports="import pointops"))
    value, grad_norm = expected()
    np.testing.assert_allclose(loaded["value"], value, rtol=1e-5)
    np.testing.assert_allclose(loaded["grad_norm"], grad_norm, rtol=1e-4)


def test_saved_model_from_reference_path_loads_without_pointops(tmp_path):
    path = str(tmp_path / "reference")
    saved = run_python(SAVE.format(path=path, jit=False), {"POINTOPS_BACKEND": "reference"})
    assert saved["active"].startswith("reference")
    loaded = run_python(LOAD.format(path=path, imports=""))  # no pointops import at all
    value, _ = expected()
    np.testing.assert_allclose(loaded["value"], value, rtol=1e-4)


def test_mirrored_strategy_on_two_logical_cpus():
    result = run_python("""
    import json, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, pointops.keras as pk
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((128, 16, 2)).astype(np.float32)
    with strategy.scope():
        inputs = keras.Input((16, 2))
        h = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(inputs))
        model = keras.Model(inputs, keras.layers.Reshape((16, 2))(keras.layers.Dense(32)(h)))
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=pk.ChamferLoss(), metrics=[pk.FScore(0.1)])
    history = model.fit(x, x, epochs=5, batch_size=32, verbose=0).history
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history["loss"]}))
    """)
    assert result["replicas"] == 2
    assert result["loss"][-1] < result["loss"][0]


def test_tf_data_pipeline_with_ragged_sizes(rng):
    clouds = [rng.random((n, 3)).astype(np.float32) for n in (10, 25, 17, 8)]
    dataset = tf.data.Dataset.from_generator(lambda: ((c, c[::-1] + 0.01) for c in clouds),
                                             output_signature=(tf.TensorSpec([None, 3], tf.float32),) * 2)
    dataset = dataset.map(lambda a, b: (a, b, tf.shape(a)[0])).padded_batch(2)

    @tf.function
    def step(a, b, lengths):
        return pointops.chamfer_distance(a, b, a_lengths=lengths, b_lengths=lengths, batch_reduction=None)

    got = np.concatenate([step(*batch).numpy() for batch in dataset])
    want = [float(pointops.reference.chamfer_distance(c[None], c[None, ::-1] + 0.01)) for c in clouds]
    np.testing.assert_allclose(got, want, rtol=1e-5)
