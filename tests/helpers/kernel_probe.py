"""Runs the compiled kernels of pointops._C without TensorFlow (the extension is loaded from its
file, so this also runs under qemu's user-mode emulator quickly) and checks them against numpy.

    python kernel_probe.py PATH_TO_C_SO OUT.npz

Writes every result to OUT.npz (for bit-identity checks across CPU levels) and prints one JSON
line: the level in use, the supported levels and whether each result matched its oracle."""
import importlib.machinery
import importlib.util
import json
import sys

import numpy as np


def load(path):
    loader = importlib.machinery.ExtensionFileLoader("pointops._C", path)
    spec = importlib.util.spec_from_file_location("pointops._C", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def main(so_path, out_path):
    C = load(so_path)
    rng = np.random.default_rng(7)
    results, checks = {}, {}
    for dtype in (np.float32, np.float64):
        for D in range(1, 9):
            a = rng.random((2, 70, D)).astype(dtype)
            b = rng.random((2, 45, D)).astype(dtype)
            b[0, 7] = b[0, 3]  # a tie: the lowest index must win on every level
            d2 = ((a[:, :, None].astype(np.float64) - b[:, None]) ** 2).sum(-1)
            for algorithm in ("brute", "tree"):
                out = C.nn_distance(a, b, algorithm=algorithm)
                key = f"nn_{np.dtype(dtype).name}_D{D}_{algorithm}"
                results.update({f"{key}_{k}": v for k, v in zip(("dab", "iab", "dba", "iba"), out)})
                checks[key] = bool(np.array_equal(out[1], d2.argmin(2)) and np.array_equal(out[3], d2.argmin(1))
                                   and np.allclose(out[0], d2.min(2), rtol=1e-5, atol=1e-6))
            g_ab, g_ba = rng.random((2, 70)).astype(dtype), rng.random((2, 45)).astype(dtype)
            grad_a, grad_b = C.nn_distance_grad(a, b, out[1], out[3], g_ab, g_ba)
            results[f"grad_{np.dtype(dtype).name}_D{D}_a"], results[f"grad_{np.dtype(dtype).name}_D{D}_b"] = grad_a, grad_b
            want_a = 2 * g_ab[..., None] * (a - np.take_along_axis(b, out[1][..., None], 1))
            checks[f"grad_{np.dtype(dtype).name}_D{D}"] = bool(
                np.isfinite(grad_b).all() and np.allclose(want_a + _scatter(a, b, out[3], g_ba), grad_a,
                                                          rtol=1e-4, atol=1e-5))
            x, y = rng.random((3, 50, D)).astype(dtype), rng.random((2, 40, D)).astype(dtype)
            x_len = np.array([50, 17, 1])
            key = f"pairwise_{np.dtype(dtype).name}_D{D}"
            results[key], results[key + "_sym"] = C.pairwise_chamfer(x, y, x_lengths=x_len), C.pairwise_chamfer(x)
            checks[key] = bool(np.allclose(results[key], _chamfer_matrix(x, y, x_len), rtol=1e-5, atol=1e-7)
                               and np.allclose(results[key + "_sym"], _chamfer_matrix(x, x, [50] * 3), rtol=1e-5,
                                               atol=1e-7))
            q, r = rng.random((2, 90, D)).astype(dtype), rng.random((2, 40, D)).astype(dtype)
            r[1, 9] = r[1, 2]  # a tie: the lower index first
            for norm in (1, 2):
                key = f"knn_{np.dtype(dtype).name}_D{D}_norm{norm}"
                dist, idx = C.knn(q, r, 8, a_lengths=np.array([90, 33]), b_lengths=np.array([40, 5]), norm=norm)
                results[key + "_dist"], results[key + "_idx"] = dist, idx
                checks[key] = _knn_matches(q, r, [90, 33], [40, 5], 8, norm, dist, idx)
        a = rng.random((2, 60, 3)).astype(dtype)
        b = rng.random((2, 60, 3)).astype(dtype)
        assignment, gap, _ = C.emd_match(a, b)
        results[f"emd_{np.dtype(dtype).name}_assignment"], results[f"emd_{np.dtype(dtype).name}_gap"] = assignment, gap
        checks[f"emd_{np.dtype(dtype).name}"] = bool(all(sorted(row) == list(range(60)) for row in assignment)
                                                    and (gap >= 0).all() and (gap < 1e-2).all())
        b_len = np.array([45, 31])  # different sizes: the transportation auction
        plan_i, plan_j, mass, gap, _ = C.emd_transport(a, b[:, :45], b_lengths=b_len)
        key = f"transport_{np.dtype(dtype).name}"
        results[key + "_i"], results[key + "_j"], results[key + "_mass"], results[key + "_gap"] = plan_i, plan_j, mass, gap
        checks[key] = bool(all(np.allclose(np.bincount(plan_i[c][plan_i[c] >= 0], mass[c][plan_i[c] >= 0], 60), 1 / 60)
                               and np.allclose(np.bincount(plan_j[c][plan_j[c] >= 0], mass[c][plan_j[c] >= 0], m), 1 / m)
                               for c, m in enumerate(b_len)) and (gap >= 0).all() and (gap < 1e-2).all())
    np.savez(out_path, **results)
    print(json.dumps({"level": C.cpu_level(), "levels": list(C.cpu_levels()), "checks": checks}))


def _knn_matches(q, r, q_len, r_len, k, norm, dist, idx):
    """dist/idx [B, N, k] against a float64 sort (stable: ties by index), -1 and 0 past the clouds."""
    ok = True
    for c, (n, m) in enumerate(zip(q_len, r_len)):
        diff = q[c, :n, None].astype(np.float64) - r[c, None, :m]
        d = (diff ** 2).sum(-1) if norm == 2 else np.abs(diff).sum(-1)
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        kk = order.shape[1]
        ok &= np.array_equal(idx[c, :n, :kk], order) and (idx[c, :n, kk:] == -1).all() and (idx[c, n:] == -1).all()
        ok &= np.allclose(dist[c, :n, :kk], np.take_along_axis(d, order, 1), rtol=1e-5, atol=1e-6)
        ok &= (dist[c, :n, kk:] == 0).all() and (dist[c, n:] == 0).all()
    return bool(ok)


def _chamfer_matrix(x, y, x_len):
    """[S, R] Chamfer (mean squared nearest distance both ways, summed) in float64, x[s] cut to x_len[s]."""
    out = np.zeros((len(x), len(y)))
    for s, n in enumerate(x_len):
        for r in range(len(y)):
            d2 = ((x[s, :n, None].astype(np.float64) - y[r][None]) ** 2).sum(-1)
            out[s, r] = d2.min(1).mean() + d2.min(0).mean()
    return out


def _scatter(a, b, idx_ba, g_ba):
    """The scatter term of grad_a: 2 g_ba[j] (a_i - b_j) summed over the b points j whose nearest a is i."""
    out = np.zeros_like(a)
    for k in range(a.shape[0]):
        for j, i in enumerate(idx_ba[k]):
            out[k, i] += 2 * g_ba[k, j] * (a[k, i] - b[k, j])
    return out


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
