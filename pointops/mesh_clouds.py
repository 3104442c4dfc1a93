"""Point clouds sampled from triangle meshes, for benchmarks and tests: points on surfaces, as users have
them, rather than uniform in a cube. The meshes are made here (no downloads): boxes, spheres, tori,
cylinders, and furniture-like shapes (tables, chairs, shelves) assembled from boxes and cylinders with
random proportions, so a collection has many different shapes of one rough kind.
"""
import numpy as np

from pointops.normalization import normalize

_BOX_FACES = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                       [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])


def box(center, size):
    """An axis-aligned box: (vertices [8, 3], faces [12, 3])."""
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], np.float64) - 0.5
    return corners * np.asarray(size, np.float64) + np.asarray(center, np.float64), _BOX_FACES


def _grid_surface(points_of, rows, cols, wrap_cols=True, wrap_rows=False):
    """A surface from a parameter grid: points_of(u [rows, cols], v) -> [rows, cols, 3]."""
    u, v = np.meshgrid(np.arange(rows) / (rows if wrap_rows else rows - 1), np.arange(cols) / cols, indexing="ij")
    vertices = points_of(u, v).reshape(-1, 3)
    faces = []
    for i in range(rows if wrap_rows else rows - 1):
        for j in range(cols if wrap_cols else cols - 1):
            a, b = i * cols + j, i * cols + (j + 1) % cols
            c, d = ((i + 1) % rows) * cols + j, ((i + 1) % rows) * cols + (j + 1) % cols
            faces += [[a, b, d], [a, d, c]]
    return vertices, np.array(faces)


def ellipsoid(center, radii, rows=24, cols=48):
    def points_of(u, v):
        theta, phi = np.pi * u, 2 * np.pi * v
        return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)
    vertices, faces = _grid_surface(points_of, rows, cols)
    return vertices * np.asarray(radii) + np.asarray(center), faces


def torus(center, major, minor, rows=32, cols=24):
    def points_of(u, v):
        a, b = 2 * np.pi * u, 2 * np.pi * v
        ring = major + minor * np.cos(b)
        return np.stack([ring * np.cos(a), ring * np.sin(a), minor * np.sin(b)], -1)
    vertices, faces = _grid_surface(points_of, rows, cols, wrap_rows=True)
    return vertices + np.asarray(center), faces


def cylinder(center, radius, height, cols=32):
    """An open tube along z (the caps are thin and add little to a sampled cloud)."""
    def points_of(u, v):
        return np.stack([radius * np.cos(2 * np.pi * v), radius * np.sin(2 * np.pi * v), height * (u - 0.5)], -1)
    vertices, faces = _grid_surface(points_of, 2, cols)
    return vertices + np.asarray(center), faces


def merge(*meshes):
    vertices, faces, offset = [], [], 0
    for v, f in meshes:
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(faces)


def sample_surface(vertices, faces, n, rng):
    """n points uniformly on the mesh surface (triangles chosen by area), [n, 3] float64."""
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    chosen = rng.choice(len(faces), size=n, p=area / area.sum())
    r1, r2 = rng.random((2, n, 1))
    s = np.sqrt(r1)
    t = tri[chosen]
    return (1 - s) * t[:, 0] + s * (1 - r2) * t[:, 1] + s * r2 * t[:, 2]


def _table(rng):
    w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.4, 0.9), rng.uniform(0.4, 0.8)
    leg = rng.uniform(0.03, 0.08)
    parts = [box([0, 0, h], [w, d, 0.04])]
    parts += [box([sx * (w / 2 - leg), sy * (d / 2 - leg), h / 2], [leg, leg, h]) for sx in (-1, 1) for sy in (-1, 1)]
    return merge(*parts)


def _chair(rng):
    w, h, back = rng.uniform(0.4, 0.6), rng.uniform(0.35, 0.5), rng.uniform(0.3, 0.6)
    leg = rng.uniform(0.03, 0.06)
    parts = [box([0, 0, h], [w, w, 0.05]), box([0, -w / 2 + 0.02, h + back / 2], [w, 0.04, back])]
    parts += [box([sx * (w / 2 - leg), sy * (w / 2 - leg), h / 2], [leg, leg, h]) for sx in (-1, 1) for sy in (-1, 1)]
    return merge(*parts)


def _lamp(rng):
    h = rng.uniform(0.6, 1.2)
    return merge(cylinder([0, 0, h / 2], rng.uniform(0.02, 0.05), h),
                 ellipsoid([0, 0, h], [rng.uniform(0.15, 0.3)] * 2 + [rng.uniform(0.1, 0.2)]),
                 ellipsoid([0, 0, 0], [rng.uniform(0.15, 0.25)] * 2 + [0.02]))


def _ring(rng):
    return torus([0, 0, 0], rng.uniform(0.3, 0.5), rng.uniform(0.05, 0.2))


def _shelf(rng):
    w, h, d = rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.6), rng.uniform(0.2, 0.4)
    boards = int(rng.integers(3, 6))
    parts = [box([sx * w / 2, 0, h / 2], [0.03, d, h]) for sx in (-1, 1)]
    parts += [box([0, 0, h * k / (boards - 1)], [w, d, 0.03]) for k in range(boards)]
    return merge(*parts)


FAMILIES = {"table": _table, "chair": _chair, "lamp": _lamp, "ring": _ring, "shelf": _shelf}


def mesh_clouds(count, n_points, seed=0, families=tuple(FAMILIES)):
    """count clouds [count, n_points, 3] (float64) sampled from random meshes of the given families (in
    turn), each rotated about z at random and normalised to the unit box [-0.5, 0.5]^3."""
    rng = np.random.default_rng(seed)
    clouds = []
    for k in range(count):
        vertices, faces = FAMILIES[families[k % len(families)]](rng)
        angle = rng.uniform(0, 2 * np.pi)
        c, s = np.cos(angle), np.sin(angle)
        vertices = vertices @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
        clouds.append(sample_surface(vertices, faces, n_points, rng))
    return normalize(np.stack(clouds), "unit-box")
