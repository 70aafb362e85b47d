"""k-means++ distance updates, pruned by the triangle inequality.

Every point keeps the squared distance to its closest chosen centre
(``closest_sq``) and that centre's index (``closest_id``).  A candidate ``c``
cannot bring point ``x`` closer when ||c - a(x)|| >= 2 ||x - a(x)||, where
a(x) is the current closest centre, so the kernel skips the O(d) distance for
such pairs after an O(1) test.  Late in the seeding almost every pair is
skipped, which is where scikit-learn's dense approach spends its time.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH
from .assign import centre_rows

# Rows per chunk in the candidate kernels: large enough for an efficient
# (chunk x t) BLAS product with only t ~ 2 + ln k candidates.
SEEDING_CHUNK_ROWS = 2048


@njit(cache=True, fastmath=FASTMATH)
def _dense_sq_dist(X, i, shift, center):
    s = 0.0
    for f in range(X.shape[1]):
        diff = (X[i, f] - shift[f]) - center[f]
        s += diff * diff
    return s


@njit(cache=True, fastmath=FASTMATH)
def _sparse_sq_dist(data, indices, indptr, x_sq, i, center, center_sq):
    dot = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        dot += data[p] * center[indices[p]]
    return max(x_sq[i] - 2.0 * dot + center_sq, 0.0)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def candidate_gains_dense(X, shift, x_sq, weights, candidates, cand_center_sq,
                          closest_sq, closest_id, gains):
    """Weighted potential decrease each candidate would bring.

    X : (n, d) data; rows are centred on ``shift`` on the fly.
    x_sq : (n,) float64 squared norms of the centred rows.
    candidates : (t, d) candidate centres, centred on ``shift``.
    cand_center_sq : (t, m) squared distances candidate -> chosen centres.
    gains : (n_chunks, t) float64 output, per-chunk partial gains (the caller
        sums them in chunk order).

    Per chunk, the pairs that survive the triangle-inequality test are
    counted first: when few survive their distances are computed directly,
    otherwise the whole (chunk x t) block goes through one BLAS product.
    """
    n, d = X.shape
    t = candidates.shape[0]
    cand_t = np.ascontiguousarray(candidates.T)
    cand_sq = np.empty(t, dtype=np.float64)
    for j in range(t):
        s = 0.0
        for f in range(d):
            s += candidates[j, f] * candidates[j, f]
        cand_sq[j] = s
    n_chunks = (n + SEEDING_CHUNK_ROWS - 1) // SEEDING_CHUNK_ROWS
    for c in prange(n_chunks):
        start = c * SEEDING_CHUNK_ROWS
        m = min(SEEDING_CHUNK_ROWS, n - start)
        survives = np.zeros((m, t), dtype=np.bool_)
        n_survivors = 0
        for i in range(m):
            current = closest_sq[start + i]
            a = closest_id[start + i]
            for j in range(t):
                if cand_center_sq[j, a] < 4.0 * current:
                    survives[i, j] = True
                    n_survivors += 1
        local = np.zeros(t, dtype=np.float64)
        if n_survivors == 0:
            gains[c] = local
            continue
        rows = np.empty((m, d), dtype=X.dtype)
        centre_rows(X, start, m, shift, rows)
        use_block = 4 * n_survivors >= m * t and d >= 8
        if use_block:
            dots = np.empty((m, t), dtype=X.dtype)
            np.dot(rows, cand_t, dots)
        for i in range(m):
            current = closest_sq[start + i]
            for j in range(t):
                if not survives[i, j]:
                    continue
                if use_block:
                    dist = max(x_sq[start + i] + cand_sq[j] - 2.0 * dots[i, j], 0.0)
                else:
                    dist = 0.0
                    for f in range(d):
                        diff = rows[i, f] - candidates[j, f]
                        dist += diff * diff
                if dist < current:
                    local[j] += weights[start + i] * (current - dist)
        gains[c] = local


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def add_center_dense(X, shift, center, center_id, center_to_chosen_sq, closest_sq,
                     closest_id):
    """Make ``center`` (index ``center_id``, centred on ``shift``) a chosen
    centre and update every point's closest centre."""
    n = X.shape[0]
    for i in prange(n):
        current = closest_sq[i]
        if center_to_chosen_sq[closest_id[i]] >= 4.0 * current:
            continue
        dist = _dense_sq_dist(X, i, shift, center)
        if dist < current:
            closest_sq[i] = dist
            closest_id[i] = center_id


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def candidate_gains_sparse(data, indices, indptr, x_sq, weights, candidates,
                           cand_center_sq, closest_sq, closest_id, gains):
    """Sparse (CSR) twin of :func:`candidate_gains_dense`."""
    n = indptr.shape[0] - 1
    t = candidates.shape[0]
    cand_sq = np.empty(t, dtype=np.float64)
    for j in range(t):
        cand_sq[j] = np.sum(candidates[j].astype(np.float64) ** 2)
    n_chunks = (n + SEEDING_CHUNK_ROWS - 1) // SEEDING_CHUNK_ROWS
    for c in prange(n_chunks):
        start = c * SEEDING_CHUNK_ROWS
        stop = min(n, start + SEEDING_CHUNK_ROWS)
        for j in range(t):
            gain = 0.0
            for i in range(start, stop):
                current = closest_sq[i]
                if cand_center_sq[j, closest_id[i]] >= 4.0 * current:
                    continue
                dist = _sparse_sq_dist(data, indices, indptr, x_sq, i,
                                       candidates[j], cand_sq[j])
                if dist < current:
                    gain += weights[i] * (current - dist)
            gains[c, j] = gain


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def add_center_sparse(data, indices, indptr, x_sq, center, center_id,
                      center_to_chosen_sq, closest_sq, closest_id):
    """Sparse (CSR) twin of :func:`add_center_dense`."""
    n = indptr.shape[0] - 1
    center_sq = np.sum(center.astype(np.float64) ** 2)
    for i in prange(n):
        current = closest_sq[i]
        if center_to_chosen_sq[closest_id[i]] >= 4.0 * current:
            continue
        dist = _sparse_sq_dist(data, indices, indptr, x_sq, i, center, center_sq)
        if dist < current:
            closest_sq[i] = dist
            closest_id[i] = center_id
