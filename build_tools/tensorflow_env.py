"""Which TensorFlow pointops' op library is built against: the one in the environment being
installed into, never one that the build brings along when that environment has its own.

pip's build isolation runs the build with the target environment's interpreter but hides its
site-packages (a sitecustomize on PYTHONPATH, PYTHONNOUSERSITE=1). A child interpreter started
without those two variables sees the target environment again, so its TensorFlow can be asked
for its version and flags. Under --no-build-isolation the same query simply finds it.
"""
import json
import os
import subprocess
import sys

# The TensorFlow versions pointops supports; pyproject.toml's dependencies say the same
# (tests/test_build.py checks that they agree).
SUPPORTED = (2, 16), (2, 21)
REQUIREMENT = "tensorflow>=2.16,<2.22"

_QUERY = ("import json, tensorflow as tf; print(json.dumps([' '.join(tf.sysconfig.get_compile_flags()), "
          "' '.join(tf.sysconfig.get_link_flags()), tf.__version__]))")


def supported(version):
    """True for a TensorFlow version string in the supported range."""
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return SUPPORTED[0] <= major_minor <= SUPPORTED[1]


def _query(env):
    try:
        out = subprocess.run([sys.executable, "-c", _QUERY], env=env, capture_output=True, text=True,
                             timeout=300, check=True).stdout
        return tuple(json.loads(out.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def target_tensorflow():
    """(compile flags, link flags, version) of the supported TensorFlow in the environment being
    installed into, or None when it has none (or one outside the supported range)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    found = _query(env)
    return found if found and supported(found[2]) else None


def build_tensorflow():
    """The same for the TensorFlow importable by this build process (a build requirement)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    found = _query(env)
    return found if found and supported(found[2]) else None
