"""The k-means++ and LocalSearch++ loops in compiled code, for dense rows in
memory.

``init._kmeans_plusplus`` and ``init._local_search`` drive the step kernels
(:mod:`.seeding`, :mod:`.local_search`) from Python, a few NumPy and SciPy
calls around each step.  Where a step's own work is small (k-means||
reclusters some 3,000 weighted candidates into 512 seeds in ~640 steps) those
calls cost more than the kernels.  Here the same loops run in one call and
call the same kernels; the draws are the uniforms the Python loops would
draw, in their order, so both give the same seeds (a test checks it).

The only arithmetic not shared with the Python loops is that of the
distances between candidates and centres (SciPy's ``cdist`` there): they
serve only the triangle-inequality tests that decide which rows a step
reads, and the centres' nearest neighbours, whose order breaks ties.
"""

import numpy as np
from numba import njit

from . import FASTMATH
from .local_search import swap_gains, update_rows
from .seeding import SEEDING_CHUNK_ROWS, candidate_gains_dense, keep_candidate


@njit(cache=True)
def sample_rows(uniforms, weights, closest_sq, chunk_potential, picked):
    """Rows drawn in proportion to ``w d^2``, one per uniform: the chunk from
    the cumulative chunk potentials, then the row inside it (the same
    arithmetic as ``init._Seeding.sample``, one cumulative sum per chunk
    drawn)."""
    cumulative = np.cumsum(chunk_potential)
    n = weights.shape[0]
    targets = uniforms * cumulative[-1]
    chunks = np.minimum(np.searchsorted(cumulative, targets, side="right"),
                        chunk_potential.shape[0] - 1)
    for s in range(uniforms.shape[0]):
        chunk = chunks[s]
        if chunk < 0:  # drawn with an earlier uniform's chunk
            continue
        start = chunk * SEEDING_CHUNK_ROWS
        stop = min(n, start + SEEDING_CHUNK_ROWS)
        inside = np.cumsum(weights[start:stop] * closest_sq[start:stop])
        before = cumulative[chunk - 1] if chunk else 0.0
        for r in range(s, uniforms.shape[0]):
            if chunks[r] == chunk:
                picked[r] = start + min(np.searchsorted(inside, targets[r] - before,
                                                        side="right"), stop - start - 1)
                chunks[r] = -1


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
    centers[0] = X[first]
    center_rows[0] = first
    to_first = np.empty((1, X.shape[0]))
    candidate_gains_dense(X, weights, centers[:1], np.zeros((1, 1)), closest_sq, closest_id,
                          to_first, np.empty((n_chunks, 1)))
    keep_candidate(to_first[0], 0, weights, closest_sq, closest_id, chunk_potential)
    picked = np.empty(t, dtype=np.int64)
    candidates = np.empty((t, X.shape[1]), dtype=X.dtype)
    gains = np.empty((n_chunks, t))
    total = np.empty(t)
    for c in range(1, k):
        sample_rows(uniforms[(c - 1) * t:c * t], weights, closest_sq, chunk_potential, picked)
        for j in range(t):
            candidates[j] = X[picked[j]]
        to_chosen = np.empty((t, c))
        _pairwise_sq(candidates, centers[:c], to_chosen)
        candidate_gains_dense(X, weights, candidates, to_chosen, closest_sq, closest_id,
                              cand_dist, gains)
        total[:] = gains[0]
        for chunk in range(1, n_chunks):  # chunk order, as the Python loop sums them
            total += gains[chunk]
        best = np.argmax(total)
        centers[c] = candidates[best]
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
    again = neighbour == q
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
    update_rows(X, weights, centers, center_sq, -1, np.zeros(k), center_dist, neighbour,
                closest_sq, closest_id, second_sq, second_id, chunk_potential, group_base)
    group_gain = np.empty((n_groups, t))
    group_delta = np.empty((n_groups, t, k))
    rows = np.empty(t, dtype=np.int64)
    points = np.empty((t, X.shape[1]), dtype=X.dtype)
    points_sq = np.empty(t)
    point_center_dist = np.empty((t, k))
    for step in range(n_steps):
        if chunk_potential.sum() == 0.0:
            return step
        sample_rows(uniforms[step * t:(step + 1) * t], weights, closest_sq, chunk_potential,
                    rows)
        for j in range(t):
            points[j] = X[rows[j]]
        _squared_norms(points, points_sq)
        _pairwise_sq(points, centers, point_center_dist)
        point_center_dist[:] = np.sqrt(point_center_dist)
        swap_gains(X, weights, points, points_sq, point_center_dist, closest_sq, closest_id,
                   second_sq, group_gain, group_delta)
        # Sums in group order, (gain + base) + delta, the first least wins:
        # as the Python loop's NumPy expression and argmin.
        gain, base, delta = group_gain[0].copy(), group_base[0].copy(), group_delta[0].copy()
        for g in range(1, n_groups):
            gain += group_gain[g]
            base += group_base[g]
            delta += group_delta[g]
        best, q, least = 0, 0, np.inf
        for j in range(t):
            for c in range(k):
                change = gain[j] + base[c] + delta[j, c]
                if change < least:
                    best, q, least = j, c, change
        if not least < 0.0:
            continue
        centers[q] = points[best]
        center_rows[q] = rows[best]
        _replace_center(centers, q, center_dist, neighbour)
        center_sq[q] = points_sq[best]
        update_rows(X, weights, centers, center_sq, q, point_center_dist[best], center_dist,
                    neighbour, closest_sq, closest_id, second_sq, second_id, chunk_potential,
                    group_base)
    return n_steps
