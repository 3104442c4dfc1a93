"""The `pointops` command hides TensorFlow's C++ start-up log (oneDNN, CUDA probing, CPU features)
unless --verbose is given. TensorFlow 2.16+ writes it to the process's stderr before its logging is
set up, whatever TF_CPP_MIN_LOG_LEVEL says, so the command silences file descriptor 2 while
TensorFlow is imported and its devices come up, then restores it. The package calls this first
(`import pointops` imports TensorFlow before the command's own code runs); in a user's program,
which is not the command, it does nothing."""
import os
import sys


def _is_the_command():
    original = getattr(sys, "orig_argv", [])
    module = len(original) >= 3 and original[1] == "-m" and original[2] == "pointops"
    command = bool(sys.argv) and os.path.basename(sys.argv[0]) == "pointops"
    return (module or command) and "--verbose" not in sys.argv[1:] + original


def quiet_tensorflow_for_the_command():
    if not _is_the_command() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow as tf
        tf.config.list_physical_devices("GPU")  # device start-up logs too
        tf.constant(0.0)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
