"""Nearest-centroid assignment: the building block shared by every kernel.

Distances use the expansion ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2 on rows
that the caller has centred (dense input), computed a chunk of rows at a time
so that the (chunk x k) block of dot products stays in cache.  For very low
dimension the expansion and a BLAS call cost more than the plain difference,
so ``use_gemm=False`` computes ``sum((x - c)^2)`` directly.  The expansion
only ranks the centroids: the nearest one's squared distance is summed from
the differences in float64, since the expansion cancels digits (all of them,
for float32 rows whose clusters lie far apart).
"""

import numpy as np
from numba import njit, prange

from . import CHUNK_ROWS, FASTMATH

# Chunks handled by one parallel task in the assignment-only kernels (no
# reduction there, so the split does not affect the result).
CHUNKS_PER_TASK = 8
# Rows of such a task (fixed: the same tasks on any thread count).
TASK_ROWS = CHUNK_ROWS * CHUNKS_PER_TASK


@njit(cache=True, fastmath=FASTMATH)
def squared_norms(centers):
    """Row-wise squared norms of ``centers`` (k, d), accumulated in float64 and
    returned in the dtype of ``centers`` (the argmin runs in that dtype)."""
    k, d = centers.shape
    out = np.empty(k, dtype=centers.dtype)
    for j in range(k):
        s = 0.0
        for f in range(d):
            s += centers[j, f] * centers[j, f]
        out[j] = s
    return out


@njit(cache=True, fastmath=FASTMATH)
def _first_min(values):
    """Index and value of the first minimum of a 1-D array.

    The minimum is a plain (vectorisable) reduction; the index is then found
    by an exact comparison against the stored values.
    """
    best_val = values[0]
    for j in range(1, values.shape[0]):
        best_val = min(best_val, values[j])
    for j in range(values.shape[0]):
        if values[j] == best_val:
            return j, best_val
    return 0, best_val


@njit(cache=True, fastmath=FASTMATH)
def centre_rows(X, start, m, shift, out):
    """Copy rows ``start:start+m`` of ``X`` minus ``shift`` into ``out[:m]``."""
    d = X.shape[1]
    for i in range(m):
        for f in range(d):
            out[i, f] = X[start + i, f] - shift[f]


@njit(cache=True, fastmath=FASTMATH)
def _centre_picked_rows(X, picked, start, m, shift, out):
    """:func:`centre_rows` for rows ``picked[start:start+m]`` of ``X`` (an
    empty ``picked``: rows ``start:start+m``)."""
    if picked.shape[0] == 0:
        centre_rows(X, start, m, shift, out)
        return
    d = X.shape[1]
    for i in range(m):
        row = picked[start + i]
        for f in range(d):
            out[i, f] = X[row, f] - shift[f]


@njit(cache=True, fastmath=FASTMATH)
def nearest_dense_block(rows, m, centers, center_sq, use_gemm, scratch,
                        best_label, best_dist):
    """Nearest centroid of each of the first ``m`` (centred) ``rows``.

    Writes the label and the squared distance (float64) into
    ``best_label[:m]`` and ``best_dist[:m]``.  Ties go to the lowest index.
    ``scratch`` is a flat buffer of at least (k + d + 1) * m values in the
    dtype of ``rows``.

    Distances are laid out (k x m), centroids in the outer loop and rows in
    the inner one, so the argmin is an element-wise compare-and-select across
    rows that the compiler vectorises.  With ``use_gemm`` the block is one
    BLAS product (||c||^2 - 2 x.c, ||x||^2 added to the minimum only);
    otherwise the rows are transposed and the differences summed directly.
    Either way the distance written is summed from the differences.
    """
    k, d = centers.shape
    best_val = np.full(m, np.inf, dtype=rows.dtype)
    best_label[:m] = 0
    if use_gemm:
        dots = scratch[: k * m].reshape((k, m))
        np.dot(centers, rows[:m].T, dots)
        for j in range(k):
            c_sq = center_sq[j]
            for i in range(m):
                val = c_sq - 2 * dots[j, i]
                if val < best_val[i]:
                    best_val[i] = val
                    best_label[i] = j
        for i in range(m):
            j = best_label[i]
            dist = 0.0
            for f in range(d):
                diff = np.float64(rows[i, f]) - np.float64(centers[j, f])
                dist += diff * diff
            best_dist[i] = dist
    else:
        columns = scratch[: d * m].reshape((d, m))
        for i in range(m):
            for f in range(d):
                columns[f, i] = rows[i, f]
        dist = scratch[d * m: (d + 1) * m]
        for j in range(k):
            dist[:] = 0
            for f in range(d):
                c = centers[j, f]
                for i in range(m):
                    diff = columns[f, i] - c
                    dist[i] += diff * diff
            for i in range(m):
                if dist[i] < best_val[i]:
                    best_val[i] = dist[i]
                    best_label[i] = j
        for i in range(m):
            best_dist[i] = best_val[i]


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
        partial = dots[i]
        for j in range(k):
            partial[j] = center_sq[j] - 2 * partial[j]
        best, best_val = _first_min(partial)
        best_label[i] = best
        best_dist[i] = max(x_sq + best_val, 0.0)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def assign_dense(X, picked, shift, centers, use_gemm, labels, min_dist):
    """Label the rows ``picked`` of dense ``X`` (an int64 array; empty: every
    row) with their nearest of ``centers``.

    ``centers`` are in the centred frame (``X - shift``).  Fills ``labels``
    (m,) and ``min_dist`` (m,) float64 squared distances, m the rows
    labelled.  The rows are centred into ``centers``' dtype: float32 centres
    rank float64 rows by a float32 product.  Picked rows are read where they
    lie (no gathered copy of them).
    """
    n, d = labels.shape[0], X.shape[1]
    k = centers.shape[0]
    center_sq = squared_norms(centers)
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    n_blocks = (n_chunks + CHUNKS_PER_TASK - 1) // CHUNKS_PER_TASK
    for b in prange(n_blocks):
        rows = np.empty((CHUNK_ROWS, d), dtype=centers.dtype)
        scratch = np.empty(CHUNK_ROWS * (k + d + 1), dtype=centers.dtype)
        best_label = np.empty(CHUNK_ROWS, dtype=np.int32)
        best_dist = np.empty(CHUNK_ROWS, dtype=np.float64)
        for c in range(b * CHUNKS_PER_TASK, min(n_chunks, (b + 1) * CHUNKS_PER_TASK)):
            start = c * CHUNK_ROWS
            m = min(CHUNK_ROWS, n - start)
            _centre_picked_rows(X, picked, start, m, shift, rows)
            nearest_dense_block(rows, m, centers, center_sq, use_gemm, scratch,
                                best_label, best_dist)
            labels[start:start + m] = best_label[:m]
            min_dist[start:start + m] = best_dist[:m]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def assign_sparse(data, indices, indptr, centers, labels, min_dist):
    """Sparse (CSR) twin of :func:`assign_dense` (no centring)."""
    n = indptr.shape[0] - 1
    k = centers.shape[0]
    centers_t = np.ascontiguousarray(centers.T)
    center_sq = squared_norms(centers)
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    n_blocks = (n_chunks + CHUNKS_PER_TASK - 1) // CHUNKS_PER_TASK
    for b in prange(n_blocks):
        dots = np.empty((CHUNK_ROWS, k), dtype=centers.dtype)
        best_label = np.empty(CHUNK_ROWS, dtype=np.int32)
        best_dist = np.empty(CHUNK_ROWS, dtype=np.float64)
        for c in range(b * CHUNKS_PER_TASK, min(n_chunks, (b + 1) * CHUNKS_PER_TASK)):
            start = c * CHUNK_ROWS
            m = min(CHUNK_ROWS, n - start)
            nearest_sparse_block(data, indices, indptr, start, m, centers_t,
                                 center_sq, dots, best_label, best_dist)
            labels[start:start + m] = best_label[:m]
            min_dist[start:start + m] = best_dist[:m]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def labelled_inertia_dense(X, weights, centers, labels, chunk_inertia):
    """``chunk_inertia[c]``: sum of w |x - c_label|^2 over the dense rows of
    chunk ``c`` (``CHUNK_ROWS * CHUNKS_PER_TASK`` rows each), differences in
    float64.  The caller sums the chunks in order."""
    n, d = X.shape
    rows_per_chunk = TASK_ROWS
    for c in prange(chunk_inertia.shape[0]):
        total = 0.0
        for i in range(c * rows_per_chunk, min(n, (c + 1) * rows_per_chunk)):
            j = labels[i]
            s = 0.0
            for f in range(d):
                diff = np.float64(X[i, f]) - centers[j, f]
                s += diff * diff
            total += weights[i] * s
        chunk_inertia[c] = total


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def labelled_inertia_sparse(data, indices, indptr, row_sq, weights, centers, labels,
                            chunk_inertia):
    """``chunk_inertia[c]``: sum of w |x - c_label|^2 over the sparse (CSR)
    rows of chunk ``c`` (``CHUNK_ROWS * CHUNKS_PER_TASK`` rows each), as
    |x|^2 - 2 x.c + |c|^2 in float64 over the stored values (``row_sq`` are
    the rows' squared norms).  The caller sums the chunks in order."""
    n = indptr.shape[0] - 1
    k, d = centers.shape
    center_sq = np.empty(k)
    for j in range(k):
        s = 0.0
        for f in range(d):
            s += centers[j, f] * centers[j, f]
        center_sq[j] = s
    rows_per_chunk = TASK_ROWS
    for c in prange(chunk_inertia.shape[0]):
        total = 0.0
        for i in range(c * rows_per_chunk, min(n, (c + 1) * rows_per_chunk)):
            j = labels[i]
            dot = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                dot += np.float64(data[p]) * centers[j, indices[p]]
            total += weights[i] * max(row_sq[i] - 2.0 * dot + center_sq[j], 0.0)
        chunk_inertia[c] = total
