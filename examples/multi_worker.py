"""Training with pointops across processes or machines: tf.distribute.MultiWorkerMirroredStrategy with a
custom training loop (strategy.run over a distributed dataset). Keras 3's model.fit fails under this
strategy with the TensorFlow backend (docs/keras.md), so the loop is written out.

Run one process per worker, each with its TF_CONFIG; two workers on this machine:

    TF_CONFIG='{"cluster": {"worker": ["localhost:20001", "localhost:20002"]}, "task": {"type": "worker", "index": 0}}' \
        python examples/multi_worker.py --weights w0.npz &
    TF_CONFIG='{"cluster": {"worker": ["localhost:20001", "localhost:20002"]}, "task": {"type": "worker", "index": 1}}' \
        python examples/multi_worker.py --weights w1.npz

Each worker trains on its own shard of the data; the gradients are all-reduced every step, so every worker
ends with the same weights (tests/test_multi_worker.py checks it).
"""
import argparse
import json
import os

import keras
import numpy as np
import tensorflow as tf

import pointops

CLOUDS, POINTS, GLOBAL_BATCH = 64, 128, 16


def autoencoder():
    return keras.Sequential([keras.Input((POINTS, 3)), keras.layers.Flatten(), keras.layers.Dense(32, "relu"),
                             keras.layers.Dense(POINTS * 3), keras.layers.Reshape((POINTS, 3))])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--weights", help="where to save this worker's initial and final weights (.npz)")
    args = parser.parse_args(argv)
    index = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    # Different seeds on purpose: the strategy gives every worker worker 0's initial weights.
    keras.utils.set_random_seed(index)
    clouds = np.random.default_rng(0).random((CLOUDS, POINTS, 3)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((clouds, clouds)).batch(GLOBAL_BATCH).repeat()
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    with strategy.scope():
        model = autoencoder()
        optimizer = keras.optimizers.Adam(1e-3)
    initial = np.concatenate([w.numpy().ravel() for w in model.weights])

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            per_cloud = (pointops.chamfer_distance(pred, y, batch_reduction=None)
                         + pointops.emd(pred, y, batch_reduction=None))
            loss = tf.nn.compute_average_loss(per_cloud, global_batch_size=GLOBAL_BATCH)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    @tf.function
    def step(batch):
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    for k in range(args.steps):
        print(f"worker {index} step {k}: loss {float(step(next(batches))):.6f}", flush=True)
    if args.weights:
        np.savez(args.weights, initial=initial, final=np.concatenate([w.numpy().ravel() for w in model.weights]))


if __name__ == "__main__":
    main()
