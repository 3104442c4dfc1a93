"""python -m pointops {info, bench, eval, eval-gen}"""
import argparse
import sys


def info(_argv):
    import keras
    import numpy as np

    import pointops
    details = pointops.backend_info()
    details.update(pointops=pointops.__version__, keras=keras.__version__, numpy=np.__version__,
                   python=sys.version.split()[0])
    for key, value in details.items():
        print(f"{key:28s} {value}")
    return 0


def bench(rest):
    try:
        from pointops.bench import main as bench_main
    except ImportError as err:  # a plain install: the benchmark's baselines and plots are extras
        print(f"pointops bench needs the benchmark extras ({err.name} is missing): pip install 'pointops[bench]'",
              file=sys.stderr)
        return 2
    return bench_main(rest)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    argv = [arg for arg in argv if arg != "--verbose"]  # read by pointops._cli_log at import
    commands = {"info": info, "bench": bench,
                "eval": lambda rest: __import__("pointops.evaluate", fromlist=["main"]).main(rest),
                "eval-gen": lambda rest: __import__("pointops.eval_gen", fromlist=["main"]).main(rest)}
    parser = argparse.ArgumentParser(prog="python -m pointops", description="pointops command line")
    parser.add_argument("command", choices=sorted(commands), help="info: backend and versions; bench: benchmark; "
                        "eval: distances between point-cloud files; eval-gen: generative-model metrics "
                        "(MMD, COV, 1-NNA, JSD) of generated against reference clouds")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log (hidden by default)")
    args, rest = parser.parse_known_args(argv)
    return commands[args.command](rest)


if __name__ == "__main__":
    sys.exit(main())
