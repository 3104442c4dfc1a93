"""The seed autoencoder example runs, reports every loss and writes its figure."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_seed_autoencoder_runs(tmp_path):
    out = tmp_path / "figure.png"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "seed_autoencoder.py"), "--epochs", "3",
                             "--out", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("Chamfer", "EMD", "density-aware Chamfer"):
        assert f"training with {name}" in result.stdout
    assert "coverage" in result.stdout
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
