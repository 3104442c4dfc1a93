"""pointops: fast, exact, differentiable point-set distances for TensorFlow.

Compiled CPU and CUDA kernels for the nearest-neighbour Chamfer distance and an auction-based
Earth Mover's Distance, with a pure-TensorFlow reference path (pointops.reference) that is used
when the compiled library is missing. See pointops.backend_info().
"""
from pointops import reference
from pointops._backend import backend_info
from pointops.emd import emd, emd_match
from pointops.nn import chamfer_distance, density_aware_chamfer, f_score, nn_distance

__all__ = ["backend_info", "chamfer_distance", "density_aware_chamfer", "emd", "emd_match", "f_score", "nn_distance",
           "reference"]
__version__ = "0.1.0"
