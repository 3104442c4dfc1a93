"""The public functions are plain functions with their documentation in the module a user opens, and
the pure-TF path offers each with the same signature."""
import importlib
import inspect
import re
from pathlib import Path

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


API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
HEADING = re.compile(r"^### `([\w.]+)\((.*)\)`$", re.M)


def documented():
    """(dotted name, signature text, the section's text) for every heading of docs/api.md."""
    text = API_PAGE.read_text()
    matches = list(HEADING.finditer(text))
    return [(m.group(1), m.group(2), text[m.end():matches[i + 1].start() if i + 1 < len(matches) else len(text)])
            for i, m in enumerate(matches)]


def resolve(dotted):
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def test_api_page_matches_the_signatures_and_describes_every_argument():
    for name, signature, section in documented():
        obj = resolve(name)
        assert f"({signature})" == str(inspect.signature(obj)), f"docs/api.md's {name} is not its signature"
        for parameter in inspect.signature(obj).parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            assert f"`{parameter.name}`" in section, f"docs/api.md's {name} does not describe `{parameter.name}`"


def test_api_page_covers_every_public_function_and_class():
    names = {name for name, _, _ in documented()}
    public = [f"pointops.{n}" for n in pointops.__all__ if n != "reference"]
    public += [f"pointops.keras.{n}" for n in ("ChamferLoss", "EMDLoss", "DensityAwareChamferLoss", "ChamferMetric",
                                               "EMDMetric", "FScore")]
    public += [f"pointops.metrics.{n}" for n in ("pairwise_chamfer", "pairwise_emd", "mmd_cov", "one_nn_accuracy",
                                                 "jsd", "generative_metrics")]
    assert not set(public) - names, f"missing from docs/api.md: {sorted(set(public) - names)}"
