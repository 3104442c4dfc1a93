#!/usr/bin/env bash
# Tests pointops against the oldest supported TensorFlow (2.16), as a user who already has it would
# install it: a fresh virtual environment with TensorFlow 2.16, then pointops built against it. It
# checks that neither `pip install --no-build-isolation .` nor a plain `pip install .` changes the
# installed TensorFlow, that the library was built for it, and runs the test suite.
#   scripts/test_oldest_tensorflow.sh [TF_VERSION]   (default 2.16.*)
set -euo pipefail
cd "$(dirname "$0")/.."
tf_spec="tensorflow==${1:-2.16.*}"
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
pip install -q "$tf_spec" setuptools wheel cmake pybind11
before=$(python -c "import importlib.metadata as m; print(m.version('tensorflow'))")
echo "TensorFlow in the fresh environment: $before"
check_kept() {
  after=$(python -c "import importlib.metadata as m; print(m.version('tensorflow'))")
  [ "$after" = "$before" ] || { echo "FAIL: $1 changed TensorFlow from $before to $after"; exit 1; }
  built=$(cd /tmp && python -c "import pointops; print(pointops.backend_info()['built_against_tensorflow'])")
  [ "$built" = "$before" ] || { echo "FAIL: $1 built against TensorFlow $built, not $before"; exit 1; }
  echo "$1: TensorFlow $after kept, library built against it"
}
pip install -q --no-build-isolation ".[test]"
check_kept "pip install --no-build-isolation ."
pip install -q --force-reinstall --no-deps .
check_kept "pip install . (build isolation)"
pytest -q
