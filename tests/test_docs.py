"""The docs run as written (issue #31): every Python block of README.md and docs/*.md, and every `pointops`
command a user would copy from a bash block, with small fixtures in place of PRED, GT, SAMPLES and REFS.
Not run here: the install lines (they are what .ci/run runs) and `pointops bench` (the benchmark's pieces
are tests/test_bench.py's)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))


def blocks(page, language):
    return re.findall(rf"```{language}\n(.*?)```", (ROOT / page).read_text(), re.S)


def commands(page):
    """The `pointops ...` lines of a page's bash blocks, except the benchmark."""
    lines = [line.strip() for block in blocks(page, "bash") for line in block.splitlines()]
    return [line for line in lines if line.startswith("pointops ") and not line.startswith("pointops bench")]


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "python")])
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for number, block in enumerate(blocks(page, "python")):
        exec(compile(block, f"{page}, Python block {number + 1}", "exec"), {"__name__": "__docs__"})


def fixtures(folder):
    """PRED and GT folders of paired files, SAMPLES and REFS arrays of clouds."""
    rng = np.random.default_rng(0)
    for side in ("PRED", "GT"):
        (folder / side).mkdir()
        for name in ("chair", "lamp"):
            np.save(folder / side / f"{name}.npy", rng.random((64, 3)))
    for name in ("SAMPLES", "REFS"):
        np.save(folder / f"{name}.npy", rng.random((4, 64, 3)) - 0.5)
    return {"PRED": "PRED", "GT": "GT", "SAMPLES": "SAMPLES.npy", "REFS": "REFS.npy"}


@pytest.mark.parametrize("command", [c for p in PAGES for c in commands(p)])
def test_every_command_runs(command, tmp_path):
    names = fixtures(tmp_path)
    words = [names.get(word, word) for word in shlex.split(command)]
    run = subprocess.run([sys.executable, "-m", "pointops", *words[1:]], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert run.returncode == 0, run.stderr[-3000:]
    for option in ("--json", "--markdown"):
        if option in words:
            assert (tmp_path / words[words.index(option) + 1]).stat().st_size > 0


def test_the_pages_have_blocks_to_run():
    """The collector finds what it should: the README's example and the commands of evaluation.md."""
    assert blocks("README.md", "python")
    assert {c.split()[1] for c in commands("docs/evaluation.md")} == {"eval", "eval-gen"}
