"""latent_3d_points' structural_losses.tf_nndistance: pointops.compat.tf_nndistance under that path."""
from pointops.compat.tf_nndistance import nn_distance

__all__ = ["nn_distance"]
