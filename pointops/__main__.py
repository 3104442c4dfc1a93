"""python -m pointops {info, bench, eval}"""
import argparse
import json
import sys


def info(_argv):
    import numpy as np
    import tensorflow as tf

    import pointops
    details = pointops.backend_info()
    details.update(pointops=pointops.__version__, numpy=np.__version__, python=sys.version.split()[0],
                   keras=getattr(tf.keras, "__version__", None) or __import__("keras").__version__)
    for key, value in details.items():
        print(f"{key:28s} {value}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    commands = {"info": info, "bench": lambda rest: __import__("pointops.bench", fromlist=["main"]).main(rest)}
    try:
        from pointops import evaluate
        commands["eval"] = evaluate.main
    except ImportError:
        pass
    parser = argparse.ArgumentParser(prog="python -m pointops", description="pointops command line")
    parser.add_argument("command", choices=sorted(commands), help="info: backend and versions; bench: benchmark; "
                        "eval: distances between point-cloud files")
    args, rest = parser.parse_known_args(argv)
    return commands[args.command](rest)


if __name__ == "__main__":
    sys.exit(main())
