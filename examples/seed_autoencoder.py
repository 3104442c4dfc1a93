"""The seed note's variational autoencoder (sets of 10 2-D points, latent dimension 2), trained with
Chamfer, with EMD and with density-aware Chamfer, the Keras 3 way.

    python examples/seed_autoencoder.py [--epochs 150] [--out docs/seed_autoencoder.png]

Prints progress per epoch, then for each loss the final Chamfer distance, EMD and coverage (the share of
target points that are some reconstructed point's nearest neighbour) of the reconstructions, and writes a
PNG of original against reconstructed sets.

Porting the seed's code to Keras 3: `self.add_metric` is gone, and a custom `train_step` that returns a
"loss" key while Keras tracks its own loss shows Keras' tracker, which nobody updates (the history reads
0). Here the model owns keras.metrics.Mean trackers, lists them in `metrics`, updates them in
`train_step` and returns their results.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

import pointops
import pointops.keras as pk

tf.get_logger().setLevel("ERROR")  # predict() on three models retraces: expected here

NUM_POINTS, LATENT_DIM = 10, 2
INPUT_SHAPE = (NUM_POINTS, 2)


def create_encoder():
    inputs = keras.Input(shape=INPUT_SHAPE)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, [keras.layers.Dense(LATENT_DIM, name="z_mean")(x),
                                keras.layers.Dense(LATENT_DIM, name="z_log_var")(x)])


def create_decoder():
    latent = keras.Input(shape=(LATENT_DIM,))
    x = keras.layers.Dense(16, activation="relu")(latent)
    x = keras.layers.Dense(NUM_POINTS * 2)(x)
    return keras.Model(latent, keras.layers.Reshape(INPUT_SHAPE)(x))


class VAE(keras.Model):
    """The seed's VAE; the point-set loss is a parameter and the KL term (weight beta) is trained."""

    def __init__(self, point_loss, beta=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = create_encoder(), create_decoder()
        self.point_loss, self.beta = point_loss, beta
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    @property
    def metrics(self):  # Keras resets these at each epoch
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, inputs):
        z_mean, _ = self.encoder(inputs)
        return self.decoder(z_mean)

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(x)
            z = z_mean + tf.random.normal(tf.shape(z_mean)) * tf.exp(0.5 * z_log_var)
            reconstruction = self.point_loss(x, self.decoder(z))
            kl = tf.reduce_mean(tf.reduce_sum(-0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
            loss = reconstruction + self.beta * kl
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        for tracker, value in ((self.loss_tracker, loss), (self.reconstruction_tracker, reconstruction),
                               (self.kl_tracker, kl)):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}


class EpochLine(keras.callbacks.Callback):
    def __init__(self, label, every):
        super().__init__()
        self.label, self.every = label, every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch == 0:
            print(f"  [{self.label}] epoch {epoch + 1:4d}  loss {logs['loss']:.4f}  "
                  f"reconstruction {logs['reconstruction']:.4f}  kl {logs['kl']:.3f}", flush=True)


def coverage(pred, target):
    """Share of target points that are some predicted point's nearest neighbour, per set."""
    _, idx_pred_to_target, _, _ = pointops.nn_distance(pred, target)
    hit = tf.reduce_sum(tf.one_hot(idx_pred_to_target, NUM_POINTS), axis=1) > 0
    return tf.reduce_mean(tf.cast(hit, tf.float32), axis=1)


def evaluate(model, data):
    pred = model.predict(data, verbose=0)
    return pred, {"chamfer": float(pointops.chamfer_distance(pred, data)),
                  "emd": float(pointops.emd(pred, data)),
                  "coverage": float(tf.reduce_mean(coverage(pred, data)))}


def plot(data, reconstructions, path, shown=4):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(shown, len(reconstructions), figsize=(3.2 * len(reconstructions), 3 * shown),
                             squeeze=False)
    for col, (name, (pred, scores)) in enumerate(reconstructions.items()):
        for row in range(shown):
            ax = axes[row, col]
            ax.scatter(data[row, :, 0], data[row, :, 1], s=60, facecolors="none", edgecolors="black", label="original")
            ax.scatter(pred[row, :, 0], pred[row, :, 1], s=30, marker="x", color="tab:red", label="reconstruction")
            ax.set_xlim(-0.1, 1.1)
            ax.set_ylim(-0.1, 1.1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{name}\ncoverage {scores['coverage']:.0%}, EMD {scores['emd']:.3f}", fontsize=10)
    axes[0, 0].legend(loc="lower left", fontsize=8)
    fig.suptitle("Seed VAE (10 points, latent 2): originals (o) and reconstructions (x)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--samples", type=int, default=100, help="training sets (the seed used 100)")
    parser.add_argument("--out", default="docs/seed_autoencoder.png")
    args = parser.parse_args(argv)

    np.random.seed(0)
    data = np.random.rand(args.samples, NUM_POINTS, 2).astype(np.float32)  # the seed's data
    losses = {"Chamfer": pk.ChamferLoss(), "EMD": pk.EMDLoss(),
              "density-aware Chamfer": pk.DensityAwareChamferLoss(alpha=50.0)}
    results = {}
    for name, loss in losses.items():
        print(f"training with {name}", flush=True)
        keras.utils.set_random_seed(0)
        model = VAE(loss)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3))
        model.fit(data, epochs=args.epochs, batch_size=20, verbose=0,
                  callbacks=[EpochLine(name, max(1, args.epochs // 10))])
        results[name] = evaluate(model, data)
    print(f"\n{'trained with':24s} {'Chamfer':>9s} {'EMD':>9s} {'coverage':>9s}")
    for name, (_, scores) in results.items():
        print(f"{name:24s} {scores['chamfer']:9.4f} {scores['emd']:9.4f} {scores['coverage']:9.0%}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    plot(data, results, args.out)
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
