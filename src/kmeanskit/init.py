"""Initial centroids: random points, naive sharding, k-means++ and k-means||.

Each public function validates its input and returns a dense array of shape
(n_clusters, n_features) in the dtype of X (float32 stays float32).  The
private ``_*`` versions trust their callers (the estimators) and take a numpy
Generator.  Sample weights act as multiplicities everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import cdist

from ._driver import Data, assign, squared_distances_below
from ._kernels.local_search import swap_gains, update_rows
from ._kernels.seeding import (
    candidate_gains_dense,
    candidate_gains_sparse,
    chunk_rows,
    closer_in_group,
    closer_in_reach,
    distance_table,
    farthest_by_closest,
    keep_candidate,
    keep_candidate_direct,
    keys_within,
    nearest_neighbours,
    nearest_other_sq,
)
from ._kernels.seeding_batch import (
    SCREEN_TASK_ROWS,
    batch_steps,
    by_proposal,
    screened_pairs,
)
from ._kernels.seeding_loop import greedy_seeding, local_search
from ._threads import thread_limits
from ._validation import (
    NONE,
    Integer,
    Options,
    Real,
    as_generator,
    check_n_clusters,
    check_value,
    check_weights_for,
    check_X,
    is_memory_mapped,
    is_unit_weights,
)

__all__ = ["random_points", "naive_sharding", "kmeans_plusplus", "kmeans_parallel"]


def _rows(X, indices) -> np.ndarray:
    """Dense copy of the given rows of X."""
    rows = X[indices]
    return rows.toarray() if sp.issparse(rows) else np.array(rows)


def _pairwise_sq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Exact squared distances (differences, in float64) between the rows of
    two small dense arrays, without an (a, b, d) temporary: at 50,000
    features a step's candidates against 100 centres would take 240 MB."""
    return cdist(A.astype(np.float64), B.astype(np.float64), "sqeuclidean")


# Rows of candidates per BLAS product where distances between candidates are
# expanded from dot products (k-means||'s reach lists and predicted cuts).
PRODUCT_BLOCK_ROWS = 256


def _centred_products(A: np.ndarray, B: np.ndarray, block_rows: int):
    """Dot products between the rows of A and B, both taken about B's mean in
    float64 (so that distances expanded from them lose little to
    cancellation), one BLAS product for each ``block_rows`` rows of A.
    Returns B's squared norms and the blocks, (start, products, the block's
    squared norms), the products in one buffer reused from block to block."""
    centre = B.mean(axis=0, dtype=np.float64)
    B = np.subtract(B, centre, dtype=np.float64)  # one copy (a sparse batch's is t x d)
    products = np.empty((min(block_rows, A.shape[0]), B.shape[0]))

    def blocks():
        for start in range(0, A.shape[0], block_rows):
            part = np.subtract(A[start:start + block_rows], centre, dtype=np.float64)
            table = products[:part.shape[0]]
            np.matmul(part, B.T, out=table)
            yield start, table, _squared_norms(part)

    return _squared_norms(B), blocks()


def _validated(function, X, n_clusters, sample_weight):
    check_value(function, "n_clusters", n_clusters, [Integer(1)])
    X = check_X(None, X, reset=True)
    check_n_clusters(n_clusters, X.shape[0])
    return X, check_weights_for(X, sample_weight)


def _pick_weighted(weights: np.ndarray, rng: np.random.Generator, size: int):
    """Indices drawn with probability proportional to ``weights``."""
    if is_unit_weights(weights):
        # The cumulative sum would be 1, 2, ..., n: the same picks without it.
        draws = rng.uniform(size=size) * weights.size
        return np.minimum(draws.astype(np.int64), weights.size - 1)
    cumulative = np.cumsum(weights)
    draws = rng.uniform(size=size) * cumulative[-1]
    picked = np.searchsorted(cumulative, draws, side="right")
    return np.minimum(picked, cumulative.size - 1)


# ---------------------------------------------------------------------------
# random
# ---------------------------------------------------------------------------


def _random_points(X, n_clusters, weights, rng):
    if weights.min() == weights.max():  # equal weights: no O(n) probability vector
        return _rows(X, rng.choice(X.shape[0], size=n_clusters, replace=False))
    positive = np.flatnonzero(weights > 0)
    if positive.size >= n_clusters:
        p = weights[positive] / weights[positive].sum()
        chosen = rng.choice(positive, size=n_clusters, replace=False, p=p)
    else:  # too few weighted rows: take them all, then any others
        others = np.setdiff1d(np.arange(X.shape[0]), positive)
        extra = rng.choice(others, size=n_clusters - positive.size, replace=False)
        chosen = np.concatenate([positive, extra])
    return _rows(X, chosen)


def random_points(X, n_clusters, *, sample_weight=None, random_state=None):
    """Choose ``n_clusters`` distinct rows of X at random as the centroids.

    Rows are drawn without replacement with probability proportional to their
    sample weight.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
    random_state : int, numpy Generator or RandomState, default=None

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit.init import random_points
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> random_points(X, 2, random_state=0).shape
    (2, 2)
    """
    X, weights = _validated("random_points", X, n_clusters, sample_weight)
    return _random_points(X, n_clusters, weights, as_generator(random_state))


# ---------------------------------------------------------------------------
# naive sharding
# ---------------------------------------------------------------------------


def _naive_sharding(X, n_clusters, weights):
    row_sums = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
    order = np.argsort(row_sums, kind="stable")
    w = weights[order]
    # Shard j is the j-th k-th of the total weight.  Row i of the sorted order
    # covers the weight interval [lo_i, hi_i) (in shard units); it belongs to
    # every shard its interval overlaps, in proportion to the overlap, so a
    # row on a boundary is shared.  Weights thus act exactly as repetitions.
    cumulative = np.cumsum(w)
    scale = n_clusters / cumulative[-1]
    lo, hi = (cumulative - w) * scale, cumulative * scale
    first = np.minimum(np.floor(lo).astype(np.int64), n_clusters - 1)
    last = np.clip(np.ceil(hi).astype(np.int64) - 1, first, n_clusters - 1)
    span = last - first + 1
    row = np.repeat(np.arange(w.size), span)
    shard = np.repeat(first, span) + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    overlap = (np.minimum(hi[row], shard + 1) - np.maximum(lo[row], shard)) / scale
    keep = overlap > 0
    indicator = sp.csc_matrix((overlap[keep], (shard[keep], order[row[keep]])),
                              shape=(n_clusters, X.shape[0]))
    # Sum in blocks of rows: the product upcasts to float64, and a block-sized
    # copy is all a memory-mapped X should cost.
    sums = np.zeros((n_clusters, X.shape[1]))
    step = max(256, 2**22 // (8 * X.shape[1]))
    for start in range(0, X.shape[0], step):
        part = indicator[:, start:start + step] @ X[start:start + step]
        sums += part.toarray() if sp.issparse(part) else part
    shard_weight = np.asarray(indicator.sum(axis=1)).ravel()
    return (sums / shard_weight[:, None]).astype(X.dtype)


def naive_sharding(X, n_clusters, *, sample_weight=None):
    """Naive sharding: sort rows by the sum of their attributes, cut the
    sorted rows into ``n_clusters`` contiguous shards of equal size and use
    each shard's mean as a centroid.

    Shards hold equal total weight (equal row counts when unweighted); when
    the rows do not divide evenly, a row on a shard boundary is shared between
    the two shards in proportion, so weights act exactly as repeated rows.

    Deterministic, and linear in the data apart from the sort.  It works best
    when the features share a scale and the clusters line up along the
    diagonal; scale your features first.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit.init import naive_sharding
    >>> X = np.array([[1.0, 1.0], [9.0, 9.0], [2.0, 2.0], [8.0, 8.0]])
    >>> naive_sharding(X, 2)
    array([[1.5, 1.5],
           [8.5, 8.5]])
    """
    X, weights = _validated("naive_sharding", X, n_clusters, sample_weight)
    return _naive_sharding(X, n_clusters, weights)


# ---------------------------------------------------------------------------
# k-means++
# ---------------------------------------------------------------------------


# k-means++ keeps each step's candidate distances up to this many bytes.
KEPT_DISTANCES_MAX_BYTES = 256 * 2**20


class _Seeding:
    """Closest-centre bookkeeping for k-means++ over dense or CSR X.

    Each step's candidate distances are kept (t x n float64) so that the
    chosen one is applied without reading X again, unless that would take
    more than ``KEPT_DISTANCES_MAX_BYTES`` or X is a memory-mapped file: then
    the chosen candidate's distances are recomputed from X."""

    def __init__(self, X, weights, n_candidates):
        self.X = X
        self.weights = weights
        n = X.shape[0]
        self.closest_sq = np.full(n, np.inf)
        self.closest_id = np.zeros(n, dtype=np.int32)
        keep = sp.issparse(X) or (
            n_candidates * n * 8 <= KEPT_DISTANCES_MAX_BYTES and not is_memory_mapped(X))
        self.cand_dist = np.empty((n_candidates, n if keep else 0))
        # Dense rows in memory whose distances are kept can run the loops
        # compiled (_compiled_greedy, _compiled_local_search) or batched
        # (_batched_greedy); else they run in Python around the kernels.
        self.compiled_loops = keep and not sp.issparse(X)
        self.chunk_rows = int(chunk_rows(n))
        self.n_chunks = -(-n // self.chunk_rows)
        self.chunk_potential = np.zeros(self.n_chunks)
        if sp.issparse(X):
            self.x_sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()

    def sample(self, rng, size: int) -> np.ndarray:
        """Rows drawn in proportion to weight x closest squared distance
        (``_kernels.seeding_loop.sample_rows`` is the compiled loops' twin:
        keep the two alike, as the seeds test does).

        One uniform draw per row, as a search in the cumulative potential
        would use, but found in two levels: the chunk from the per-chunk
        potentials, then the row inside that chunk; no O(n) cumulative sum.
        """
        chunk_cumulative = np.cumsum(self.chunk_potential)
        targets = rng.uniform(size=size) * chunk_cumulative[-1]
        chunks = np.minimum(np.searchsorted(chunk_cumulative, targets, side="right"),
                            self.n_chunks - 1)
        picked = np.empty(size, dtype=np.int64)
        # One cumulative sum per chunk drawn, however many draws fall in it
        # (on a few thousand rows, as k-means|| reclusters, all do).
        for chunk in np.unique(chunks):
            rows = slice(chunk * self.chunk_rows, (chunk + 1) * self.chunk_rows)
            inside = np.cumsum(self.weights[rows] * self.closest_sq[rows])
            mine = chunks == chunk
            residuals = targets[mine] - (chunk_cumulative[chunk - 1] if chunk else 0.0)
            offsets = np.searchsorted(inside, residuals, side="right")
            picked[mine] = rows.start + np.minimum(offsets, inside.size - 1)
        return picked

    def pairwise_sq(self, rows, dense_rows, center_rows, centers) -> np.ndarray:
        """Squared distances from rows ``rows`` of X (``dense_rows``, their
        dense copies) to the centres, rows ``center_rows`` (``centers``).

        Dense X: exact differences (:func:`_pairwise_sq`).  CSR X: expanded
        from the centres' stored values times the dense rows and the rows'
        squared norms, as the sparse kernels expand a row's distances;
        differences would cost every feature (at 20,000 features and 100
        clusters, k-means||'s recluster took 0.75 s that way instead of 0.14
        s), and so would a product with the centres' dense copies, read whole
        at every step (at 50,000 features and 512 clusters, 6.9 of the
        recluster's 8.8 s)."""
        if not sp.issparse(self.X):
            return _pairwise_sq(dense_rows, centers)
        products = (self.X[center_rows] @ dense_rows.astype(np.float64, copy=False).T).T
        return np.maximum(self.x_sq[rows][:, None] + self.x_sq[center_rows][None, :]
                          - 2.0 * products, 0.0)

    def gains(self, candidates, cand_to_chosen_sq) -> np.ndarray:
        """Potential decrease per candidate; remembers them for ``keep``."""
        t = candidates.shape[0]
        gains = np.empty((self.n_chunks, t))
        cand_dist = self.cand_dist[:t]
        if sp.issparse(self.X):
            X = self.X
            candidate_gains_sparse(X.data, X.indices, X.indptr, self.x_sq, self.weights,
                                   candidates, cand_to_chosen_sq, self.closest_sq,
                                   self.closest_id, cand_dist, gains)
        else:
            candidates = np.ascontiguousarray(candidates)
            candidate_gains_dense(self.X, self.weights, candidates, cand_to_chosen_sq,
                                  self.closest_sq, self.closest_id, cand_dist, gains)
        self.candidates, self.cand_to_chosen_sq = candidates, cand_to_chosen_sq
        return gains.sum(axis=0)  # chunk order: the same on any thread count

    def keep(self, candidate: int, center_id: int) -> None:
        """Make candidate ``candidate`` of the last ``gains`` call a centre."""
        if self.cand_dist.shape[1]:
            keep_candidate(self.cand_dist[candidate], center_id, self.weights,
                           self.closest_sq, self.closest_id, self.chunk_potential)
        else:
            keep_candidate_direct(self.X, self.candidates[candidate:candidate + 1],
                                  self.cand_to_chosen_sq[candidate], center_id,
                                  self.weights, self.closest_sq, self.closest_id,
                                  self.chunk_potential)


# local_search_steps="auto": as many steps as price two candidates per centre
# in all (2k / t steps of t candidates).  Measured on blobs and Birch1/Birch2:
# the fits that follow end 1-11 % lower than from k-means++ alone; one
# candidate per step over k steps did no better in more passes over X.
LOCAL_SEARCH_CANDIDATES_PER_CENTRE = 2
# Row groups of the local search's partial sums (t k numbers each): fixed, so
# that the sums do not depend on the thread count, and few, so that they stay
# small beside the rows' own state at millions of rows and thousands of centres.
LOCAL_SEARCH_GROUPS = 64


def _local_search_steps(steps, n_clusters: int, n_local_trials: int) -> int:
    if steps == "auto":
        return -(-LOCAL_SEARCH_CANDIDATES_PER_CENTRE * n_clusters // n_local_trials)
    return steps


def _kmeans_plusplus(X, n_clusters, weights, rng, n_local_trials=None, local_search_steps=0):
    n_samples, n_features = X.shape
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    local_search_steps = _local_search_steps(local_search_steps, n_clusters, n_local_trials)
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    indices = np.empty(n_clusters, dtype=np.int64)
    batched = (not sp.issparse(X) and not is_memory_mapped(X)
               and _batches_pay(X, n_clusters))
    # Batches keep their own lists: only the first centre's distances here.
    seeding = _Seeding(X, weights, 1 if batched else max(n_local_trials, 1))

    first = _pick_weighted(weights, rng, 1)[0]
    n_steps = local_search_steps if n_clusters > 1 else 0
    compiled = seeding.compiled_loops and n_clusters - 1 + n_steps >= COMPILED_LOOPS_MIN_STEPS
    table = None
    if compiled and not batched and _table_pays(X, n_clusters - 1 + n_steps):
        table = _distance_table(X)
    if batched:
        _batched_greedy(seeding, first, centers, indices, rng, n_local_trials)
    elif compiled:
        _compiled_greedy(seeding, first, centers, indices, rng, n_local_trials, table)
    else:
        _first_center(seeding, first, centers, indices)
        _greedy_steps(seeding, centers, indices, rng, n_local_trials, 1)
    if n_steps and compiled:
        _compiled_local_search(seeding, centers, indices, rng, n_local_trials, n_steps, table)
    elif n_steps:
        _local_search(seeding, centers, indices, rng, n_steps, n_local_trials)
    return centers, indices


def _first_center(seeding: _Seeding, first, centers, indices) -> None:
    indices[0] = first
    centers[0] = _rows(seeding.X, [first])[0]
    seeding.gains(centers[:1], np.zeros((1, 1)))  # every distance to the first centre
    seeding.keep(0, 0)


def _greedy_steps(seeding: _Seeding, centers, indices, rng, n_trials: int, start: int) -> None:
    """Greedy k-means++ steps from centre ``start`` on, step by step."""
    for c in range(start, centers.shape[0]):
        candidates_idx = seeding.sample(rng, n_trials)
        candidates = _rows(seeding.X, candidates_idx)
        to_chosen = seeding.pairwise_sq(candidates_idx, candidates, indices[:c], centers[:c])
        best = int(np.argmax(seeding.gains(candidates, to_chosen)))
        indices[c] = candidates_idx[best]
        centers[c] = candidates[best]
        seeding.keep(best, c)


# The loops run compiled (where they can) from this many steps (greedy and
# local search) on.  A step of the Python loops costs about 0.1 ms besides
# its kernels: hundreds of steps on a few thousand rows (k-means||'s
# recluster at 512 clusters: 0.11 -> 0.06 s) are mostly that, while a first
# run with a few steps would pay the compiled loops' own compilation (2.5 s)
# for nothing.
COMPILED_LOOPS_MIN_STEPS = 64


def _compiled_greedy(seeding: _Seeding, first, centers, indices, rng, n_trials: int,
                     table=None) -> None:
    """:func:`_kmeans_plusplus`'s greedy loop in compiled code (dense X in
    memory): the same draws (drawn ahead), the same seeds.  With ``table``
    (:func:`_distance_table`) the loop looks the distances up, the centres
    held as row ids."""
    k = centers.shape[0]
    source, points = (seeding.X, centers) if table is None else (table, np.empty((k, 1), np.int64))
    # The table's rows are the distances: none kept.
    kept = seeding.cand_dist if table is None else np.empty((n_trials, 0))
    greedy_seeding(source, seeding.weights, first, rng.uniform(size=(k - 1) * n_trials),
                   n_trials, points, indices, seeding.closest_sq, seeding.closest_id, kept,
                   seeding.chunk_potential)
    if table is not None:
        centers[:] = seeding.X[indices]


def _compiled_local_search(seeding: _Seeding, centers, indices, rng, n_trials: int,
                           n_steps: int, table=None) -> None:
    """:func:`_local_search` in compiled code (dense X in memory): the same
    draws, the same seeds.  The uniforms are drawn ahead; a search stopped
    early by zero potential returns the unused ones (the generator is reset
    and draws only those used).  ``table`` as for :func:`_compiled_greedy`."""
    before = rng.bit_generator.state
    source, points = (seeding.X, centers) if table is None else (table, indices[:, None].copy())
    ran = local_search(source, seeding.weights, rng.uniform(size=n_steps * n_trials), n_steps,
                       n_trials, _local_search_groups(seeding.n_chunks), points, indices,
                       seeding.closest_sq, seeding.closest_id, seeding.chunk_potential)
    if table is not None:
        centers[:] = seeding.X[indices]
    if ran < n_steps:
        rng.bit_generator.state = before
        rng.uniform(size=ran * n_trials)


# The compiled loops look distances up in a table of the rows' pairwise
# squared distances (n^2 / 2 pairs computed once) where it fits
# TABLE_MAX_BYTES, the rows have at least TABLE_MIN_FEATURES features, and
# the steps would compute more pairs: each reads about TABLE_PAIRS_PER_STEP
# n pairs' worth (t candidates against the rows the pruning lets through, a
# lookup for a pair).  Measured (`bench_kmeans.py --table-crossovers`:
# weighted greedy steps and the local search from the table against the
# steps computing their distances, two runs): at four rows a seed, as
# k-means|| reclusters its candidates, 0.41-0.73x at 64 features, 0.76-0.88x
# at 32, 0.72-1.06x at 16 (64 to 1,000 seeds); 0.79-1.09x at 8 and 0.83-1.42x
# at 2-4; at ten rows a seed 0.63-1.17x at 64 features and 0.90-1.36x at 8-16;
# at thirty, 1.6-2.2x (benchmarks/RESULTS.md).
TABLE_MAX_BYTES = 128 * 2**20
TABLE_MIN_FEATURES = 16
TABLE_PAIRS_PER_STEP = 2.0


def _table_pays(X, n_steps: int) -> bool:
    n, d = X.shape
    return (n * n * 8 <= TABLE_MAX_BYTES and d >= TABLE_MIN_FEATURES
            and n / 2 <= TABLE_PAIRS_PER_STEP * n_steps)


def _distance_table(X) -> np.ndarray:
    table = np.empty((X.shape[0], X.shape[0]))
    distance_table(X, table)
    return table


# Greedy k-means++ in batches of steps (``_kernels.seeding_batch``): one pass
# over the rows serves a batch's steps.  Used on dense rows in memory from
# BATCHED_MIN_ROWS rows and BATCHED_MIN_CLUSTERS clusters on, where it
# measured at least as fast as the steps one by one at every dimension (two
# runs): at 64 clusters 0.99-2.0x (2-8 features) and 2.0-2.6x (32-784), at
# 100-128 clusters 1.3-1.7x (2-6 features), at 256 clusters 2.6-3.3x,
# 5.1-7.9x at 512-1,000; at 10-16 clusters 0.85-1.18x (benchmarks/RESULTS.md).
BATCHED_MIN_ROWS = 2**15
BATCHED_MIN_CLUSTERS = 64
# Proposals per batch: t for the first, doubling up to BATCH_MAX_PROPOSALS,
# and no more than would give about BATCH_PAIRS_PER_ROW x n pairs (from the
# last batch's pairs per proposal).
BATCH_MAX_PROPOSALS = 512
BATCH_PAIRS_PER_ROW = 6
# Bytes of the screen's per-task output (pairs x 16) a call may take; the
# rows to screen are cut into segments to stay under it.
BATCH_SCREEN_BYTES = 16 * 2**20


def _batches_pay(X, n_clusters: int) -> bool:
    return X.shape[0] >= BATCHED_MIN_ROWS and n_clusters >= BATCHED_MIN_CLUSTERS


class _Scratch:
    """Arrays kept from batch to batch and grown as needed: a fresh array is
    paid for again in page faults (25-30 ms a batch at 200,000 rows)."""

    def __init__(self):
        self.arrays = {}

    def take(self, name: str, size: int, dtype, keep: int = 0) -> np.ndarray:
        """``size`` elements of the array ``name``; its first ``keep`` ones
        survive a growth (by a quarter at least)."""
        array = self.arrays.get(name)
        if array is None or array.size < size:
            grown = np.empty(max(size, 5 * (0 if array is None else array.size) // 4), dtype)
            if keep:
                grown[:keep] = array[:keep]
            array = self.arrays[name] = grown
        return array[:size]


def _proposal_lists(X, rows, mean, proposals, limit_sq, capacity: int, scratch: _Scratch):
    """For each proposal, the rows of ``rows`` it brings closer than
    ``limit_sq`` and their exact squared distances, as ``batch_steps`` takes
    them (indptr per segment, rows, squared distances).  ``capacity``: the
    pairs a row is expected to have at most (doubled where a task's do not
    fit)."""
    n_proposals, d = proposals.shape
    proposals32 = np.empty((n_proposals, d + 1), np.float32)
    proposals32[:, :d] = proposals - mean
    proposal_sq = _squared_norms(proposals32[:, :d])
    proposals32[:, d] = -proposal_sq / 2.0
    largest_norm = float(np.sqrt(proposal_sq.max()))
    indptr, total, start = [], 0, 0
    while start < rows.size:
        segment_rows = max(BATCH_SCREEN_BYTES // (16 * capacity), SCREEN_TASK_ROWS)
        segment = rows[start:start + segment_rows]
        n_tasks = -(-segment.size // SCREEN_TASK_ROWS)
        size = n_tasks * SCREEN_TASK_ROWS * capacity
        screened = (scratch.take("screened rows", size, np.int32),
                    scratch.take("screened proposals", size, np.int32),
                    scratch.take("screened sq", size, np.float64))
        task_counts = np.empty((n_tasks, n_proposals), np.int64)
        if screened_pairs(X, segment, mean, proposals, proposals32, largest_norm, limit_sq,
                          capacity, *screened, task_counts):
            capacity = min(2 * capacity, n_proposals)  # some task's did not fit: wider
            continue
        end = total + int(task_counts.sum())
        list_rows = scratch.take("list rows", end, np.int32, keep=total)
        list_sq = scratch.take("list sq", end, np.float64, keep=total)
        indptr.append(np.empty(n_proposals + 1, np.int64))
        total = by_proposal(task_counts, SCREEN_TASK_ROWS * capacity, *screened, indptr[-1],
                            list_rows, list_sq, total)
        start += segment.size
    indptr = np.array(indptr).reshape(-1, n_proposals + 1)
    return (indptr, scratch.take("list rows", total, np.int32),
            scratch.take("list sq", total, np.float64))


def _batched_greedy(seeding: _Seeding, first, centers, indices, rng, n_trials: int) -> None:
    """Greedy k-means++ (the algorithm of :func:`_kmeans_plusplus`'s loop) in
    batches of steps.  Each batch draws proposals from the potential at its
    start and the steps accept them by rejection (``_kernels.seeding_batch``):
    the same distribution of seeds as the step-by-step loop, from other
    draws.  Leaves every row's closest centre and the chunk potentials, as
    the step-by-step loop does."""
    X, weights = seeding.X, seeding.weights
    n = X.shape[0]
    k = centers.shape[0]
    closest_sq, closest_id = seeding.closest_sq, seeding.closest_id
    _first_center(seeding, first, centers, indices)
    # The float32 screen's error bound needs squared norms about the mean
    # (at most 4 x the farthest row from the first centre) well inside
    # float32's range; else the steps go one by one.
    low, high = FLOAT32_RANK_RANGE
    if not low <= 4.0 * closest_sq.max() <= high:
        seeding.cand_dist = np.empty((n_trials, n))  # kept by the steps one by one
        _greedy_steps(seeding, centers, indices, rng, n_trials, 1)
        return
    mean = X.mean(axis=0, dtype=np.float64)
    n_proposals, capacity = n_trials, n_trials
    scratch = _Scratch()
    limit_sq, cumulative = np.empty(n), np.empty(n)
    done = 1
    while done < k:
        limit_sq[:] = closest_sq
        np.cumsum(np.multiply(weights, limit_sq, out=cumulative), out=cumulative)
        if not cumulative[-1] > 0.0:
            # Fewer distinct rows than centres: the rest repeat the last row,
            # as the step-by-step loop's draws do on zero potential.
            indices[done:], centers[done:] = n - 1, X[n - 1]
            break
        targets = rng.uniform(size=n_proposals) * cumulative[-1]
        proposal_rows = np.minimum(np.searchsorted(cumulative, targets, side="right"), n - 1)
        accept_uniforms = rng.uniform(size=n_proposals)
        proposals = X[proposal_rows]
        # A row can get closer only to proposals within twice its distance of
        # its closest centre: rows no proposal is that near are not read.
        nearest_sq = squared_distances_below(proposals, centers[:done]).min(axis=0)
        rows = np.flatnonzero(nearest_sq[closest_id] < 4.0 * limit_sq)
        indptr, list_rows, list_sq = _proposal_lists(
            X, rows, mean, proposals, limit_sq, capacity, scratch)
        chosen = np.empty(n_proposals, np.int64)
        steps = batch_steps(proposal_rows, accept_uniforms, indptr, list_rows, list_sq, weights,
                            limit_sq, n_trials, done, k, closest_sq, closest_id, chosen)
        indices[done:done + steps] = proposal_rows[chosen[:steps]]
        centers[done:done + steps] = proposals[chosen[:steps]]
        done += steps
        pairs_per_proposal = max(list_rows.size / n_proposals, 1.0)
        # No more than the steps left can take (with a quarter more for
        # the rejected ones).
        n_proposals = int(min(2 * n_proposals, BATCH_MAX_PROPOSALS,
                              max(n_trials, BATCH_PAIRS_PER_ROW * n / pairs_per_proposal),
                              n_trials * (5 * (k - done) // 4 + 1)))
        # Room per row for the next screen: twice this batch's mean.
        capacity = int(min(n_proposals, max(8, -(-2 * list_rows.size // max(rows.size, 1)))))
    seeding.chunk_potential[:] = np.add.reduceat(
        weights * closest_sq, np.arange(0, n, seeding.chunk_rows))


def _local_search_groups(n_chunks: int) -> int:
    """Equal groups of chunks (the last may be short), none empty, at most
    LOCAL_SEARCH_GROUPS: threads share them evenly."""
    return -(-n_chunks // -(-n_chunks // LOCAL_SEARCH_GROUPS))


def _squared_norms(rows) -> np.ndarray:
    """Squared norm of each row, accumulated in float64."""
    return np.einsum("ij,ij->i", rows, rows, dtype=np.float64)


def _center_distances(center_sq_dist):
    """Distances between centres (inf on the diagonal), from their squared
    distances (k, k), and each centre's nearest other centre (itself when it
    is the only one)."""
    dist = np.sqrt(center_sq_dist)
    np.fill_diagonal(dist, np.inf)
    return dist, np.argmin(dist, axis=1).astype(np.int32)


def _replace_center(q_sq_dist, q, dist, neighbour) -> None:
    """Update :func:`_center_distances`'s output after centre ``q`` moved to
    squared distances ``q_sq_dist`` (k,) from the centres (both functions
    have compiled twins in ``_kernels.seeding_loop``)."""
    row = np.sqrt(q_sq_dist)
    row[q] = np.inf
    dist[q, :] = dist[:, q] = row
    # Only column q changed: a centre whose nearest was another keeps it or
    # takes q (ties to the lower index, as argmin); q's own row and those of
    # the centres whose nearest was q are searched again (O(k) a swap
    # instead of O(k^2)).
    nearest_sq = dist[np.arange(len(row)), neighbour]
    takes_q = (row < nearest_sq) | ((row == nearest_sq) & (q < neighbour))
    again = np.flatnonzero(neighbour == q)
    neighbour[takes_q] = q
    again = np.append(again, q)
    neighbour[again] = np.argmin(dist[again], axis=1)


def _local_search(seeding: _Seeding, centers, indices, rng, n_steps: int,
                  n_candidates: int) -> int:
    """LocalSearch++ (Lattanzi & Sohler, 2019) on the state k-means++ left,
    greedy: ``n_steps`` times, draw ``n_candidates`` rows as k-means++ would,
    price every (candidate, centre) swap in one pass over X, and make the
    swap that lowers the potential most, if any does.  Updates ``centers``
    and ``indices`` in place; returns the number of swaps."""
    X, weights = seeding.X, seeding.weights
    k, n = centers.shape[0], X.shape[0]
    if sp.issparse(X):  # the kernels' form of a CSR matrix
        X = (X.data, X.indices, X.indptr, seeding.x_sq)
    center_dist, neighbour = _center_distances(
        seeding.pairwise_sq(indices, centers, indices, centers))
    center_sq = _squared_norms(centers)
    second_sq, second_id = np.empty(n), np.empty(n, dtype=np.int32)
    n_groups = _local_search_groups(seeding.n_chunks)
    group_base = np.empty((n_groups, k))
    no_point = np.zeros(k)
    update_rows(X, weights, centers, center_sq, -1, no_point, center_dist, neighbour,
                seeding.closest_sq, seeding.closest_id, second_sq, second_id,
                seeding.chunk_potential, group_base)
    group_gain = np.empty((n_groups, n_candidates))
    group_delta = np.empty((n_groups, n_candidates, k))
    swaps = 0
    for _ in range(n_steps):
        if seeding.chunk_potential.sum() == 0.0:
            break
        rows = seeding.sample(rng, n_candidates)
        points = np.ascontiguousarray(_rows(seeding.X, rows))
        point_center_dist = np.sqrt(seeding.pairwise_sq(rows, points, indices, centers))
        swap_gains(X, weights, points, _squared_norms(points), point_center_dist,
                   seeding.closest_sq, seeding.closest_id, second_sq, group_gain, group_delta)
        # Sums in group order: the same on any thread count.
        change = (group_gain.sum(axis=0)[:, None] + group_base.sum(axis=0)[None, :]
                  + group_delta.sum(axis=0))
        best, q = np.unravel_index(int(np.argmin(change)), change.shape)
        if not change[best, q] < 0.0:
            continue
        centers[q], indices[q] = points[best], rows[best]
        _replace_center(seeding.pairwise_sq(indices[q:q + 1], centers[q:q + 1], indices,
                                            centers)[0], q, center_dist, neighbour)
        center_sq[q] = _squared_norms(centers[q:q + 1])[0]
        update_rows(X, weights, centers, center_sq, q, point_center_dist[best], center_dist,
                    neighbour, seeding.closest_sq, seeding.closest_id, second_sq, second_id,
                    seeding.chunk_potential, group_base)
        swaps += 1
    return swaps


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, n_local_trials=None,
                    local_search_steps=0, random_state=None, n_threads=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, 2007).

    The first centre is a row drawn in proportion to its weight; each next
    centre is the best of ``n_local_trials`` rows drawn in proportion to
    weight x squared distance to the closest centre so far, "best" meaning
    the one that lowers the potential most.  Distance updates skip, by the
    triangle inequality, the points a candidate cannot bring closer, which
    makes large k much cheaper than the plain algorithm.  From 64 clusters
    and 32,768 dense rows in memory the steps run in batches that read X
    once for a few dozen steps: proposals drawn from the potential at the
    batch's start are accepted by rejection, which keeps the seeds' law
    exactly that of the steps one by one (other draws, so other seeds for a
    given ``random_state``).  A set of at most 4,096 dense rows of 16 or more
    features, small beside its steps (about four rows a seed or fewer, as
    k-means|| reclusters its candidates), first tables its pairwise squared
    distances (n^2 / 2 pairs, up to 128 MiB), and every step looks them up:
    the same numbers the steps would compute, so the same seeds.

    With ``local_search_steps``, the seeds are then improved by greedy
    LocalSearch++ (Lattanzi & Sohler, ICML 2019): each step draws
    ``n_local_trials`` rows the same way, prices swapping each of them for
    each centre in one pass over X (using every row's closest and second
    closest centre), and makes the swap that lowers the potential most, if
    any does.  This is ``KMeans(init="local-search++")``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
    n_local_trials : int, default=None
        Candidates per step; ``2 + floor(ln k)`` when None.
    local_search_steps : "auto" or int, default=0
        Local-search steps after the greedy seeding (0: none, the seeds of
        scikit-learn's ``kmeans_plusplus``).  ``"auto"``: ``ceil(2 k / t)``
        steps of ``t = n_local_trials`` candidates, two candidates per centre
        in all; each step is one pass over X, so at 512 clusters and 64
        features it adds about half to the seeding time, and it keeps 12
        more bytes per row (the second-closest centre).
    random_state : int, numpy Generator or RandomState, default=None
    n_threads : int, default=None
        Threads for the distance updates; all cores when None.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        The rows of X chosen as centres.

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import kmeans_plusplus
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]])
    >>> centers, indices = kmeans_plusplus(X, 2, random_state=0)
    >>> sorted(int(i) // 2 for i in indices)
    [0, 1]
    """
    X, weights = _validated("kmeans_plusplus", X, n_clusters, sample_weight)
    check_value("kmeans_plusplus", "n_local_trials", n_local_trials, [NONE, Integer(1)])
    check_value("kmeans_plusplus", "local_search_steps", local_search_steps,
                [Options(("auto",)), Integer(0)])
    with thread_limits(n_threads):
        return _kmeans_plusplus(X, n_clusters, weights, as_generator(random_state),
                                n_local_trials, local_search_steps)


# ---------------------------------------------------------------------------
# k-means||
# ---------------------------------------------------------------------------


# Rows per block of k-means||'s passes (assignment, draws and sums): under
# 1 MiB of temporaries a block, and no O(n) copy (of int32 ids cast for
# bincount, or of unit weights given as a broadcast view).
SAMPLING_BLOCK_ROWS = 2**16


def _sampling_blocks(n: int):
    """Slices of ``SAMPLING_BLOCK_ROWS`` rows covering ``n``."""
    return (slice(start, min(start + SAMPLING_BLOCK_ROWS, n))
            for start in range(0, n, SAMPLING_BLOCK_ROWS))


# A batch's reach lists hold at most this many (candidate, new candidate)
# pairs (32 MiB of sort keys), else the batch goes through BLAS whole.  At (200,000, 64,
# 512) the largest held 280,000.
REACH_MAX_PAIRS = 2**22
# Nor where they would hold more than this share of all the pairs: then
# nearly every row is far from its closest candidate (the first round, every
# row against the single first centre) and would take the product anyway.
REACH_SHARE = 0.5
# The share allowed where the groups could search the batch instead
# (_groups_pay: many candidates of many features, where the product is
# dearest).  The groups ignore how close a row already is; a few candidates
# whose rows include a cluster still without a candidate reach the whole
# batch, yet the rows near their candidate try only the few new ones near
# it.  At (200,000, 64, 512), blobs of spread 2-3.8, where the second round's
# lists held 0.54-0.99 of the pairs: medians over seeds 0-4 of k-means||
# 0.426 -> 0.392 s, 0.651 -> 0.563 s, and 0.724 -> 0.694 s, 0.740 -> 0.722 s
# at shares of 0.97-0.99 (benchmarks/RESULTS.md).
REACH_SHARE_OVER_GROUPS = 0.95


def _reach_pair_cost(n_features: int, product_dtype) -> float:
    """What a listed pair (exact differences, row by row) costs in pairs of
    the batch's whole product.  Crossovers measured against a float64
    product, as the fraction of the batch's pairs listed: 0.35 at 64
    features, 0.18 at 16, 0.05-0.1 at 2-4 (where the product's per-pair work
    is smallest).  A float32 product runs twice as fast, so a listed pair
    costs twice as many of its pairs: at (200,000, 64, 512) the seeding
    took 0.38 s with the float64 crossovers and 0.29-0.30 s with two to six
    times them; (100,000, 16, 256) and (300,000, 8, 1,000) were as fast
    anywhere in that range."""
    float64_cost = 3.0 * np.sqrt(64.0 / n_features)
    return float64_cost * (2.0 if product_dtype == np.float32 else 1.0)


class _Reach:
    """For each candidate so far, ``a``, the new candidates ``c`` of a batch
    with ||c - a||^2 < 4 r_a^2, where r_a is the distance of a's farthest
    row, sorted by that distance: a row ``x`` closest to ``a`` can get
    strictly closer only to those within 2 ||x - a|| of ``a``.  Once most
    clusters hold a candidate, that is a few of the batch's thousand."""

    def __init__(self, indptr, members, reach_sq, pair_cost: float):
        self.indptr, self.members, self.reach_sq = indptr, members, reach_sq
        self.pair_cost = pair_cost

    @classmethod
    def of(cls, candidates, batch, farthest_sq, product_dtype, max_share=REACH_SHARE):
        """The lists for ``batch``; None where they would hold more than
        ``REACH_MAX_PAIRS`` pairs or ``max_share`` of all of them.  A
        listed pair's cost is weighed against the product in
        ``product_dtype`` (:meth:`max_tries`)."""
        n_old, n_new = candidates.shape[0], batch.shape[0]
        pair_cost = _reach_pair_cost(batch.shape[1], product_dtype)
        max_pairs = min(REACH_MAX_PAIRS, n_old * n_new * max_share)
        owner_bits = max(n_old.bit_length(), 1)
        member_bits = max((n_new - 1).bit_length(), 1)
        member_sq, blocks = _centred_products(candidates, batch, PRODUCT_BLOCK_ROWS)
        block_keys = np.empty(PRODUCT_BLOCK_ROWS * n_new, dtype=np.int64)
        keys, total = [], 0
        for start, products, owner_sq in blocks:
            count = keys_within(products, owner_sq, member_sq,
                                4.0 * farthest_sq[start:start + owner_sq.size], start,
                                owner_bits, member_bits, block_keys)
            total += count
            if total > max_pairs:
                return None
            keys.append(block_keys[:count].copy())
        keys = np.sort(np.concatenate(keys))
        value_bits = 63 - owner_bits
        indptr = np.zeros(n_old + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.bincount(keys >> value_bits, minlength=n_old))
        listed = (keys & ((1 << member_bits) - 1)).astype(np.int32)
        cut = ((keys & ((1 << value_bits) - 1)) >> member_bits) << (owner_bits + member_bits)
        return cls(indptr, listed, cut.view(np.float64), pair_cost)

    def max_tries(self, batch_size: int) -> int:
        """The most candidates a row tries from the lists before the batch's
        whole product is cheaper for it."""
        return int(batch_size / self.pair_cost)

    def closer(self, rows, batch, first: int, ids, sq, deferred) -> None:
        """:func:`closer_in_reach` for ``rows``."""
        closer_in_reach(rows, batch, self.indptr, self.members, self.reach_sq, first,
                        self.max_tries(batch.shape[0]), ids, sq, deferred)


# A round without reach lists (the first) searches its batch by groups
# (_Groups) where the batch holds at least this many candidates of at least
# this many features, and X this many rows per candidate (the groups' tables
# cost about t^2 d).  Measured, kmeans_parallel with the groups against the
# product alone: 0.84-0.93 of the time at 1,000-2,000 candidates (512-1,000
# clusters) and 8-256 features; 0.98-0.99 at 30,000-65,536 rows for 1,024
# candidates, 0.97-1.06 at 512 candidates, 1.03 at 4 features, where the
# product is a few differences (benchmarks/RESULTS.md).
GROUPS_MIN_CANDIDATES = 768
GROUPS_MIN_FEATURES = 8
GROUPS_MIN_ROWS_PER_CANDIDATE = 32
# Nearest neighbours listed for each candidate of a grouped batch.
GROUP_NEIGHBOURS = 16
# Lloyd iterations that shape the groups (from evenly spaced candidates).
GROUP_ITERATIONS = 3
# Candidates' dot products computed at a time for their neighbour lists.
GROUP_TABLE_VALUES = 2**20
# A round keeps its groups only where they settle at least this share of the
# rows, probed on about GROUPS_PROBE_ROWS rows spread through X: every row
# pays for the groups' search, and a row they defer pays for the product
# too.  Where clusters overlap, a row's nearest candidate is about as far as
# the candidates' own neighbours, and the groups settled 0.5 % of the rows
# at (200,000, 64, 512): 0.2 s of a 0.82 s seeding.  There, k-means|| with
# and without them (medians over seeds 0-4): settling 0.65-0.70 of the rows
# 0.467 against 0.521 s, 0.47 0.569 against 0.551 s, 0.23 0.685 against
# 0.643 s (benchmarks/RESULTS.md).
GROUPS_MIN_SETTLED = 0.5
GROUPS_PROBE_ROWS = 2048


def _groups_pay(n_samples: int, batch: np.ndarray) -> bool:
    """Whether :class:`_Groups` pay for a batch of candidates (dense)."""
    t, d = batch.shape
    return (t >= GROUPS_MIN_CANDIDATES and d >= GROUPS_MIN_FEATURES
            and n_samples >= GROUPS_MIN_ROWS_PER_CANDIDATE * t)


class _Groups:
    """A batch cut into groups of nearby candidates, for a round whose rows
    have no candidate near them yet (the first: every row is far from the
    single first centre, so reach lists would hold the whole batch).

    A row finds its nearest group centre (one product with about
    sqrt(12 t) centres instead of the t candidates), the nearest of that
    group's members, ``c`` at distance r, and then the candidates listed
    among ``c``'s nearest neighbours within 2 r of it: by the triangle
    inequality no other candidate can be closer, provided every candidate
    within 2 r of ``c`` is listed (known from the least distance left off
    the list).  Where the row's own cluster holds no candidate, r is large,
    that proof fails, and the row takes the batch's whole product
    (:func:`closer_in_group`).  The answer is the product's: the groups only
    decide what is read.
    """

    def __init__(self, centres, origin, ranked, group_ptr, group_members, listed, listed_sq,
                 bound_sq):
        self.centres, self.origin, self.ranked = centres, origin, ranked
        self.group_ptr, self.group_members = group_ptr, group_members
        self.listed, self.listed_sq, self.bound_sq = listed, listed_sq, bound_sq

    @classmethod
    def of(cls, batch: np.ndarray, product_dtype) -> _Groups:
        t = batch.shape[0]
        origin = batch.mean(axis=0, dtype=np.float64)
        centred = np.subtract(batch, origin, dtype=np.float64)
        # A group centre's pair of the product against a member's distance:
        # sqrt(2 pair cost t) centres balance the two (rows land in large
        # groups more often than in small ones).
        pair_cost = _reach_pair_cost(batch.shape[1], product_dtype)
        n_groups = min(t, max(1, round(np.sqrt(2.0 * pair_cost * t))))
        centres = centred[np.linspace(0, t - 1, n_groups).astype(np.int64)]
        for iteration in range(GROUP_ITERATIONS + 1):
            # Only the ranking matters here: ||c||^2 - 2 x.c.
            labels = np.argmin(_squared_norms(centres) - 2.0 * (centred @ centres.T), axis=1)
            one_hot = np.zeros((t, centres.shape[0]))
            one_hot[np.arange(t), labels] = 1.0
            sizes = one_hot.sum(axis=0)
            kept = sizes > 0  # an empty group has no members to try
            if iteration < GROUP_ITERATIONS:
                centres = (one_hot[:, kept].T @ centred) / sizes[kept, None]
        centres = centres[kept]
        labels = np.unique(labels, return_inverse=True)[1]  # numbered as kept
        group_ptr = np.zeros(centres.shape[0] + 1, dtype=np.int64)
        group_ptr[1:] = np.cumsum(np.bincount(labels, minlength=centres.shape[0]))
        group_members = np.argsort(labels, kind="stable").astype(np.int32)
        n_listed = min(GROUP_NEIGHBOURS, max(t - 1, 1))
        listed = np.empty((t, n_listed), dtype=np.int32)
        listed_sq = np.empty((t, n_listed))
        bound_sq = np.empty(t)
        norms = _squared_norms(centred)
        block = max(PRODUCT_BLOCK_ROWS, GROUP_TABLE_VALUES // t)
        for start in range(0, t, block):
            products = centred[start:start + block] @ centred.T
            nearest_neighbours(products, norms, start, batch, listed, listed_sq, bound_sq)
        # Each group's members side by side, as they are ranked.
        ranked = centred[group_members].astype(np.float32)
        return cls(centres.astype(np.float32), origin, ranked, group_ptr, group_members, listed,
                   listed_sq, bound_sq)

    def settled_share(self, X, batch) -> float:
        """The share of the rows of ``X`` the groups settle (do not defer),
        probed on about ``GROUPS_PROBE_ROWS`` rows spread evenly through X
        (whatever order its rows are in)."""
        probe = np.ascontiguousarray(X[::max(1, X.shape[0] // GROUPS_PROBE_ROWS)])
        deferred = np.empty(probe.shape[0], dtype=np.bool_)
        # Whether a row is deferred does not depend on its closest so far.
        self.closer(probe, batch, 0, np.zeros(probe.shape[0], dtype=np.int32),
                    np.full(probe.shape[0], np.inf), deferred)
        return 1.0 - float(deferred.mean())

    def closer(self, rows, batch, first: int, ids, sq, deferred) -> None:
        """:func:`closer_in_group` for ``rows`` (``batch``: the one the
        groups were made of)."""
        closer_in_group(rows, batch, self.origin, self.ranked, self.centres, self.group_ptr,
                        self.group_members, self.listed, self.listed_sq, self.bound_sq, first,
                        ids, sq, deferred)


def _closer_by_product(data: Data, batch, rank_dtype, first: int, ids, sq,
                       rows: np.ndarray | None = None) -> None:
    """Give each row of ``data`` (or the rows ``rows``, an index array) the
    nearest of ``batch`` (ids from ``first``) where it is strictly closer
    than ``sq``, in place."""
    labels, dist = assign(data, batch, rank_dtype, rows)
    kept_ids, kept_sq = (ids, sq) if rows is None else (ids[rows], sq[rows])
    # Branch-free (a boolean mask's indexing costs 3 ns a row on mixed masks).
    closer = dist < kept_sq
    kept_ids += closer * (first + labels - kept_ids)
    np.minimum(kept_sq, dist, out=kept_sq)
    if rows is not None:
        ids[rows], sq[rows] = kept_ids, kept_sq


class _KeptClosest:
    """Each row's closest candidate so far (index, squared distance), kept
    per row: 12 bytes a row; a new batch of candidates costs one pass."""

    recomputes = False

    def __init__(self, data: Data):
        self.data = data
        self.ids = np.zeros(data.n_samples, dtype=np.int32)
        self.sq = np.full(data.n_samples, np.inf)
        self.n_candidates = 0

    def add(self, batch: np.ndarray, search: _Reach | _Groups | None = None,
            rank_dtype=None) -> None:
        """Take the rows of ``batch`` as the next candidates (earlier ones
        win ties).  Given a ``search`` (reach lists or groups), a row tries
        only the candidates it finds there where they are few enough; else
        all of them, in one BLAS product for a block of such rows, float32
        given ``rank_dtype=np.float32`` (the distances only weight draws and
        candidates, so a near-tie may go to either: see :func:`assign`; in
        float64 the first round took twice as long)."""
        first = self.n_candidates
        if self.data.sparse:
            # One call: the sparse kernel transposes the batch (t x d) once a
            # call, dearer than a block's labels and distances (12 bytes a row).
            _closer_by_product(self.data, batch, rank_dtype, first, self.ids, self.sq)
        else:
            for rows in _sampling_blocks(self.data.n_samples):
                self._add_to_block(rows, batch, search, rank_dtype, first)
        self.n_candidates += batch.shape[0]

    def _add_to_block(self, rows: slice, batch, search, rank_dtype, first: int) -> None:
        """:meth:`add` for the dense rows ``rows``."""
        X, weights = self.data.X[rows], self.data.weights[rows]
        ids, sq = self.ids[rows], self.sq[rows]  # views: written through
        if search is None:
            _closer_by_product(Data(X, weights), batch, rank_dtype, first, ids, sq)
            return
        deferred = np.empty(ids.shape[0], dtype=np.bool_)
        search.closer(X, batch, first, ids, sq, deferred)
        # Rows far from every candidate so far (in clusters still without
        # one) reach most of the batch: the product for them, read where
        # they lie (a gathered copy cost 7 ms a seeding at (200,000, 64, 512)).
        _closer_by_product(Data(X, weights), batch, rank_dtype, first, ids, sq,
                           rows=np.flatnonzero(deferred))

    def blocks(self):
        """(rows, closest index, closest squared distance) a block at a time."""
        for rows in _sampling_blocks(self.data.n_samples):
            yield rows, self.ids[rows], self.sq[rows]


class _RecomputedClosest:
    """The same, for X on disk: nothing kept per row.  Each block's closest
    candidates are recomputed from the batches when the block is read, by the
    same calls on the same rows as :class:`_KeptClosest` makes, so the values
    (and the draws made from them) are the same to the bit.  Each read costs
    the distances to every batch so far, not only the newest."""

    recomputes = True

    def __init__(self, data: Data):
        self.data = data
        self.batches = []

    def add(self, batch: np.ndarray, search: _Reach | _Groups | None = None,
            rank_dtype=None) -> None:
        self.batches.append((batch, search, rank_dtype))

    def blocks(self):
        X, weights = self.data.X, self.data.weights
        for rows in _sampling_blocks(self.data.n_samples):
            block = _KeptClosest(Data(X[rows], weights[rows]))
            for batch in self.batches:
                block.add(*batch)
            yield rows, block.ids, block.sq


class _Read(NamedTuple):
    """What one read of the rows' closest candidates gives."""

    potential: float  # sum of w d^2
    candidate_weights: np.ndarray | None  # total weight of the rows closest to each
    picked: np.ndarray  # rows the next round samples
    picked_sq: np.ndarray  # their squared distance to their closest candidate
    farthest_sq: np.ndarray | None  # each candidate's farthest row (squared distance)


def _read_closest(closest, weights, n_candidates: int, rng=None, ell: float = 0.0,
                  count: bool = True) -> _Read:
    """One read of every row's closest candidate, a block at a time.

    Candidate weights are totalled given ``count``.  Given ``rng`` (another
    round follows), each candidate's farthest row is found, and the rows
    picked are those whose uniform draw (one per row, in row order) is below
    ``ell w d^2 / potential``.  The potential is known only at the end of the
    read, so a row is kept while its draw is below ``ell w d^2 / (the sum so
    far)``, a superset (the sum only grows) of about ``ell`` times the log of
    the number of blocks; the exact test follows on the same values.  So a
    round reads X once even where the distances are recomputed.  Unit
    weights given as a broadcast view sum exactly as an array of ones.
    """
    potential = 0.0
    candidate_weights = np.zeros(n_candidates) if count else None
    farthest_sq = None if rng is None else np.zeros(n_candidates)
    maybe_rows, maybe_draws, maybe_mass, maybe_sq = [], [], [], []
    for rows, ids, sq in closest.blocks():
        block_weights = np.ascontiguousarray(weights[rows])
        potential += float(block_weights @ sq)
        if count:
            candidate_weights += np.bincount(ids, weights=block_weights,
                                             minlength=n_candidates)
        if rng is None:
            continue
        farthest_by_closest(ids, sq, farthest_sq)
        draws = rng.uniform(size=sq.shape[0])
        mass = ell * block_weights * sq
        maybe = np.flatnonzero(draws < mass / potential if potential > 0 else mass > 0)
        maybe_rows.append(rows.start + maybe)
        maybe_draws.append(draws[maybe])
        maybe_mass.append(mass[maybe])
        maybe_sq.append(sq[maybe])
    if rng is None or potential == 0.0:
        picked = picked_sq = np.empty(0)
    else:
        rows, draws, mass, sq = (np.concatenate(parts) for parts in
                                 (maybe_rows, maybe_draws, maybe_mass, maybe_sq))
        drawn = draws < mass / potential
        picked, picked_sq = rows[drawn], sq[drawn]
    return _Read(potential, candidate_weights, picked.astype(np.int64), picked_sq, farthest_sq)


# n_rounds="auto": sample at least this many rounds and at most this many,
# and stop once a round no longer cuts the potential by this factor, or the
# next one is predicted not to.  Two rounds are enough on blobs (the third
# cuts it by ~1.1); data whose far ends dominate the first rounds' draws
# (Birch2's sine curve: cuts of 600, 29, 4) needs three, or the fit ends
# 1.6-2x above k-means++'s (benchmarks/RESULTS.md).
AUTO_ROUNDS = (2, 5)
AUTO_ROUNDS_CUT = 2.0
# The prediction needs this many drawn rows (fewer: too noisy to act on) and
# uses at most this many of them (evenly spaced) against the whole batch.
PREDICTION_ROWS = (32, 2048)


def _predicted_cut(batch: np.ndarray, read: _Read, weights, ell: float) -> float:
    """By how much adding ``batch``, the next round's draws, would cut the
    potential, estimated from the draws themselves before any row is read
    again: each drawn row's distance to the other drawn rows stands for what
    the batch would do to the rows like it (leave one out), weighted by the
    inverse of its chance of being drawn (Horvitz-Thompson).  Leaving each
    row out errs towards a smaller cut."""
    n_drawn = batch.shape[0]
    used = np.unique(np.linspace(0, n_drawn - 1, min(n_drawn, PREDICTION_ROWS[1])).astype(int))
    others_sq = np.empty(used.size)
    drawn = batch if used.size == n_drawn else batch[used]  # no copy of all of them
    batch_sq, blocks = _centred_products(drawn, batch, PRODUCT_BLOCK_ROWS)
    for start, products, used_sq in blocks:
        stop = start + used_sq.size
        nearest_other_sq(products, used_sq, batch_sq, used[start:stop], others_sq[start:stop])
    sq, w = read.picked_sq[used], weights[read.picked[used]]
    chance = np.minimum(ell * w * sq / read.potential, 1.0)  # as the draws gave it
    kept = np.minimum(others_sq / sq, 1.0)  # sq > 0: a row at 0 is never drawn
    estimate = float(np.sum(w * sq * kept / chance)) * n_drawn / used.size
    return read.potential / estimate if estimate > 0 else np.inf

# The sampling ranks a batch of candidates by a float32 product where the
# rows' squared distances to the first centre stay within these bounds (the
# products then neither overflow nor sink among float32's subnormals;
# coordinates beyond about 10^15 or all within 10^-9 are ranked in float64),
# and where the product is large enough (n t d multiply-adds) for its halved
# time to matter: float64 rows against float32 centres is one more
# compilation of the assignment kernel, 2.3 s on a first run, which small
# fits need not pay.
FLOAT32_RANK_RANGE = (2.0**-60, 2.0**100)
FLOAT32_RANK_MIN_WORK = 2**28


def _rank_dtype(farthest_sq: np.ndarray, n_samples: int, batch: np.ndarray):
    """float32 where the batch's product is large and the largest squared
    distance lies in FLOAT32_RANK_RANGE; else None (X's dtype)."""
    low, high = FLOAT32_RANK_RANGE
    large = n_samples * batch.shape[0] * batch.shape[1] >= FLOAT32_RANK_MIN_WORK
    return np.float32 if large and low <= float(farthest_sq.max()) <= high else None


def _kmeans_parallel(X, n_clusters, weights, rng, oversampling_factor=2.0, n_rounds="auto"):
    data = Data(X, weights)
    n = X.shape[0]
    ell = oversampling_factor * n_clusters
    on_disk = is_memory_mapped(X) and not data.sparse
    closest = (_RecomputedClosest if on_disk else _KeptClosest)(data)
    chosen = [int(_pick_weighted(weights, rng, 1)[0])]
    closest.add(_rows(X, chosen))
    min_rounds, max_rounds = AUTO_ROUNDS if n_rounds == "auto" else (n_rounds, n_rounds)
    # Recomputed distances are dear to read again: every read then also
    # totals the candidates' weights (the last read's are used); kept ones
    # are totalled once, at the end.
    count = closest.recomputes
    read = _read_closest(closest, weights, 1, rng, ell, count)
    # The first centre's distances (in X's dtype) give the data's scale.
    scale_sq = read.farthest_sq
    groups_settle = True  # till a round's groups fail their probe
    for round_ in range(1, max_rounds + 1):
        if read.potential == 0.0:
            break
        if read.picked.size:
            batch = _rows(X, read.picked)
            if (round_ > min_rounds and batch.shape[0] >= PREDICTION_ROWS[0]
                    and _predicted_cut(batch, read, weights, ell) < AUTO_ROUNDS_CUT):
                break
            rank_dtype = _rank_dtype(scale_sq, n, batch)
            search = None
            if not data.sparse:
                groups_pay = _groups_pay(n, batch)
                search = _Reach.of(_rows(X, chosen), batch, read.farthest_sq,
                                   rank_dtype or X.dtype,
                                   REACH_SHARE_OVER_GROUPS if groups_pay else REACH_SHARE)
                if search is None and groups_pay and groups_settle:
                    search = _Groups.of(batch, rank_dtype or X.dtype)
                    # A later round's batch, drawn where rows are far from
                    # every candidate, would settle fewer rows still.
                    if search.settled_share(X, batch) < GROUPS_MIN_SETTLED:
                        search, groups_settle = None, False
            closest.add(batch, search, rank_dtype)
            chosen.extend(int(i) for i in read.picked)
        previous = read.potential
        # The read that sums this round's potential also draws the next
        # round's rows (made whether or not it comes: the draws stay the same
        # for any storage of X).
        last = round_ == max_rounds
        read = _read_closest(closest, weights, len(chosen), None if last else rng, ell, count)
        if round_ >= min_rounds and read.potential * AUTO_ROUNDS_CUT > previous:
            break
    candidate_weights = read.candidate_weights
    if len(chosen) < n_clusters:
        # Too few distinct candidates (heavily duplicated data): top up with
        # random rows.
        rest = np.setdiff1d(np.arange(n), chosen)
        extra = rng.choice(rest, n_clusters - len(chosen), replace=False)
        closest.add(_rows(X, extra))
        chosen.extend(extra.tolist())
        candidate_weights = None
    if candidate_weights is None:
        candidate_weights = _read_closest(closest, weights, len(chosen)).candidate_weights
    # Sparse candidates stay sparse: the recluster's distances are then
    # expanded over their stored values (_Seeding.pairwise_sq).
    candidates = X[chosen] if data.sparse else _rows(X, chosen)
    # Recluster the weighted candidates (Bahmani et al., step 8) by
    # local-search++: the seeds are k of the candidates, rows of X.  Spark
    # MLlib takes k-means++ and then Lloyd iterations on the candidates; the
    # swaps repair what greedy k-means++ leaves (two seeds in one cluster,
    # none in another: default fits on Birch2 end 12 % below scikit-learn's
    # instead of 2 % above), and the Lloyd iterations, whose seeds are means
    # of a few dozen candidates, led the fit into worse minima on TF-IDF
    # documents (3-10 % above scikit-learn's) and never helped on blobs or
    # Birch (benchmarks/RESULTS.md).
    keep = candidate_weights > 0
    if keep.sum() >= n_clusters:
        candidates, candidate_weights = candidates[keep], candidate_weights[keep]
    seeds, _ = _kmeans_plusplus(candidates, n_clusters, candidate_weights, rng,
                                local_search_steps="auto")
    return seeds


def kmeans_parallel(X, n_clusters, *, sample_weight=None, oversampling_factor=2.0,
                    n_rounds="auto", random_state=None, n_threads=None):
    """Scalable k-means++ ("k-means||", Bahmani et al., VLDB 2012).

    Start from one weighted-random row; in each of the sampling rounds sample
    every row independently with probability
    ``min(1, l * w * d^2 / potential)`` (``l = oversampling_factor *
    n_clusters``), adding the sampled rows to a candidate set.  Each
    candidate is then weighted by the total sample weight of the rows closest
    to it, and the weighted candidates are reclustered into ``n_clusters``
    centroids by local-search++ (greedy k-means++ then LocalSearch++ swaps),
    so that the centroids are rows of X.  Each round is one parallel pass
    over X, which is what lets it scale out.

    A later round's candidates are tried against a row only within twice
    its distance of its closest candidate so far (no other can be closer),
    for every row whose list costs less than its share of one BLAS product
    with the whole batch (the rest, far from every candidate so far, take
    the product); once most clusters hold a candidate, that is a few of
    thousands.  A first round of many candidates (from about 1,000, at 8
    features or more) cuts them into groups of near neighbours: a row
    takes the nearest member of its nearest group, which settles it exactly
    when every candidate within twice that distance is among that member's
    16 nearest (the rest take the product).  The recluster of a few
    thousand candidates reads a table of their pairwise distances
    (:func:`kmeans_plusplus`).
    The product ranks the candidates in float32 whatever the dtype of X
    (twice as fast as float64; the distances only weight the draws and the
    candidates, and a near-tie may go to either of two candidates), unless
    the data's scale is beyond float32's safe range (coordinates from about
    10^15, or all within about 10^-9): then in float64.
    Each row's closest candidate so far is kept (12 bytes a row), except for
    a memory-mapped X: there it is recomputed a block of rows at a time
    whenever X is read (once a round, as in memory, but with the distances
    to every candidate so far), so that the seeding holds nothing per row;
    the centres are the same to the bit.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
    oversampling_factor : float, default=2.0
    n_rounds : "auto" or int, default="auto"
        Sampling rounds.  ``"auto"``: at least 2 (Spark MLlib's default) and
        at most 5 (Bahmani et al.'s), stopping once a round no longer halves
        the potential or the next is predicted not to.  The prediction reads
        no row again: the next round's draws are already made, and each
        drawn row's distance to the other drawn rows stands for what the
        batch would do to rows like it, weighted by the inverse of its
        chance of being drawn (Horvitz-Thompson).  Blobs stop after two
        rounds (at 512 clusters: seeds with 15 % less potential than
        k-means++'s); data whose far ends dominate the early draws, such as
        Birch2's sine curve, take three, where two left whole clusters
        without a candidate and the fit 1.6-2x above k-means++'s
        (benchmarks/RESULTS.md).
    random_state : int, numpy Generator or RandomState, default=None
    n_threads : int, default=None

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import kmeans_parallel
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(20, 1, (50, 2))])
    >>> centers = kmeans_parallel(X, 2, random_state=0)
    >>> sorted(np.round(centers[:, 0] / 20).astype(int).tolist())
    [0, 1]
    """
    X, weights = _validated("kmeans_parallel", X, n_clusters, sample_weight)
    check_value("kmeans_parallel", "oversampling_factor", oversampling_factor,
                [Real(0, open_low=True)])
    check_value("kmeans_parallel", "n_rounds", n_rounds, [Options(("auto",)), Integer(1)])
    with thread_limits(n_threads):
        return _kmeans_parallel(X, n_clusters, weights, as_generator(random_state),
                                oversampling_factor, n_rounds)
