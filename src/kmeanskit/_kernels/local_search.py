"""Local-search kernels: swap one seed for a sampled row when that lowers the
potential (LocalSearch++, Lattanzi & Sohler, ICML 2019).

Every row keeps its closest centre ``a`` and squared distance ``d1`` (the
k-means++ bookkeeping) and its second closest ``b``, ``d2``.  Swapping centre
``q`` for a point ``p`` changes the potential by

    sum over rows of min(d1, dp) - d1        (p may bring a row closer)
  + sum over the rows of q of min(d2, dp) - min(d1, dp)   (q's rows move on)

where ``dp`` is the squared distance to ``p``.  Rows with ``dp >= d2`` add
nothing to the first sum and exactly ``d2 - d1`` to the second, so with
``base[q]``, the sum of ``w (d2 - d1)`` over q's rows, one pass over the
rows that ``p`` comes within ``d2`` of prices every possible swap at once.
Such rows are found without reading the others: ``||x - p|| >=
||p - c_a|| - ||x - c_a||`` (triangle inequality), so a row with
``(||p - c_a|| - sqrt(d1))^2 >= d2`` is skipped after an O(1) test.

Chunks of ``chunk_rows(n)`` rows, as in the k-means++ kernels (the
caller samples from the same per-chunk potentials), in a fixed number of
consecutive groups; per-group partial sums are reduced in group order by the
caller, so results do not depend on the number of threads.

X is a dense (n, d) array, or a CSR matrix given as the tuple ``(data,
indices, indptr, x_sq)`` with the rows' squared norms: every kernel compiles
for either.  Dense distances are exact differences in float64; sparse ones
use ``||x||^2 + ||p||^2 - 2 x.p`` (clamped at 0) over the stored values, so
the caller passes each point's squared norm along.  The compiled loops
(``seeding_loop``) may also pass the (n, n) table of the rows' squared
distances, with the points as row ids.
"""

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from . import FASTMATH
from .seeding import chunk_rows


def _sq_to(X, row, point, point_sq):
    """Squared distance from row ``row`` of X to ``point`` (d,), whose squared
    norm is ``point_sq``: dense X or a CSR tuple (see the module docstring).

    With the table of squared distances as X (``seeding.distance_table``)
    the point is held as its row id (an integer array of one element).

    This plain version states the formula (and serves tests); compiled
    kernels get the overload below, specialised to X's form."""
    if np.issubdtype(np.asarray(point).dtype, np.integer):
        return float(X[point[0], row])
    if isinstance(X, tuple):
        data, indices, indptr, x_sq = X
        stored = slice(indptr[row], indptr[row + 1])
        dot = float(np.dot(data[stored], point[indices[stored]]))
        return max(float(x_sq[row]) + point_sq - 2.0 * dot, 0.0)
    diff = X[row] - point
    return float(np.dot(diff, diff))


@overload(_sq_to, jit_options={"fastmath": FASTMATH})
def _sq_to_for(X, row, point, point_sq):
    if isinstance(point.dtype, types.Integer):
        def looked_up(X, row, point, point_sq):
            return X[point[0], row]
        return looked_up

    if isinstance(X, types.Array):
        def dense(X, row, point, point_sq):
            s = 0.0
            for f in range(X.shape[1]):
                diff = X[row, f] - point[f]
                s += diff * diff
            return s
        return dense

    def csr(X, row, point, point_sq):
        data, indices, indptr, x_sq = X
        dot = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            dot += data[p] * point[indices[p]]
        return max(x_sq[row] + point_sq - 2.0 * dot, 0.0)
    return csr


def _sq_from(X, row, point, point_sq):
    """:func:`_sq_to` for one row against many points: with the table, read
    along the row's own table row (the same value: the table is symmetric),
    which stays in cache, rather than one table row per point."""
    if np.issubdtype(np.asarray(point).dtype, np.integer):
        return float(X[row, point[0]])
    return _sq_to(X, row, point, point_sq)


@overload(_sq_from)
def _sq_from_for(X, row, point, point_sq):
    if isinstance(point.dtype, types.Integer):
        return lambda X, row, point, point_sq: X[row, point[0]]
    return lambda X, row, point, point_sq: _sq_to(X, row, point, point_sq)


@njit(cache=True, fastmath=FASTMATH)
def _nearest_two(X, row, centers, center_sq, center_dist, neighbour, ref, ref_sq):
    """Closest and second-closest centre of a row, given its squared distance
    ``ref_sq`` to one centre ``ref``: (a, d1, b, d2).

    Starts from ``ref`` and ``ref``'s nearest centre, so that the bound is
    tight early, then skips every centre ``j`` that cannot come within the
    second-best distance: ``||x - c_j|| >= ||c_ref - c_j|| - ||x - c_ref||``.
    With one centre, (ref, ref_sq, ref, inf)."""
    a, d1, b, d2 = ref, ref_sq, ref, np.inf
    other = neighbour[ref]
    if other != ref:
        sq = _sq_from(X, row, centers[other], center_sq[other])
        if sq < d1:
            a, d1, b, d2 = other, sq, ref, ref_sq
        else:
            b, d2 = other, sq
    r_ref = np.sqrt(ref_sq)
    for j in range(centers.shape[0]):
        if j == ref or j == other:
            continue
        bound = center_dist[ref, j] - r_ref
        if bound > 0.0 and bound * bound >= d2:
            continue
        sq = _sq_from(X, row, centers[j], center_sq[j])
        if sq < d1:
            a, d1, b, d2 = j, sq, a, d1
        elif sq < d2:
            b, d2 = j, sq
    return a, d1, b, d2


@njit(cache=True)
def _group_chunks(g, n_groups, n):
    """First and last chunk of row group ``g`` when the chunks of n rows are
    split into ``n_groups`` consecutive groups (the same split on any number
    of threads)."""
    size = chunk_rows(n)
    n_chunks = (n + size - 1) // size
    per_group = (n_chunks + n_groups - 1) // n_groups
    return min(g * per_group, n_chunks), min((g + 1) * per_group, n_chunks)


@njit(cache=True)
def _chunk_totals(start, stop, weights, closest_sq, closest_id, second_sq, base):
    """Potential of rows start:stop; adds each row's ``w (d2 - d1)`` to
    ``base`` (k,)."""
    potential = 0.0
    for i in range(start, stop):
        w = weights[i]
        potential += w * closest_sq[i]
        if second_sq[i] < np.inf:
            base[closest_id[i]] += w * (second_sq[i] - closest_sq[i])
    return potential


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def swap_gains(X, weights, points, points_sq, point_center_dist, closest_sq, closest_id,
               second_sq, group_gain, group_delta):
    """Price adding each of the t candidate ``points`` (t, d): per row group,
    the change of ``sum min(d1, dp)`` (``group_gain`` (n_groups, t), <= 0)
    and, per centre, the change of its rows' cost of moving on relative to
    ``base`` (``group_delta`` (n_groups, t, k)).

    ``point_center_dist`` (t, k) are the distances from the candidates to the
    centres.  Swapping centre q for candidate j changes the potential by
    ``sum(group_gain[:, j]) + base[q] + sum(group_delta[:, j, q])``.  A row
    is read once, when the bound lets some candidate within its second.
    Partial sums are kept per group of chunks, not per chunk: t k numbers
    each, which at millions of rows and thousands of centres would otherwise
    outgrow the rows' own state."""
    n = closest_sq.shape[0]
    t = points.shape[0]
    n_groups = group_gain.shape[0]
    for g in prange(n_groups):
        gain, delta = _zeroed(group_gain, group_delta, g)
        first, last = _group_chunks(g, n_groups, n)
        size = chunk_rows(n)
        for i in range(first * size, min(n, last * size)):
            d1, d2, a = closest_sq[i], second_sq[i], closest_id[i]
            r1 = np.sqrt(d1)
            for j in range(t):
                bound = point_center_dist[j, a] - r1
                if bound > 0.0 and bound * bound >= d2:
                    continue
                _price_pair(_sq_to(X, i, points[j], points_sq[j]), d1, d2, weights[i], j, a,
                            gain, delta)


@njit(cache=True)
def _zeroed(group_gain, group_delta, g):
    """Row group ``g``'s swap prices (gains (t,) and deltas (t, k)), zeroed."""
    gain, delta = group_gain[g], group_delta[g]
    gain[:] = 0.0
    delta[:] = 0.0
    return gain, delta


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _price_pair(dp, d1, d2, w, j, a, gain, delta):
    """Add a row at squared distance ``dp`` from point ``j`` (closest centre
    ``a`` at ``d1``, second at ``d2``) to the swap prices."""
    if dp < d2:
        near = min(d1, dp)
        gain[j] += w * (near - d1)
        delta[j, a] += w * ((dp - near) - (d2 - d1))


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def swap_gains_table(table, weights, point_rows, closest_sq, closest_id, second_sq, group_gain,
                     group_delta):
    """:func:`swap_gains` for a set whose squared distances are tabled
    (``seeding.distance_table``): point ``j`` is row ``point_rows[j, 0]``.

    Unpruned, a point at a time along its table row: a lookup costs what
    the bound would, and each sum takes the same rows in the same order."""
    n = closest_sq.shape[0]
    n_groups = group_gain.shape[0]
    size = chunk_rows(n)
    for g in prange(n_groups):
        gain, delta = _zeroed(group_gain, group_delta, g)
        first, last = _group_chunks(g, n_groups, n)
        for j in range(point_rows.shape[0]):
            to_point = table[point_rows[j, 0]]
            for i in range(first * size, min(n, last * size)):
                _price_pair(to_point[i], closest_sq[i], second_sq[i], weights[i], j,
                            closest_id[i], gain, delta)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def update_rows(X, weights, centers, center_sq, q, point_center_dist, center_dist, neighbour,
                closest_sq, closest_id, second_sq, second_id, chunk_potential, group_base):
    """Update every row after centre ``q`` became ``centers[q]``, or with
    ``q = -1`` find every row's second-closest centre given its closest; then
    each chunk's potential and each row group's ``base`` (n_groups, k).

    ``point_center_dist`` are the new centre's distances to the centres
    before the swap; ``center_dist``/``neighbour`` describe the centres after
    it.  Rows whose closest was q search again from their second; rows whose
    second was q get their second again; the rest only compare with the new
    centre (when the bound lets it come within their second).  (One kernel
    for both uses: each parallel kernel costs a second of compilation.)"""
    n = closest_sq.shape[0]
    n_groups = group_base.shape[0]
    point, point_sq = centers[max(q, 0)], center_sq[max(q, 0)]
    for g in prange(n_groups):
        base = group_base[g]
        base[:] = 0.0
        first, last = _group_chunks(g, n_groups, n)
        size = chunk_rows(n)
        for c in range(first, last):
            start = c * size
            stop = min(n, start + size)
            for i in range(start, stop):
                _update_row(X, i, centers, center_sq, q, point, point_sq, point_center_dist,
                            center_dist, neighbour, closest_sq, closest_id, second_sq,
                            second_id)
            chunk_potential[c] = _chunk_totals(start, stop, weights, closest_sq, closest_id,
                                               second_sq, base)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _update_row(X, i, centers, center_sq, q, point, point_sq, point_center_dist, center_dist,
                neighbour, closest_sq, closest_id, second_sq, second_id):
    """One row of :func:`update_rows`."""
    a, d1, d2 = closest_id[i], closest_sq[i], second_sq[i]
    if q < 0:  # the closest stays the closest; only the second is new
        _, _, second_id[i], second_sq[i] = _nearest_two(
            X, i, centers, center_sq, center_dist, neighbour, a, d1)
    elif a == q:  # its second, b != q, is still a centre at a known distance
        closest_id[i], closest_sq[i], second_id[i], second_sq[i] = _nearest_two(
            X, i, centers, center_sq, center_dist, neighbour, second_id[i], d2)
    else:
        bound = point_center_dist[a] - np.sqrt(d1)
        dp = np.inf
        if not (bound > 0.0 and bound * bound >= d2):
            dp = _sq_to(X, i, point, point_sq)
        if dp < d1:
            second_id[i], second_sq[i] = a, d1
            closest_id[i], closest_sq[i] = q, dp
        elif dp < d2:
            second_id[i], second_sq[i] = q, dp
        elif second_id[i] == q:
            _, _, second_id[i], second_sq[i] = _nearest_two(
                X, i, centers, center_sq, center_dist, neighbour, a, d1)
