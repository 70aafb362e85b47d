"""Numba kernels: plain functions on arrays, no validation, no Python objects.

Callers (the Python API) validate inputs, choose dtypes and allocate every
output buffer.  Kernels never raise for bad input; they trust their callers.

Determinism: every parallel kernel splits rows into fixed-size chunks (and
reductions into a fixed number of groups) that do not depend on the number of
threads, and reduces partial results in chunk order, so the same inputs give
bit-identical outputs on 1 or 64 threads.

Cached kernels are stamped with the sources of every module here
(:mod:`._cache_stamp`), registered before any of them is defined.
"""

from . import _cache_stamp

_cache_stamp.register()

# Restricted fast-math: allow reassociation and fused multiply-add but keep
# IEEE semantics for NaN/inf, which the full set would let the compiler ignore.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

# Below this many features Lloyd's kernel computes distances directly (a
# BLAS product costs more than it saves there).
GEMM_MIN_FEATURES = 4


# Rows per chunk: a (CHUNK_ROWS x k) distance block stays in cache.
CHUNK_ROWS = 256
