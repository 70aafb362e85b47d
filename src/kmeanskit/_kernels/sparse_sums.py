"""Per-cluster sums of sparse (CSR) rows, in parallel over clusters.

The sparse bounded iterations, and Lloyd's where its per-group buffers would
be large (``_driver.SPARSE_GROUP_BYTES``), label their rows in one parallel
pass over fixed row tasks and leave the sums to this second pass.  Summing
inside that pass
would need a (k, d) buffer per task, zeroed and reduced every iteration: at
512 clusters of 50,000 features one buffer takes 200 MB, so there was room
for a single one, and the whole iteration ran on one thread.  Here each
cluster's row of sums is written by one thread only, from the cluster's
rows in row order: the same bits on any number of threads, and the row
being written stays in cache.
"""

from numba import njit, prange

from . import FASTMATH


@njit(cache=True)
def _rows_by_cluster(previous, labels, full, rows, starts):
    """Fill ``rows`` with the rows each cluster gains or loses, grouped by
    cluster (``starts``, k + 1 offsets), in row order within a cluster.

    Given ``full``, every row belongs to its label's cluster.  Otherwise
    only the rows whose label differs from ``previous`` take part: each in
    its new cluster and, unless its old label is negative (no cluster yet),
    in its old one.
    """
    k = starts.shape[0] - 1
    starts[:] = 0
    n = labels.shape[0]
    for row in range(n):
        new, old = labels[row], previous[row]
        if full or new != old:
            starts[new + 1] += 1
            if not full and old >= 0:
                starts[old + 1] += 1
    for c in range(k):
        starts[c + 1] += starts[c]
    filled = starts[:k].copy()
    for row in range(n):
        new, old = labels[row], previous[row]
        if full or new != old:
            rows[filled[new]] = row
            filled[new] += 1
            if not full and old >= 0:
                rows[filled[old]] = row
                filled[old] += 1


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def cluster_sums_sparse(data, indices, indptr, weights, previous, labels, full, rows, starts,
                        sums, cluster_weight):
    """Per-cluster weighted sums and weights of CSR rows, into ``sums`` (k, d)
    and ``cluster_weight`` (k,), both overwritten.

    Given ``full``: the sums of each cluster's rows (``previous`` unused).
    Otherwise their change since ``previous`` labels: a row that moved adds
    to its new cluster and subtracts from its old one; the rest are not read.
    ``rows`` (at least 2 n, or n given ``full``) and ``starts`` (k + 1) are
    scratch.
    """
    _rows_by_cluster(previous, labels, full, rows, starts)
    for c in prange(sums.shape[0]):
        row_sums = sums[c]
        row_sums[:] = 0.0
        total = 0.0
        for e in range(starts[c], starts[c + 1]):
            row = rows[e]
            # A row listed under a cluster other than its label is leaving it.
            w = weights[row] if labels[row] == c else -weights[row]
            total += w
            for p in range(indptr[row], indptr[row + 1]):
                row_sums[indices[p]] += w * data[p]
        cluster_weight[c] = total
