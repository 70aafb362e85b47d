"""Hamerly's algorithm on rows sorted by cluster and margin, skipping whole blocks.

Plain Hamerly still touches every row's bounds every iteration.  At low
dimension that bookkeeping costs about as much as Lloyd's distances, so the
bounds do not pay.  Here the rows are copied in an order that groups them by label and,
within a label, by margin (lower minus upper bound), and cut into blocks of
``BLOCK_ROWS``.  Each block keeps its largest upper bound, its smallest
margin and the movement owed to its rows since they were last visited.
When the block-level Hamerly test passes, the block costs O(1) whatever its
size: no row is read, since the per-cluster sums are running totals that
only rows changing cluster alter (as in the other bounded kernels).
Otherwise every distance of the block's rows is computed (vectorised across
rows), which leaves their bounds exact.  Labels are identical to Lloyd's at
every iteration.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH
from .bounds import MARGIN, _move_row, largest_two

BLOCK_ROWS = 64
# Margin classes per label: four per doubling, from 2^-8 to 2^8 times a
# typical distance (smaller and larger margins share the end classes).
MARGIN_BUCKETS = 64
# Fixed parts of the rows sorted in parallel (independent of the threads).
SORT_PARTS = 8


@njit(parallel=True, cache=True)
def _margin_keys(labels, upper, lower, owed_up, owed_low, scale_class, margins, keys):
    """Sort key of each row into ``keys``: label, then margin class (see
    ``sort_rows``); ``margins`` is scratch space."""
    n = labels.shape[0]
    for i in prange(n):
        block = i // BLOCK_ROWS
        margins[i] = (lower[i] - owed_low[block]) - (upper[i] + owed_up[block])
    # The class is read from the float's bits: its binary exponent and the
    # two leading mantissa bits, i.e. four classes per doubling.
    bits = margins.view(np.int64)
    for i in prange(n):
        bucket = 0
        if margins[i] > 0:
            bucket = (bits[i] >> 50) - 4 * 1023 + MARGIN_BUCKETS // 2 - scale_class
            bucket = min(max(bucket, 1), MARGIN_BUCKETS - 1)
        keys[i] = max(labels[i], 0) * MARGIN_BUCKETS + bucket


@njit(parallel=True, cache=True)
def sort_rows(n_clusters, scale_class, X, weights, order, labels, upper, lower, owed_up,
              owed_low, X_out, weights_out, order_out, labels_out, upper_out, lower_out,
              margins, keys):
    """Write the rows and their state into the ``_out`` arrays ordered by
    label, then by margin class (a stable counting sort); each row's bounds
    take the movement its block still owes.

    The margin is lower - upper, what a row's bounds absorb before its test
    fails; classes are a quarter of a doubling wide, centred on class
    ``scale_class`` (four times the base-2 logarithm of a typical distance).
    Rows with similar margins sit together, so a block's weakest row is
    about as strong as its others.

    Rows are read in order and scattered to one sequential stream per class
    (far kinder to the caches than a gather in sorted order), in
    ``SORT_PARTS`` fixed parts of the rows that run in parallel: part p's
    rows of a class follow part p-1's, so the order is the stable one on any
    number of threads.  ``margins`` and ``keys`` (n,) are scratch space,
    kept by the caller from one sort to the next (fresh 8 MiB arrays at a
    million rows cost page faults every sort)."""
    n, d = X.shape
    n_keys = n_clusters * MARGIN_BUCKETS
    _margin_keys(labels, upper, lower, owed_up, owed_low, scale_class, margins, keys)
    counts = np.zeros((SORT_PARTS, n_keys), dtype=np.int64)
    for p in prange(SORT_PARTS):
        for i in range(p * n // SORT_PARTS, (p + 1) * n // SORT_PARTS):
            counts[p, keys[i]] += 1
    total = 0
    for key in range(n_keys):  # exclusive prefix sum, class-major then part
        for p in range(SORT_PARTS):
            count = counts[p, key]
            counts[p, key] = total
            total += count
    for p in prange(SORT_PARTS):
        start = counts[p]
        for i in range(p * n // SORT_PARTS, (p + 1) * n // SORT_PARTS):
            to = start[keys[i]]
            start[keys[i]] += 1
            for f in range(d):
                X_out[to, f] = X[i, f]
            weights_out[to] = weights[i]
            order_out[to] = order[i]
            labels_out[to] = labels[i]
            upper_out[to] = upper[i] + owed_up[i // BLOCK_ROWS]
            lower_out[to] = lower[i] - owed_low[i // BLOCK_ROWS]


@njit(parallel=True, cache=True)
def summarise_blocks(labels, upper, lower, block_label, block_upper, block_margin):
    """Each block's common label (-1: mixed), largest upper bound and
    smallest margin, from the rows' current bounds (no distance computed)."""
    n = labels.shape[0]
    for b in prange(block_label.shape[0]):
        start = b * BLOCK_ROWS
        stop = min(n, start + BLOCK_ROWS)
        common = labels[start]
        u_max, margin = 0.0, np.inf
        for i in range(start, stop):
            if labels[i] != common:
                common = -1
            u_max = max(u_max, upper[i])
            margin = min(margin, lower[i] - upper[i])
        block_label[b] = common
        block_upper[b] = u_max
        block_margin[b] = margin


@njit(cache=True, fastmath=FASTMATH)
def _nearest_two_block(X, start, m, origin, centers, columns, dist, best, best_sq,
                       second_sq):
    """Nearest centroid and the two smallest squared distances of rows
    start:start+m, computed directly in float64 (centroids outer, rows inner,
    so each comparison is an element-wise select across rows)."""
    d = X.shape[1]
    for i in range(m):
        for f in range(d):
            columns[f, i] = X[start + i, f] - origin[f]
    best_sq[:m] = np.inf
    second_sq[:m] = np.inf
    best[:m] = 0
    for j in range(centers.shape[0]):
        dist[:m] = 0.0
        for f in range(d):
            c = centers[j, f]
            for i in range(m):
                diff = columns[f, i] - c
                dist[i] += diff * diff
        for i in range(m):
            sq = dist[i]
            b = best_sq[i]
            closer = sq < b
            second_sq[i] = b if closer else min(second_sq[i], sq)
            best_sq[i] = sq if closer else b
            best[i] = j if closer else best[i]


@njit(cache=True, fastmath=FASTMATH)
def _visit_block(X, weights, order, origin, centers, start, stop, labels_out, labels, upper,
                 lower, scratch, sums, cluster_weight):
    """Every distance of rows start:stop: exact labels and bounds; the rows
    that change cluster are moved in the change of the sums.

    Returns (label if the block is now single-label else -1, largest upper
    bound, smallest margin (lower - upper), changed)."""
    m = stop - start
    columns, dist, best, best_sq, second_sq = scratch
    _nearest_two_block(X, start, m, origin, centers, columns, dist, best, best_sq,
                       second_sq)
    changed = 0
    common = best[0]
    u_max, margin = 0.0, np.inf
    for r in range(m):
        i = start + r
        new = best[r]
        if new != labels[i]:
            changed += 1
            _move_row(X, i, origin, weights[i], labels[i], new, sums, cluster_weight)
            labels[i] = new
            labels_out[order[i]] = new
        if new != common:
            common = -1
        upper[i] = np.sqrt(best_sq[r])
        lower[i] = np.sqrt(second_sq[r])
        u_max = max(u_max, upper[i])
        margin = min(margin, lower[i] - upper[i])
    return common, u_max, margin, changed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def sorted_hamerly_iter(X, weights, order, origin, centers, moved, half_gap, labels_out,
                        labels, upper, lower, block_label, block_upper, block_margin,
                        owed_up, owed_low, group_sums, group_weights, group_changed,
                        group_skipped):
    """One Hamerly iteration over sorted rows, block by block.

    X, weights, labels, upper, lower : rows in sorted order; ``order[i]`` is
        the caller's index of sorted row i, and a changed label is also
        written to ``labels_out[order[i]]``.  A negative label is unknown.
    block_label : (b,) the block's common label, or -1 (several labels; a
        block not yet summarised has margin -inf and is visited).
    block_upper, block_margin : (b,) largest upper bound and smallest margin
        (lower - upper) of the block's rows when last visited; owed_up /
        owed_low : (b,) movement accumulated since, not yet applied to the
        rows.  The block passes when every row would pass Hamerly's test: its
        margin exceeds the movement owed to both bounds, or (single label)
        its upper bound stays within half the gap to the nearest other
        centroid.
    A block whose bounds do not pass is visited: every distance of its rows
    is computed (vectorised across rows), which leaves its bounds exact.
    Accumulates, per row group, the change of the per-cluster sums (relative
    to ``origin``) and weights from the rows that changed cluster, as the
    other bounded kernels do (every row on the first visit, labels unknown).
    """
    n, d = X.shape
    k = centers.shape[0]
    n_blocks = block_label.shape[0]
    n_groups = group_sums.shape[0]
    first, second, first_at = largest_two(moved)
    centers64 = centers.astype(np.float64)
    for g in prange(n_groups):
        scratch = (np.empty((d, BLOCK_ROWS)), np.empty(BLOCK_ROWS),
                   np.empty(BLOCK_ROWS, dtype=np.int32), np.empty(BLOCK_ROWS),
                   np.empty(BLOCK_ROWS))
        sums = group_sums[g]
        cluster_weight = group_weights[g]
        sums[:] = 0.0
        cluster_weight[:] = 0.0
        changed = 0
        skipped = 0
        for b in range(g * n_blocks // n_groups, (g + 1) * n_blocks // n_groups):
            start = b * BLOCK_ROWS
            stop = min(n, start + BLOCK_ROWS)
            label = block_label[b]
            # Movement owed to the block's bounds: its own centroid's for a
            # single-label block, the largest of all for a mixed one.
            if label >= 0:
                up = owed_up[b] + moved[label]
                low = owed_low[b] + (second if label == first_at else first)
            else:
                up = owed_up[b] + first
                low = owed_low[b] + first
            u = block_upper[b] + up
            keeps = block_margin[b] * (1.0 - MARGIN) >= up + low + MARGIN * u
            if label >= 0 and not keeps:
                keeps = u <= half_gap[label] * (1.0 - MARGIN)
            if keeps:
                owed_up[b] = up
                owed_low[b] = low
                skipped += (stop - start) * k
                continue
            common, u_max, margin, block_changed = _visit_block(
                X, weights, order, origin, centers64, start, stop, labels_out, labels,
                upper, lower, scratch, sums, cluster_weight)
            owed_up[b] = 0.0
            owed_low[b] = 0.0
            block_label[b] = common
            block_upper[b] = u_max
            block_margin[b] = margin
            changed += block_changed
        group_changed[g] = changed
        group_skipped[g] = skipped
