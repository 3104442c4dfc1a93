"""The XLA benchmark, run by `python -m pointops bench --xla`: forward+backward of chamfer_distance and emd
inside tf.function with jit_compile=False and with jit_compile=True (XLA runs the same kernels through their
custom calls, csrc/tf/xla/), beside the pure-TF path under XLA (what pointops ran there before it had XLA
lowerings; skipped where it needs more than the memory limit or far too long), and a Keras training step
compiled both ways. Each cell: the median time and the peak extra memory.
"""
import numpy as np
import tensorflow as tf

import pointops
from pointops.bench.baselines import with_backward
from pointops.bench.cases import Case, clouds_of
from pointops.bench.timing import MB, MEMORY_LIMIT, time_and_memory, time_median

# (op, B, N, whether the pure-TF path under XLA is run: it builds [B, N, N] per direction, and its auction
# takes minutes per step at these sizes)
CASES = [("chamfer", 8, 2048, True), ("emd", 8, 2048, False), ("chamfer", 32, 8192, False), ("emd", 1, 4096, False)]
FUNCTIONS = {"chamfer": (pointops.chamfer_distance, pointops.reference.chamfer_distance),
             "emd": (pointops.emd, pointops.reference.emd)}


def _keras_step_times(budget_s, rng, points):
    """Seconds per train_on_batch of a small point autoencoder with ChamferLoss (B=8, N=points), compiled
    with jit_compile=False and True."""
    import keras

    import pointops.keras as pk
    x = rng.random((8, points, 3)).astype(np.float32)
    times = {}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((points, 3)), keras.layers.Flatten(), keras.layers.Dense(64),
                                  keras.layers.Dense(points * 3), keras.layers.Reshape((points, 3))])
        model.compile(optimizer="adam", loss=pk.ChamferLoss(), jit_compile=jit)
        times[jit] = time_median(lambda a, b: model.train_on_batch(a, b), x, x, budget_s)
    return times


def run(budget_s, log=print, cases=CASES, keras_points=2048):
    """The markdown text of the benchmark (cases and keras_points: smaller ones for the tests)."""
    rng = np.random.default_rng(0)
    lines = ["| fwd+bwd | B | N | jit_compile=False | jit_compile=True | XLA / no XLA | memory without XLA | "
             "memory with XLA | pure-TF path under XLA (before) | its memory |", "|" + "---|" * 10]
    for op, B, N, fallback in cases:
        log(f"xla {op} B={B} N={N}")
        a, b = clouds_of(Case(op, B, N, 3), rng)
        ours, reference = FUNCTIONS[op]
        plain_s, plain_mem = time_and_memory(tf.function(with_backward(ours), jit_compile=False), a, b, budget_s)
        xla_s, xla_mem = time_and_memory(tf.function(with_backward(ours), jit_compile=True), a, b, budget_s)
        if fallback and B * N * N * 4 * 8 < MEMORY_LIMIT:
            old_s, old_mem = time_and_memory(tf.function(with_backward(reference), jit_compile=True), a, b, budget_s)
            old = f"{old_s * 1e3:.1f} ms | {old_mem / MB:.0f} MB"
        else:
            old = "skipped | -"
        lines.append(f"| {op} | {B} | {N} | {plain_s * 1e3:.2f} ms | {xla_s * 1e3:.2f} ms | {xla_s / plain_s:.2f} | "
                     f"{plain_mem / MB:.0f} MB | {xla_mem / MB:.0f} MB | {old} |")
    log("xla keras train step")
    keras_times = _keras_step_times(budget_s, rng, keras_points)
    lines += ["", f"Keras `train_on_batch`, a dense point autoencoder with `ChamferLoss`, B=8, N={keras_points}: "
              f"jit_compile=False {keras_times[False] * 1e3:.2f} ms, jit_compile=True {keras_times[True] * 1e3:.2f} ms "
              f"per step (ratio {keras_times[True] / keras_times[False]:.2f}).",
              "", "The pure-TF path under XLA is skipped for EMD (its dense auction did not finish one step at B=8, "
              "N=2048 in 13 minutes) and where its [B, N, N] tensors pass the benchmark's memory limit."]
    return "\n".join(lines) + "\n"
