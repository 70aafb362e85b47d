"""k-means++ seeding kernels, pruned by the triangle inequality.

Every point keeps the squared distance to its closest chosen centre
(``closest_sq``) and that centre's index (``closest_id``).  A candidate ``c``
cannot bring point ``x`` closer when ||c - a(x)|| >= 2 ||x - a(x)||, where
a(x) is the current closest centre, so the distance is skipped after an O(1)
test.  Late in the seeding most pairs are skipped, which is where the plain
algorithm spends its time.

A step reads X once: ``candidate_gains_*`` computes, for the surviving pairs,
each candidate's distances (kept in ``cand_dist``) and the potential it would
remove; ``keep_candidate`` then applies the chosen one from ``cand_dist``
without touching X, and refreshes the per-chunk potentials that the caller
samples from.  Where keeping t distances per row would take too much memory,
``keep_candidate_direct`` reads the surviving rows again instead.

Dense distances are exact differences, row by row and only for the rows that
survive: with only t ~ 2 + ln k candidates a BLAS product is mostly
overhead, and a step is bound by reading the surviving rows.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH
from .assign import squared_norms

# Rows per chunk: the unit of the parallel loop, of the per-chunk gains and
# potentials (reduced in chunk order) and of the two-level sampling.  Fewer
# rows than SEEDING_MIN_CHUNKS chunks of that size are cut into that many
# smaller chunks (of 64-row multiples, at least SEEDING_MIN_CHUNK_ROWS), so
# that small sets still spread over the threads: k-means|| reclusters about
# 2,000 candidates at 512 clusters, which one chunk kept on one thread.
SEEDING_CHUNK_ROWS = 2048
SEEDING_MIN_CHUNKS = 4
SEEDING_MIN_CHUNK_ROWS = 256


@njit(cache=True)
def chunk_rows(n):
    """Rows per chunk for a set of n rows (a function of n alone, so the
    chunks and their reductions are the same on any number of threads)."""
    rows = -(-n // SEEDING_MIN_CHUNKS)
    rows = -(-rows // 64) * 64
    return min(SEEDING_CHUNK_ROWS, max(SEEDING_MIN_CHUNK_ROWS, rows))


@njit(cache=True, fastmath=FASTMATH)
def _squared_norms64(rows):
    out = np.empty(rows.shape[0], dtype=np.float64)
    for j in range(rows.shape[0]):
        s = 0.0
        for f in range(rows.shape[1]):
            s += rows[j, f] * rows[j, f]
        out[j] = s
    return out


@njit(cache=True, fastmath=FASTMATH)
def _survivors(start, m, cand_center_sq, closest_sq, closest_id, survives):
    """Mark the (candidate, row) pairs that pass the pruning test; count them."""
    t = cand_center_sq.shape[0]
    count = 0
    for j in range(t):
        for i in range(m):
            ok = cand_center_sq[j, closest_id[start + i]] < 4.0 * closest_sq[start + i]
            survives[j, i] = ok
            count += ok
    return count


@njit(cache=True, fastmath=FASTMATH)
def _gains_from_distances(start, m, weights, closest_sq, survives, chunk_dist, gains_row):
    """Record each candidate's potential decrease over the rows of a chunk
    (``chunk_dist`` is (t, m)); pruned pairs get an infinite distance."""
    t = chunk_dist.shape[0]
    for j in range(t):
        gain = 0.0
        for i in range(m):
            row = start + i
            if not survives[j, i]:
                chunk_dist[j, i] = np.inf
                continue
            dist = chunk_dist[j, i]
            if dist < closest_sq[row]:
                gain += weights[row] * (closest_sq[row] - dist)
        gains_row[j] = gain


@njit(cache=True, fastmath=FASTMATH)
def _row_to_candidates(X, row, candidates, out):
    """Squared distances from row ``row`` to every candidate (t, d), each a
    vectorised reduction over the features."""
    for j in range(candidates.shape[0]):
        dist = 0.0
        for f in range(X.shape[1]):
            diff = X[row, f] - candidates[j, f]
            dist += diff * diff
        out[j] = dist


# Rows of distance_table's square tiles, each mirrored while in cache (a
# tile of 64 x 64 float64 is 32 KiB).  Mirrored along the rows it writes: a
# mirror along the columns, a cache miss a write, took 10 of the 42 ms of
# a 2,022-row table on one thread.
TABLE_BLOCK_ROWS = 64


@njit(parallel=True, cache=True)
def distance_table(X, out):
    """``out[i, j] = ||X[i] - X[j]||^2`` (n, n), each pair by the arithmetic of
    :func:`_row_to_candidates` (so a lookup gives what the kernels would
    compute: the same seeds), computed once for i >= j and mirrored.

    The lower triangle goes by tiles of ``TABLE_BLOCK_ROWS`` rows, a row of
    tiles per task, tile row b with tile row n_b - 1 - b (n_b + 1 tiles,
    whatever b), so that the threads share the triangle evenly."""
    n_blocks = (X.shape[0] + TABLE_BLOCK_ROWS - 1) // TABLE_BLOCK_ROWS
    for b in prange((n_blocks + 1) // 2):
        _table_tile_row(X, out, b)
        if n_blocks - 1 - b != b:
            _table_tile_row(X, out, n_blocks - 1 - b)


@njit(cache=True)
def _table_tile_row(X, out, b):
    """Tiles (b, 0) to (b, b) of the lower triangle, each mirrored while it
    is in cache."""
    n = X.shape[0]
    size = TABLE_BLOCK_ROWS
    rows = range(b * size, min(n, (b + 1) * size))
    for i in rows:
        out[i, i] = 0.0  # as the differences give it
    for c in range(b + 1):
        start, stop = c * size, min(n, (c + 1) * size)
        for i in rows:
            if min(stop, i) > start:
                _row_to_candidates(X, i, X[start:min(stop, i)], out[i, start:min(stop, i)])
        # Mirrored along the rows it writes (the reads stay in the tile).
        for j in range(start, stop):
            for i in rows:
                if j < i:
                    out[j, i] = out[i, j]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def candidate_gains_dense(X, weights, candidates, cand_center_sq, closest_sq,
                          closest_id, cand_dist, gains):
    """Distances of the rows some candidate might bring closer, and each
    candidate's gain.

    X : (n, d) data.
    candidates : (t, d) candidate centres, in the dtype of X.
    cand_center_sq : (t, m) squared distances candidate -> chosen centres.
    cand_dist : (t, n) float64 output, squared distances (inf where pruned),
        or (t, 0) to keep none (``keep_candidate_direct`` recomputes them).
    gains : (n_chunks, t) float64 output, per-chunk potential decreases (the
        caller sums them in chunk order).

    A row is read only when the candidate nearest to its closest centre
    passes the pruning test; then its distances to all t candidates are
    computed directly (exact differences, no centring needed).
    """
    n = X.shape[0]
    t = candidates.shape[0]
    keep = cand_dist.shape[1] == n
    # For each chosen centre, its nearest candidate: one test per row then
    # tells whether any candidate survives.
    nearest = np.full(cand_center_sq.shape[1], np.inf)
    for j in range(t):
        for a in range(cand_center_sq.shape[1]):
            nearest[a] = min(nearest[a], cand_center_sq[j, a])
    size = chunk_rows(n)
    n_chunks = (n + size - 1) // size
    for c in prange(n_chunks):
        dist = np.empty(t)
        gain = np.zeros(t)
        for row in range(c * size, min(n, (c + 1) * size)):
            if nearest[closest_id[row]] >= 4.0 * closest_sq[row]:
                if keep:
                    for j in range(t):
                        cand_dist[j, row] = np.inf
                continue
            _row_to_candidates(X, row, candidates, dist)
            for j in range(t):
                if keep:
                    cand_dist[j, row] = dist[j]
                gain[j] += weights[row] * max(closest_sq[row] - dist[j], 0.0)
        gains[c, :] = gain


# Fused multiply-adds as the dense kernel's, but no reassociation: each sum
# must keep the row order.
@njit(parallel=True, cache=True, fastmath={"contract"})
def candidate_gains_table(table, weights, candidate_rows, closest_sq, gains):
    """:func:`candidate_gains_dense` for a set whose squared distances are
    tabled (:func:`distance_table`): candidate ``j`` is row
    ``candidate_rows[j, 0]``, and its distances, the table's row, are not
    kept.

    No pruning: a lookup costs what the test would.  A pair the test would
    have skipped is no closer than the row's closest, so it adds zero, and
    each gain sums the same terms in the same row order: the same gains to
    the bit.  Candidates go four at a time, their sums in registers."""
    n = table.shape[0]
    t = candidate_rows.shape[0]
    size = chunk_rows(n)
    n_chunks = (n + size - 1) // size
    for c in prange(n_chunks):
        start, stop = c * size, min(n, (c + 1) * size)
        for first in range(0, t, 4):
            # Past the last candidate, lanes repeat it and are not stored.
            r0 = table[candidate_rows[first, 0]]
            r1 = table[candidate_rows[min(first + 1, t - 1), 0]]
            r2 = table[candidate_rows[min(first + 2, t - 1), 0]]
            r3 = table[candidate_rows[min(first + 3, t - 1), 0]]
            g0 = g1 = g2 = g3 = 0.0
            for row in range(start, stop):
                w, d = weights[row], closest_sq[row]
                g0 += w * max(d - r0[row], 0.0)
                g1 += w * max(d - r1[row], 0.0)
                g2 += w * max(d - r2[row], 0.0)
                g3 += w * max(d - r3[row], 0.0)
            lanes = (g0, g1, g2, g3)
            for lane in range(min(4, t - first)):
                gains[c, first + lane] = lanes[lane]


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def candidate_gains_sparse(data, indices, indptr, x_sq, weights, candidates,
                           cand_center_sq, closest_sq, closest_id, cand_dist, gains):
    """Sparse (CSR) twin of :func:`candidate_gains_dense` (no centring; the
    squared row norms ``x_sq`` are given; distances are always kept)."""
    n = indptr.shape[0] - 1
    t = candidates.shape[0]
    cand_sq = _squared_norms64(candidates)
    size = chunk_rows(n)
    n_chunks = (n + size - 1) // size
    for c in prange(n_chunks):
        start = c * size
        m = min(size, n - start)
        survives = np.empty((t, m), dtype=np.bool_)
        chunk_dist = np.empty((t, m))
        _survivors(start, m, cand_center_sq, closest_sq, closest_id, survives)
        for j in range(t):
            for i in range(m):
                if survives[j, i]:
                    row = start + i
                    dot = 0.0
                    for p in range(indptr[row], indptr[row + 1]):
                        dot += data[p] * candidates[j, indices[p]]
                    chunk_dist[j, i] = max(x_sq[row] + cand_sq[j] - 2.0 * dot, 0.0)
        _gains_from_distances(start, m, weights, closest_sq, survives, chunk_dist, gains[c])
        cand_dist[:, start:start + m] = chunk_dist


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def keep_candidate_direct(X, candidate, nearest_center_sq, center_id, weights,
                          closest_sq, closest_id, chunk_potential):
    """:func:`keep_candidate` without kept distances: re-read the rows the
    pruning test lets through and compute their distance to the candidate
    (``candidate`` is (1, d); ``nearest_center_sq`` its squared distances to
    the chosen centres)."""
    n = closest_sq.shape[0]
    size = chunk_rows(n)
    for c in prange(chunk_potential.shape[0]):
        start = c * size
        stop = min(n, start + size)
        dist = np.empty(1)
        potential = 0.0
        for i in range(start, stop):
            if nearest_center_sq[closest_id[i]] < 4.0 * closest_sq[i]:
                _row_to_candidates(X, i, candidate, dist)
                if dist[0] < closest_sq[i]:
                    closest_sq[i] = dist[0]
                    closest_id[i] = center_id
            potential += weights[i] * closest_sq[i]
        chunk_potential[c] = potential


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def keep_candidate(cand_dist_row, center_id, weights, closest_sq, closest_id,
                   chunk_potential):
    """Make the candidate whose distances are ``cand_dist_row`` (n,) the
    chosen centre ``center_id``; refresh each chunk's potential."""
    n = closest_sq.shape[0]
    n_chunks = chunk_potential.shape[0]
    size = chunk_rows(n)
    for c in prange(n_chunks):
        start = c * size
        stop = min(n, start + size)
        potential = 0.0
        for i in range(start, stop):
            if cand_dist_row[i] < closest_sq[i]:
                closest_sq[i] = cand_dist_row[i]
                closest_id[i] = center_id
            potential += weights[i] * closest_sq[i]
        chunk_potential[c] = potential


# ---------------------------------------------------------------------------
# k-means||: a new batch of candidates against the rows' closest so far
# ---------------------------------------------------------------------------


@njit(cache=True)
def farthest_by_closest(ids, sq, out):
    """``out[a] = max(out[a], sq[i])`` over the rows ``i`` closest to ``a``."""
    for i in range(ids.shape[0]):
        if sq[i] > out[ids[i]]:
            out[ids[i]] = sq[i]


@njit(cache=True)
def keys_within(products, owner_sq, member_sq, limit_sq, first_owner, owner_bits, member_bits,
                keys):
    """The (owner, member) pairs closer than their owner's ``limit_sq``, as
    sort keys; returns how many.  ``products`` (owners x members) holds the
    dot products of the centred rows, whose squared norms are ``owner_sq``
    and ``member_sq``; it is overwritten with the squared distances (clamped
    at zero).  A key holds the owner (from ``first_owner``) in its high
    ``owner_bits`` bits, the member in its low ``member_bits`` bits, and
    between them the distance's bit pattern (a non-negative float64: ordered
    as its bits are) with as many low bits cut off, so rounded down: one sort
    of the keys orders the pairs by owner, then distance.  (Serial: a few
    hundred thousand tests between BLAS products, whose threads would
    contend.)"""
    bits = products.view(np.int64)
    value_shift = owner_bits + member_bits
    count = 0
    for a in range(products.shape[0]):
        owner = np.int64(first_owner + a) << (63 - owner_bits)
        for j in range(products.shape[1]):
            products[a, j] = max((owner_sq[a] + member_sq[j]) - 2.0 * products[a, j], 0.0)
            if products[a, j] < limit_sq[a]:
                keys[count] = owner | ((bits[a, j] >> value_shift) << member_bits) | j
                count += 1
    return count


@njit(cache=True)
def nearest_other_sq(products, row_sq, column_sq, own_column, out):
    """``out[i]``: the least squared distance (clamped at zero) from row
    ``i`` to any column but ``own_column[i]`` (itself), expanded from the
    dot products (rows x columns) and squared norms of centred rows."""
    for i in range(products.shape[0]):
        least = np.inf
        for j in range(products.shape[1]):
            if j != own_column[i]:
                least = min(least, max((row_sq[i] + column_sq[j]) - 2.0 * products[i, j], 0.0))
        out[i] = least


@njit(cache=True)
def _nearer(dist, j, best, best_j):
    """(dist, j) if candidate ``j`` at ``dist`` beats ``best_j`` at ``best``
    (closer, or as close with a lower index, as an argmin would), else
    (best, best_j)."""
    if dist < best or (dist == best and j < best_j):
        return dist, j
    return best, best_j


@njit(cache=True, fastmath=FASTMATH)
def _exact_sq(X, i, batch, j):
    """||X[i] - batch[j]||^2 from the differences in float64."""
    dist = 0.0
    for f in range(X.shape[1]):
        diff = np.float64(X[i, f]) - np.float64(batch[j, f])
        dist += diff * diff
    return dist


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def closer_in_reach(X, batch, indptr, members, reach_sq, first_id, max_tries, ids, sq,
                    deferred):
    """Give each row the nearest of the new candidates ``batch`` (ids from
    ``first_id``) where it is strictly closer than the row's closest so far.

    The candidates listed for the row's closest ``a`` (``members[indptr[a]:
    indptr[a + 1]]``, sorted by squared distance to ``a``: ``reach_sq``) are
    tried in order until one lies at least twice the row's distance from
    ``a``: by the triangle inequality that one, and every later one, cannot
    be closer than ``a``.  Distances are exact differences in float64; ties
    go to the lower candidate index, as an argmin over the batch would.

    A row with more than ``max_tries`` candidates in reach (counted from
    ``reach_sq`` alone, before X is read) is left as it is and marked in
    ``deferred``: for it the batch's whole product costs less.
    """
    n = X.shape[0]
    size = chunk_rows(n)
    n_chunks = (n + size - 1) // size
    for c in prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            a = ids[i]
            limit = 4.0 * sq[i]
            stop = indptr[a]
            # Counted no further than one past max_tries: a row far from
            # ``a`` would scan most of a long list only to be deferred.
            end = min(indptr[a + 1], indptr[a] + max_tries + 1)
            while stop < end and reach_sq[stop] < limit:
                stop += 1
            deferred[i] = stop - indptr[a] > max_tries
            if deferred[i]:
                continue
            best = np.inf
            best_j = -1
            for p in range(indptr[a], stop):
                j = members[p]
                best, best_j = _nearer(_exact_sq(X, i, batch, j), j, best, best_j)
            if best < sq[i]:
                sq[i] = best
                ids[i] = first_id + best_j


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def nearest_neighbours(products, sq_norms, first_owner, batch, listed, listed_sq, bound_sq):
    """For each owner ``a = first_owner + r`` of the rows ``r`` of
    ``products`` (its dot products with every candidate of the batch, both
    centred; ``sq_norms`` their squared norms): its ``listed.shape[1]``
    nearest other candidates (``listed[a]``, unordered) with their exact
    squared distances (differences of ``batch`` in float64), and
    ``bound_sq[a]``, a lower bound on the squared distance of every candidate
    not listed (the least expanded one, less a margin for its rounding; inf
    where none is left out)."""
    t = products.shape[1]
    n_listed = listed.shape[1]
    largest_sq = 0.0
    for j in range(t):
        largest_sq = max(largest_sq, sq_norms[j])
    for r in prange(products.shape[0]):
        owner = first_owner + r
        kept = listed[owner]
        kept_sq = listed_sq[owner]
        # The n_listed least by insertion into a list kept sorted: after the
        # first few, a candidate rarely enters it.
        count = 0
        left_out = np.inf
        for j in range(t):
            if j == owner:
                continue
            value = max((sq_norms[owner] + sq_norms[j]) - 2.0 * products[r, j], 0.0)
            if count == n_listed:
                if value >= kept_sq[count - 1]:
                    left_out = min(left_out, value)
                    continue
                left_out = min(left_out, kept_sq[count - 1])
                count -= 1
            pos = count
            while pos > 0 and kept_sq[pos - 1] > value:
                kept_sq[pos] = kept_sq[pos - 1]
                kept[pos] = kept[pos - 1]
                pos -= 1
            kept_sq[pos] = value
            kept[pos] = j
            count += 1
        for pos in range(count, n_listed):  # fewer candidates than slots
            kept[pos] = owner
        # Expanded distances err by about d * 2^-53 of the norms: 2^-40 is
        # far above that.
        bound_sq[owner] = left_out - 2.0**-40 * (sq_norms[owner] + largest_sq)
        for pos in range(n_listed):
            kept_sq[pos] = _exact_sq(batch, owner, batch, kept[pos])


# Rows ranked against the group centres by one BLAS product at a time.
GROUP_PRODUCT_ROWS = 256


@njit(cache=True, fastmath=FASTMATH)
def _nearest_member(rows, r, ranked, members, start, stop):
    """The member nearest to row ``r`` in float32 among ``members[start:
    stop]`` (never empty), whose coordinates are ``ranked[start:stop]`` (in
    group order: read in sequence), ties to the lower index.  Four members
    at a time, so that their four sums are independent chains."""
    d = rows.shape[1]
    closest = np.float32(np.inf)
    nearest = members[start]
    for p in range(start, stop, 4):
        # Past the last member, lanes repeat it (no change to the answer).
        p1, p2, p3 = min(p + 1, stop - 1), min(p + 2, stop - 1), min(p + 3, stop - 1)
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for f in range(d):
            x = rows[r, f]
            a0 = x - ranked[p, f]
            a1 = x - ranked[p1, f]
            a2 = x - ranked[p2, f]
            a3 = x - ranked[p3, f]
            s0 += a0 * a0
            s1 += a1 * a1
            s2 += a2 * a2
            s3 += a3 * a3
        # _nearer's rule, written out: through the helper the ranking ran
        # 1.4x slower.
        for dist, j in ((s0, members[p]), (s1, members[p1]), (s2, members[p2]),
                        (s3, members[p3])):
            if dist < closest or (dist == closest and j < nearest):
                closest = dist
                nearest = j
    return nearest


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def closer_in_group(X, batch, origin, ranked, centres, group_ptr, group_members, listed,
                    listed_sq, bound_sq, first_id, ids, sq, deferred):
    """Give each row the nearest of the candidates ``batch`` (ids from
    ``first_id``) where it is strictly closer than the row's closest so far,
    or mark the row in ``deferred``.

    Rows and candidates are ranked in float32 about ``origin`` (``ranked``:
    the batch so centred, in group order, as ``group_members``; ``centres``:
    the group centres so centred).  A
    row's group ``g`` is its nearest centre (one BLAS product for a block of
    rows); it ranks the group's members (``group_members[group_ptr[g]:
    group_ptr[g + 1]]``).  The first, ``c`` at squared distance ``u``
    (exact), is the nearest of the batch unless a candidate lies within
    2 sqrt(u) of ``c`` (triangle inequality); those are among ``c``'s listed
    neighbours when ``bound_sq[c] > 4 u``, and the row tries them by their
    exact distances: so a near-tie that float32 ranked wrongly is settled
    there.  Otherwise (the row's own cluster holds no candidate, so ``u`` is
    large) the row is deferred to the batch's whole product.  Exact
    distances are differences in float64; ties go to the lower candidate
    index.
    """
    n, d = X.shape
    n_groups = centres.shape[0]
    n_listed = listed.shape[1]
    centre_sq = squared_norms(centres)
    size = chunk_rows(n)
    n_chunks = (n + size - 1) // size
    for c in prange(n_chunks):
        rows = np.empty((GROUP_PRODUCT_ROWS, d), dtype=np.float32)
        scratch = np.empty(n_groups * GROUP_PRODUCT_ROWS, dtype=np.float32)
        least = np.empty(GROUP_PRODUCT_ROWS, dtype=np.float32)
        group = np.empty(GROUP_PRODUCT_ROWS, dtype=np.int64)
        stop = min(n, (c + 1) * size)
        for start in range(c * size, stop, GROUP_PRODUCT_ROWS):
            m = min(GROUP_PRODUCT_ROWS, stop - start)
            for r in range(m):
                for f in range(d):
                    rows[r, f] = X[start + r, f] - origin[f]
            # Groups laid out (centres x rows): the argmin is a compare and
            # select across rows, which the compiler vectorises.
            dots = scratch[:n_groups * m].reshape((n_groups, m))
            np.dot(centres, rows[:m].T, dots)
            least[:m] = np.inf
            group[:m] = 0
            for h in range(n_groups):
                for r in range(m):
                    value = centre_sq[h] - 2 * dots[h, r]
                    if value < least[r]:
                        least[r] = value
                        group[r] = h
            for r in range(m):
                i = start + r
                g = group[r]
                nearest = _nearest_member(rows, r, ranked, group_members, group_ptr[g],
                                          group_ptr[g + 1])
                best = _exact_sq(X, i, batch, nearest)
                best_j = nearest
                limit = 4.0 * best
                deferred[i] = bound_sq[nearest] <= limit
                if deferred[i]:
                    continue
                for p in range(n_listed):
                    if listed_sq[nearest, p] > limit:
                        continue
                    j = listed[nearest, p]
                    best, best_j = _nearer(_exact_sq(X, i, batch, j), j, best, best_j)
                if best < sq[i]:
                    sq[i] = best
                    ids[i] = first_id + best_j
