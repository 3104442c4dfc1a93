"""latent_3d_points' structural_losses.tf_approxmatch: pointops.compat.tf_approxmatch under that path."""
from pointops.compat.tf_approxmatch import approx_match, match_cost

__all__ = ["approx_match", "match_cost"]
