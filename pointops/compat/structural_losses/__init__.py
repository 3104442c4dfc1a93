"""latent_3d_points' `external/structural_losses` layout: `from pointops.compat.structural_losses.tf_nndistance
import nn_distance` and `...tf_approxmatch import approx_match, match_cost`."""
