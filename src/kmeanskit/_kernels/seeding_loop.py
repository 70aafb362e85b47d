"""The k-means++ and LocalSearch++ loops in compiled code, for dense rows in
memory.

``init._kmeans_plusplus`` and ``init._local_search`` drive the step kernels
(:mod:`.seeding`, :mod:`.local_search`) from Python, a few NumPy and SciPy
calls around each step.  Where a step's own work is small (k-means||
reclusters a few thousand weighted candidates into 512 seeds in ~640
steps) those calls cost more than the kernels.  Here the same loops run in
one call and call the same kernels; the draws are the uniforms the Python
loops would draw, in their order, so both give the same seeds (a test
checks it).

The only arithmetic not shared with the Python loops is that of the
distances between candidates and centres (SciPy's ``cdist`` there): they
serve only the triangle-inequality tests that decide which rows a step
reads, and the centres' nearest neighbours, whose order breaks ties.
"""

import numpy as np
from numba import njit

from . import FASTMATH
from .local_search import swap_gains, update_rows
from .seeding import candidate_gains_dense, chunk_rows, keep_candidate


@njit(cache=True)
def _cumulative(values, start, stop, out):
    """``out[:stop - start] = np.cumsum(values[start:stop])`` (the same
    sequential sums)."""
    total = 0.0
    for i in range(start, stop):
        total += values[i]
        out[i - start] = total


@njit(cache=True)
def _first_above(cumulative, size, value):
    """``np.searchsorted(cumulative[:size], value, side="right")``."""
    low, high = 0, size
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low


@njit(cache=True)
def sample_rows(uniforms, weights, closest_sq, chunk_potential, picked):
    """Rows drawn in proportion to ``w d^2``, one per uniform: the chunk from
    the cumulative chunk potentials, then the row inside it (the same
    arithmetic as ``init._Seeding.sample``, one cumulative sum per chunk
    drawn).  Plain loops rather than NumPy's functions: each of those costs
    compilation time on a first run."""
    n_chunks = chunk_potential.shape[0]
    cumulative = np.empty(n_chunks)
    _cumulative(chunk_potential, 0, n_chunks, cumulative)
    t = uniforms.shape[0]
    targets = np.empty(t)
    chunks = np.empty(t, dtype=np.int64)
    for s in range(t):
        targets[s] = uniforms[s] * cumulative[n_chunks - 1]
        chunks[s] = min(_first_above(cumulative, n_chunks, targets[s]), n_chunks - 1)
    n = weights.shape[0]
    rows = chunk_rows(n)
    mass = np.empty(rows)
    inside = np.empty(rows)
    for s in range(t):
        chunk = chunks[s]
        if chunk < 0:  # drawn with an earlier uniform's chunk
            continue
        start = chunk * rows
        size = min(n, start + rows) - start
        for i in range(size):
            mass[i] = weights[start + i] * closest_sq[start + i]
        _cumulative(mass, 0, size, inside)
        before = cumulative[chunk - 1] if chunk else 0.0
        for r in range(s, t):
            if chunks[r] == chunk:
                picked[r] = start + min(_first_above(inside, size, targets[r] - before),
                                        size - 1)
                chunks[r] = -1


@njit(cache=True)
def _copy_row(source, i, target, j):
    """``target[j] = source[i]`` (a loop: an array assignment compiles a
    shape check and its message, a second of a first run)."""
    for f in range(source.shape[1]):
        target[j, f] = source[i, f]


@njit(cache=True, fastmath=FASTMATH)
def _pairwise_sq(A, B, out):
    """``out[i, j] = ||A[i] - B[j]||^2``, differences in float64."""
    for i in range(A.shape[0]):
        for j in range(B.shape[0]):
            s = 0.0
            for f in range(A.shape[1]):
                diff = np.float64(A[i, f]) - np.float64(B[j, f])
                s += diff * diff
            out[i, j] = s


@njit(cache=True)
def greedy_seeding(X, weights, first, uniforms, t, centers, center_rows, closest_sq,
                   closest_id, cand_dist, chunk_potential):
    """Greedy k-means++ from row ``first``: each next centre is the one of t
    rows drawn (uniforms ``(k - 1) t``) that lowers the potential most.
    Fills ``centers`` (k, d) and ``center_rows``; leaves every row's closest
    centre and the chunk potentials for the local search."""
    k = centers.shape[0]
    n_chunks = chunk_potential.shape[0]
    _copy_row(X, first, centers, 0)
    center_rows[0] = first
    to_first = np.empty((1, X.shape[0]))
    candidate_gains_dense(X, weights, centers[:1], np.zeros((1, 1)), closest_sq, closest_id,
                          to_first, np.empty((n_chunks, 1)))
    # np.int64(...): a bare constant would make numba compile a second
    # version of the parallel kernel for its literal value (seconds each).
    keep_candidate(to_first[0], np.int64(0), weights, closest_sq, closest_id, chunk_potential)
    picked = np.empty(t, dtype=np.int64)
    candidates = np.empty((t, X.shape[1]), dtype=X.dtype)
    gains = np.empty((n_chunks, t))
    best_total = 0.0
    for c in range(1, k):
        sample_rows(uniforms[(c - 1) * t:c * t], weights, closest_sq, chunk_potential, picked)
        for j in range(t):
            _copy_row(X, picked[j], candidates, j)
        to_chosen = np.empty((t, c))
        _pairwise_sq(candidates, centers[:c], to_chosen)
        candidate_gains_dense(X, weights, candidates, to_chosen, closest_sq, closest_id,
                              cand_dist, gains)
        best = 0
        for j in range(t):
            total = gains[0, j]
            for chunk in range(1, n_chunks):  # chunk order, as the Python loop sums them
                total += gains[chunk, j]
            if j == 0 or total > best_total:  # the first of equal gains, as np.argmax
                best, best_total = j, total
        _copy_row(candidates, best, centers, c)
        center_rows[c] = picked[best]
        keep_candidate(cand_dist[best], c, weights, closest_sq, closest_id, chunk_potential)


@njit(cache=True)
def _center_distances(centers, dist, neighbour):
    """Distances between centres (inf on the diagonal) and each one's nearest
    other centre, ties to the lower index."""
    _pairwise_sq(centers, centers, dist)
    for a in range(centers.shape[0]):
        for b in range(centers.shape[0]):
            dist[a, b] = np.inf if a == b else np.sqrt(dist[a, b])
        neighbour[a] = np.argmin(dist[a])


@njit(cache=True)
def _replace_center(centers, q, dist, neighbour):
    """Update :func:`_center_distances`'s output after centre ``q`` moved
    (``init._replace_center``: O(k) a swap)."""
    k = centers.shape[0]
    row = np.empty((1, k))
    _pairwise_sq(centers[q:q + 1], centers, row)
    again = np.zeros(k, dtype=np.bool_)
    for b in range(k):
        again[b] = neighbour[b] == q
    for b in range(k):
        dist[q, b] = dist[b, q] = np.inf if b == q else np.sqrt(row[0, b])
    for b in range(k):
        nearest = dist[b, neighbour[b]]
        if dist[b, q] < nearest or (dist[b, q] == nearest and q < neighbour[b]):
            neighbour[b] = q
    again[q] = True
    for b in range(k):
        if again[b]:
            neighbour[b] = np.argmin(dist[b])


@njit(cache=True)
def _squared_norms(rows, out):
    for j in range(rows.shape[0]):
        s = 0.0
        for f in range(rows.shape[1]):
            s += np.float64(rows[j, f]) * np.float64(rows[j, f])
        out[j] = s


@njit(cache=True)
def _sum_groups(group_base, out):
    """``out = group_base.sum(axis=0)``, adding the groups in order."""
    for c in range(out.shape[0]):
        out[c] = group_base[0, c]
        for g in range(1, group_base.shape[0]):
            out[c] += group_base[g, c]


@njit(cache=True)
def local_search(X, weights, uniforms, n_steps, t, n_groups, centers, center_rows,
                 closest_sq, closest_id, chunk_potential):
    """LocalSearch++ as ``init._local_search`` runs it: ``n_steps`` times
    draw t rows (uniforms ``n_steps t``; those of steps after the potential
    reaches zero are left unused), price every (row, centre) swap, make the
    best one if it lowers the potential.  Returns the number of steps run."""
    n, k = X.shape[0], centers.shape[0]
    center_dist = np.empty((k, k))
    neighbour = np.empty(k, dtype=np.int32)
    _center_distances(centers, center_dist, neighbour)
    center_sq = np.empty(k)
    _squared_norms(centers, center_sq)
    second_sq = np.empty(n)
    second_id = np.empty(n, dtype=np.int32)
    group_base = np.empty((n_groups, k))
    update_rows(X, weights, centers, center_sq, np.int64(-1), np.zeros(k), center_dist, neighbour,
                closest_sq, closest_id, second_sq, second_id, chunk_potential, group_base)
    base = np.empty(k)  # group_base summed in group order; changes only with a swap
    _sum_groups(group_base, base)
    group_gain = np.empty((n_groups, t))
    group_delta = np.empty((n_groups, t, k))
    rows = np.empty(t, dtype=np.int64)
    points = np.empty((t, X.shape[1]), dtype=X.dtype)
    points_sq = np.empty(t)
    point_center_dist = np.empty((t, k))
    for step in range(n_steps):
        potential = 0.0
        for c in range(chunk_potential.shape[0]):
            potential += chunk_potential[c]
        if potential == 0.0:
            return step
        sample_rows(uniforms[step * t:(step + 1) * t], weights, closest_sq, chunk_potential,
                    rows)
        for j in range(t):
            _copy_row(X, rows[j], points, j)
        _squared_norms(points, points_sq)
        _pairwise_sq(points, centers, point_center_dist)
        for j in range(t):
            for c in range(k):
                point_center_dist[j, c] = np.sqrt(point_center_dist[j, c])
        swap_gains(X, weights, points, points_sq, point_center_dist, closest_sq, closest_id,
                   second_sq, group_gain, group_delta)
        # Sums in group order, (gain + base) + delta, the first least wins:
        # as the Python loop's NumPy expression and argmin.
        best, q, least = np.int64(0), np.int64(0), np.inf
        for j in range(t):
            gain = group_gain[0, j]
            for g in range(1, n_groups):
                gain += group_gain[g, j]
            for c in range(k):
                delta = group_delta[0, j, c]
                for g in range(1, n_groups):
                    delta += group_delta[g, j, c]
                change = gain + base[c] + delta
                if change < least:
                    best, q, least = j, c, change
        if not least < 0.0:
            continue
        _copy_row(points, best, centers, q)
        center_rows[q] = rows[best]
        _replace_center(centers, q, center_dist, neighbour)
        center_sq[q] = points_sq[best]
        update_rows(X, weights, centers, center_sq, q, point_center_dist[best], center_dist,
                    neighbour, closest_sq, closest_id, second_sq, second_id, chunk_potential,
                    group_base)
        _sum_groups(group_base, base)
    return n_steps
