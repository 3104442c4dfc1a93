"""The benchmark's output: the machine line, the markdown tables, RESULTS.md's sections and the plots."""
import datetime
import os
import platform

import psutil
import tensorflow as tf

import pointops
from pointops._scaling_plot import write_scaling_plots
from pointops.bench.timing import MB


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"pointops backend: {pointops.backend_info()['active']}")


def markdown(results, command):
    lines = [f"Machine: {machine()}  ", f"Command: `{command}`  ",
             f"Date: {datetime.date.today().isoformat()}", "",
             "Times are medians after a warm-up; `x` columns are the baseline's time over pointops' time "
             "(higher is better for pointops); memory is the peak extra memory while it ran, inputs "
             "excluded: TensorFlow's tensors (BFC CPU allocator statistics) plus the native heap "
             "(kernel buffers), an upper bound.", ""]
    for op in dict.fromkeys(r.case.op for r in results):
        rows = [r for r in results if r.case.op == op]
        baselines = list(dict.fromkeys(n for r in rows for n in r.times if n != "pointops"))
        header = (["clouds", "B", "N", "D", "pointops", "pointops memory"] + baselines + [f"x {n}" for n in baselines]
                  + [f"{n} memory" for n in baselines])
        if op == "emd_fwd":
            header.append("gap to exact")
        lines += [f"### {op}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            ours = r.times.get("pointops")
            cells = [r.case.clouds, str(r.case.B), str(r.case.N), str(r.case.D), f"{ours * 1e3:.2f} ms",
                     f"{r.memory.get('pointops', 0) / MB:.0f} MB"]
            cells += [f"{r.times[n] * 1e3:.1f} ms" if n in r.times else "skipped" for n in baselines]
            cells += [f"{r.times[n] / ours:.1f}" if n in r.times else "-" for n in baselines]
            cells += [f"{r.memory[n] / MB:.0f} MB" if n in r.memory else "-" for n in baselines]
            if op == "emd_fwd":
                cells.append(f"{r.gap:.1e}" if r.gap is not None else "-")
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"{r.case.clouds} B={r.case.B} N={r.case.N} D={r.case.D}: {note}" for r in rows for note in r.notes]
        lines += [""] + [f"- {note}" for note in notes] + ([""] if notes else [])
    return "\n".join(lines) + "\n"


def write_section(path, name, text):
    """Puts this sweep's results between its markers in the file (other sections are kept)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n## CPU, {name} sweep\n\n{text}{end}"
    old = open(path).read() if os.path.exists(path) else "# pointops benchmark results\n"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(new)


def plot(results, folder):
    """One log-log PNG per op: time against N, a panel per (B, D), a line per implementation."""
    rows = [{"op": r.case.op, "B": r.case.B, "N": r.case.N, "D": r.case.D, "implementation": name, "seconds": t}
            for r in results if r.case.clouds == "uniform" for name, t in r.times.items()]
    return write_scaling_plots(rows, folder, f"CPU ({psutil.cpu_count()} cores)", "cpu")
