"""Thread control: one ``n_threads`` knob for numba kernels and BLAS."""

from __future__ import annotations

from contextlib import contextmanager


def resolve_n_threads(n_threads: int | None) -> int:
    """Threads to use: ``None`` means every core numba may use."""
    import numba

    available = numba.config.NUMBA_NUM_THREADS
    if n_threads is None:
        return available
    return max(1, min(int(n_threads), available))


_CONTROLLER = []


def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, built on first use
    (scanning the loaded libraries costs milliseconds; fits can be shorter)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextmanager
def thread_limits(n_threads: int | None):
    """Run numba kernels on ``n_threads`` threads with BLAS limited to one.

    The kernels parallelise over row chunks themselves, so a multi-threaded
    BLAS inside them would only oversubscribe the cores.  Both settings are
    restored on exit, also when the body raises.
    """
    import numba

    n = resolve_n_threads(n_threads)
    previous = numba.get_num_threads()
    with _blas_controller().limit(limits=1, user_api="blas"):
        numba.set_num_threads(n)
        try:
            yield n
        finally:
            numba.set_num_threads(previous)

