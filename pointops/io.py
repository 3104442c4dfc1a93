"""Reading point-cloud files: .npy, .xyz / .pts (whitespace-separated text), .ply (ASCII or binary)."""
import warnings
from pathlib import Path

import numpy as np

SUFFIXES = (".npy", ".xyz", ".pts", ".ply")
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


class PointFileError(ValueError):
    """A file that is not a readable point cloud; the message says why."""


def read_points(path):
    """Points of a file as float64 [N, D] (1 <= D <= 8, N >= 1); PointFileError otherwise."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            points = np.load(path, allow_pickle=False)
        elif path.suffix in (".xyz", ".pts"):
            with warnings.catch_warnings():  # an empty file is reported below as "no points"
                warnings.simplefilter("ignore", UserWarning)
                points = np.loadtxt(path, ndmin=2, comments="#")
        elif path.suffix == ".ply":
            points = _read_ply(path)
        else:
            raise PointFileError(f"unknown suffix {path.suffix!r} (expected one of {', '.join(SUFFIXES)})")
    except PointFileError as err:
        raise PointFileError(f"{path}: {err}") from None
    except Exception as err:  # unreadable: report the reader's reason
        raise PointFileError(f"{path}: unreadable: {err}") from None
    points = np.asarray(points)
    if points.dtype.kind not in "iuf":  # strings, structured records, complex, bool, objects
        raise PointFileError(f"{path}: expected real numbers, got dtype {points.dtype}")
    points = points.astype(np.float64)
    if points.ndim != 2 or not 1 <= points.shape[1] <= 8:
        raise PointFileError(f"{path}: expected a [N, D] array with 1 <= D <= 8 columns, got shape {list(points.shape)}")
    if points.shape[0] == 0:
        raise PointFileError(f"{path}: no points")
    if not np.isfinite(points).all():
        raise PointFileError(f"{path}: non-finite coordinates")
    return points


def _read_ply(path):
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise PointFileError("not a PLY file (no 'ply' magic line)")
        fmt, count, props, in_vertex = None, None, [], False
        for raw in f:
            words = raw.decode("ascii", "replace").split()
            if not words:
                continue
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                in_vertex = words[1] == "vertex"
                if in_vertex:
                    count = int(words[2])
                elif count is None:
                    raise PointFileError("elements before 'vertex' are not supported")
            elif words[0] == "property" and in_vertex:
                if words[1] == "list":
                    raise PointFileError("list properties on vertices are not supported")
                if words[1] not in _PLY_TYPES:
                    raise PointFileError(f"PLY property type {words[1]!r} is not supported "
                                         f"(supported: {', '.join(_PLY_TYPES)})")
                props.append((words[2], _PLY_TYPES[words[1]]))
            elif words[0] == "end_header":
                break
        names = [name for name, _ in props]
        if count is None or not {"x", "y"} <= set(names):
            raise PointFileError("no vertex element with x and y properties")
        columns = [n for n in ("x", "y", "z") if n in names]
        if fmt == "ascii":
            table = np.loadtxt(f, ndmin=2, max_rows=count)
            return table[:, [names.index(n) for n in columns]]
        order = {"binary_little_endian": "<", "binary_big_endian": ">"}.get(fmt)
        if order is None:
            raise PointFileError(f"unknown PLY format {fmt!r}")
        dtype = np.dtype([(name, order + code) for name, code in props])
        table = np.frombuffer(f.read(dtype.itemsize * count), dtype=dtype, count=count)
        return np.stack([table[n].astype(np.float64) for n in columns], axis=1)


def pair_files(pred, gt):
    """[(name, pred_path, gt_path)] for two files or two folders (paired by file stem), and the
    names found on one side only."""
    pred, gt = Path(pred), Path(gt)
    if pred.is_file() and gt.is_file():
        return [(pred.stem, pred, gt)], []
    if not (pred.is_dir() and gt.is_dir()):
        raise FileNotFoundError(f"PRED and GT must both be files or both be folders: {pred}, {gt}")
    collect = lambda folder: {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in SUFFIXES}
    pred_files, gt_files = collect(pred), collect(gt)
    common = sorted(set(pred_files) & set(gt_files))
    unmatched = sorted(set(pred_files) ^ set(gt_files))
    return [(name, pred_files[name], gt_files[name]) for name in common], unmatched
