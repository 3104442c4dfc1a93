"""A battery of bad and extreme inputs over every public door, run by tests/test_battery.py.

    python battery.py FIRST   runs cases FIRST, FIRST+1, ... printing "BEGIN i" and "END i <outcome>"

The parent restarts the runner after the case that crashed or hung, so each case is isolated as if
it ran in its own process, without paying an interpreter start per case. A case passes when the
door raises a clear error (the allowed types, naming the argument) or returns what the oracle says;
a crash, a hang or a wrong number fails it."""
import itertools
import sys

import numpy as np

ERRORS = ("ValueError", "TypeError", "InvalidArgumentError")


def oracle_chamfer(a, b):
    """Mean squared nearest-neighbour distance both ways, per cloud, in float64 (numpy's NaN rules)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(all="ignore"):
        d = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
        return d.min(2).mean(1) + d.min(1).mean(1)


def inputs():
    """(name, a, b, kwargs, expect): expect is ("error", words) or ("value", None)."""
    rng = np.random.default_rng(0)
    x = rng.random((2, 6, 3)).astype(np.float32)
    y = rng.random((2, 6, 3)).astype(np.float32)
    def with_value(v, dtype=np.float32):
        a = x.astype(dtype).copy()
        a[1, 2, 0] = v
        return a
    yield "rank 2", x[0], y[0], {}, ("error", "rank 3")
    yield "rank 4", x[None], y[None], {}, ("error", "rank 3")
    yield "D = 0", x[..., :0], y[..., :0], {}, ("error", "D must be in [1, 8]")
    yield "D = 9", np.zeros((2, 6, 9), np.float32), np.zeros((2, 6, 9), np.float32), {}, ("error", "D must be in [1, 8]")
    yield "batch mismatch", x, y[:1], {}, ("error", "same batch size")
    yield "D mismatch", x, y[..., :2], {}, ("error", "same point dimension")
    yield "N = 0", x[:, :0], y, {}, ("error", "must not be empty")
    yield "M = 0", x, y[:, :0], {}, ("error", "must not be empty")
    yield "int32 points", x.astype(np.int32), y.astype(np.int32), {}, ("error", "float")
    yield "bool points", x > 0.5, y > 0.5, {}, ("error", "")
    yield "complex points", x.astype(np.complex64), y.astype(np.complex64), {}, ("error", "")
    yield "string points", x.astype(str), y.astype(str), {}, ("error", "")
    yield "mixed dtypes", x, y.astype(np.float64), {}, ("error", "same dtype")
    yield "length 0", x, y, {"a_lengths": np.array([0, 6])}, ("error", "a_lengths")
    yield "length -1", x, y, {"b_lengths": np.array([6, -1])}, ("error", "b_lengths")
    yield "length N+1", x, y, {"a_lengths": np.array([7, 6])}, ("error", "a_lengths")
    yield "length 2^32+5", x, y, {"a_lengths": np.array([2**32 + 5, 6], np.int64)}, ("error", "a_lengths")
    yield "length 2^63-1", x, y, {"b_lengths": np.array([2**63 - 1, 6], np.int64)}, ("error", "b_lengths")
    yield "float lengths", x, y, {"a_lengths": np.array([2.5, 6.0])}, ("error", "a_lengths")
    yield "lengths of shape [3]", x, y, {"a_lengths": np.array([6, 6, 6])}, ("error", "a_lengths")
    yield "lengths of shape [2, 1]", x, y, {"a_lengths": np.array([[6], [6]])}, ("error", "a_lengths")
    yield "NaN coordinate", with_value(np.nan), y, {}, ("value", None)
    yield "inf coordinate", with_value(np.inf), y, {}, ("value", None)
    yield "-inf coordinate", with_value(-np.inf), y, {}, ("value", None)
    yield "1e30 in float32", x * 1e30, y * 1e30, {}, ("value", None)
    yield "1e200 in float64", x.astype(np.float64) * 1e200, y.astype(np.float64) * 1e200, {}, ("value", None)
    yield "denormal float32", x * 1e-40, y * 1e-40, {}, ("value", None)
    yield "tiny float64", x.astype(np.float64) * 1e-300, y.astype(np.float64) * 1e-300, {}, ("value", None)
    yield "N = M = 1", x[:, :1], y[:, :1], {}, ("value", None)
    yield "all points equal", np.ones_like(x), np.ones_like(y), {}, ("value", None)
    yield "duplicates", np.repeat(x[:, :2], 3, axis=1), np.repeat(y[:, :3], 2, axis=1), {}, ("value", None)
    yield "B = 0", x[:0], y[:0], {}, ("value", None)
    yield "float16", x.astype(np.float16), y.astype(np.float16), {}, ("value", None)
    yield "non-contiguous", np.asfortranarray(x), y[:, ::-1], {}, ("value", None)
    yield "NaN in padding", with_value(np.nan), y, {"a_lengths": np.array([6, 2]), "b_lengths": np.array([6, 6])}, \
        ("value", None)
    yield "D = 8 padded", rng.random((2, 6, 8)), rng.random((2, 6, 8)), {"a_lengths": np.array([3, 6]),
                                                                          "b_lengths": np.array([6, 1])}, ("value", None)


def doors():
    """(name, function(a, b, kwargs) -> per-cloud values or None, what it computes)."""
    import pointops
    import pointops.keras as pk
    from pointops import _C
    from pointops.compat import pytorch3d as p3d

    def chamfer(fn):
        return lambda a, b, kw: np.asarray(fn(a, b, batch_reduction=None, **kw), np.float64)

    def emd(fn):
        return lambda a, b, kw: np.asarray(fn(a, b, batch_reduction=None, **kw), np.float64)

    def c_nn(a, b, kw):
        d_ab, _, d_ba, _ = _C.nn_distance(a, b, **kw)
        return None if d_ab.shape[0] == 0 or kw else d_ab.mean(1) + d_ba.mean(1)

    def c_grad(a, b, kw):
        _, i_ab, _, i_ba = _C.nn_distance(a, b, **kw)
        grads = _C.nn_distance_grad(a, b, i_ab, i_ba, np.ones(i_ab.shape, a.dtype), np.ones(i_ba.shape, a.dtype))
        assert grads[0].shape == a.shape and grads[1].shape == b.shape
        return None

    def c_emd(a, b, kw):
        lengths = kw.get("a_lengths", kw.get("b_lengths"))
        _C.emd_match(a, b, lengths=lengths) if lengths is not None else _C.emd_match(a, b)
        return None

    def c_transport(a, b, kw):
        _C.emd_transport(a, b, **kw)
        return None

    def knn_chamfer(fn):
        """The Chamfer distance from k=1 searches both ways (per cloud); None with lengths."""
        def run(a, b, kw):
            swapped = {{"a_lengths": "b_lengths", "b_lengths": "a_lengths"}[k]: v for k, v in kw.items()}
            d_ab, d_ba = fn(a, b, 1, **kw)[0], fn(b, a, 1, **swapped)[0]
            return None if kw else np.asarray(d_ab, np.float64)[..., 0].mean(1) + np.asarray(d_ba, np.float64)[..., 0].mean(1)
        return run

    def p3d_chamfer(a, b, kw):
        lengths = {"x_lengths": kw.get("a_lengths"), "y_lengths": kw.get("b_lengths")}
        return np.asarray(p3d.chamfer_distance(a, b, batch_reduction=None, **lengths)[0], np.float64)

    def under_xla(fn):
        """The function compiled by XLA (its lowerings to the same kernels): a value-only error (a length out
        of range) is raised when it runs, as XLA's InternalError with pointops' message."""
        import tensorflow as tf
        def run(a, b, kw):
            jitted = tf.function(lambda a, b: fn(a, b, batch_reduction=None, **kw), jit_compile=True)
            return np.asarray(jitted(a, b), np.float64)
        return run

    def keras_loss(cls):
        return lambda a, b, kw: None if kw else np.asarray(cls(reduction=None)(b, a), np.float64)

    return [
        ("pointops.chamfer_distance", chamfer(pointops.chamfer_distance), "chamfer"),
        ("pointops.reference.chamfer_distance", chamfer(pointops.reference.chamfer_distance), "chamfer"),
        ("pointops.nn_distance", lambda a, b, kw: (pointops.nn_distance(a, b, **kw), None)[1], None),
        ("pointops.emd", emd(pointops.emd), "emd"),
        ("pointops.reference.emd", emd(pointops.reference.emd), "emd"),
        ("pointops.emd_match", lambda a, b, kw: (pointops.emd_match(a, b, **kw), None)[1], None),
        ("pointops.density_aware_chamfer", lambda a, b, kw: (pointops.density_aware_chamfer(a, b, **kw), None)[1], None),
        ("pointops.f_score", lambda a, b, kw: (pointops.f_score(a, b, 0.1, **kw), None)[1], None),
        ("pointops._C.nn_distance", c_nn, "chamfer"),
        ("pointops._C.nn_distance_grad", c_grad, None),
        ("pointops._C.emd_match", c_emd, None),
        ("pointops.keras.ChamferLoss", keras_loss(pk.ChamferLoss), "chamfer"),
        ("pointops.keras.EMDLoss", keras_loss(pk.EMDLoss), "emd"),
        ("pointops.knn", knn_chamfer(pointops.knn), "chamfer"),
        ("pointops.reference.knn", knn_chamfer(pointops.reference.knn), "chamfer"),
        ("pointops._C.knn", knn_chamfer(_C.knn), "chamfer"),
        ("pointops.compat.pytorch3d.chamfer_distance", p3d_chamfer, "chamfer"),
        ("pointops.emd_plan", lambda a, b, kw: (pointops.emd_plan(a, b, **kw), None)[1], None),
        ("pointops._C.emd_transport", c_transport, None),
        ("xla pointops.chamfer_distance", under_xla(pointops.chamfer_distance), "chamfer"),
        ("xla pointops.emd", under_xla(pointops.emd), "emd"),
    ]


def cases():
    return list(itertools.product(range(len(list(doors_names()))), range(len(list(inputs())))))


def doors_names():
    return ["chamfer", "ref chamfer", "nn", "emd", "ref emd", "emd_match", "dcd", "f_score", "_C.nn", "_C.grad",
            "_C.emd", "keras chamfer", "keras emd", "knn", "ref knn", "_C.knn", "pytorch3d chamfer", "emd_plan",
            "_C.emd_transport", "xla chamfer", "xla emd"]


DTYPE_CASES = ("int32 points", "bool points", "complex points", "string points", "mixed dtypes")


def judge(door_name, computes, case, outcome_error, value):
    """'' when the outcome is acceptable, else why not."""
    name, a, b, kwargs, (expect, words) = case
    keras = "keras" in door_name
    errors = ERRORS + (("InternalError",) if door_name.startswith("xla") else ())
    if keras and (kwargs or name in DTYPE_CASES):
        # The Keras losses take no lengths and cast their inputs to the loss dtype (float32) as every
        # Keras loss does: a value or a clear error, never a crash.
        if outcome_error is not None and outcome_error[0] not in errors:
            return f"raised {outcome_error[0]}: {outcome_error[1][:200]}"
        return ""
    if door_name.startswith("pointops._C") and np.asarray(a).dtype == np.float16:
        expect, words = "error", "float32 or float64"  # the TF-free module takes float32 and float64 only
    if door_name == "pointops._C.emd_match" and words:
        words = words.replace("a_lengths", "lengths").replace("b_lengths", "lengths")
    if "knn" in door_name and name == "length 0":
        expect = "value"  # knn takes empty clouds, as PyTorch3D's does
    if expect == "error":
        if outcome_error is None:
            return "returned a value where an error was due"
        kind, message = outcome_error
        if kind not in errors:
            return f"raised {kind}: {message[:200]}"
        # PyTorch3D's argument names are x_lengths and y_lengths.
        said = {words.lower(), words.lower().replace("a_lengths", "x_lengths").replace("b_lengths", "y_lengths")}
        return "" if any(w in message.lower() for w in said) else f"error does not say {words!r}: {message[:200]}"
    if outcome_error is not None:
        kind, message = outcome_error
        # Documented errors on valid but extreme input: EMD costs that overflow the float type, unequal sizes
        # through the equal-size-only emd_match, shapes the Keras losses do not take,
        # and ragged clouds of different sizes on the pure-TF path (its documented limit).
        if kind in errors and ("overflow" in message or "equal sizes" in message or "pure-TF path" in message):
            return ""
        return f"raised {kind} on valid input: {message[:300]}"
    if value is None or computes is None or "padding" in name or "padded" in name:
        return ""
    # The oracle sees what the door computes on: Keras casts to float32; results come in the input dtype.
    compute = np.float32 if keras else np.asarray(a).dtype
    with np.errstate(all="ignore"):
        a64 = np.asarray(a).astype(compute).astype(np.float64)
        b64 = np.asarray(b).astype(compute).astype(np.float64)
    if computes == "chamfer":
        with np.errstate(all="ignore"):  # a value past the dtype's range is inf in it, as IEEE rounds
            want = oracle_chamfer(a64, b64).astype(compute).astype(np.float64)
        ok = np.allclose(value, want, rtol=2e-3 if a.dtype == np.float16 else 1e-5, atol=0, equal_nan=True)
        return "" if ok else f"chamfer {value} != oracle {want}"
    if computes == "emd":
        finite = np.isfinite(a64).all((1, 2)) & np.isfinite(b64).all((1, 2))
        if not (np.isnan(value[~finite]).all() and np.isfinite(value[finite]).all() and (value[finite] >= 0).all()):
            return f"emd {value}: NaN expected exactly for clouds with non-finite points"
        if a.shape[1] == 1:
            want = np.sqrt(((a64 - b64) ** 2).sum(-1))[:, 0]
            if not np.allclose(value[finite], want[finite], rtol=1e-5):
                return f"emd of single points {value} != {want}"
    return ""


def main(first):
    import tensorflow as tf
    all_doors, all_inputs = doors(), list(inputs())
    for index, (d, i) in enumerate(cases()):
        if index < first:
            continue
        door_name, fn, computes = all_doors[d]
        case = all_inputs[i]
        print(f"BEGIN {index} {door_name} | {case[0]}", flush=True)
        error, value = None, None
        try:
            value = fn(case[1], case[2], dict(case[3]))
        except (tf.errors.OpError, Exception) as err:  # every exception is judged, none is swallowed
            error = (type(err).__name__, str(getattr(err, "message", err)))
        verdict = judge(door_name, computes, case, error, value)
        print(f"END {index} {'ok' if not verdict else 'FAIL ' + verdict}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
