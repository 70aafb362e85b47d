"""One Lloyd iteration, fused: assignment, inertia and per-cluster sums.

Dense X is read once per iteration.  Rows are split into fixed-size chunks,
chunks into ``n_groups`` contiguous groups (chosen by the caller, independent
of the thread count); each group accumulates its own float64 sums, which the
caller reduces in group order.  That makes the result identical on any
number of threads and keeps float32 sums accurate.  Sparse rows are summed
in the same pass while the groups' buffers are small, else by cluster in a
second pass (``sparse_sums``).
"""

import numpy as np
from numba import njit, prange

from . import CHUNK_ROWS, FASTMATH
from .assign import (
    TASK_ROWS,
    centre_rows,
    nearest_dense_block,
    nearest_sparse_block,
    squared_norms,
)
from .bounds import bounds_from_block


@njit(cache=True)
def _group_chunks(group, n_groups, n_chunks):
    """First and one-past-last chunk of ``group``."""
    return group * n_chunks // n_groups, (group + 1) * n_chunks // n_groups


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def lloyd_iter_dense(X, weights, shift, centers, use_gemm, labels,
                     group_sums, group_weights, group_inertia, group_changed,
                     members, offsets, include_assigned, upper, lower):
    """Assign every row of dense ``X`` and accumulate the update.

    Parameters (all arrays allocated by the caller)
    ----------
    X : (n, d) float32/float64, C-contiguous.
    weights : (n,) float64 sample weights.
    shift : (d,) the data mean; rows are centred on the fly, centers are
        already in that centred frame.
    centers : (k, d) current centroids, same dtype as X.
    use_gemm : bool, distances by BLAS block products (else direct).
    labels : (n,) int32, previous labels in, new labels out.
    group_sums : (g, k, d) float64, per-group weighted sums of centred rows.
    group_weights : (g, k) float64, per-group weight per cluster.
    group_inertia : (g,) float64, per-group weighted squared distances.
    group_changed : (g,) int64, per-group count of rows whose label changed.
    members, offsets, include_assigned, upper, lower : when ``upper`` is not
        empty, the pass also sets a bounded algorithm's bounds from its BLAS
        blocks (``bounds.bounds_from_block``; needs ``use_gemm``): the first
        iteration of Hamerly, Elkan or Yinyang is this same pass.
    """
    n, d = X.shape
    k = centers.shape[0]
    n_groups = group_sums.shape[0]
    center_sq = squared_norms(centers)
    set_bounds = upper.shape[0] > 0
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    for g in prange(n_groups):
        rows = np.empty((CHUNK_ROWS, d), dtype=X.dtype)
        scratch = np.empty(CHUNK_ROWS * (k + d + 1), dtype=X.dtype)
        best_label = np.empty(CHUNK_ROWS, dtype=np.int32)
        best_dist = np.empty(CHUNK_ROWS, dtype=np.float64)
        sums = group_sums[g]
        cluster_weight = group_weights[g]
        sums[:] = 0.0
        cluster_weight[:] = 0.0
        inertia = 0.0
        changed = 0
        first, last = _group_chunks(g, n_groups, n_chunks)
        for c in range(first, last):
            start = c * CHUNK_ROWS
            m = min(CHUNK_ROWS, n - start)
            centre_rows(X, start, m, shift, rows)
            nearest_dense_block(rows, m, centers, center_sq, use_gemm, scratch,
                                best_label, best_dist)
            if set_bounds:  # the products are still in scratch
                bounds_from_block(rows, m, start, center_sq, scratch[: k * m].reshape((k, m)),
                                  best_label, best_dist, members, offsets,
                                  include_assigned, upper, lower)
            for i in range(m):
                label = best_label[i]
                w = weights[start + i]
                if labels[start + i] != label:
                    changed += 1
                    labels[start + i] = label
                inertia += w * best_dist[i]
                cluster_weight[label] += w
                for f in range(d):
                    sums[label, f] += w * rows[i, f]
        group_inertia[g] = inertia
        group_changed[g] = changed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def lloyd_iter_sparse(data, indices, indptr, weights, centers, labels, fused,
                      group_sums, group_weights, group_inertia, group_changed):
    """Sparse (CSR) twin of :func:`lloyd_iter_dense`; rows are not centred.

    Rows are split into ``len(group_inertia)`` groups of chunks.  Given
    ``fused`` (small buffers), each group also sums its rows into its own
    (k, d) buffer in ``group_sums`` while they are in cache; otherwise only
    labels, inertia and changed labels are written (``group_sums`` is not
    touched), and the sums follow from ``sparse_sums.cluster_sums_sparse``.
    """
    n = indptr.shape[0] - 1
    k = centers.shape[0]
    n_groups = group_inertia.shape[0]
    centers_t = np.ascontiguousarray(centers.T)
    center_sq = squared_norms(centers)
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    for g in prange(n_groups):
        dots = np.empty((CHUNK_ROWS, k), dtype=centers.dtype)
        best_label = np.empty(CHUNK_ROWS, dtype=np.int32)
        best_dist = np.empty(CHUNK_ROWS, dtype=np.float64)
        own = np.int64(g) if fused else np.int64(0)  # unfused: one buffer, untouched
        sums = group_sums[own]
        cluster_weight = group_weights[own]
        if fused:
            sums[:] = 0.0
            cluster_weight[:] = 0.0
        inertia = 0.0
        changed = 0
        first, last = _group_chunks(g, n_groups, n_chunks)
        for c in range(first, last):
            start = c * CHUNK_ROWS
            m = min(CHUNK_ROWS, n - start)
            nearest_sparse_block(data, indices, indptr, start, m, centers_t,
                                 center_sq, dots, best_label, best_dist)
            for i in range(m):
                row = start + i
                label = best_label[i]
                w = weights[row]
                if labels[row] != label:
                    changed += 1
                    labels[row] = label
                inertia += w * best_dist[i]
                if fused:
                    cluster_weight[label] += w
                    for p in range(indptr[row], indptr[row + 1]):
                        sums[label, indices[p]] += w * data[p]
        group_inertia[g] = inertia
        group_changed[g] = changed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def shifted_moments(X, weights, sums, squares, weighted_sums, weighted_squares):
    """Moments of dense X about its first row r, per chunk ``c`` of
    ``TASK_ROWS`` rows: ``sums[c]`` = sum (x - r) and
    ``squares[c]`` = sum (x - r)^2 per column, ``weighted_sums[c]`` =
    sum w (x - r) and ``weighted_squares[c]`` = sum w |x - r|^2, all in
    float64.  The caller adds the chunks in order (the same totals on any
    thread count).  One read of X gives both the feature variances (``tol``)
    and a bounded run's moments; shifting by a row of X avoids the
    cancellation of E[x^2] - E[x]^2 far from the origin."""
    n, d = X.shape
    rows_per_chunk = TASK_ROWS
    for c in prange(sums.shape[0]):
        row_sums, row_squares, row_weighted = sums[c], squares[c], weighted_sums[c]
        row_sums[:] = 0.0
        row_squares[:] = 0.0
        row_weighted[:] = 0.0
        total = 0.0
        for i in range(c * rows_per_chunk, min(n, (c + 1) * rows_per_chunk)):
            w = weights[i]
            s = 0.0
            for f in range(d):
                diff = np.float64(X[i, f]) - np.float64(X[0, f])
                row_sums[f] += diff
                row_squares[f] += diff * diff
                row_weighted[f] += w * diff
                s += diff * diff
            total += w * s
        weighted_squares[c] = total
