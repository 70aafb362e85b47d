"""``MiniBatchKMeans``: k-means on random mini-batches, for data too large to
iterate over exactly, and for streams (``partial_fit``).

Each step draws a batch, labels it with the current centroids (the fused
Lloyd kernel: assignment, inertia and per-cluster sums in one pass), and
moves every centroid to the running weighted mean of all the points it has
been given so far.  Clusters that receive too little weight are moved onto
random batch points.  It follows scikit-learn's ``MiniBatchKMeans``
(parameters, reassignment rule, early stopping on the smoothed batch
inertia).
"""

from __future__ import annotations

import time

import numpy as np

from . import _validation as v
from ._driver import Data, LloydStep
from ._results import MiniBatchRecord
from ._threads import thread_limits
from .kmeans import INITS, CentroidModel, KMeans, _label


class MiniBatchKMeans(CentroidModel):
    """Mini-batch k-means (Sculley, 2010), scikit-learn compatible.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "k-means||", "local-search++", "random", "sharding"}, \
callable or array, default="k-means++"
        As for :class:`KMeans`, run on a random subsample of ``init_size`` rows.
    max_iter : int, default=100
        Passes over the data: at most ``max_iter * n_samples / batch_size`` steps.
    batch_size : int, default=1024
    verbose : int, default=0
    compute_labels : bool, default=True
        Label all of X (and compute ``inertia_``) after fitting.
    random_state : int, numpy Generator or RandomState, default=None
    tol : float, default=0.0
        Stop when the centroids move less than this, relative to the data's
        mean variance (0 disables it).
    max_no_improvement : int or None, default=10
        Stop after this many steps without a lower smoothed batch inertia.
    init_size : int, default=None
        Rows used to initialise (3 x batch_size when None, at least n_clusters).
    n_init : "auto" or int, default="auto"
        Initialisations on the subsample, the best kept: 1 for k-means++,
        local-search++ and k-means||, 3 otherwise.
    reassignment_ratio : float, default=0.01
        A cluster whose accumulated weight falls below this fraction of the
        largest is moved onto a random batch point.
    n_threads : int, default=None

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        When ``compute_labels``.
    inertia_ : float
        When ``compute_labels``.
    n_iter_ : int
        Passes over the data (steps x batch_size / n_samples, rounded up).
    n_steps_ : int
    history_ : list of MiniBatchRecord
    n_features_in_ : int
    feature_names_in_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import MiniBatchKMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 1.0, (500, 2)) for c in (0, 10, 20)])
    >>> model = MiniBatchKMeans(3, batch_size=256, random_state=0).fit(X)
    >>> sorted(np.round(model.cluster_centers_[:, 0] / 10).astype(int).tolist())
    [0, 1, 2]
    """

    _parameter_rules = {
        "n_clusters": [v.Integer(1)],
        "init": [v.Options(tuple(INITS)), v.CALLABLE, v.ARRAY_LIKE],
        "max_iter": [v.Integer(1)],
        "batch_size": [v.Integer(1)],
        "verbose": [v.Integer(0), v.BOOL],
        "compute_labels": [v.BOOL],
        "random_state": [v.RANDOM_STATE],
        "tol": [v.Real(0)],
        "max_no_improvement": [v.NONE, v.Integer(0)],
        "init_size": [v.NONE, v.Integer(1)],
        "n_init": [v.Options(("auto",)), v.Integer(1)],
        "reassignment_ratio": [v.Real(0)],
        "n_threads": [v.NONE, v.Integer(1)],
    }

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024,
                 verbose=0, compute_labels=True, random_state=None, tol=0.0,
                 max_no_improvement=10, init_size=None, n_init="auto",
                 reassignment_ratio=0.01, n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.n_threads = n_threads

    # -- pieces --------------------------------------------------------------

    def _initialise(self, X, weights, rng):
        """Best of n_init initialisations on a random subsample."""
        n, k = X.shape[0], self.n_clusters
        size = self.init_size if self.init_size is not None else 3 * self.batch_size
        size = min(max(size, k), n)
        rows = rng.choice(n, size=size, replace=False) if size < n else np.arange(n)
        sample, sample_weights = X[rows], weights[rows]
        if sample_weights.sum() == 0:
            sample_weights = np.ones(size)
        if isinstance(self.init, str):
            runs = (1 if self.init in ("k-means++", "local-search++", "k-means||") else 3) \
                if self.n_init == "auto" else self.n_init
        else:
            runs = 1
        seeder = KMeans(k, init=self.init, n_init=1, max_iter=1)
        best, best_inertia = None, np.inf
        for _ in range(runs):
            centers = seeder._initial_centers(sample, sample_weights, rng)
            inertia = _label(sample, sample_weights, centers)[1]
            if inertia < best_inertia:
                best, best_inertia = centers, inertia
        return best

    def _step(self, batch: Data, state: LloydStep, rng, reassign: bool):
        """One mini-batch step on ``batch``; returns (inertia, n_reassigned)."""
        state.data = batch
        centers = self.cluster_centers_
        origin = batch.origin(centers)
        labels = np.full(batch.n_samples, -1, dtype=np.int32)
        sums, weights, inertia, _, _ = state.iterate(
            np.ascontiguousarray(centers - origin), origin, labels)
        previous = self._weight_sums.copy()
        self._weight_sums += weights
        hit = weights > 0
        totals = sums[hit] + weights[hit, None] * origin
        updated = centers.astype(np.float64)
        updated[hit] = (updated[hit] * previous[hit, None] + totals) \
            / self._weight_sums[hit, None]
        n_reassigned = 0
        if reassign and self.reassignment_ratio > 0:
            low = self._weight_sums < self.reassignment_ratio * self._weight_sums.max()
            if low.sum() > 0.5 * batch.n_samples:
                low[np.argsort(self._weight_sums)[int(0.5 * batch.n_samples):]] = False
            n_reassigned = int(low.sum())
            if n_reassigned and n_reassigned < len(low):
                picked = rng.choice(batch.n_samples, size=n_reassigned, replace=False)
                rows = batch.X[picked]
                updated[low] = rows.toarray() if hasattr(rows, "toarray") else rows
                self._weight_sums[low] = self._weight_sums[~low].min()
        self.cluster_centers_ = updated.astype(batch.dtype)
        return inertia, n_reassigned

    def _due_reassignment(self, batch_size: int) -> bool:
        """Reassign each time 10 x n_clusters samples have gone by, or when a
        cluster has received nothing yet (scikit-learn's schedule)."""
        self._since_reassign += batch_size
        if (self._weight_sums == 0).any() or self._since_reassign >= 10 * self.n_clusters:
            self._since_reassign = 0
            return True
        return False

    # -- fitting -------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None):
        """Fit on random mini-batches of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        v.check_params(self, self._parameter_rules)
        X = v.check_X(self, X, reset=True)
        n = X.shape[0]
        v.check_n_clusters(self.n_clusters, n)
        weights = v.check_weights_for(X, sample_weight)
        rng = np.random.default_rng(v.seed_sequence(self.random_state))
        batch_size = min(self.batch_size, n)
        with thread_limits(self.n_threads):
            tol = self.tol * Data(X, weights).mean_variance if self.tol > 0 else 0.0
            self.cluster_centers_ = self._initialise(X, weights, rng)
            self._weight_sums = np.zeros(self.n_clusters)
            self._since_reassign = 0
            state = LloydStep(Data(X[:batch_size], weights[:batch_size]), self.n_clusters)
            n_steps = max(1, (self.max_iter * n) // batch_size)
            alpha = min(1.0, batch_size * 2.0 / (n + 1))
            smoothed, best, stalled = None, np.inf, 0
            self.history_ = []
            for step in range(1, n_steps + 1):
                start = time.perf_counter()
                rows = rng.integers(0, n, batch_size)
                before = self.cluster_centers_.astype(np.float64)
                inertia, n_reassigned = self._step(
                    Data(X[rows], weights[rows]), state, rng,
                    self._due_reassignment(batch_size))
                inertia /= batch_size
                smoothed = inertia if smoothed is None else \
                    smoothed * (1 - alpha) + inertia * alpha
                self.history_.append(MiniBatchRecord(step, inertia, smoothed, n_reassigned,
                                                     time.perf_counter() - start))
                if self.verbose:
                    print(f"Step {step}/{n_steps}: batch inertia {inertia:.6g}, smoothed "
                          f"{smoothed:.6g}")
                shift = float(((self.cluster_centers_ - before) ** 2).sum())
                if tol > 0 and shift <= tol:
                    break
                if smoothed < best:
                    best, stalled = smoothed, 0
                else:
                    stalled += 1
                if self.max_no_improvement is not None and stalled >= self.max_no_improvement:
                    break
            self.n_steps_ = step
            self.n_iter_ = int(np.ceil(step * batch_size / n))
            self._rng = rng  # a later partial_fit continues the same stream
            if self.compute_labels:
                self.labels_, self.inertia_ = _label(X, weights, self.cluster_centers_)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centroids with one batch: all of X (for streams).

        The first call also initialises the centroids from X.

        Returns
        -------
        self
        """
        first = not hasattr(self, "cluster_centers_")
        if first:
            v.check_params(self, self._parameter_rules)
        X = v.check_X(self, X, reset=first)
        weights = v.check_sample_weight(sample_weight, X.shape[0])
        if first:
            v.check_n_clusters(self.n_clusters, X.shape[0])
            self._rng = np.random.default_rng(v.seed_sequence(self.random_state))
        with thread_limits(self.n_threads):
            if first:
                self.cluster_centers_ = self._initialise(X, weights, self._rng)
                self._weight_sums = np.zeros(self.n_clusters)
                self._since_reassign = 0
                self.n_steps_ = 0
                self.history_ = []
            batch = Data(X, weights)
            start = time.perf_counter()
            inertia, n_reassigned = self._step(batch, LloydStep(batch, self.n_clusters),
                                               self._rng, self._due_reassignment(X.shape[0]))
            self.n_steps_ += 1
            self.history_.append(MiniBatchRecord(self.n_steps_, inertia / X.shape[0],
                                                 inertia / X.shape[0], n_reassigned,
                                                 time.perf_counter() - start))
            if self.compute_labels:
                self.labels_, self.inertia_ = _label(X, weights, self.cluster_centers_)
        self.n_iter_ = self.n_steps_
        return self
