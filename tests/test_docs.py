"""The Python blocks of the docs run as written (the start of issue #31's collector: the pages listed here
are the ones whose every block is meant to run on its own)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE_PAGES = ["docs/xla.md"]


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_every_python_block_runs(page):
    blocks = python_blocks(page)
    assert blocks, f"{page} has no Python block"
    for block in blocks:
        exec(compile(block, f"{page} block", "exec"), {})
