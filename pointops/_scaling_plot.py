"""Log-log plots of time against N, shared by the CPU benchmark (pointops.bench) and the GPU one
(benchmarks/gpu_bench.py). Needs only matplotlib: the GPU script loads this file by path on a
machine without TensorFlow, so it must not import the pointops package."""
import os


def write_scaling_plots(rows, folder, device, tag):
    """rows: dicts with op, B, N, D, implementation, seconds (one measured time each).
    Writes one PNG per op, bench_{op}_{tag}.png (tag: "cpu", "gpu"), titled with the device, with a
    panel per (B, D) that has at least two N and a line per implementation (the same colour for an
    implementation in every panel and file).
    Returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(dict.fromkeys(r["implementation"] for r in rows))
    colours = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(names)}
    paths = []
    for op in dict.fromkeys(r["op"] for r in rows):
        of_op = [r for r in rows if r["op"] == op]
        groups = [g for g in sorted({(r["B"], r["D"]) for r in of_op})
                  if len({r["N"] for r in of_op if (r["B"], r["D"]) == g}) >= 2]
        if not groups:
            continue
        cols = min(2, len(groups))
        lines = (len(groups) + cols - 1) // cols
        fig, axes = plt.subplots(lines, cols, figsize=(5.5 * cols, 4 * lines), squeeze=False)
        for ax, (B, D) in zip(axes.flat, groups):
            for name in names:
                points = sorted((r["N"], r["seconds"]) for r in of_op
                                if (r["B"], r["D"], r["implementation"]) == (B, D, name))
                if points:
                    ax.plot(*zip(*points), marker="o", color=colours[name], label=name)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"B={B}, D={D}")
            ax.set_xlabel("points per cloud N (= M)")
            ax.set_ylabel("median time [s]")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(groups):]:
            ax.axis("off")
        fig.suptitle(f"{op} on {device}")
        fig.tight_layout()
        path = os.path.join(folder, f"bench_{op}_{tag}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
