"""Nearest-centroid assignment: the building block shared by every kernel.

Distances use the expansion ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2 on rows
that the caller has centred (dense input), computed a chunk of rows at a time
so that the (chunk x k) block of dot products stays in cache.  For very low
dimension the expansion and a BLAS call cost more than the plain difference,
so ``use_gemm=False`` computes ``sum((x - c)^2)`` directly.  Squared distances
are clamped at zero: the expansion can round slightly below it.
"""

import numpy as np
from numba import njit, prange

from . import CHUNK_ROWS, FASTMATH


@njit(cache=True, fastmath=FASTMATH)
def squared_norms(centers):
    """Row-wise squared norms of ``centers`` (k, d), accumulated in float64."""
    k, d = centers.shape
    out = np.empty(k, dtype=np.float64)
    for j in range(k):
        s = 0.0
        for f in range(d):
            s += centers[j, f] * centers[j, f]
        out[j] = s
    return out


@njit(cache=True, fastmath=FASTMATH)
def centre_rows(X, start, m, shift, out):
    """Copy rows ``start:start+m`` of ``X`` minus ``shift`` into ``out[:m]``."""
    d = X.shape[1]
    for i in range(m):
        for f in range(d):
            out[i, f] = X[start + i, f] - shift[f]


@njit(cache=True, fastmath=FASTMATH)
def nearest_dense_block(rows, m, centers, centers_t, center_sq, use_gemm, dots,
                        best_label, best_dist):
    """Nearest centroid of each of the first ``m`` (centred) ``rows``.

    Writes the label and the squared distance (float64, clamped at 0) into
    ``best_label[:m]`` and ``best_dist[:m]``.  Ties go to the lowest index.
    ``dots`` is an (at least m x k) scratch block in the dtype of ``rows``.
    """
    k, d = centers.shape
    if use_gemm:
        np.dot(rows[:m], centers_t, dots[:m])
        for i in range(m):
            x_sq = 0.0
            for f in range(d):
                x_sq += rows[i, f] * rows[i, f]
            best = 0
            best_val = center_sq[0] - 2.0 * dots[i, 0]
            for j in range(1, k):
                val = center_sq[j] - 2.0 * dots[i, j]
                if val < best_val:
                    best_val = val
                    best = j
            best_label[i] = best
            best_dist[i] = max(x_sq + best_val, 0.0)
    else:
        for i in range(m):
            best = 0
            best_val = np.inf
            for j in range(k):
                val = 0.0
                for f in range(d):
                    diff = rows[i, f] - centers[j, f]
                    val += diff * diff
                if val < best_val:
                    best_val = val
                    best = j
            best_label[i] = best
            best_dist[i] = best_val


@njit(cache=True, fastmath=FASTMATH)
def nearest_sparse_block(data, indices, indptr, start, m, centers_t, center_sq,
                         dots, best_label, best_dist):
    """Sparse (CSR) twin of :func:`nearest_dense_block` for rows ``start:start+m``.

    ``centers_t`` is (d, k) so that one stored value touches k contiguous dots.
    """
    k = centers_t.shape[1]
    for i in range(m):
        row = start + i
        for j in range(k):
            dots[i, j] = 0.0
        x_sq = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            v = data[p]
            x_sq += v * v
            col = indices[p]
            for j in range(k):
                dots[i, j] += v * centers_t[col, j]
        best = 0
        best_val = center_sq[0] - 2.0 * dots[i, 0]
        for j in range(1, k):
            val = center_sq[j] - 2.0 * dots[i, j]
            if val < best_val:
                best_val = val
                best = j
        best_label[i] = best
        best_dist[i] = max(x_sq + best_val, 0.0)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def assign_dense(X, shift, centers, use_gemm, labels, min_dist):
    """Label every row of dense ``X`` with its nearest of ``centers``.

    ``centers`` are in the centred frame (``X - shift``).  Fills ``labels``
    (n,) and ``min_dist`` (n,) float64 squared distances.
    """
    n, d = X.shape
    k = centers.shape[0]
    centers_t = np.ascontiguousarray(centers.T)
    center_sq = squared_norms(centers)
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    for c in prange(n_chunks):
        start = c * CHUNK_ROWS
        m = min(CHUNK_ROWS, n - start)
        rows = np.empty((CHUNK_ROWS, d), dtype=X.dtype)
        dots = np.empty((CHUNK_ROWS, k), dtype=X.dtype)
        best_label = np.empty(CHUNK_ROWS, dtype=np.int32)
        best_dist = np.empty(CHUNK_ROWS, dtype=np.float64)
        centre_rows(X, start, m, shift, rows)
        nearest_dense_block(rows, m, centers, centers_t, center_sq, use_gemm,
                            dots, best_label, best_dist)
        for i in range(m):
            labels[start + i] = best_label[i]
            min_dist[start + i] = best_dist[i]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def assign_sparse(data, indices, indptr, centers, labels, min_dist):
    """Sparse (CSR) twin of :func:`assign_dense` (no centring)."""
    n = indptr.shape[0] - 1
    k = centers.shape[0]
    centers_t = np.ascontiguousarray(centers.T)
    center_sq = squared_norms(centers)
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    for c in prange(n_chunks):
        start = c * CHUNK_ROWS
        m = min(CHUNK_ROWS, n - start)
        dots = np.empty((CHUNK_ROWS, k), dtype=centers.dtype)
        best_label = np.empty(CHUNK_ROWS, dtype=np.int32)
        best_dist = np.empty(CHUNK_ROWS, dtype=np.float64)
        nearest_sparse_block(data, indices, indptr, start, m, centers_t,
                             center_sq, dots, best_label, best_dist)
        for i in range(m):
            labels[start + i] = best_label[i]
            min_dist[start + i] = best_dist[i]
