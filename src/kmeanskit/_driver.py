"""The one driver loop shared by every batch k-means algorithm.

An algorithm is a *step*: a class built once per fit (``initialise state``)
whose ``iterate`` method runs one assignment + accumulation pass.  The loop
here owns everything else, written once: convergence (labels unchanged first,
then centroid shift against the tolerance), empty-cluster relocation, the
final assignment, history and verbose output.  Adding an algorithm is one
kernel file and one entry in ``STEPS``.

Centroids are kept in the data's own coordinates.  Dense distances are taken
in a frame centred on the mean of the current centroids (the kernels centre
each chunk on the fly; X is never copied), which keeps the
||c||^2 - 2 x.c expansion accurate for data far from the origin.  Because
the frame is a function of the centroids alone, an iteration labels exactly
as ``predict`` would with the same centroids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import cdist

from ._kernels import CHUNK_ROWS, GEMM_MIN_FEATURES
from ._kernels.assign import (
    TASK_ROWS,
    assign_dense,
    assign_sparse,
    labelled_inertia_dense,
    labelled_inertia_sparse,
)
from ._kernels.bounds import (
    elkan_iter,
    elkan_iter_sparse,
    hamerly_iter,
    hamerly_iter_sparse,
    yinyang_iter,
)
from ._kernels.lloyd import lloyd_iter_dense, lloyd_iter_sparse, shifted_moments
from ._kernels.sorted_hamerly import (
    BLOCK_ROWS,
    sort_rows,
    sorted_hamerly_iter,
    summarise_blocks,
)
from ._kernels.sparse_sums import cluster_sums_sparse
from ._results import IterationRecord
from ._validation import is_memory_mapped

# Per-group partial sums: at most this many groups and this many bytes, and
# at least this many chunks per group so that zeroing and reducing a group's
# (k, d) buffer stays small beside the group's work.
MAX_GROUPS = 32
GROUP_BYTES = 256 * 2**20
MIN_CHUNKS_PER_GROUP = 8
# Sparse Lloyd sums its rows in its labelling pass, into a (k, d) buffer per
# group, only while all the groups' buffers fit this many bytes in at least two
# groups (k d up to 2^19): a TF-IDF row stores ~150 of 20,000 features, far
# less work than a large buffer costs to zero and reduce.  Beyond, its rows
# are summed by cluster in a second pass (as the bounded steps' always are):
# at 100 clusters of 20,000 words Lloyd's fit took 2.7 s that way against
# 3.8 s in two groups, while at 3 clusters of 50,000 words the second pass
# cost as much as the labelling (0.68 against 0.51 s fused).
SPARSE_GROUP_BYTES = 8 * 2**20
MIN_SPARSE_GROUPS = 2
# Elkan keeps n x k lower bounds; above this many bytes it gives way to Hamerly.
ELKAN_MAX_BYTES = 2**30
# Hamerly's sorted copies of X and their per-row state (order 4, weight 8,
# label 4, bounds 16 bytes; two sets, sorting writes into the spare one) and
# the sort's scratch (margin and key, 16 bytes, one set): above this many
# bytes the rows are visited in place.
SORTED_MAX_BYTES = 2**30
SORTED_BYTES_PER_ROW = 32
SORT_SCRATCH_BYTES_PER_ROW = 16
SORTED_MAX_FEATURES = 8
RESORT_MIXED = 0.1
RESORT_EVERY = 5


# Below this many values (n d) the feature variances behind ``tol`` are
# summed in NumPy (about a millisecond), so that a first small fit compiles
# no kernel for them (0.5-0.6 s); from it by ``shifted_moments``, one
# parallel read of X that also gives a bounded run's moments (24 -> 7 ms at
# 200,000 x 128, and the bounded run's own 15 ms pass saved).
MOMENTS_KERNEL_MIN_VALUES = 2**20


def row_tasks(n: int) -> int:
    """The kernels' fixed parallel tasks (``TASK_ROWS`` rows) covering ``n`` rows."""
    return -(-n // TASK_ROWS)


@dataclass
class Data:
    """Validated input as the kernels want it (trusted, never modified)."""

    X: np.ndarray | sp.csr_matrix
    weights: np.ndarray
    may_copy: bool = True  # whether a step may keep a reordered copy of X

    @property
    def sparse(self) -> bool:
        return sp.issparse(self.X)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def dtype(self):
        return self.X.dtype

    @cached_property
    def _shifted_moments(self):
        """(first row r, sum (x - r), sum (x - r)^2 per column,
        sum w (x - r), sum w |x - r|^2) of dense X: one read of X
        (``shifted_moments``) for both :attr:`mean_variance` and
        :attr:`moments`."""
        X = self.X
        n_chunks = row_tasks(X.shape[0])
        sums, squares, weighted_sums = (np.empty((n_chunks, X.shape[1])) for _ in range(3))
        weighted_squares = np.empty(n_chunks)
        shifted_moments(X, self.weights, sums, squares, weighted_sums, weighted_squares)
        # Chunk order: the same totals on any thread count.
        return (X[0].astype(np.float64), sums.sum(axis=0), squares.sum(axis=0),
                weighted_sums.sum(axis=0), float(weighted_squares.sum()))

    @cached_property
    def mean_variance(self) -> float:
        """Mean over features of the (unweighted) feature variances: what
        ``tol`` is scaled by, as in scikit-learn."""
        n = self.n_samples
        if self.sparse:
            mean = np.asarray(self.X.mean(axis=0), dtype=np.float64).ravel()
            sq_mean = np.asarray(self.X.multiply(self.X).mean(axis=0), dtype=np.float64).ravel()
            return float(np.maximum(sq_mean - mean**2, 0.0).mean())
        if self.X.size < MOMENTS_KERNEL_MIN_VALUES:
            # The same sums in NumPy, about the first row as well.
            shifted = self.X - self.X[0].astype(np.float64)
            sums, squares = shifted.sum(axis=0), np.einsum("ij,ij->j", shifted, shifted)
        else:
            _, sums, squares, _, _ = self._shifted_moments
        return float(np.maximum(squares / n - (sums / n) ** 2, 0.0).mean())

    @cached_property
    def moments(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Column means m of dense X, sum w (x - m), sum w |x - m|^2 and the
        total weight: the inertia of any labelling follows from its
        per-cluster sums.  Computed once, for every bounded step of a run.
        Sparse X keeps m = 0 (its frame is not centred)."""
        total_weight = float(self.weights.sum())
        if self.sparse:
            weights = self.weights.astype(np.float64)
            first = np.asarray(self.X.T @ weights, dtype=np.float64).ravel()
            second = float(weights @ self.row_sq_norms)
            return np.zeros(self.X.shape[1]), first, second, total_weight
        # About the first row r, moved to the mean m = r + delta:
        # sum w (x - m) = sum w (x - r) - W delta and
        # sum w |x - m|^2 = sum w |x - r|^2 - 2 delta . sum w (x - r) + W |delta|^2.
        first_row, sums, _, weighted_sums, weighted_squares = self._shifted_moments
        delta = sums / self.n_samples
        first = weighted_sums - total_weight * delta
        second = weighted_squares - 2.0 * delta @ weighted_sums + total_weight * delta @ delta
        return first_row + delta, first, float(second), total_weight

    @cached_property
    def row_sq_norms(self) -> np.ndarray:
        """|x|^2 of each row of sparse X, in float64."""
        squares = self.X.multiply(self.X).astype(np.float64)
        return np.asarray(squares.sum(axis=1)).ravel()

    def origin(self, centers: np.ndarray) -> np.ndarray:
        """Origin of the working frame for ``centers``: their mean for dense
        data, zero for sparse data (centring would densify it)."""
        if self.sparse:
            return np.zeros(self.X.shape[1], dtype=self.dtype)
        return centers.mean(axis=0, dtype=np.float64).astype(self.dtype)

    def centred_row(self, i: int, origin: np.ndarray) -> np.ndarray:
        """Row ``i`` minus ``origin``, as a dense float64 vector."""
        if self.sparse:
            row = np.zeros(self.X.shape[1])
            stored = slice(self.X.indptr[i], self.X.indptr[i + 1])
            row[self.X.indices[stored]] = self.X.data[stored]
        else:
            row = self.X[i].astype(np.float64)
        return row - origin


def _row_blocks(X, block_bytes: int = 2**20):
    """Slices of rows whose float64 temporaries take about ``block_bytes``."""
    n, d = X.shape
    rows = max(256, block_bytes // (8 * max(d, 1)))
    return (slice(start, start + rows) for start in range(0, n, rows))


def column_mean(X) -> np.ndarray:
    """Feature means in float64 (no copy of X)."""
    if sp.issparse(X):
        return np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
    total = np.zeros(X.shape[1])
    for block in _row_blocks(X):
        total += X[block].sum(axis=0, dtype=np.float64)
    return total / X.shape[0]


# lloyd_iter_dense's bound arguments when it sets no bounds.
NO_BOUNDS = (np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64), False,
             np.empty(0), np.empty((0, 0)))


def _use_gemm(X) -> bool:
    return X.shape[1] >= GEMM_MIN_FEATURES


# assign_dense's row ids for "every row".
EVERY_ROW = np.empty(0, dtype=np.int64)


def assign(data: Data, centers: np.ndarray, rank_dtype=None,
           rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid and squared distance (float64) of every row, or of
    the rows ``rows`` (an index array; dense rows are read where they lie).

    ``rank_dtype=np.float32`` ranks the centroids of float64 dense rows by a
    float32 product (twice BLAS's speed) and sums the nearest one's distance
    from float32-rounded coordinates: for sampling, where centroids within
    about 10^-6 of the row's squared norm (in the centroids' frame) may be
    ranked either way, and a distance is good to about 10^-7 of that norm.
    """
    n = data.n_samples if rows is None else rows.shape[0]
    labels = np.empty(n, dtype=np.int32)
    min_dist = np.empty(n, dtype=np.float64)
    if data.sparse:  # not centred: no copy of the centroids
        X = data.X if rows is None else data.X[rows]
        assign_sparse(X.data, X.indices, X.indptr,
                      np.ascontiguousarray(centers, dtype=data.dtype), labels, min_dist)
    else:
        origin = data.origin(centers)
        working = data.dtype if rank_dtype is None else rank_dtype
        centred = np.ascontiguousarray(centers - origin, dtype=working)
        picked = EVERY_ROW if rows is None else rows.astype(np.int64, copy=False)
        assign_dense(data.X, picked, origin, centred, _use_gemm(data.X), labels, min_dist)
    return labels, min_dist


def assign_blocks(data: Data, centers: np.ndarray, block_rows: int = 2**16):
    """:func:`assign` a block of rows at a time: yields (rows, labels,
    squared distances), so that no O(n) temporaries are needed (a block's
    take under 1 MiB)."""
    for start in range(0, data.n_samples, block_rows):
        rows = slice(start, min(start + block_rows, data.n_samples))
        yield (rows, *assign(Data(data.X[rows], data.weights[rows]), centers))


def label_into(data: Data, centers: np.ndarray, labels: np.ndarray) -> float:
    """Write every row's nearest centroid into ``labels``, a block at a time
    (no other O(n) array); return the inertia."""
    inertia = 0.0
    for rows, block_labels, dist in assign_blocks(data, centers):
        labels[rows] = block_labels
        inertia += float(data.weights[rows] @ dist)
    return inertia


def labelled_inertia(data: Data, centers: np.ndarray, labels: np.ndarray) -> float:
    """sum_i w_i |x_i - c_(labels_i)|^2 summed directly in float64: one read
    of X and no distance to any other centroid (dense rows by their
    differences, sparse ones over their stored values)."""
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    chunk_inertia = np.empty(row_tasks(data.n_samples))
    if data.sparse:
        X = data.X
        labelled_inertia_sparse(X.data, X.indices, X.indptr, data.row_sq_norms, data.weights,
                                centers, labels, chunk_inertia)
    else:
        labelled_inertia_dense(data.X, data.weights, centers, labels, chunk_inertia)
    return float(chunk_inertia.sum())  # chunk order: the same on any thread count


def residue_bound(weights: np.ndarray, total_weight: float, block_rows: int = 2**16):
    """For running sums of ``weights``: None when they are whole numbers
    (their sums are exact); else a weight below which a cluster's running
    total may be a rounding residue: half the lightest positive weight, and
    at least 1e-10 of the total (a residue's own scale).  A block at a time;
    unit weights given as a broadcast view in O(1)."""
    if weights.strides[0] == 0:
        blocks = [weights[:1]]
    else:
        blocks = [weights[start:start + block_rows]
                  for start in range(0, weights.shape[0], block_rows)]
    if all(np.all(np.floor(block) == block) for block in blocks):
        return None
    lightest = min((float(block[block > 0].min()) for block in blocks if np.any(block > 0)),
                   default=0.0)
    return max(0.5 * lightest, 1e-10 * total_weight)


def clusters_held(labels: np.ndarray, n_clusters: int, weights: np.ndarray | None = None,
                  block_rows: int = 2**16) -> np.ndarray:
    """Which clusters hold a row (of positive weight, given ``weights``), a
    block at a time: no sorted copy of the labels, as ``np.unique`` makes."""
    held = np.zeros(n_clusters, dtype=bool)
    for start in range(0, labels.shape[0], block_rows):
        rows = slice(start, start + block_rows)
        block = labels[rows] if weights is None else labels[rows][weights[rows] > 0]
        held[block] = True
    return held


def _group_count(n: int, n_clusters: int, n_features: int, sparse: bool = False) -> int:
    """Row groups for the per-group partial sums (independent of threads)."""
    n_chunks = -(-n // CHUNK_ROWS)
    budget = SPARSE_GROUP_BYTES if sparse else GROUP_BYTES
    by_memory = budget // (8 * n_clusters * n_features)
    return max(1, min(-(-n_chunks // MIN_CHUNKS_PER_GROUP), MAX_GROUPS, by_memory))


def _sums_fused(data: Data, n_clusters: int) -> bool:
    """Whether sparse Lloyd sums its rows in its labelling pass."""
    n_features = data.X.shape[1]
    return MIN_SPARSE_GROUPS * 8 * n_clusters * n_features <= SPARSE_GROUP_BYTES


class _GroupBuffers:
    """Partial results every step's kernel fills: weighted sums of the rows,
    cluster weights (per group of rows, reduced in group order) and changed
    labels (per group or task).

    Sparse rows, unless ``fused_sparse`` (small buffers, see
    ``SPARSE_GROUP_BYTES``), are labelled in fixed tasks and then summed by
    cluster into one buffer (:meth:`sum_sparse`): buffers per group capped by
    memory left one thread at 512 clusters of 50,000 features.
    """

    # Whether ``iterate``'s inertia comes from the per-cluster sums (a
    # difference of large totals) rather than from each row's distance.
    inertia_from_sums = False

    def __init__(self, data: Data, n_clusters: int, fused_sparse: bool = False):
        self.data = data
        n, d = data.X.shape
        if data.sparse and not fused_sparse:
            n_groups, n_parts = 1, row_tasks(n)
        else:
            n_groups = n_parts = _group_count(n, n_clusters, d, data.sparse)
        self.sums = np.empty((n_groups, n_clusters, d))
        self.weights = np.empty((n_groups, n_clusters))
        self.changed = np.empty(n_parts, dtype=np.int64)

    def sum_sparse(self, previous: np.ndarray | None, labels: np.ndarray) -> None:
        """The sums and weights of sparse rows by cluster (``previous`` None),
        or their change since the ``previous`` labels (the rows that moved)."""
        X, full = self.data.X, previous is None
        n = labels.shape[0]
        listed = np.empty(n * (1 if full else 2), dtype=np.int32 if n < 2**31 else np.int64)
        starts = np.empty(len(self.weights[0]) + 1, dtype=np.int64)
        cluster_sums_sparse(X.data, X.indices, X.indptr, self.data.weights,
                            labels if full else previous, labels, full, listed, starts,
                            self.sums[0], self.weights[0])


class LloydStep(_GroupBuffers):
    """Lloyd's algorithm: no state beyond the per-group accumulation buffers."""

    def __init__(self, data: Data, n_clusters: int):
        self.fused = data.sparse and _sums_fused(data, n_clusters)
        super().__init__(data, n_clusters, self.fused)
        self.inertia = np.empty(self.changed.shape[0])

    def iterate(self, centers: np.ndarray, origin: np.ndarray, labels: np.ndarray):
        """Assign with ``centers`` (given relative to ``origin``).

        Returns the per-cluster weighted sums of the rows minus ``origin``,
        the per-cluster weights, the inertia, the number of changed labels and
        the number of distance computations skipped (none for Lloyd).
        """
        data = self.data
        buffers = (labels, self.sums, self.weights, self.inertia, self.changed)
        if data.sparse:
            X, tasks = data.X, row_tasks(data.n_samples)
            if not self.fused and len(self.changed) != tasks:  # MiniBatchKMeans' batches
                self.changed, self.inertia = np.empty(tasks, dtype=np.int64), np.empty(tasks)
            lloyd_iter_sparse(X.data, X.indices, X.indptr, data.weights, centers, labels,
                              self.fused, self.sums, self.weights, self.inertia, self.changed)
            if not self.fused:
                self.sum_sparse(None, labels)
        else:
            lloyd_iter_dense(data.X, data.weights, origin, centers, _use_gemm(data.X),
                             *buffers, *NO_BOUNDS)
        return (self.sums.sum(axis=0), self.weights.sum(axis=0),
                float(self.inertia.sum()), int(self.changed.sum()), 0)


class BoundStep(_GroupBuffers):
    """Shared state of the bounded algorithms: bounds, the centroids the bounds
    refer to, and the totals that give the inertia from per-cluster sums."""

    # Iterations that only set the bounds up, before the skip share is judged.
    settling = 1
    inertia_from_sums = True

    def keep_share(self) -> float:
        """Least share of distances skipped for ``auto`` to keep this step."""
        return KEEP_BOUNDS

    def __init__(self, data: Data, n_clusters: int):
        super().__init__(data, n_clusters)
        n = data.n_samples
        self.skipped = np.empty(self.changed.shape[0], dtype=np.int64)
        self.upper = np.zeros(n)
        self.previous = None
        self.mean, self.first_moment, self.second_moment, self.total_weight = data.moments
        self.residue_below = residue_bound(data.weights, self.total_weight)

    def _inertia(self, centers, origin, sums, weights) -> float:
        """sum_i w_i |x_i - c_a(i)|^2 from the per-cluster sums (frame ``origin``)."""
        shift = origin - self.mean
        total = (self.second_moment - 2 * shift @ self.first_moment
                 + self.total_weight * shift @ shift)
        centers = np.asarray(centers, dtype=np.float64)
        return float(max(total - 2 * np.sum(centers * sums)
                         + weights @ np.einsum("ij,ij->i", centers, centers), 0.0))

    def _bound_groups(self, centers_original):
        """(members, offsets, include_assigned, lower as (n, groups)) for
        setting the bounds in Lloyd's BLAS pass (``lloyd_iter_dense``), or None
        where the step sets them itself."""
        return None

    def _moved(self, centers_original):
        if self.previous is None:
            return np.zeros(len(centers_original))
        difference = centers_original - self.previous
        return np.sqrt(np.square(difference, out=difference).sum(axis=1))

    def iterate(self, centers, origin, labels):
        """As :meth:`LloydStep.iterate`, skipping what the bounds allow.

        The first call computes every distance to set the bounds (negative
        labels tell the kernels so), also when the run started with another
        algorithm and the labels are already set.
        """
        original = centers.astype(np.float64)
        if not self.data.sparse:  # sparse rows: a zero origin
            original += origin
        moved = self._moved(original)
        fresh = self.previous is None
        before = labels.copy() if fresh else None
        if fresh:
            labels[:] = -1
        use_gemm = not self.data.sparse and _use_gemm(self.data.X)
        groups = self._bound_groups(original) if fresh and use_gemm else None
        if groups is not None:
            # Every distance anyway: one blocked BLAS pass, as Lloyd's.
            members, offsets, include_assigned, lower = groups
            inertia = np.empty(len(self.changed))  # from the sums, as every iteration
            lloyd_iter_dense(self.data.X, self.data.weights, origin, centers, True, labels,
                             self.sums, self.weights, inertia, self.changed, members,
                             offsets, include_assigned, self.upper, lower)
            self.skipped[:] = 0
        else:
            self._run(centers, origin, original, moved, labels)
        self.previous = original
        # Only read: one group's buffer needs no reduction (nor a copy).
        sums = self.sums[0] if len(self.sums) == 1 else self.sums.sum(axis=0)
        weights = self.weights.sum(axis=0)
        # The kernels give the change of the sums of rows minus origin (the
        # rows that moved; every row on the first call).  The running
        # totals are kept about the data mean, a fixed frame, and handed
        # out in this call's frame as new arrays, which the driver's
        # relocation may alter.  Sparse rows have both at zero: no (k, d)
        # pass moves between the frames.
        to_mean = None if self.data.sparse else (origin - self.mean)[None, :]
        if fresh:
            self.total_sums = np.zeros_like(sums)
            self.total_weights = np.zeros_like(weights)
        self.total_sums += sums if to_mean is None else sums + weights[:, None] * to_mean
        self.total_weights += weights
        if self.residue_below is not None and \
                np.any(np.abs(self.total_weights) <= self.residue_below):
            # Non-integer weights added and taken out in other orders
            # leave a rounding residue (of either sign) where a cluster
            # lost its last row: such a cluster is empty, as Lloyd's sums
            # have it, or relocation would miss it.  Only a cluster
            # lighter than half the lightest row can be one, so the labels
            # are read only when there is such a cluster.
            empty = ~clusters_held(labels, len(weights), self.data.weights)
            self.total_sums[empty] = 0.0
            self.total_weights[empty] = 0.0
        sums = (self.total_sums.copy() if to_mean is None
                else self.total_sums - self.total_weights[:, None] * to_mean)
        weights = self.total_weights.copy()
        changed = int((labels != before).sum()) if fresh else int(self.changed.sum())
        return (sums, weights, self._inertia(centers, origin, sums, weights), changed,
                int(self.skipped.sum()))


# Centroid gaps by one BLAS product from this many multiply-adds (k^2 d) on:
# exact differences cost as much as the assignment itself at 100 sparse
# centroids of 20,000 features (and 1.5 ms an iteration at 20).
GAPS_PRODUCT_MIN_WORK = 2**20


def squared_distances_below(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared distances between the rows of A and B (float64) by one BLAS
    product, less its rounding bound, (d + 4) eps 2 (|a|^2 + |b|^2), about
    B's mean (where the expansion rounds least): never above the exact ones,
    for tests that only skip less when a distance is smaller."""
    centre = B.mean(axis=0, dtype=np.float64)
    # One pass a copy (at 512 sparse centroids of 50,000 features each
    # takes a tenth of a second), one copy for A is B.
    same = A is B
    B = np.subtract(B, centre, dtype=np.float64)
    A = B if same else np.subtract(A, centre, dtype=np.float64)
    b_sq = np.einsum("ij,ij->i", B, B)
    total = (b_sq if same else np.einsum("ij,ij->i", A, A))[:, None] + b_sq[None, :]
    sq = total - 2.0 * (A @ B.T) - (A.shape[1] + 4) * np.finfo(np.float64).eps * 2 * total
    return np.maximum(sq, 0.0, out=sq)


def center_gaps(centers: np.ndarray) -> np.ndarray:
    """Distances between the rows of ``centers`` (float64), inf on the
    diagonal, for the bounds' skip tests: exact differences, or for large
    k^2 d :func:`squared_distances_below` (a smaller gap only skips less)."""
    k, d = centers.shape
    if k * k * d < GAPS_PRODUCT_MIN_WORK:
        gaps = cdist(centers, centers)
    else:
        gaps = np.sqrt(squared_distances_below(centers, centers))
    np.fill_diagonal(gaps, np.inf)
    return gaps


class HamerlyStep(BoundStep):
    """Hamerly (2010): one upper and one lower bound per point.

    Below ``SORTED_MAX_FEATURES`` features, when X is in memory (never a
    memmap) and a copy fits ``SORTED_MAX_BYTES``, the rows are copied in an
    order sorted by label and margin and blocks of rows that keep their
    label are skipped whole (``_kernels.sorted_hamerly``); otherwise every
    row is visited (``_kernels.bounds.hamerly_iter``).
    """

    def __init__(self, data, n_clusters):
        super().__init__(data, n_clusters)
        self.rows = (_SortedRows(data, n_clusters) if may_copy_sorted(data)
                     else None)
        if self.rows is None:
            self.lower = np.zeros(data.n_samples)
        else:
            self.upper = None  # the sorted rows keep their own bounds
            self.settling = 2  # the second iteration sorts

    def keep_share(self):
        # A skipped sorted block costs next to nothing and a visited one about
        # what Lloyd pays for its rows, so far fewer skips still pay.
        return KEEP_BOUNDS if self.rows is None else KEEP_SORTED_BLOCKS

    def _bound_groups(self, centers_original):
        if self.rows is not None:  # its first visit computes every distance itself
            return None
        k = len(centers_original)
        return (np.arange(k), np.array([0, k]), False,
                self.lower.reshape(self.data.n_samples, 1))

    def _run(self, centers, origin, original, moved, labels):
        half_gap = 0.5 * center_gaps(original).min(axis=1)
        if self.rows is not None:
            self.rows.iterate(origin, centers, moved, half_gap, labels, self)
        elif self.data.sparse:
            X, previous = self.data.X, labels.copy()
            hamerly_iter_sparse(X.data, X.indices, X.indptr, self.data.row_sq_norms,
                                self.data.weights, centers, moved, half_gap, labels,
                                self.upper, self.lower, self.changed, self.skipped)
            self.sum_sparse(previous, labels)
        else:
            hamerly_iter(self.data.X, self.data.weights, origin, centers, moved, half_gap,
                         labels, self.upper, self.lower, self.sums, self.weights,
                         self.changed, self.skipped)


def may_copy_sorted(data: Data) -> bool:
    """Whether Hamerly keeps a sorted copy of X (see :class:`HamerlyStep`)."""
    if data.sparse or not data.may_copy or is_memory_mapped(data.X):
        return False
    n, d = data.X.shape
    # Two sets of sorted rows and state: sorting writes into the spare one.
    return d < SORTED_MAX_FEATURES and (2 * (data.X.nbytes + n * SORTED_BYTES_PER_ROW)
                                        + n * SORT_SCRATCH_BYTES_PER_ROW) <= SORTED_MAX_BYTES


class _SortedRows:
    """Rows of X in (label, margin) order, cut into blocks, with each block's
    bounds (see ``_kernels.sorted_hamerly``).

    The first iteration visits the rows in their own order (labels unknown);
    the second sorts them.  Labels change and margins shrink as the centroids
    move; when more than ``RESORT_MIXED`` of the blocks hold several labels,
    the rows are sorted again (at most every ``RESORT_EVERY`` iterations),
    into a second set of buffers that then swaps with the first."""

    def __init__(self, data, n_clusters):
        n = data.X.shape[0]
        self.n_clusters = n_clusters
        self.X, self.weights = data.X, data.weights
        self.order = np.arange(n, dtype=np.int32)  # n < 2^31 under SORTED_MAX_BYTES
        self.labels = np.full(n, -1, dtype=np.int32)
        self.upper, self.lower = np.zeros(n), np.zeros(n)
        self.spare = None
        self.scratch = None  # the sort's margins and keys
        n_blocks = -(-n // BLOCK_ROWS)
        self.block_label = np.full(n_blocks, -1, dtype=np.int32)
        self.block_upper = np.zeros(n_blocks)
        self.block_margin = np.full(n_blocks, -np.inf)  # not summarised: visit
        self.owed_up = np.zeros(n_blocks)
        self.owed_low = np.zeros(n_blocks)
        self.since_sort = None  # iterations since the rows were last sorted
        self.visited_once = False
        self.sorted_before = False

    def _state(self):
        return self.X, self.weights, self.order, self.labels, self.upper, self.lower

    def _sort(self, half_gap):
        if self.spare is None:
            self.spare = tuple(np.empty_like(a) for a in self._state())
        if self.scratch is None:
            n = self.labels.shape[0]
            self.scratch = np.empty(n), np.empty(n, dtype=np.int64)
        # Margins are classed relative to the typical half gap between centroids.
        finite = half_gap[np.isfinite(half_gap)]  # a lone centroid has no gap
        typical = finite.mean() if finite.size else 1.0
        scale_class = int(np.floor(4 * np.log2(max(typical, 1e-300))))
        sort_rows(self.n_clusters, scale_class, *self._state(), self.owed_up,
                  self.owed_low, *self.spare, *self.scratch)
        current = self._state()
        (self.X, self.weights, self.order, self.labels, self.upper,
         self.lower) = self.spare
        # Before the first sort X and the weights are the caller's: never
        # written to, so not kept as spares.
        self.spare = current if self.sorted_before else None
        self.sorted_before = True
        self.owed_up[:] = 0.0
        self.owed_low[:] = 0.0
        summarise_blocks(self.labels, self.upper, self.lower, self.block_label,
                         self.block_upper, self.block_margin)
        self.since_sort = 0

    def iterate(self, origin, centers, moved, half_gap, labels, step):
        if self.visited_once and (self.since_sort is None or (
                self.since_sort >= RESORT_EVERY and
                (self.block_label < 0).mean() > RESORT_MIXED)):
            self._sort(half_gap)
        self.visited_once = True
        if self.since_sort is not None:
            self.since_sort += 1
        sorted_hamerly_iter(self.X, self.weights, self.order, origin, centers, moved,
                            half_gap, labels, self.labels, self.upper, self.lower,
                            self.block_label, self.block_upper, self.block_margin,
                            self.owed_up, self.owed_low, step.sums, step.weights,
                            step.changed, step.skipped)


class ElkanStep(BoundStep):
    """Elkan (2003): an upper bound and k lower bounds per point."""

    def __init__(self, data, n_clusters):
        super().__init__(data, n_clusters)
        self.lower = np.zeros((data.n_samples, n_clusters))

    def _bound_groups(self, centers_original):
        k = len(centers_original)
        return np.arange(k), np.arange(k + 1), True, self.lower

    def _run(self, centers, origin, original, moved, labels):
        distances = center_gaps(original)
        if self.data.sparse:
            X, previous = self.data.X, labels.copy()
            elkan_iter_sparse(X.data, X.indices, X.indptr, self.data.row_sq_norms,
                              self.data.weights, centers, moved, distances, labels,
                              self.upper, self.lower, self.changed, self.skipped)
            self.sum_sparse(previous, labels)
            return
        elkan_iter(self.data.X, self.data.weights, origin, centers, moved, distances,
                   labels, self.upper, self.lower, self.sums, self.weights, self.changed,
                   self.skipped)


class YinyangStep(BoundStep):
    """Yinyang (Ding et al., 2015): centroids in about k/10 groups, one lower
    bound per point and group.  The groups are a k-means clustering of the
    starting centroids (deterministic: naive-sharding start)."""

    def __init__(self, data, n_clusters):
        super().__init__(data, n_clusters)
        self.n_groups = max(1, n_clusters // 10)
        self.lower = np.zeros((data.n_samples, self.n_groups))
        self.members = None

    def _group(self, centers_original):
        from .kmeans import KMeans

        if self.n_groups == 1:
            group_of = np.zeros(len(centers_original), dtype=np.int64)
        else:
            group_of = KMeans(self.n_groups, init="sharding", max_iter=5, n_threads=1,
                              algorithm="lloyd").fit(centers_original).labels_.astype(np.int64)
        self.group_of = group_of
        self.members = np.argsort(group_of, kind="stable").astype(np.int64)
        counts = np.bincount(group_of, minlength=self.n_groups)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def _bound_groups(self, centers_original):
        if self.members is None:
            self._group(centers_original)
        return self.members, self.offsets, False, self.lower

    def predicted_skip_share(self, centers, labels) -> float:
        """Share of the distances the next iteration's bounds will skip, for
        the new ``centers`` (original frame), estimated on PREDICTION_ROWS
        rows spread over X: a row skips the groups whose lower bound, less the
        most any of their centroids moved, clears its upper bound plus its
        own centroid's move; all k when every group does.  (The kernel then
        tightens the upper bound of a row that fails, so this slightly
        underestimates.)"""
        moved = self._moved(centers.astype(np.float64))
        group_moved = np.zeros(self.n_groups)
        np.maximum.at(group_moved, self.group_of, moved)
        rows = slice(None, None, max(1, self.data.n_samples // PREDICTION_ROWS))
        upper = self.upper[rows] + moved[labels[rows]]
        clear = self.lower[rows] - group_moved >= upper[:, None]
        k = len(moved)
        skipped = np.where(clear.all(axis=1), k, clear @ np.diff(self.offsets))
        return float(skipped.sum()) / (len(upper) * k)

    def _run(self, centers, origin, original, moved, labels):
        if self.members is None:
            self._group(original)
        yinyang_iter(self.data.X, self.data.weights, origin, centers, moved, self.members,
                     self.offsets, self.group_of, labels, self.upper, self.lower, self.sums,
                     self.weights, self.changed, self.skipped)


STEPS = {"lloyd": LloydStep, "hamerly": HamerlyStep, "elkan": ElkanStep,
         "yinyang": YinyangStep}


def resolve_algorithm(algorithm: str, data: Data, n_clusters: int) -> str:
    """The algorithm that will run, as a ``run`` plan: "lloyd", "hamerly",
    "elkan", or "auto:<bounded>" (Lloyd first, then the bounded algorithm;
    see :func:`run`).  Sparse input runs Lloyd, Hamerly or Elkan (asked for
    Yinyang or ``"auto"``, Hamerly: measured fastest on TF-IDF rows);
    ``"auto"`` on a memory-mapped X runs Lloyd, since bounds would cost
    memory per row while every iteration still reads all of X.  Elkan's
    n x k bounds must fit their memory budget, else Hamerly runs."""
    n, d = data.X.shape
    if data.sparse:
        # Hamerly from the start: its sparse kernel computes what Lloyd's does
        # for a row its bounds cannot skip, and adds only the rows that move
        # to the cluster sums, so even its first iterations cost less.
        return {"lloyd": "lloyd", "elkan": "elkan"}.get(algorithm, "hamerly")
    if algorithm == "auto" and is_memory_mapped(data.X):
        return "lloyd"
    adaptive = algorithm == "auto"
    if adaptive:
        algorithm = auto_algorithm(n, d, n_clusters, may_copy_sorted(data))
    if algorithm == "elkan" and n * n_clusters * 8 > ELKAN_MAX_BYTES:
        algorithm = "hamerly"
    return f"auto:{algorithm}" if adaptive and algorithm != "lloyd" else algorithm


# Below this many multiply-adds a Lloyd pass (n k d) "auto" stays with Lloyd:
# such a pass takes under a millisecond, and the bounds' fixed costs (the
# data's moments, a sorted copy, the final inertia re-summed from the rows)
# were rarely recovered: Lloyd alone as fast or faster on most such fits
# measured (by up to 1.3x), the bounds faster on a few (by up to 1.3x), all
# within a few milliseconds (benchmarks/RESULTS.md).  A first fit in a fresh
# process also skips compiling the bounded kernels (2.5-4 s).
BOUNDS_MIN_WORK = 2**21


def auto_algorithm(n: int, d: int, n_clusters: int, sortable: bool = True) -> str:
    """The bounded algorithm ``auto`` may move to, from the measured
    crossovers (benchmarks/RESULTS.md, "Choosing the algorithm").

    Lloyd alone where a pass costs under ``BOUNDS_MIN_WORK`` multiply-adds.
    From 256 clusters Yinyang's group bounds win at every dimension.  Below
    8 features Hamerly on sorted rows skips whole blocks and wins; where it
    may not copy X (a memmap, or beyond its memory budget) plain bounds lose
    to Lloyd's direct, vectorised loop except Yinyang from 4 features and 32
    clusters.  From 8 features: Elkan's k bounds pay from 256 features with
    up to 32 clusters, where every skipped distance is expensive; Yinyang
    elsewhere, also below 16 clusters (one group below 20: Hamerly's single
    bound, in Yinyang's kernels: "auto" measured up to 2.5x faster than
    with Hamerly's own there).
    """
    if n * d * n_clusters < BOUNDS_MIN_WORK:
        return "lloyd"
    if n_clusters >= 256:
        return "yinyang"
    if d < SORTED_MAX_FEATURES:
        if sortable:
            return "hamerly"
        return "yinyang" if d >= 4 and n_clusters >= 32 else "lloyd"
    if d >= 256 and n_clusters <= 32:
        return "elkan"
    return "yinyang"


# The adaptive plan (see Plan): Lloyd while more than SWITCH_TO_BOUNDS of the
# points change cluster (bounds would be reset every iteration), then the
# bounded algorithm, back to Lloyd after POOR_ITERATIONS iterations in a row
# in which its bounds skip less than KEEP_BOUNDS of the distances (a failed
# bound costs direct distances, Lloyd's are BLAS products), and again bounds
# once the changes drop to RETRY_DROP of their number then.
SWITCH_TO_BOUNDS = 0.05
KEEP_BOUNDS = 0.8
KEEP_SORTED_BLOCKS = 0.25
POOR_ITERATIONS = 3
RETRY_DROP = 0.25
RETRIES = 2
# Yinyang's first pass (a BLAS pass that also sets the bounds) costs 1.2-2.5
# Lloyd passes, but on separated clusters its bounds skip 98-100 % of the
# second iteration's distances, where Lloyd's second pass computes them all;
# on overlapping clusters they skip 0-50 %, and a poor Yinyang iteration
# costs up to 7 Lloyd passes.  So "auto" bound for Yinyang (where the first
# pass is a BLAS pass) starts with it, and keeps it only if its bounds are
# predicted to skip KEEP_BOUNDS of the second iteration's distances, from
# PREDICTION_ROWS rows spread over X.
PREDICTION_ROWS = 4096
# Below this many features Lloyd's pass is so cheap that Yinyang's skipping
# 98 % of the distances still cost more while 12 % of the labels change
# ((200,000, 4, 512): 0.037 s against 0.016 s).
PROBED_MIN_FEATURES = 8
# ... and with fewer clusters a Lloyd pass (k products a row) costs too
# little beside what a bounded run adds whatever k (its first pass's
# premium, a pass for the data's moments, one to sum the final inertia from
# the rows): at (200,000, 64, 64), a 2-iteration fit, 0.045 s against
# Lloyd's 0.035 s; at (200,000, 8, 32) 0.060-0.067 s against 0.052-0.059 s.
PROBED_MIN_CLUSTERS = 128


def relocate_empty(data, centers, origin, labels, sums, cluster_weights) -> tuple[int, bool]:
    """Move each empty cluster onto one of the points farthest from its centroid.

    Works on ``sums`` and ``cluster_weights`` (relative to ``origin``) in
    place, as the update will see them: the chosen point leaves its old
    cluster's sum and founds the empty one.  Farthest first, ties to the
    lowest row index, so the choice is deterministic.  Only points away from
    their centroid are taken: when every point sits on a centroid (fewer
    distinct points than clusters) a move would only stack two centroids on
    one point, so the remaining clusters stay empty where they are.  Returns
    the number of empty clusters and whether any was moved.
    """
    empty = np.flatnonzero(cluster_weights == 0)
    if empty.size == 0:
        return 0, False
    farthest, distances = farthest_rows(data, centers, empty.size)
    moved = False
    for cluster, point, distance in zip(empty, farthest, distances, strict=True):
        if distance <= 0:  # sorted farthest first: no point left away from a centroid
            break
        weight = data.weights[point]
        row = weight * data.centred_row(point, origin)
        old = labels[point]
        sums[old] -= row
        cluster_weights[old] -= weight
        sums[cluster] = row
        cluster_weights[cluster] = weight
        moved = True
    return int(empty.size), moved


def farthest_rows(data: Data, centers: np.ndarray, count: int):
    """The ``count`` rows farthest from their nearest centroid (rows of zero
    weight last: they cannot hold a cluster), farthest first, ties to the
    lowest index; and their squared distances.  A block of rows at a time,
    keeping only the leaders."""
    best_rows = np.empty(0, dtype=np.int64)
    best_dist = np.empty(0)
    for rows, _, dist in assign_blocks(data, centers):
        dist[data.weights[rows] == 0] = -1.0
        if dist.size > count:  # every row tied with the count-th largest stays
            threshold = np.partition(dist, dist.size - count)[dist.size - count]
            leaders = np.flatnonzero(dist >= threshold)
        else:
            leaders = np.arange(dist.size)
        candidates = np.concatenate([best_rows, rows.start + leaders])
        candidate_dist = np.concatenate([best_dist, dist[leaders]])
        order = np.lexsort((candidates, -candidate_dist))[:count]
        best_rows, best_dist = candidates[order], candidate_dist[order]
    return best_rows, best_dist


class Plan:
    """Which step runs each iteration: one algorithm throughout, or for
    ``"auto:<bounded>"`` Lloyd first, the bounded algorithm once few labels
    change, and Lloyd again when the bounds do not skip enough.  Where the
    bounded algorithm is Yinyang on enough features and clusters
    (PROBED_MIN_FEATURES, PROBED_MIN_CLUSTERS), its first pass replaces
    Lloyd's and it stays only if its bounds are predicted to pay in the
    second iteration.

    Bounds skip more as the centroids settle, and a share read right after
    the switch can be briefly low, so the plan falls back only after
    ``POOR_ITERATIONS`` poor iterations in a row, and tries the bounds again
    (at most ``RETRIES`` times) once the labels that change have dropped to
    ``RETRY_DROP`` of their number at the fallback.  All algorithms are exact,
    so switching changes the speed, never the iterations; the plan depends on
    counts alone, so it is the same on every run."""

    def __init__(self, algorithm: str, data: Data, n_clusters: int):
        self.data, self.n_clusters = data, n_clusters
        adaptive = algorithm.startswith("auto:")
        self.bounded = algorithm.split(":", 1)[1] if adaptive else None
        self.probing = (adaptive and self.bounded == "yinyang"
                        and data.X.shape[1] >= PROBED_MIN_FEATURES
                        and n_clusters >= PROBED_MIN_CLUSTERS)
        self.current = self.bounded if self.probing else "lloyd" if adaptive else algorithm
        self.step = STEPS[self.current](data, n_clusters)
        self.switch_below = SWITCH_TO_BOUNDS * data.n_samples
        self.retries = 0
        self.bounded_iterations = 0
        self.poor = 0

    def after(self, record: IterationRecord, centers: np.ndarray, labels: np.ndarray) -> None:
        """Choose the next iteration's step, given this iteration's record and
        the centroids and labels it produced."""
        if self.bounded is None:
            return
        if self.probing:  # the bounds are set: keep them if they will pay
            self.probing = False
            self.bounded_iterations = 1
            if self.step.predicted_skip_share(centers, labels) < self.step.keep_share():
                self._use("lloyd")
            return
        if self.current == "lloyd":
            if record.n_changed < self.switch_below and self.retries <= RETRIES:
                self._use(self.bounded)
            return
        self.bounded_iterations += 1
        # The first iterations only set the bounds (and sort): judge the next.
        if self.bounded_iterations <= self.step.settling:
            return
        total = self.data.n_samples * self.n_clusters
        self.poor = self.poor + 1 if record.n_skipped < self.step.keep_share() * total else 0
        if self.poor >= POOR_ITERATIONS:
            self.retries += 1
            self.switch_below = RETRY_DROP * record.n_changed
            self._use("lloyd")

    def _use(self, name: str) -> None:
        self.current = name
        self.step = STEPS[name](self.data, self.n_clusters)
        self.bounded_iterations = 0
        self.poor = 0


@dataclass
class RunResult:
    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    history: list = field(default_factory=list)


def _means(sums, cluster_weights, centers, origin):
    """The centroids of the next iteration, in ``centers``' dtype: each
    cluster's mean (``sums`` relative to ``origin``, None for zero), or its
    centre where the cluster is empty.  Divides ``sums`` in place (a fresh
    array from the step): at 512 clusters of 50,000 sparse features each
    (k, d) pass takes a tenth of a second."""
    filled = cluster_weights > 0
    np.divide(sums, cluster_weights[:, None], out=sums, where=filled[:, None])
    if origin is not None:
        sums += origin
    means = sums.astype(centers.dtype, copy=False)
    if not filled.all():
        means[~filled] = centers[~filled]
    return means


def run(data: Data, centers: np.ndarray, *, algorithm: str, max_iter: int,
        tol: float, verbose: int = 0) -> RunResult:
    """Iterate from ``centers`` until convergence, then label every row.

    ``algorithm`` is a plan from :func:`resolve_algorithm`.  Stops when no
    label changes and no empty cluster had to move (strict
    convergence), else when the squared centroid shift summed over clusters
    is at most ``tol`` (already scaled by the data variance), else after
    ``max_iter`` iterations.  After strict convergence the centroids of the
    last pass are returned; otherwise a final assignment labels the rows with
    the final centroids.  Either way the returned labels are those ``assign``
    gives for the returned centroids.
    """
    n_clusters = centers.shape[0]
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    labels = np.full(data.n_samples, -1, dtype=np.int32)
    plan = Plan(algorithm, data, n_clusters)
    history = []
    strict = False
    for iteration in range(1, max_iter + 1):
        start = time.perf_counter()
        origin = data.origin(centers)
        # Sparse rows are not centred (a zero origin): no (k, d) copies for it.
        centred = centers if data.sparse else np.ascontiguousarray(centers - origin)
        sums, cluster_weights, inertia, n_changed, n_skipped = plan.step.iterate(
            centred, origin, labels)
        n_empty, relocated = relocate_empty(data, centers, origin, labels, sums,
                                            cluster_weights)
        new_centers = _means(sums, cluster_weights, centers, None if data.sparse else origin)
        difference = np.subtract(new_centers, centers, dtype=np.float64)
        shift = float(np.square(difference, out=difference).sum())
        labelled_with, centers = centers, new_centers
        record = IterationRecord(iteration, inertia, n_changed, n_empty,
                                 time.perf_counter() - start, n_skipped, plan.current)
        history.append(record)
        if verbose:
            print(f"Iteration {iteration}: inertia {inertia:.6g}, {n_changed} "
                  f"points changed, {n_empty} empty clusters, "
                  f"{record.seconds:.3f} s")
        if n_changed == 0 and not relocated:
            strict = True
            if verbose:
                print(f"Converged at iteration {iteration}: no label changed.")
            break
        if shift <= tol:
            if verbose:
                print(f"Converged at iteration {iteration}: centre shift "
                      f"{shift:.3g} within tolerance {tol:.3g}.")
            break
        plan.after(record, centers, labels)
    if strict:
        # Unchanged labels: the means just computed are those of the last
        # pass's centroids, different only by rounding (each pass works in the
        # frame of its own centroids), so those centroids are returned with
        # the labels that pass gave them, and no row is assigned again.  An
        # inertia from the sums (10^-10 relative on Birch's large
        # coordinates) is summed again from the rows.
        if plan.step.inertia_from_sums:
            inertia = labelled_inertia(data, labelled_with, labels)
        return RunResult(labelled_with, labels, inertia, iteration, history)
    inertia = label_into(data, centers, labels)  # over the working labels
    return RunResult(centers, labels, inertia, iteration, history)
