"""pointops' PEP 517 build backend: setuptools' own, except that TensorFlow is a build
requirement only when the environment being installed into has no supported TensorFlow.
Where it has one, the op library is built against it (build_tools/tensorflow_env.py), and pip
neither downloads another TensorFlow for the build nor changes the installed one.
"""
from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 (the other hooks, unchanged)

from tensorflow_env import REQUIREMENT, target_tensorflow


def _with_tensorflow(requires):
    return list(requires) + ([] if target_tensorflow() else [REQUIREMENT])


def get_requires_for_build_wheel(config_settings=None):
    return _with_tensorflow(_setuptools.get_requires_for_build_wheel(config_settings))


def get_requires_for_build_editable(config_settings=None):
    return _with_tensorflow(_setuptools.get_requires_for_build_editable(config_settings))
