"""CUDA kernels against the CPU kernels, wherever a CUDA device is visible (through TensorFlow, or
through pointops._C on PyTorch buffers); skipped elsewhere. benchmarks/gpu_bench.py checks more."""
import numpy as np
import pytest
import tensorflow as tf

import pointops
from conftest import check_plan
from pointops import _C

TF_GPU = bool(tf.config.list_physical_devices("GPU")) and pointops.backend_info()["cuda_kernels_built"]


def torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() and getattr(_C, "cuda_built", False) else None


def assert_plans_agree(a, b, a_lengths, b_lengths, cpu_plan, gpu_plan):
    """EMD between different sizes on the CPU and on the GPU (plan_i, plan_j, mass, gap each): two
    auctions, each certified, so both plans are valid and their costs agree within both gaps."""
    costs = []
    for plan_i, plan_j, mass, gap in (cpu_plan, gpu_plan):
        costs.append([check_plan(a[k], b[k], plan_i[k], plan_j[k], mass[k], n, m)
                      for k, (n, m) in enumerate(zip(a_lengths, b_lengths))])
    (cpu_cost, gpu_cost), cpu_gap, gpu_gap = np.array(costs), cpu_plan[3], gpu_plan[3]
    assert (np.abs(cpu_cost - gpu_cost) <= cpu_gap + gpu_gap + 1e-5 * cpu_cost).all()
    assert (gpu_gap <= 1e-3 * gpu_cost * (1 + 1e-5)).all()


@pytest.mark.skipif(not TF_GPU, reason="no CUDA device visible to TensorFlow, or no CUDA kernels built")
def test_tf_gpu_ops_match_cpu(rng):
    a = rng.standard_normal((4, 700, 3)).astype(np.float32)
    b = rng.standard_normal((4, 500, 3)).astype(np.float32)
    lengths = dict(a_lengths=[700, 3, 400, 9], b_lengths=[500, 500, 1, 77])
    results = {}
    for device in ("/cpu:0", "/gpu:0"):
        with tf.device(device):
            at, bt = tf.constant(a), tf.constant(b)
            with tf.GradientTape() as tape:
                tape.watch([at, bt])
                loss = pointops.chamfer_distance(at, bt, **lengths)
            outputs = [x.numpy() for x in pointops.nn_distance(at, bt, **lengths)]
            results[device] = outputs + [g.numpy() for g in tape.gradient(loss, [at, bt])]
            results[device].append(pointops.emd_match(at, at[::-1])[0].numpy())
            results[device] += [x.numpy() for x in pointops.emd_plan(at, bt, **lengths)]
    for cpu, gpu in zip(results["/cpu:0"][:6], results["/gpu:0"][:6]):
        np.testing.assert_array_equal(cpu, gpu)
    assignment = results["/gpu:0"][6]
    assert all(sorted(row) == list(range(700)) for row in assignment)
    assert_plans_agree(a, b, lengths["a_lengths"], lengths["b_lengths"], results["/cpu:0"][7:11],
                       results["/gpu:0"][7:11])


@pytest.mark.skipif(torch_cuda() is None, reason="no PyTorch with a visible CUDA device, or no CUDA kernels built")
def test_pybind_cuda_matches_cpu(rng):
    torch = torch_cuda()
    a = rng.standard_normal((3, 600, 3)).astype(np.float32)
    b = rng.standard_normal((3, 450, 3)).astype(np.float32)
    cpu = _C.nn_distance(a, b)
    at, bt = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
    out = [torch.empty(3, 600, device="cuda"), torch.empty(3, 600, dtype=torch.int32, device="cuda"),
           torch.empty(3, 450, device="cuda"), torch.empty(3, 450, dtype=torch.int32, device="cuda")]
    _C.nn_distance_cuda(at, bt, None, None, *out, stream=torch.cuda.current_stream().cuda_stream)
    for x, y in zip(cpu, out):
        np.testing.assert_array_equal(x, y.cpu().numpy())
    # EMD between 600 and 450 points.
    stream = torch.cuda.current_stream().cuda_stream
    assert_plans_agree(a, b, [600] * 3, [450] * 3, _C.emd_transport(a, b)[:4],
                       _C.emd_transport_cuda(at, bt, stream=stream)[:4])
