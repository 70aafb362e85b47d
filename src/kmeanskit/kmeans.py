"""``KMeans`` and its function form ``kmeans``."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from . import _validation as v
from ._driver import (
    STEPS,
    Data,
    RunResult,
    clusters_held,
    label_into,
    resolve_algorithm,
    run,
)
from ._results import KMeansResult
from ._threads import thread_limits
from .init import _kmeans_parallel, _kmeans_plusplus, _naive_sharding, _random_points

# name -> (function(X, n_clusters, weights, rng) -> centers, runs for n_init="auto").
# k-means|| (the default) runs twice on data too small for restarts on a
# sample (SAMPLE_MIN_ROWS below): two of its runs cost less than one
# local-search++ (at 512 clusters, 2.5 s against 5.4 s) and their best ends
# lower than scikit-learn's default fit on average on every benchmark shape,
# where one run ended 0.05 % above it on overlapping 2-D blobs
# (benchmarks/RESULTS.md).
INITS = {
    "local-search++": (lambda X, k, w, rng: _kmeans_plusplus(
        X, k, w, rng, local_search_steps="auto")[0], 1),
    "k-means++": (lambda X, k, w, rng: _kmeans_plusplus(X, k, w, rng)[0], 1),
    "k-means||": (_kmeans_parallel, 2),
    "random": (_random_points, 10),
    "sharding": (lambda X, k, w, rng: _naive_sharding(X, k, w), 10),
}
DETERMINISTIC_INITS = {"sharding"}
# n_init="auto" with k-means|| on data many times the size of a sample: the
# runs restart on one uniform sample of the rows (of positive weight) and
# only the best continues on all of X.  A single fit's local minimum varies
# by about +-1 % with its seed on overlapping clusters, so more starts end
# lower, and on a sample they are cheap: at (1,000,000, 2, 16) eight runs on
# 65,536 rows and one on X took 0.28 s and ended 0.66 % below scikit-learn's
# default on average over 20 seeds, where two runs on X took 0.62 s and
# ended 0.37 % below (benchmarks/RESULTS.md).  The sample holds at least
# this many rows and this many per cluster, so that its runs rank starts
# much as X would ...
SAMPLE_MIN_ROWS = 65_536
SAMPLE_ROWS_PER_CLUSTER = 128
# ... X holds at least this many samples' worth of rows, and there are as
# many runs as it holds samples, up to the last figure.  On a memory-mapped
# X the sample's rows may take no more memory than the labels the fit
# returns (4 bytes a row of X), so that the fit's peak stays that of the
# labels; a wider X runs the two runs on X.
SAMPLE_MIN_MULTIPLE = 3
SAMPLE_MAX_RUNS = 8
# n_init runs whose inertias differ by less than this (relative) are a tie.
RUN_TIE_RTOL = 1e-9


class CentroidModel(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin,
                    BaseEstimator):
    """What every centroid-based estimator does once fitted: label, measure
    distances, score (``cluster_centers_`` and ``n_threads`` given)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]

    def _check_X_fitted(self, X):
        check_is_fitted(self)
        return v.check_X(self, X, reset=False)

    def predict(self, X):
        """Index of the nearest centroid of each row of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._check_X_fitted(X)
        with thread_limits(self.n_threads):
            return _label(X, v.unit_weights(X.shape[0]), self.cluster_centers_)[0]

    def transform(self, X):
        """Euclidean distance of each row of X to every centroid.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
        """
        X = self._check_X_fitted(X)
        return _distances(X, self.cluster_centers_)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X under this model (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        X = self._check_X_fitted(X)
        weights = v.check_weights_for(X, sample_weight)
        with thread_limits(self.n_threads):
            return -_label(X, weights, self.cluster_centers_)[1]


class KMeans(CentroidModel):
    """K-means clustering (Lloyd's algorithm), fast and scikit-learn compatible.

    Each iteration assigns every point to its nearest centroid and moves each
    centroid to the (weighted) mean of its points; it stops when no point
    changes cluster, when the centroids move less than ``tol`` (relative to
    the data's mean variance), or after ``max_iter`` iterations.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means||", "local-search++", "k-means++", "random", "sharding"}, \
callable or array-like of shape (n_clusters, n_features), default="k-means||"
        How to choose the initial centroids:

        - ``"k-means||"``: scalable k-means++ (:func:`kmeanskit.kmeans_parallel`):
          a few passes over X sample a few thousand weighted candidates, of
          which weighted local-search++ picks ``n_clusters`` rows.  Much
          cheaper than the greedy seedings at large k (0.5 s against 3.3 s
          for k-means++ at 200,000 x 64 and 512 clusters), and it keeps
          nothing per row on a memory-mapped X;
        - ``"local-search++"``: greedy k-means++, then swaps of seeds for
          better rows where they lower the potential (LocalSearch++,
          :func:`kmeanskit.kmeans_plusplus` with ``local_search_steps="auto"``).
          Fits from these seeds end lower than from k-means++ alone, most on
          data with many separated clusters (Birch2: 11 % lower on average);
          each of the ``ceil(2 k / (2 + floor(ln k)))`` swap steps reads X once;
        - ``"k-means++"``: greedy k-means++ (:func:`kmeanskit.kmeans_plusplus`),
          scikit-learn's default;
        - ``"random"``: distinct rows at random (:func:`kmeanskit.random_points`);
        - ``"sharding"``: naive sharding (:func:`kmeanskit.naive_sharding`);
        - an array: these centroids (a warm start, e.g. a previous model's
          ``cluster_centers_``);
        - a callable ``init(X, n_clusters, random_state=generator)`` returning
          the centroids; ``generator`` is a ``numpy.random.Generator``.
    n_init : "auto" or int, default="auto"
        Runs from different initialisations; the run with the lowest inertia
        is kept (a later run only when lower by more than rounding).
        ``"auto"`` is, for k-means|| (the default), restarts on a sample
        when X holds at least three samples of ``max(65536, 128 *
        n_clusters)`` rows (of positive weight): as many runs as X holds
        samples, up to 8, on one uniform sample, and the best continues on
        all of X (``n_iter_`` and ``history_`` are that last run's); on a
        memmap only while the sample takes no more memory than the labels.
        Otherwise 2 runs on X (two runs cost less than one greedy seeding at
        large k, and their best ends lower than scikit-learn's default fit on
        every benchmark shape).  1 for local-search++ and k-means++, 10 for
        random and sharding.
        Deterministic starts (sharding, an array) run once, since every run
        would be identical.
    max_iter : int, default=300
        Maximum number of iterations per run.
    tol : float, default=1e-4
        Convergence tolerance on the summed squared centroid shift, relative
        to the mean feature variance of X (as in scikit-learn).  ``tol=0``
        iterates until no label changes.
    algorithm : {"auto", "lloyd", "hamerly", "elkan", "yinyang"}, default="auto"
        The iteration kernel. All are exact (the same labels as Lloyd's
        algorithm at every iteration); the accelerated ones skip distance
        computations that the triangle inequality shows cannot change a
        label:

        - ``"lloyd"``: every distance, in blocked BLAS products (best at high
          dimension, where bounds prune little);
        - ``"hamerly"``: one lower bound per point (best at low and moderate
          dimension).  Below 8 features, for X in memory, the rows are copied
          in an order sorted by cluster and margin, and blocks of points that
          keep their cluster are skipped without being read;
        - ``"elkan"``: k lower bounds per point (prunes most, costs n x k
          memory: beyond 1 GiB of bounds it runs Hamerly instead);
        - ``"yinyang"``: one lower bound per point and group of about 10
          centroids (Ding et al., 2015), a whole group skipped at once;
        - ``"auto"``: Lloyd alone where a pass is under 2^21
          multiply-adds (n k d); else Lloyd while more than 5 % of the
          points change cluster; then a bounded algorithm for dense data (Yinyang from 256
          clusters, else sorted Hamerly below 8 features, else Elkan from 256
          features with up to 32 clusters, else Yinyang); back to Lloyd
          after three iterations in a row in which the bounds skip less
          than 80 % of the distances (25 % for sorted Hamerly), and the
          bounds again once the changing labels drop to a quarter.  From
          128 clusters and 8 features, where the plan's algorithm is
          Yinyang, it starts with Yinyang's first pass (a BLAS pass that
          also sets the bounds) and keeps Yinyang if its bounds are
          predicted to skip 80 % of the second iteration's distances
          (separated clusters), else runs Lloyd as above (crossovers
          measured in ``benchmarks/RESULTS.md``).  Sparse input
          runs Hamerly from the first iteration, memory-mapped X Lloyd.

        ``algorithm_`` records what ran.
    random_state : int, numpy Generator, numpy RandomState or None, default=None
        Seeds the initialisation; an int gives the same result on every call
        and every thread count.
    n_threads : int, default=None
        Threads for the kernels (BLAS is held to one thread meanwhile); all
        cores when None.
    copy_x : bool, default=True
        kmeanskit never modifies X (it centres chunks on the fly).  The one
        copy it may make is Hamerly's, below 8 features: the rows in an order
        sorted by cluster (within 1 GiB, never of a memmap).  ``False``
        forbids it: Hamerly then visits the rows in place, and ``"auto"``
        chooses as for a memmap.
    verbose : int, default=0
        Print one line per iteration when positive.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centroids, in the dtype of X (float32 or float64).
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training point; equal to ``predict(X)``.
    inertia_ : float
        Weighted sum of squared distances of the points to their centroid.
    n_iter_ : int
        Iterations of the kept run.
    history_ : list of IterationRecord
        Per iteration of the kept run: inertia, points that changed cluster,
        empty clusters relocated, seconds, distance computations skipped.
    algorithm_ : str
        The algorithm that ran; for ``"auto"`` the ones it used, in order
        (e.g. ``"lloyd+hamerly"``).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names (a DataFrame).

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> km.cluster_centers_[np.argsort(km.cluster_centers_[:, 0])]
    array([[ 1.,  2.],
           [10.,  2.]])
    >>> km.predict([[0, 0], [12, 3]]).tolist() == [km.labels_[0], km.labels_[3]]
    True
    """

    _parameter_rules = {
        "n_clusters": [v.Integer(1)],
        "init": [v.Options(tuple(INITS)), v.CALLABLE, v.ARRAY_LIKE],
        "n_init": [v.Options(("auto",)), v.Integer(1)],
        "max_iter": [v.Integer(1)],
        "tol": [v.Real(0)],
        "algorithm": [v.Options(("auto", *STEPS))],
        "random_state": [v.RANDOM_STATE],
        "n_threads": [v.NONE, v.Integer(1)],
        "copy_x": [v.BOOL],
        "verbose": [v.Integer(0), v.BOOL],
    }

    def __init__(self, n_clusters=8, *, init="k-means||", n_init="auto", max_iter=300,
                 tol=1e-4, algorithm="auto", random_state=None, n_threads=None,
                 copy_x=True, verbose=0):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_threads = n_threads
        self.copy_x = copy_x
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------

    def _n_runs(self) -> int:
        init, n_init = self.init, self.n_init
        if isinstance(init, str):
            if init in DETERMINISTIC_INITS:
                return 1
            return INITS[init][1] if n_init == "auto" else n_init
        if callable(init):
            return 1 if n_init == "auto" else n_init
        if n_init not in ("auto", 1):
            warnings.warn(
                f"Explicit initial centers were passed: performing one run instead "
                f"of n_init={n_init}.", RuntimeWarning, stacklevel=3,
            )
        return 1

    def _sample_plan(self, data: Data) -> tuple[int, int] | None:
        """(rows, runs) when n_init="auto" restarts k-means|| on a sample
        (see SAMPLE_MIN_ROWS), else None."""
        if not (isinstance(self.init, str) and self.init == "k-means||"
                and self.n_init == "auto"):
            return None
        rows = max(SAMPLE_MIN_ROWS, SAMPLE_ROWS_PER_CLUSTER * self.n_clusters)
        weights = data.weights
        eligible = weights.size if v.is_unit_weights(weights) else np.count_nonzero(weights)
        if eligible < SAMPLE_MIN_MULTIPLE * rows:
            return None
        if (v.is_memory_mapped(data.X)
                and rows * data.X.shape[1] * data.X.itemsize > 4 * data.n_samples):
            return None
        return rows, min(SAMPLE_MAX_RUNS, eligible // rows)

    def _best_run(self, data, seeds, algorithm, tol, drop_labels) -> RunResult:
        """The run of lowest inertia, one from each seed's initialisation.
        With ``drop_labels`` the kept run's labels may be None (made again by
        the caller), so that one labels array is alive at a time."""
        best = None
        for run_index, seed in enumerate(seeds):
            centers = self._initial_centers(data.X, data.weights, np.random.default_rng(seed))
            if self.verbose:
                print(f"Run {run_index + 1}/{len(seeds)}: initialisation complete.")
            result = run(data, centers, algorithm=algorithm,
                         max_iter=self.max_iter, tol=tol, verbose=self.verbose)
            # A later run must be lower by more than rounding: runs that
            # end in the same partition keep the first one's labels, on
            # any storage of X (kernels may sum in another order).
            if best is None or result.inertia < best.inertia * (1 - RUN_TIE_RTOL):
                best = result
            del result  # at most two runs' labels alive: the best and the next
            if drop_labels and run_index + 1 < len(seeds):
                best.labels = None
        return best

    def _initial_centers(self, X, weights, rng) -> np.ndarray:
        k, d = self.n_clusters, X.shape[1]
        if isinstance(self.init, str):
            centers = INITS[self.init][0](X, k, weights, rng)
        elif callable(self.init):
            centers = self.init(X, k, random_state=rng)
        else:
            centers = self.init
        return v.check_init_array(centers, k, d, X.dtype)

    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  float32 is computed in float32 (with float64
            sums); other numeric dtypes in float64.  Sparse input must be
            CSR-convertible and is never densified.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each point (a multiplicity), used by the
            initialisation and by every update.

        Returns
        -------
        self : KMeans
        """
        v.check_params(self, self._parameter_rules)
        X = v.check_X(self, X, reset=True)
        n_samples, n_features = X.shape
        v.check_n_clusters(self.n_clusters, n_samples)
        weights = v.check_weights_for(X, sample_weight)
        data = Data(X, weights, may_copy=self.copy_x)
        algorithm = resolve_algorithm(self.algorithm, data, self.n_clusters)
        sample_plan = self._sample_plan(data)
        runs = self._n_runs() if sample_plan is None else sample_plan[1]
        seeds = v.seed_sequence(self.random_state).spawn(runs + (sample_plan is not None))
        sample = None if sample_plan is None else draw_sample(data, sample_plan[0],
                                                              seeds.pop())

        # On a memmap an earlier run's labels are dropped when the next run
        # starts and made again at the end if that run stays the best, so
        # that one labels array is alive at a time (the same labels: the
        # fit's final labelling is this same assignment).
        drop_labels = v.is_memory_mapped(X)
        with thread_limits(self.n_threads):
            tol = self.tol * data.mean_variance if self.tol > 0 else 0.0
            if sample is None:
                best = self._best_run(data, seeds, algorithm, tol, drop_labels)
            else:
                start = self._best_run(sample, seeds, resolve_algorithm(
                    self.algorithm, sample, self.n_clusters), tol, drop_labels=True)
                if self.verbose:
                    print(f"Best of {len(seeds)} runs on {sample.n_samples} sampled rows: "
                          "continuing on all rows.")
                del sample  # the sample's memory is not held while X is labelled
                best = run(data, start.centers, algorithm=algorithm,
                           max_iter=self.max_iter, tol=tol, verbose=self.verbose)
            if best.labels is None:
                best.labels = np.empty(n_samples, dtype=np.int32)
                label_into(data, best.centers, best.labels)

        self.cluster_centers_ = best.centers
        self.labels_ = best.labels
        self.inertia_ = best.inertia
        self.n_iter_ = best.n_iter
        self.history_ = best.history
        self.algorithm_ = "+".join(dict.fromkeys(r.algorithm for r in best.history))
        distinct = int(clusters_held(self.labels_, self.n_clusters).sum())
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}); X probably has fewer distinct "
                "points than clusters (duplicate points).",
                ConvergenceWarning, stacklevel=2,
            )
        return self

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of X to every centroid."""
        return self.fit(X, sample_weight=sample_weight).transform(X)


def draw_sample(data: Data, rows: int, seed) -> Data:
    """``rows`` rows of X drawn uniformly without replacement from those of
    positive weight, in their order in X, with their weights."""
    rng = np.random.default_rng(seed)
    weights = data.weights
    eligible = None if v.is_unit_weights(weights) else np.flatnonzero(weights)
    population = data.n_samples if eligible is None else eligible.size
    # Draws with replacement, repeated until ``rows`` distinct (a uniform
    # subset): memory in the sample's size, where numpy's choice without
    # replacement permutes the whole population.
    picked = np.empty(0, dtype=np.int64)
    while picked.size < rows:
        # np.union1d, by one sort (np.unique hashes first: 6x slower here).
        merged = np.sort(np.concatenate([picked, rng.integers(0, population, rows - picked.size)]))
        picked = merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
    if eligible is not None:
        picked = eligible[picked]
    return Data(data.X[picked], np.ascontiguousarray(weights[picked]))


def _label(X, weights, centers) -> tuple[np.ndarray, float]:
    """Labels and inertia of validated X under ``centers``.

    The same assignment as the fit's, so ``labels_ == predict(X)``, a block
    of rows at a time: the labels are the only O(n) array.
    """
    labels = np.empty(X.shape[0], dtype=np.int32)
    inertia = label_into(Data(X, weights), centers.astype(X.dtype, copy=False), labels)
    return labels, inertia


def _distances(X, centers, chunk_rows: int = 4096) -> np.ndarray:
    """Euclidean distances of validated X to ``centers``, in X's dtype."""
    center_sq = (centers.astype(np.float64) ** 2).sum(axis=1)
    if sp.issparse(X):
        x_sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        sq = x_sq[:, None] - 2.0 * np.asarray(X @ centers.T.astype(np.float64)) + center_sq
        return np.sqrt(np.maximum(sq, 0.0)).astype(X.dtype)
    shift = centers.mean(axis=0)
    centred = (centers - shift).astype(np.float64)
    center_sq = (centred**2).sum(axis=1)
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    for start in range(0, X.shape[0], chunk_rows):
        rows = X[start:start + chunk_rows].astype(np.float64) - shift
        sq = (rows**2).sum(axis=1)[:, None] - 2.0 * rows @ centred.T + center_sq
        out[start:start + chunk_rows] = np.sqrt(np.maximum(sq, 0.0))
    return out


def kmeans(X, n_clusters, *, sample_weight=None, **params) -> KMeansResult:
    """Cluster X into ``n_clusters`` groups: ``KMeans(n_clusters, **params).fit(X)``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
    **params
        Any other :class:`KMeans` parameter (``init``, ``random_state``, ...).

    Returns
    -------
    result : KMeansResult
        ``centers``, ``labels``, ``inertia``, ``n_iter`` and ``history``.

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import kmeans
    >>> X = np.array([[0.0], [0.2], [9.8], [10.0]])
    >>> result = kmeans(X, 2, random_state=0)
    >>> sorted(np.round(result.centers.ravel(), 6).tolist())
    [0.1, 9.9]
    """
    model = KMeans(n_clusters, **params).fit(X, sample_weight=sample_weight)
    return KMeansResult(model.cluster_centers_, model.labels_, model.inertia_,
                        model.n_iter_, model.history_)
