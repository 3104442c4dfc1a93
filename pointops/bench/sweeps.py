"""The default, quick and full sweeps: Chamfer and EMD, forward and forward+backward, against the
baselines, with the peak memory of each and the EMD's gap to the exact optimum."""
import importlib.util
from dataclasses import dataclass, field

import numpy as np

import pointops
from pointops.bench.baselines import (ckdtree_both_ways, exact_assignment, pot_emd, pykdtree_both_ways,
                                      seed_chamfer, with_backward)
from pointops.bench.cases import Case, clouds_of
from pointops.bench.timing import MEMORY_LIMIT, time_and_memory


@dataclass
class Result:
    case: Case
    times: dict = field(default_factory=dict)    # implementation -> median seconds
    memory: dict = field(default_factory=dict)   # implementation -> peak extra bytes
    notes: list = field(default_factory=list)
    gap: float = None                            # EMD: (pointops cost - exact) / exact


def sweep(mode):
    """The cases of a mode: quick (under a minute), default (about four), full."""
    mesh = [Case("chamfer_fwd", 8, 2048, 3, "mesh"), Case("chamfer_fwd_bwd", 8, 2048, 3, "mesh"),
            Case("chamfer_fwd", 1, 100_000, 3, "mesh"), Case("emd_fwd", 1, 2048, 3, "mesh"),
            Case("emd_fwd", 1, 4096, 3, "mesh")]
    if mode == "quick":
        return [Case("chamfer_fwd", 8, 2048, 3), Case("chamfer_fwd_bwd", 8, 2048, 3),
                Case("chamfer_fwd", 1, 100_000, 3), Case("emd_fwd", 1, 1024, 3), mesh[0]]
    if mode == "default":
        cases = [Case(op, B, N, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for B in (1, 8)
                 for N in (1024, 2048, 8192) for D in (2, 3)]
        cases += [Case("chamfer_fwd", 1, 100_000, 3), Case("chamfer_fwd_bwd", 32, 8192, 3)]
        cases += [Case("emd_fwd", 1, N, 3) for N in (1024, 2048, 4096)] + [Case("emd_fwd_bwd", 8, 1024, 3)]
        return cases + mesh
    cases = [Case(op, B, N, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for B in (1, 8, 32)
             for N in (1024, 2048, 8192, 16384) for D in (2, 3)]
    cases += [Case(op, 1, 100_000, D) for op in ("chamfer_fwd", "chamfer_fwd_bwd") for D in (2, 3)]
    cases += [Case(op, B, N, D) for op in ("emd_fwd", "emd_fwd_bwd") for B in (1, 8, 32)
              for N in (1024, 2048, 8192, 16384) for D in (2, 3) if B * N <= 32 * 2048 or B == 1]
    return cases + mesh


def implementations(case, a, b):
    """name -> (callable, estimated peak bytes or 0); the first entry is pointops itself."""
    a_np, b_np = a.numpy(), b.numpy()
    B, N, D = case.B, case.N, case.D
    pairwise = B * N * N * 4
    impls = {}
    if case.op.startswith("chamfer"):
        fwd = case.op == "chamfer_fwd"
        impls["pointops"] = (pointops.chamfer_distance if fwd else with_backward(pointops.chamfer_distance), 0)
        impls["broadcast (seed)"] = (seed_chamfer if fwd else with_backward(seed_chamfer), pairwise * (D + 2) * (1 if fwd else 3))
        if B * N * N <= 2**27:  # the reference's per-cloud [N, N] matrices: seconds beyond this
            impls["pointops.reference"] = (pointops.reference.chamfer_distance if fwd else
                                           with_backward(pointops.reference.chamfer_distance), pairwise * D * 2 // B)
        if fwd:
            impls["scipy cKDTree"] = (lambda a, b: ckdtree_both_ways(a_np, b_np), 0)
            if importlib.util.find_spec("pykdtree") is not None:
                impls["pykdtree"] = (lambda a, b: pykdtree_both_ways(a_np, b_np), 0)
    else:
        fwd = case.op == "emd_fwd"
        impls["pointops"] = (pointops.emd if fwd else with_backward(pointops.emd), 0)
        if B * N <= 1024:  # the dense pure-TF auction takes seconds per cloud at N = 1024
            impls["pointops.reference"] = (pointops.reference.emd if fwd else with_backward(pointops.reference.emd),
                                           pairwise * 8 * 4)
        if fwd and N <= 4096:
            impls["scipy linear_sum_assignment"] = (lambda a, b: exact_assignment(a_np, b_np), pairwise * 2)
            if importlib.util.find_spec("ot") is not None:  # POT, when installed
                impls["POT ot.emd"] = (lambda a, b: pot_emd(a_np, b_np), pairwise * 3)
    return impls


def run_case(case, budget_s, rng):
    a, b = clouds_of(case, rng)
    result = Result(case)
    for name, (fn, estimated) in implementations(case, a, b).items():
        if estimated > MEMORY_LIMIT:
            result.notes.append(f"{name} skipped: needs about {estimated / 2**30:.0f} GiB")
            continue
        result.times[name], result.memory[name] = time_and_memory(fn, a, b, budget_s)
    if case.op == "emd_fwd" and "scipy linear_sum_assignment" in result.times:
        _, assignment = pointops.emd(a, b, batch_reduction=None, return_assignment=True)
        ours = np.linalg.norm(a.numpy() - np.take_along_axis(b.numpy(), assignment.numpy()[..., None], 1), axis=-1).mean(1)
        exact = np.array(exact_assignment(a.numpy(), b.numpy()))
        result.gap = float(((ours - exact) / exact).max())
    return result
