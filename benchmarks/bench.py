"""The CPU benchmark; the same as `python -m pointops bench` (the code lives in pointops/bench.py so that
an installed pointops can run it). GPU kernels: see gpu_bench.py."""
import sys

from pointops.bench import main

if __name__ == "__main__":
    sys.exit(main())
