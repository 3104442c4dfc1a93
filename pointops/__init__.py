"""pointops: fast, exact, differentiable point-set distances for TensorFlow.

Compiled CPU and CUDA kernels for the nearest-neighbour Chamfer distance and an auction-based
Earth Mover's Distance, with a pure-TensorFlow reference path (pointops.reference) that is used
when the compiled library is missing. See pointops.backend_info().
"""
from pointops._cli_log import quiet_tensorflow_for_the_command

quiet_tensorflow_for_the_command()  # before TensorFlow is first imported

from pointops import reference  # noqa: E402
from pointops._backend import backend_info  # noqa: E402
from pointops.emd import emd, emd_match, emd_plan  # noqa: E402
from pointops.knn import knn, knn_gather  # noqa: E402
from pointops.nn import chamfer_distance, density_aware_chamfer, f_score, nn_distance  # noqa: E402

__all__ = ["backend_info", "chamfer_distance", "density_aware_chamfer", "emd", "emd_match", "emd_plan", "f_score", "knn",
           "knn_gather", "nn_distance", "reference"]
__version__ = "0.1.0"

# The Keras losses and metrics register their names with Keras here, so that a saved Keras model that
# uses them loads after a plain `import pointops` (keras.saving finds only registered classes). Keras
# itself is already imported with TensorFlow's own modules: measured, this adds no time to the import.
from pointops import keras  # noqa: E402,F401

# Submodules that `import pointops` does not load, imported on first use (they cost nothing when unused).
_LAZY_SUBMODULES = ("io", "evaluate", "bench", "metrics")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"pointops.{name}")
    raise AttributeError(f"module 'pointops' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_SUBMODULES))
