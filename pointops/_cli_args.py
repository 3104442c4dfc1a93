"""Argument types of the `pointops` commands: a bad value stops the command at once, with argparse's one
line that names the argument (exit status 2), before any file is read."""
import argparse
import math
import re


def positive_number(text):
    """A finite number > 0 (an F-score threshold, EMD's relative gap)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def positive_integer(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def plain_error(err):
    """An error's message without TensorFlow's graph context ({{function_node ...}} and the like), for a
    line that a user reads."""
    message = getattr(err, "message", None) or str(err)
    return re.sub(r"\s*\{\{[^{}]*\}\}\s*", " ", message).strip()
