"""Drop-in modules for code written against the TF1-era point-cloud ops: replace `import tf_nndistance`
with `from pointops.compat import tf_nndistance` (likewise tf_approxmatch, tf_auctionmatch; latent_3d_points'
layout is pointops.compat.structural_losses). They keep the original names, shapes and conventions, and
run on pointops' kernels. docs/porting.md has the one-line change for each project.
"""
