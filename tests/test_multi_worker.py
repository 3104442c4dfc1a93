"""Training across processes (docs/keras.md): examples/multi_worker.py run as two workers on localhost under
MultiWorkerMirroredStrategy. Each trains on its own shard with its own seed; the all-reduced gradients must
leave both with identical weights, which differ from where they started."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "multi_worker.py"


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_end_with_the_same_weights(tmp_path):
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "CUDA_VISIBLE_DEVICES": ""}
        workers.append(subprocess.Popen([sys.executable, str(EXAMPLE), "--steps", "4", "--weights",
                                         str(tmp_path / f"w{index}.npz")], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, cwd=tmp_path))
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=600)[0])
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]
        assert "step 3: loss" in output
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    np.testing.assert_array_equal(w0["final"], w1["final"])
    assert np.all(np.isfinite(w0["final"]))
    assert not np.array_equal(w0["final"], w0["initial"])
