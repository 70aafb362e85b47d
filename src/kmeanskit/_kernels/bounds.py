"""Exact accelerated k-means iterations: Hamerly (2010) and Elkan (2003).

Both keep triangle-inequality bounds on each point's distances so that most
distance computations can be skipped, and give the labels Lloyd's algorithm
would give.  Distances here are Euclidean and computed from coordinate
differences (exactly); skip tests are conservative by a relative margin, so a
rounding error can cost a distance computation but never a wrong label.  Ties
go to the lowest centroid index, as in Lloyd.

Each kernel also accumulates what the driver's centroid update needs, with
rows split into fixed groups: the change of the per-cluster sums and weights
(only the rows that moved add to it: the others are not read at all), the
changed labels and the skipped distance computations.  The driver keeps the
running totals.  The inertia comes from those sums (see ``_driver``), since
skipped points have no fresh distance.  The sparse kernels relabel only, in
fixed tasks of rows; the change of the sums follows in a second pass
(``sparse_sums``).

A negative label marks the first iteration: every distance is computed and
the bounds are initialised.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH
from .assign import TASK_ROWS, nearest_sparse_block, squared_norms

# Skip only when a bound wins by more than this relative margin.
MARGIN = 1e-10


@njit(cache=True, fastmath=FASTMATH)
def _sq_distance(X, i, origin, centers, j):
    s = 0.0
    for f in range(X.shape[1]):
        diff = (X[i, f] - origin[f]) - centers[j, f]
        s += diff * diff
    return s


@njit(cache=True, fastmath=FASTMATH)
def _distance(X, i, origin, centers, j):
    return np.sqrt(_sq_distance(X, i, origin, centers, j))


@njit(cache=True, fastmath=FASTMATH)
def _accumulate(X, i, origin, w, label, sums, cluster_weight):
    cluster_weight[label] += w
    for f in range(X.shape[1]):
        sums[label, f] += w * (X[i, f] - origin[f])


@njit(cache=True, fastmath=FASTMATH)
def _move_row(X, i, origin, w, old, new, sums, cluster_weight):
    """Record row i's move from cluster ``old`` (none if negative) to ``new``
    in the change of the per-cluster sums and weights; nothing if it stays.

    The dense bounded kernels accumulate only these changes: a row whose
    bounds let it keep its label is then not read at all, where adding it
    to its cluster's sum read X whole every iteration.  Their step keeps
    the running totals."""
    if old == new:
        return
    _accumulate(X, i, origin, w, new, sums, cluster_weight)
    if old >= 0:
        _accumulate(X, i, origin, -w, old, sums, cluster_weight)


@njit(cache=True, fastmath=FASTMATH)
def nearest_two(X, i, origin, centers):
    """Nearest centroid of row i and the squared distances to the nearest and
    the second nearest.  Squared distances decide (as in Lloyd: two that
    differ could round to the same square root); ties to the lower index."""
    best, best_sq, second_sq = 0, np.inf, np.inf
    for j in range(centers.shape[0]):
        sq = _sq_distance(X, i, origin, centers, j)
        if sq < best_sq:
            second_sq, best_sq, best = best_sq, sq, j
        elif sq < second_sq:
            second_sq = sq
    return best, best_sq, second_sq


@njit(cache=True, fastmath=FASTMATH)
def hamerly_point(X, i, origin, centers, half_gap, label, u, low):
    """Hamerly's test for row i, whose bounds ``u`` and ``low`` already account
    for the centroids' movement, and the refresh when it fails.

    Returns (label, upper, lower, distances computed).
    """
    bound = max(low, half_gap[label]) * (1.0 - MARGIN)
    if u <= bound:
        return label, u, low, 0
    u = _distance(X, i, origin, centers, label)
    if u <= bound:
        return label, u, low, 1
    best, best_sq, second_sq = nearest_two(X, i, origin, centers)
    return best, np.sqrt(best_sq), np.sqrt(second_sq), centers.shape[0] + 1


@njit(cache=True)
def largest_two(moved):
    """Largest and second-largest movement, and where the largest is: a
    point's lower bound drops by the largest movement among the *other*
    centroids."""
    first, second, first_at = 0.0, 0.0, -1
    for j in range(moved.shape[0]):
        if moved[j] > first:
            second = first
            first = moved[j]
            first_at = j
        elif moved[j] > second:
            second = moved[j]
    return first, second, first_at


@njit(cache=True, fastmath=FASTMATH)
def _hamerly_rows(X, weights, origin, centers, moved, half_gap, labels, upper, lower,
                  start, stop, first, second, first_at, sums, cluster_weight):
    """Rows start:stop of a Hamerly iteration; returns (changed, computed)."""
    sums[:] = 0.0
    cluster_weight[:] = 0.0
    changed = 0
    computed = 0
    for i in range(start, stop):
        label = labels[i]
        if label < 0:
            best, best_sq, second_sq = nearest_two(X, i, origin, centers)
            new, u, low, count = best, np.sqrt(best_sq), np.sqrt(second_sq), centers.shape[0]
        else:
            drop = second if label == first_at else first
            new, u, low, count = hamerly_point(X, i, origin, centers, half_gap, label,
                                               upper[i] + moved[label], lower[i] - drop)
        computed += count
        _move_row(X, i, origin, weights[i], label, new, sums, cluster_weight)
        if new != label:
            changed += 1
            labels[i] = new
        upper[i] = u
        lower[i] = low
    return changed, computed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def hamerly_iter(X, weights, origin, centers, moved, half_gap, labels, upper, lower,
                 group_sums, group_weights, group_changed, group_skipped):
    """One Hamerly iteration.

    moved : (k,) how far each centroid moved since the bounds were set.
    half_gap : (k,) half the distance from each centroid to its nearest other.
    upper, lower : (n,) bound on the distance to the assigned centroid, and
        on the distance to any other one.
    """
    n = X.shape[0]
    k = centers.shape[0]
    n_groups = group_sums.shape[0]
    first, second, first_at = largest_two(moved)
    for g in prange(n_groups):
        start = g * n // n_groups
        stop = (g + 1) * n // n_groups
        changed, computed = _hamerly_rows(X, weights, origin, centers, moved, half_gap,
                                          labels, upper, lower, start, stop, first, second,
                                          first_at, group_sums[g], group_weights[g])
        group_changed[g] = changed
        group_skipped[g] = (stop - start) * k - computed


@njit(cache=True, fastmath=FASTMATH)
def _sparse_terms(centers):
    """What the sparse bounded kernels need of the centroids: them as (d, k),
    their squared norms, the expansion's rounding per stored value (2 eps of
    their dtype) and the largest squared norm."""
    center_sq = squared_norms(centers)
    max_center_sq = 0.0
    for j in range(center_sq.shape[0]):
        max_center_sq = max(max_center_sq, float(center_sq[j]))
    return (np.ascontiguousarray(centers.T), center_sq, 2.0 * np.finfo(centers.dtype).eps,
            max_center_sq)


@njit(cache=True)
def _expansion_error(indptr, x_sq, row, rounding, max_center_sq):
    """Bound on the rounding error of a CSR row's squared distance by the
    expansion |x|^2 - 2 x.c + |c|^2: ``rounding`` (2 eps) per stored value
    and four more operations, times |x|^2 + the largest |c|^2."""
    return rounding * (indptr[row + 1] - indptr[row] + 4) * (x_sq[row] + max_center_sq)


@njit(cache=True)
def _row_scratch(k, dtype):
    """Buffers for one row of ``nearest_sparse_block``: dots, label, distance."""
    return (np.empty((1, k), dtype=dtype), np.empty(1, dtype=np.int32),
            np.empty(1, dtype=np.float64))


@njit(cache=True)
def _relabel(labels, row, new):
    """Give ``row`` label ``new``; 1 if that changed it, else 0.  The sparse
    bounded kernels only relabel: the change of the per-cluster sums (the
    rows that moved) follows from ``sparse_sums.cluster_sums_sparse``."""
    if labels[row] == new:
        return 0
    labels[row] = new
    return 1


@njit(cache=True, fastmath=FASTMATH)
def _hamerly_sparse_rows(data, indices, indptr, x_sq, weights, centers, centers_t,
                         center_sq, rounding, max_center_sq, moved, half_gap, labels, upper,
                         lower, start, stop, first, second, first_at, dots, best_label,
                         best_dist):
    """Rows start:stop of a sparse Hamerly iteration; returns (changed, computed).

    Distances come from the expansion, as in Lloyd's sparse kernel, so each
    carries a rounding error; ``rounding * (nnz + 4) * (|x|^2 + max |c|^2)``
    bounds it on the squared distance.  The bounds are widened by it and the
    test asks for twice that margin, so a skipped row is one whose label
    Lloyd's computed distances would keep too.  A row that fails gets every
    distance from Lloyd's own block function (the same label as Lloyd's).
    """
    k = centers.shape[0]
    changed = 0
    computed = 0
    for row in range(start, stop):
        label = labels[row]
        err = _expansion_error(indptr, x_sq, row, rounding, max_center_sq)
        full = label < 0
        new, u, low = label, 0.0, 0.0
        if not full:
            drop = second if label == first_at else first
            u = upper[row] + moved[label]
            low = lower[row] - drop
            bound = max(low, half_gap[label]) * (1.0 - MARGIN)
            full = np.sqrt(u * u + 2.0 * err) > bound
        if full:
            nearest_sparse_block(data, indices, indptr, row, 1, centers_t, center_sq, dots,
                                 best_label, best_dist)
            new = best_label[0]
            second_sq = np.inf
            for j in range(k):  # dots now hold |c_j|^2 - 2 x.c_j
                if j != new and dots[0, j] < second_sq:
                    second_sq = dots[0, j]
            u = np.sqrt(best_dist[0] + err)
            low = np.sqrt(max(x_sq[row] + second_sq - err, 0.0))
            computed += k
        changed += _relabel(labels, row, new)
        upper[row] = u
        lower[row] = low
    return changed, computed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def hamerly_iter_sparse(data, indices, indptr, x_sq, weights, centers, moved, half_gap,
                        labels, upper, lower, task_changed, task_skipped):
    """The labelling half of a Hamerly iteration on CSR rows (``x_sq``: their
    squared norms), with the arguments of :func:`hamerly_iter` otherwise (no
    origin: sparse rows are not centred), per task of ``TASK_ROWS`` rows."""
    n = indptr.shape[0] - 1
    k = centers.shape[0]
    first, second, first_at = largest_two(moved)
    centers_t, center_sq, rounding, max_center_sq = _sparse_terms(centers)
    for t in prange(task_changed.shape[0]):
        dots, best_label, best_dist = _row_scratch(k, centers.dtype)
        start = t * TASK_ROWS
        stop = min(n, start + TASK_ROWS)
        changed, computed = _hamerly_sparse_rows(
            data, indices, indptr, x_sq, weights, centers, centers_t, center_sq,
            rounding, max_center_sq, moved, half_gap, labels, upper, lower, start, stop,
            first, second, first_at, dots, best_label, best_dist)
        task_changed[t] = changed
        task_skipped[t] = (stop - start) * k - computed


@njit(cache=True, fastmath=FASTMATH)
def _sparse_sq_distance(data, indices, indptr, x_sq, row, centers, center_sq, j):
    """|x_row - c_j|^2 from the expansion (clamped at zero)."""
    dot = 0.0
    for p in range(indptr[row], indptr[row + 1]):
        dot += data[p] * centers[j, indices[p]]
    return max(x_sq[row] + center_sq[j] - 2.0 * dot, 0.0)


@njit(cache=True, fastmath=FASTMATH)
def _elkan_sparse_full(data, indices, indptr, x_sq, row, centers_t, center_sq, err, dots,
                       best_label, best_dist, lower_row):
    """Every distance of a CSR row by Lloyd's own block function (so Lloyd's
    label); sets its k lower bounds; returns (label, upper bound)."""
    nearest_sparse_block(data, indices, indptr, row, 1, centers_t, center_sq, dots,
                         best_label, best_dist)
    for j in range(lower_row.shape[0]):  # dots now hold |c_j|^2 - 2 x.c_j
        lower_row[j] = np.sqrt(max(x_sq[row] + dots[0, j] - err, 0.0))
    return best_label[0], np.sqrt(best_dist[0] + err)


@njit(cache=True, fastmath=FASTMATH)
def _elkan_sparse_rows(data, indices, indptr, x_sq, weights, centers, centers_t, center_sq,
                       rounding, max_center_sq, moved, center_dist, half_gap, labels, upper,
                       lower, start, stop, dots, best_label, best_dist):
    """Rows start:stop of a sparse Elkan iteration; returns (changed, computed).

    Single distances come from one sparse dot each (a different summation
    than Lloyd's block), each within ``err`` (as in the Hamerly rows) of the
    exact value, and so within ``2 err`` of Lloyd's.  Skip tests ask for a
    margin of ``6 err`` on the squared distance, and a row whose computed
    contenders end within ``4 err`` of each other gets all its distances
    from Lloyd's block function: every label is the one Lloyd would give.
    """
    k = centers.shape[0]
    changed = 0
    computed = 0
    for row in range(start, stop):
        label = labels[row]
        err = _expansion_error(indptr, x_sq, row, rounding, max_center_sq)
        lower_row = lower[row]
        if label < 0:
            new, u = _elkan_sparse_full(data, indices, indptr, x_sq, row, centers_t, center_sq,
                                        err, dots, best_label, best_dist, lower_row)
            computed += k
        else:
            new = label
            u = upper[row] + moved[label]
            for j in range(k):
                lower_row[j] = max(lower_row[j] - moved[j], 0.0)
            tight = False
            best_sq = np.inf  # the current label's computed squared distance, once tight
            near_tie = False
            reach = np.sqrt(u * u + 6.0 * err)  # u with the skip tests' margin
            if reach > half_gap[label] * (1.0 - MARGIN):
                for j in range(k):
                    if j == new:
                        continue
                    bound = max(lower_row[j], 0.5 * center_dist[new, j]) * (1.0 - MARGIN)
                    if reach <= bound:
                        continue
                    if not tight:
                        best_sq = _sparse_sq_distance(data, indices, indptr, x_sq, row,
                                                      centers, center_sq, new)
                        u = np.sqrt(best_sq + err)
                        reach = np.sqrt(u * u + 6.0 * err)
                        lower_row[new] = np.sqrt(max(best_sq - err, 0.0))
                        computed += 1
                        tight = True
                        if reach <= bound:
                            continue
                    sq = _sparse_sq_distance(data, indices, indptr, x_sq, row, centers,
                                             center_sq, j)
                    computed += 1
                    lower_row[j] = np.sqrt(max(sq - err, 0.0))
                    if abs(sq - best_sq) <= 4.0 * err:
                        near_tie = True
                    if sq < best_sq:
                        new, best_sq = j, sq
                        u = np.sqrt(sq + err)
                        reach = np.sqrt(u * u + 6.0 * err)
            if near_tie:
                new, u = _elkan_sparse_full(data, indices, indptr, x_sq, row, centers_t,
                                            center_sq, err, dots, best_label, best_dist,
                                            lower_row)
                computed += k
        changed += _relabel(labels, row, new)
        upper[row] = u
    return changed, computed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def elkan_iter_sparse(data, indices, indptr, x_sq, weights, centers, moved, center_dist,
                      labels, upper, lower, task_changed, task_skipped):
    """The labelling half of an Elkan iteration on CSR rows (``x_sq``: their
    squared norms), with the arguments of :func:`elkan_iter` otherwise (no
    origin: sparse rows are not centred), per task of ``TASK_ROWS`` rows."""
    n = indptr.shape[0] - 1
    k = centers.shape[0]
    centers_t, center_sq, rounding, max_center_sq = _sparse_terms(centers)
    half_gap = np.empty(k)
    for j in range(k):
        half_gap[j] = np.inf
        for other in range(k):
            if other != j:
                half_gap[j] = min(half_gap[j], 0.5 * center_dist[j, other])
    for t in prange(task_changed.shape[0]):
        dots, best_label, best_dist = _row_scratch(k, centers.dtype)
        start = t * TASK_ROWS
        stop = min(n, start + TASK_ROWS)
        changed, computed = _elkan_sparse_rows(
            data, indices, indptr, x_sq, weights, centers, centers_t, center_sq, rounding,
            max_center_sq, moved, center_dist, half_gap, labels, upper, lower, start, stop,
            dots, best_label, best_dist)
        task_changed[t] = changed
        task_skipped[t] = (stop - start) * k - computed


@njit(cache=True, fastmath=FASTMATH)
def _elkan_rows(X, weights, origin, centers, moved, center_dist, half_gap, labels, upper,
                lower, start, stop, sums, cluster_weight):
    """Rows start:stop of an Elkan iteration; returns (changed, skipped)."""
    k = centers.shape[0]
    sums[:] = 0.0
    cluster_weight[:] = 0.0
    changed = 0
    skipped = 0
    for i in range(start, stop):
        label = labels[i]
        if label < 0:
            best, best_sq = 0, np.inf
            for j in range(k):
                sq = _sq_distance(X, i, origin, centers, j)
                lower[i, j] = np.sqrt(sq)
                if sq < best_sq:
                    best_sq, best = sq, j
            upper[i] = np.sqrt(best_sq)
            labels[i] = best
            changed += 1
            _move_row(X, i, origin, weights[i], -1, best, sums, cluster_weight)
            continue
        for j in range(k):
            lower[i, j] = max(lower[i, j] - moved[j], 0.0)
        u = upper[i] + moved[label]
        if u <= half_gap[label] * (1.0 - MARGIN):
            upper[i] = u
            skipped += k
            continue
        stale = True
        initial = label
        u_sq = 0.0
        for j in range(k):
            if j == label:
                continue
            if u <= lower[i, j] * (1.0 - MARGIN) or \
                    u <= 0.5 * center_dist[label, j] * (1.0 - MARGIN):
                skipped += 1
                continue
            if stale:
                u_sq = _sq_distance(X, i, origin, centers, label)
                u = np.sqrt(u_sq)
                lower[i, label] = u
                stale = False
                if u <= lower[i, j] * (1.0 - MARGIN) or \
                        u <= 0.5 * center_dist[label, j] * (1.0 - MARGIN):
                    skipped += 1
                    continue
            # Squared distances decide (as in Lloyd), ties to the lower index.
            sq = _sq_distance(X, i, origin, centers, j)
            lower[i, j] = np.sqrt(sq)
            if sq < u_sq or (sq == u_sq and j < label):
                u_sq = sq
                u = lower[i, j]
                label = j
        if stale:
            skipped += 1  # the assigned centroid's distance was never refreshed
        if label != initial:
            changed += 1
            labels[i] = label
            _move_row(X, i, origin, weights[i], initial, label, sums, cluster_weight)
        upper[i] = u
    return changed, skipped


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def elkan_iter(X, weights, origin, centers, moved, center_dist, labels, upper, lower,
               group_sums, group_weights, group_changed, group_skipped):
    """One Elkan iteration.

    moved : (k,) centroid movements since the bounds were set.
    center_dist : (k, k) distances between the current centroids.
    upper : (n,); lower : (n, k) a bound on the distance to every centroid.
    """
    n = X.shape[0]
    k = centers.shape[0]
    n_groups = group_sums.shape[0]
    half_gap = np.empty(k)
    for j in range(k):
        nearest = np.inf
        for m in range(k):
            if m != j:
                nearest = min(nearest, center_dist[j, m])
        half_gap[j] = 0.5 * nearest
    for g in prange(n_groups):
        start = g * n // n_groups
        stop = (g + 1) * n // n_groups
        changed, skipped = _elkan_rows(X, weights, origin, centers, moved, center_dist,
                                       half_gap, labels, upper, lower, start, stop,
                                       group_sums[g], group_weights[g])
        group_changed[g] = changed
        group_skipped[g] = skipped


@njit(cache=True, fastmath=FASTMATH)
def _yinyang_rows(X, weights, origin, centers, moved, members, offsets, group_of,
                  group_moved, labels, upper, lower, start, stop, sums, cluster_weight):
    """Rows start:stop of a Yinyang iteration; returns (changed, computed).

    ``lower[i, g]`` bounds the distance from point i to every centroid of
    group g other than its own.
    """
    k = centers.shape[0]
    n_groups = offsets.shape[0] - 1
    sums[:] = 0.0
    cluster_weight[:] = 0.0
    changed = 0
    computed = 0
    examined = np.zeros(n_groups, dtype=np.bool_)
    distance = np.empty(k)  # distances met while examining this point's groups
    for i in range(start, stop):
        label = labels[i]
        if label < 0:  # set the bounds: every distance
            best, best_sq = 0, np.inf
            for j in range(k):
                sq = _sq_distance(X, i, origin, centers, j)
                if sq < best_sq:
                    best_sq, best = sq, j
            for g in range(n_groups):
                nearest = np.inf
                for m in range(offsets[g], offsets[g + 1]):
                    j = members[m]
                    if j != best:
                        nearest = min(nearest, _sq_distance(X, i, origin, centers, j))
                lower[i, g] = np.sqrt(nearest)
            computed += k
            upper[i] = np.sqrt(best_sq)
            labels[i] = best
            changed += 1
            _move_row(X, i, origin, weights[i], -1, best, sums, cluster_weight)
            continue
        u = upper[i] + moved[label]
        global_lower = np.inf
        for g in range(n_groups):
            lower[i, g] -= group_moved[g]
            global_lower = min(global_lower, lower[i, g])
        if u <= global_lower * (1.0 - MARGIN):
            upper[i] = u
            continue
        best_sq = _sq_distance(X, i, origin, centers, label)
        computed += 1
        old, old_d = label, np.sqrt(best_sq)
        best, best_d = label, old_d
        if best_d <= global_lower * (1.0 - MARGIN):
            upper[i] = best_d
            continue
        # Group filter: examine the groups whose bound does not clear the best.
        distance[old] = old_d
        for g in range(n_groups):
            examined[g] = not best_d <= lower[i, g] * (1.0 - MARGIN)
            if not examined[g]:
                continue
            for m in range(offsets[g], offsets[g + 1]):
                j = members[m]
                if j == old:
                    continue
                sq = _sq_distance(X, i, origin, centers, j)
                distance[j] = np.sqrt(sq)
                computed += 1
                if sq < best_sq or (sq == best_sq and j < best):
                    best_sq, best = sq, j
                    best_d = distance[j]
        # Re-establish the group bounds for the (possibly new) label.
        for g in range(n_groups):
            if examined[g]:
                nearest = np.inf
                for m in range(offsets[g], offsets[g + 1]):
                    j = members[m]
                    if j != best:
                        nearest = min(nearest, distance[j])
                lower[i, g] = nearest
            elif best != old and group_of[old] == g:
                lower[i, g] = min(lower[i, g], old_d)
        if best != old:
            changed += 1
            labels[i] = best
            _move_row(X, i, origin, weights[i], old, best, sums, cluster_weight)
        upper[i] = best_d
    return changed, computed


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def yinyang_iter(X, weights, origin, centers, moved, members, offsets, group_of, labels,
                 upper, lower, group_sums, group_weights, group_changed, group_skipped):
    """One Yinyang iteration (Ding et al., ICML 2015): centroids in groups,
    one lower bound per point and group; a group whose bound clears the
    point's best distance is skipped whole.

    members : (k,) centroid indices ordered by group; offsets : (t + 1,)
    group g is members[offsets[g]:offsets[g + 1]]; group_of : (k,).
    lower : (n, t).
    """
    n = X.shape[0]
    k = centers.shape[0]
    n_groups_rows = group_sums.shape[0]
    t = offsets.shape[0] - 1
    group_moved = np.zeros(t)
    for g in range(t):
        for m in range(offsets[g], offsets[g + 1]):
            group_moved[g] = max(group_moved[g], moved[members[m]])
    for g in prange(n_groups_rows):
        start = g * n // n_groups_rows
        stop = (g + 1) * n // n_groups_rows
        changed, computed = _yinyang_rows(X, weights, origin, centers, moved, members,
                                          offsets, group_of, group_moved, labels, upper,
                                          lower, start, stop, group_sums[g],
                                          group_weights[g])
        group_changed[g] = changed
        group_skipped[g] = (stop - start) * k - computed


@njit(cache=True, fastmath=FASTMATH)
def bounds_from_block(rows, m, start, center_sq, dots, best_label, best_dist, members,
                      offsets, include_assigned, upper, lower):
    """Set the bounds of rows start:start+m from a Lloyd pass's BLAS block.

    ``dots`` (k, m) are the products centres x rows that labelled them
    (``assign.nearest_dense_block``), ``best_label`` / ``best_dist`` its
    result.  The bounds come from the expansion ||c||^2 - 2 x.c + ||x||^2,
    widened by a bound on its rounding error so that they stay valid: the
    upper bound is sqrt(d^2 + err), each lower bound sqrt(max(d^2 - err, 0)),
    with err = (d + 4) eps 2 (||x||^2 + max ||c||^2) (the frame is centred, so
    this is small beside the distances themselves).

    members, offsets : centroid groups (group g is
        members[offsets[g]:offsets[g + 1]]); ``lower[i, g]`` bounds the
        distance from point i to the group's centroids other than its own
        (Hamerly: one group of all; Yinyang: its groups).  With
        ``include_assigned`` (Elkan: one group per centroid) the own
        centroid counts too.
    upper : (n,); lower : (n, t).
    """
    d = rows.shape[1]
    t = offsets.shape[0] - 1
    center_sq_max = 0.0
    for j in range(center_sq.shape[0]):
        center_sq_max = max(center_sq_max, np.float64(center_sq[j]))
    eps = np.finfo(rows.dtype).eps
    x_sq = np.empty(m)
    err = np.empty(m)
    for i in range(m):
        s = 0.0
        for f in range(d):
            s += rows[i, f] * rows[i, f]
        x_sq[i] = s
        err[i] = (d + 4) * eps * 2.0 * (s + center_sq_max)
        upper[start + i] = np.sqrt(best_dist[i] + err[i])
    # Centroid by centroid over the block's rows: ``dots`` is (k, m), so each
    # centroid's products are contiguous (row by row, the k products of a row
    # are m apart: that order took 2.5x a Lloyd pass at 256 clusters).
    nearest = np.empty(m)
    for grp in range(t):
        nearest[:] = np.inf
        for p in range(offsets[grp], offsets[grp + 1]):
            j = members[p]
            c_sq = np.float64(center_sq[j])
            for i in range(m):  # a select, not a branch: the loop vectorises
                sq = x_sq[i] + c_sq - 2.0 * dots[j, i]
                counts = include_assigned or j != best_label[i]
                nearest[i] = min(nearest[i], sq) if counts else nearest[i]
        for i in range(m):
            lower[start + i, grp] = np.sqrt(max(nearest[i] - err[i], 0.0))
