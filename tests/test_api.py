"""The public functions are plain functions with their documentation in the module a user opens, and
the pure-TF path offers each with the same signature."""
import inspect

import pointops
from pointops import reference

PUBLIC = ["nn_distance", "chamfer_distance", "density_aware_chamfer", "f_score", "knn", "emd", "emd_match"]


def test_public_functions_are_plain_functions_defined_in_their_module():
    for name in pointops.__all__:
        value = getattr(pointops, name)
        if inspect.ismodule(value):
            continue
        assert inspect.isfunction(value), name
        assert value.__name__ == name and value.__qualname__ == name, name
        source = inspect.getsource(value)
        assert source.startswith(f"def {name}("), f"{name} is not written as `def {name}(...)` in {value.__module__}"
        assert value.__doc__ and len(value.__doc__) > 40, f"{name} has no docstring of its own"


def test_reference_path_offers_the_same_signatures():
    for name in PUBLIC:
        assert inspect.signature(getattr(reference, name)) == inspect.signature(getattr(pointops, name)), name
