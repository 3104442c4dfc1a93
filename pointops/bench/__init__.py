"""pointops benchmark (`pointops bench`): a module per section over one shared timing module.

cli (the command), sweeps (Chamfer and EMD: quick, default, full), knn, transport, metrics, xla; cases,
baselines, timing (time and peak memory) and report (markdown, RESULTS.md, plots) serve them all."""
from pointops.bench.cli import main

__all__ = ["main"]
