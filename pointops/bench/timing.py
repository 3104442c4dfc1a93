"""Time and peak memory of one benchmark call: shared by every section of the benchmark."""
import ctypes
import os
import statistics
import threading
import time

# TensorFlow reports CPU tensor memory only through its BFC allocator; it must be chosen before the
# first op runs (importing pointops runs none).
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "1")
import tensorflow as tf  # noqa: E402

from pointops import _backend  # noqa: E402

MB = 2**20
MEMORY_LIMIT = 6 * 2**30  # a baseline whose estimated working set is above this is skipped


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _native_heap_in_use():
    """Bytes of C/C++ heap in use (glibc's mallinfo2: malloc'd plus mmap'd blocks), 0 where unavailable."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return 0
    return info.uordblks + info.hblkhd


class PeakMemory:
    """Peak extra memory while the block runs: TensorFlow's tensors (its CPU allocator's peak, from
    tf.config.experimental.get_memory_info with the BFC allocator this module turns on) plus the
    native heap outside TensorFlow (the kernels' own buffers, scipy), sampled every millisecond.
    The two peaks are added, so the figure is an upper bound of the joint peak."""

    def __enter__(self):
        # The compiled ops keep large working buffers for their next calls; freed here, so the block's
        # first call allocates (and is charged for) every buffer it uses.
        _backend.release_held_blocks()
        tf.config.experimental.reset_memory_stats("CPU:0")
        self.tf_base = tf.config.experimental.get_memory_info("CPU:0")["current"]
        self.heap_base = self.heap_peak = _native_heap_in_use()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.heap_peak = max(self.heap_peak, _native_heap_in_use())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.heap_peak = max(self.heap_peak, _native_heap_in_use())
        tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - self.tf_base
        self.extra = max(0, tf_peak) + max(0, self.heap_peak - self.heap_base)


def time_median(fn, a, b, budget_s):
    fn(a, b)  # warm-up: tracing, thread pools, allocator
    times = []
    while len(times) < 3 or (sum(times) < budget_s and len(times) < 20):
        start = time.perf_counter()
        result = fn(a, b)
        if isinstance(result, (list, tuple)):
            [r.numpy() for r in result if hasattr(r, "numpy")]
        elif hasattr(result, "numpy"):
            result.numpy()
        times.append(time.perf_counter() - start)
        if times[0] > budget_s:  # one slow baseline run is enough
            break
    return statistics.median(times)


def time_and_memory(fn, a, b, budget_s):
    """(time_median's seconds, the peak extra bytes while it ran)."""
    with PeakMemory() as peak:
        seconds = time_median(fn, a, b, budget_s)
    return seconds, peak.extra
