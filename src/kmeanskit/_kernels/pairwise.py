"""All-pairs kernels for cluster quality scores (silhouette, Dunn).

Rows arrive sorted by cluster (``offsets[c]:offsets[c + 1]`` is cluster c), so
per-cluster sums are sums over contiguous ranges and never need an n x n
matrix: memory stays O(block x block) per thread.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH

# Query rows per parallel task and columns per BLAS block.
ROW_BLOCK = 128
COLUMN_BLOCK = 2048


@njit(cache=True, fastmath=FASTMATH)
def _cluster_of(offsets, row):
    """Cluster index of sorted ``row`` (binary search in ``offsets``)."""
    return np.searchsorted(offsets, row, side="right") - 1


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def silhouette_rows(X, x_sq, offsets, queries, out):
    """Silhouette value of each sorted row in ``queries``.

    X : (n, d) float64 rows sorted by cluster and centred.
    x_sq : (n,) squared norms of the rows.
    offsets : (k + 1,) cluster boundaries in the sorted order.
    queries : (q,) sorted-row indices to score.
    out : (q,) float64 output.

    Distances are sqrt(max(|x|^2 + |y|^2 - 2 x.y, 0)) from blocked BLAS
    products; a row's distance to itself is left out exactly.
    """
    k = offsets.shape[0] - 1
    q = queries.shape[0]
    n_blocks = (q + ROW_BLOCK - 1) // ROW_BLOCK
    for b in prange(n_blocks):
        start = b * ROW_BLOCK
        m = min(ROW_BLOCK, q - start)
        rows = np.empty((m, X.shape[1]))
        for r in range(m):
            rows[r] = X[queries[start + r]]
        sums = np.zeros((m, k))
        for c in range(k):
            for col in range(offsets[c], offsets[c + 1], COLUMN_BLOCK):
                stop = min(offsets[c + 1], col + COLUMN_BLOCK)
                dots = rows @ X[col:stop].T
                for r in range(m):
                    row = queries[start + r]
                    row_sq = x_sq[row]
                    total = 0.0
                    for j in range(stop - col):  # branch-free: vectorises
                        total += np.sqrt(max(row_sq + x_sq[col + j] - 2.0 * dots[r, j], 0.0))
                    if col <= row < stop:  # take back the row's distance to itself
                        total -= np.sqrt(max(2.0 * row_sq - 2.0 * dots[r, row - col], 0.0))
                    sums[r, c] += total
        for r in range(m):
            row = queries[start + r]
            own = _cluster_of(offsets, row)
            size = offsets[own + 1] - offsets[own]
            if size <= 1:
                out[start + r] = 0.0
                continue
            a = sums[r, own] / (size - 1)
            b_min = np.inf
            for c in range(k):
                if c != own and offsets[c + 1] > offsets[c]:
                    b_min = min(b_min, sums[r, c] / (offsets[c + 1] - offsets[c]))
            denominator = max(a, b_min)
            out[start + r] = 0.0 if denominator == 0.0 else (b_min - a) / denominator


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def cluster_pair_distances(X, offsets, minimum, maximum, total):
    """Smallest, largest and summed distance over every pair of points, per
    pair of clusters.

    X : (n, d) float64 rows sorted by cluster.
    minimum, maximum, total : (n_blocks, k, k) float64 outputs, one slice per
        row block (the caller reduces them: min/max exactly, sums in block
        order).  Entry [c1, c2] with c1 <= c2 covers pairs with the first
        point in c1; a point is never paired with itself.  Distances are
        computed from coordinate differences, exactly.
    """
    n, d = X.shape
    k = offsets.shape[0] - 1
    n_blocks = minimum.shape[0]
    for b in prange(n_blocks):
        minimum[b] = np.inf
        maximum[b] = 0.0
        total[b] = 0.0
        for i in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK)):
            c1 = _cluster_of(offsets, i)
            for c2 in range(c1, k):
                first = i + 1 if c2 == c1 else offsets[c2]
                low = np.inf
                high = 0.0
                acc = 0.0
                for j in range(first, offsets[c2 + 1]):
                    sq = 0.0
                    for f in range(d):
                        diff = X[i, f] - X[j, f]
                        sq += diff * diff
                    dist = np.sqrt(sq)
                    low = min(low, dist)
                    high = max(high, dist)
                    acc += dist
                minimum[b, c1, c2] = min(minimum[b, c1, c2], low)
                maximum[b, c1, c2] = max(maximum[b, c1, c2], high)
                total[b, c1, c2] += acc
