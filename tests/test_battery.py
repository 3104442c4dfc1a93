"""About 450 bad and extreme inputs over every public door (tests/helpers/battery.py): each gets a
clear error or the oracle's answer, and none crashes or hangs. A crash or hang is pinned on its case
and the runner restarts after it, so each case is as isolated as in a process of its own."""
import os
import subprocess
import sys
from pathlib import Path

BATTERY = Path(__file__).parent / "helpers" / "battery.py"
PER_CASE_SECONDS = 120


def run_battery():
    verdicts, first = {}, 0
    while True:
        proc = subprocess.Popen([sys.executable, str(BATTERY), str(first)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=BATTERY.parent,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"))
        current = None
        try:
            out, _ = proc.communicate(timeout=PER_CASE_SECONDS * 50)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in out.splitlines():
            words = line.split(" ", 2)
            if words[0] == "BEGIN":
                current = (int(words[1]), words[2])
            elif words[0] == "END" and current:
                verdicts[current] = words[2]
                current = None
        if current is None:
            return verdicts
        verdicts[current] = f"CRASH or HANG (exit status {proc.returncode})"
        first = current[0] + 1


def test_battery_of_bad_and_extreme_inputs():
    verdicts = run_battery()
    assert len(verdicts) > 400
    failures = [f"{name}: {verdict}" for (_, name), verdict in sorted(verdicts.items()) if verdict != "ok"]
    assert failures == [], "\n".join(failures)
