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

Both loops also run on a set small enough for the (n, n) table of its
squared distances (``seeding.distance_table``): X is then that table, and
every point (centres, drawn rows) is held as its row id, an integer array of
one column, so that each distance is one lookup instead of d differences.
The table holds what the kernels would compute, so the seeds are the same.
Small dispatchers pick the form by type (``_by_form`` here, ``_sq_to`` and
``_sq_from`` in :mod:`.local_search`); the squared norms the loops keep
serve CSR rows only and are meaningless for ids.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from . import FASTMATH
from .local_search import swap_gains, swap_gains_table, update_rows
from .seeding import candidate_gains_dense, candidate_gains_table, chunk_rows, keep_candidate


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


def _by_form(on_rows, on_ids, position: int):
    """A function for the loops below: ``on_ids`` where argument
    ``position`` holds points as row ids (integers: the table form), else
    ``on_rows``; both compiled, with the same arguments.  Compiled code
    picks one by type, once."""
    def function(*args):
        form = on_ids if np.issubdtype(args[position].dtype, np.integer) else on_rows
        return form(*args)

    @overload(function)
    def typed(*args):
        form = on_ids if isinstance(args[position].dtype, types.Integer) else on_rows
        return lambda *args: form(*args)
    return function


@njit(cache=True)
def _copy_point(source, i, target, j):
    """``target[j] = source[i]`` (a loop: an array assignment compiles a
    shape check and its message, a second of a first run)."""
    for f in range(source.shape[1]):
        target[j, f] = source[i, f]


@njit(cache=True)
def _row_id(X, i, target, j):
    target[j, 0] = i


# Make ``target[j]`` the point of row ``i`` of X: the row, or its id.
_copy_row = _by_form(_copy_point, _row_id, 2)


@njit(cache=True, fastmath=FASTMATH)
def _differences_sq(X, A, B, out):
    for i in range(A.shape[0]):
        for j in range(B.shape[0]):
            s = 0.0
            for f in range(A.shape[1]):
                diff = np.float64(A[i, f]) - np.float64(B[j, f])
                s += diff * diff
            out[i, j] = s


@njit(cache=True)
def _looked_up_sq(X, A, B, out):
    for i in range(A.shape[0]):
        for j in range(B.shape[0]):
            out[i, j] = X[A[i, 0], B[j, 0]]


# ``out[i, j]``: the squared distance between points ``A[i]`` and ``B[j]``:
# differences in float64, or looked up in the table.
_pairwise_sq = _by_form(_differences_sq, _looked_up_sq, 1)


@njit(cache=True)
def _pruned_gains(X, weights, candidates, centers, closest_sq, closest_id, cand_dist, gains):
    to_chosen = np.empty((candidates.shape[0], centers.shape[0]))
    _differences_sq(X, candidates, centers, to_chosen)
    candidate_gains_dense(X, weights, candidates, to_chosen, closest_sq, closest_id, cand_dist,
                          gains)


@njit(cache=True)
def _looked_up_gains(X, weights, candidates, centers, closest_sq, closest_id, cand_dist, gains):
    candidate_gains_table(X, weights, candidates, closest_sq, gains)


# Each candidate's gain over the rows (per chunk): pruned by the candidates'
# distances to the centres, their distances to the rows kept in
# ``cand_dist``; or looked up (none kept: the table's rows are the distances).
_step_gains = _by_form(_pruned_gains, _looked_up_gains, 2)


@njit(cache=True)
def _pruned_prices(X, weights, points, centers, closest_sq, closest_id, second_sq, group_gain,
                   group_delta, point_center_dist):
    _differences_sq(X, points, centers, point_center_dist)
    for j in range(points.shape[0]):
        for c in range(centers.shape[0]):
            point_center_dist[j, c] = np.sqrt(point_center_dist[j, c])
    points_sq = np.empty(points.shape[0])
    _squared_norms(points, points_sq)
    swap_gains(X, weights, points, points_sq, point_center_dist, closest_sq, closest_id,
               second_sq, group_gain, group_delta)


@njit(cache=True)
def _looked_up_prices(X, weights, points, centers, closest_sq, closest_id, second_sq, group_gain,
                      group_delta, point_center_dist):
    point_center_dist[:] = 0.0
    swap_gains_table(X, weights, points, closest_sq, closest_id, second_sq, group_gain,
                     group_delta)


# Price every (point, centre) swap (``local_search.swap_gains``), pruned by
# the points' distances to the centres, left in ``point_center_dist`` for
# the update; or looked up, with zeros there, which prune nothing.
_swap_prices = _by_form(_pruned_prices, _looked_up_prices, 2)


@njit(cache=True)
def _computed_to_first(X, weights, first, closest_sq, closest_id):
    # The gains kernel's distances (unpruned: no centre yet).
    n = X.shape[0]
    to_first = np.empty((1, n))
    candidate_gains_dense(X, weights, first, np.zeros((1, 1)), closest_sq, closest_id, to_first,
                          np.empty(((n + chunk_rows(n) - 1) // chunk_rows(n), 1)))
    return to_first[0]


@njit(cache=True)
def _looked_up_to_first(X, weights, first, closest_sq, closest_id):
    return X[first[0, 0]]


# The squared distances from the first centre (``first``, (1, d) or (1, 1))
# to every row.
_distances_to_first = _by_form(_computed_to_first, _looked_up_to_first, 2)


@njit(cache=True)
def _kept_row(X, candidates, cand_dist, best):
    return cand_dist[best]


@njit(cache=True)
def _table_row(X, candidates, cand_dist, best):
    return X[candidates[best, 0]]


# The squared distances from candidate ``best`` to every row, as the gains
# kernel kept them or as the table holds them.
_kept_distances = _by_form(_kept_row, _table_row, 1)


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
    # np.int64(...): a bare constant would make numba compile a second
    # version of the parallel kernel for its literal value (seconds each).
    keep_candidate(_distances_to_first(X, weights, centers[:1], closest_sq, closest_id),
                   np.int64(0), weights, closest_sq, closest_id, chunk_potential)
    picked = np.empty(t, dtype=np.int64)
    candidates = np.empty((t, centers.shape[1]), dtype=centers.dtype)
    gains = np.empty((n_chunks, t))
    best_total = 0.0
    for c in range(1, k):
        sample_rows(uniforms[(c - 1) * t:c * t], weights, closest_sq, chunk_potential, picked)
        for j in range(t):
            _copy_row(X, picked[j], candidates, j)
        _step_gains(X, weights, candidates, centers[:c], closest_sq, closest_id, cand_dist,
                    gains)
        best = 0
        for j in range(t):
            total = gains[0, j]
            for chunk in range(1, n_chunks):  # chunk order, as the Python loop sums them
                total += gains[chunk, j]
            if j == 0 or total > best_total:  # the first of equal gains, as np.argmax
                best, best_total = j, total
        _copy_point(candidates, best, centers, c)
        center_rows[c] = picked[best]
        keep_candidate(_kept_distances(X, candidates, cand_dist, best), c, weights,
                       closest_sq, closest_id, chunk_potential)


@njit(cache=True)
def _center_distances(X, centers, dist, neighbour):
    """Distances between centres (inf on the diagonal) and each one's nearest
    other centre, ties to the lower index."""
    _pairwise_sq(X, centers, centers, dist)
    for a in range(centers.shape[0]):
        for b in range(centers.shape[0]):
            dist[a, b] = np.inf if a == b else np.sqrt(dist[a, b])
        neighbour[a] = np.argmin(dist[a])


@njit(cache=True)
def _replace_center(X, centers, q, dist, neighbour):
    """Update :func:`_center_distances`'s output after centre ``q`` moved
    (``init._replace_center``: O(k) a swap)."""
    k = centers.shape[0]
    row = np.empty((1, k))
    _pairwise_sq(X, centers[q:q + 1], centers, row)
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
    _center_distances(X, centers, center_dist, neighbour)
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
    points = np.empty((t, centers.shape[1]), dtype=centers.dtype)
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
        _swap_prices(X, weights, points, centers, closest_sq, closest_id, second_sq, group_gain,
                     group_delta, point_center_dist)
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
        _copy_point(points, best, centers, q)
        center_rows[q] = rows[best]
        _replace_center(X, centers, q, center_dist, neighbour)
        _squared_norms(centers[q:q + 1], center_sq[q:q + 1])
        update_rows(X, weights, centers, center_sq, q, point_center_dist[best], center_dist,
                    neighbour, closest_sq, closest_id, second_sq, second_id, chunk_potential,
                    group_base)
        _sum_groups(group_base, base)
    return n_steps
