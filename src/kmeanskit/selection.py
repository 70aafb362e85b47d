"""Choosing K: every common method in one sweep, and estimators that find K.

:func:`choose_k` fits k-means for every k in a range (all fits share one
k-means++ seeding: greedy k-means++ for k_max centres starts with a valid
k-means++ seeding for every smaller k) and scores each fit by every method.
:class:`XMeans` and :class:`GMeans` grow K themselves by splitting clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

from . import _validation as v
from ._driver import Data, assign
from ._knee import find_knee
from .init import _kmeans_plusplus
from .kmeans import KMeans, _label
from .metrics import dunn_index, silhouette_estimate

METHODS = ("elbow", "silhouette", "calinski_harabasz", "davies_bouldin", "dunn", "bic",
           "aic", "gap", "prediction_strength")
PREDICTION_STRENGTH_THRESHOLD = 0.8
# Above these sizes the O(n^2) scores are computed on a stratified sample
# (silhouette, with its confidence interval) or from centroids (Dunn); the
# result says so.
EXACT_SILHOUETTE_MAX = 10_000
EXACT_DUNN_MAX = 10_000


# ---------------------------------------------------------------------------
# Model-based criteria
# ---------------------------------------------------------------------------


def kmeans_log_likelihood(inertia: float, sizes: np.ndarray, n_features: int) -> float:
    """Log-likelihood of a k-means fit read as a mixture of spherical
    Gaussians with one shared variance and mixing weights n_c / n (X-means,
    Pelleg & Moore 2000, with the per-dimension variance estimate
    inertia / ((n - k) d))."""
    n, k = sizes.sum(), sizes.size
    if n <= k or inertia <= 0:
        return np.inf
    variance = inertia / ((n - k) * n_features)
    occupied = sizes[sizes > 0]
    return float(np.sum(occupied * np.log(occupied / n))
                 - n * n_features / 2 * np.log(2 * np.pi * variance)
                 - (n - k) * n_features / 2)


def kmeans_information_criteria(inertia, sizes, n_features) -> tuple[float, float]:
    """(BIC, AIC) of a k-means fit, lower is better: -2 log L + penalty, with
    (k - 1) weights + k d means + 1 variance as free parameters."""
    n, k = sizes.sum(), sizes.size
    parameters = (k - 1) + k * n_features + 1
    log_likelihood = kmeans_log_likelihood(inertia, sizes, n_features)
    return (-2 * log_likelihood + parameters * np.log(n),
            -2 * log_likelihood + 2 * parameters)


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------


def _sweep(X, k_values, n_init, seed_seq, n_threads):
    """Best-of-``n_init`` k-means fits for every k, sharing seedings."""
    k_max = max(k_values)
    weights = np.ones(X.shape[0])
    fits = {}
    for seed in seed_seq.spawn(n_init):
        seeds, _ = _kmeans_plusplus(X, k_max, weights, np.random.default_rng(seed))
        for k in k_values:
            model = KMeans(k, init=seeds[:k], n_init=1, n_threads=n_threads).fit(X)
            if k not in fits or model.inertia_ < fits[k].inertia_:
                fits[k] = model
    return fits


def _reference_inertias(X, k_values, n_references, seed_seq, n_threads):
    """log inertia of uniform reference data (bounding box of X) for each k."""
    rng = np.random.default_rng(seed_seq.spawn(1)[0])
    low, high = X.min(axis=0), X.max(axis=0)
    logs = np.empty((n_references, len(k_values)))
    for b in range(n_references):
        reference = rng.uniform(low, high, size=X.shape)
        fits = _sweep(reference, k_values, 1, np.random.SeedSequence(rng.integers(2**63)),
                      n_threads)
        logs[b] = [np.log(fits[k].inertia_) for k in k_values]
    return logs


def _strength(test_labels, predicted, k) -> float:
    """Smallest, over the test clusters, share of a cluster's pairs that the
    training centroids also put together."""
    shares = []
    for c in range(k):
        members = predicted[test_labels == c]
        if members.size < 2:
            continue
        counts = np.bincount(members)
        shares.append((counts * (counts - 1)).sum() / (members.size * (members.size - 1)))
    return min(shares) if shares else 1.0


def prediction_strengths(X, k_values, *, n_repeats=1, random_state=None,
                         n_threads=None) -> np.ndarray:
    """Prediction strength of every k (Tibshirani & Walther, 2005).

    Split X into two halves and cluster both; for each cluster of the test
    half, take the share of its pairs of points that the training half's
    centroids also put together; the strength is the smallest share,
    averaged over both roles of the halves and ``n_repeats`` random splits.
    Fits for all k on a half share one k-means++ seeding, as in
    :func:`choose_k`.
    """
    rng = v.as_generator(random_state)
    n = X.shape[0]
    strengths = np.zeros(len(k_values))
    for _ in range(n_repeats):
        order = rng.permutation(n)
        halves = (order[: n // 2], order[n // 2:])
        fits = [_sweep(X[h], k_values, 1, np.random.SeedSequence(rng.integers(2**63)),
                       n_threads) for h in halves]
        for train, test in ((0, 1), (1, 0)):
            rows = X[halves[test]]
            for i, k in enumerate(k_values):
                predicted = _label(rows, np.ones(rows.shape[0]),
                                   fits[train][k].cluster_centers_)[0]
                strengths[i] += _strength(fits[test][k].labels_, predicted, k)
    return strengths / (2 * n_repeats)


def prediction_strength(X, k, *, n_repeats=1, random_state=None, n_threads=None) -> float:
    """Prediction strength of k clusters; see :func:`prediction_strengths`."""
    X = v.check_X(None, X, reset=True, accept_sparse=False)
    return float(prediction_strengths(X, [k], n_repeats=n_repeats, random_state=random_state,
                                      n_threads=n_threads)[0])


@dataclass
class ChooseKResult:
    """Everything a K-selection sweep measured, and what it recommends.

    Attributes
    ----------
    k_values : list of int
    scores : dict of str -> ndarray
        Per method, one value per k (``inertia``, ``distortion`` = mean
        distance to the centroid, ``silhouette``, ``calinski_harabasz``,
        ``davies_bouldin``, ``dunn``, ``bic``, ``aic``, ``gap``, ``gap_se``,
        ``prediction_strength``), for the methods that ran.
    recommendations : dict of str -> int or None
        Each method's K (None when the method found none).
    k : int
        The consensus: the K most methods recommend (ties go to the smaller K).
    models : dict of int -> KMeans
        The fitted model for every k.
    notes : list of str
        How scores were computed where it matters (samples, variants).
    mixture : MixtureSelection or None
        The Gaussian-mixture sweep, when ``choose_k(..., mixture=True)``.
    """

    k_values: list[int]
    scores: dict[str, np.ndarray]
    recommendations: dict[str, int | None]
    k: int
    models: dict = field(repr=False, default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mixture: object = field(repr=False, default=None)

    def to_frame(self) -> pd.DataFrame:
        """One row per k, one column per score."""
        return pd.DataFrame(self.scores, index=pd.Index(self.k_values, name="k"))

    def explain(self) -> str:
        """The recommendation and the evidence, in plain words."""
        rules = {
            "elbow": "the knee of the inertia curve (Kneedle)",
            "silhouette": "the highest mean silhouette",
            "calinski_harabasz": "the highest Calinski-Harabasz score",
            "davies_bouldin": "the lowest Davies-Bouldin score",
            "dunn": "the highest Dunn index",
            "bic": "the lowest BIC",
            "aic": "the lowest AIC",
            "gap": "the smallest k whose gap is within one standard error of the next",
            "prediction_strength": f"the largest k with prediction strength >= "
                                   f"{PREDICTION_STRENGTH_THRESHOLD}",
            "gmm_bic": "the Gaussian mixture with the lowest BIC"
                       + (f" ({self.mixture.best_covariance_type} covariances)"
                          if self.mixture is not None else ""),
        }
        votes = [k for k in self.recommendations.values() if k is not None]
        agree = [m for m, k in self.recommendations.items() if k == self.k]
        lines = [
            f"Recommended K = {self.k}: {len(agree)} of {len(votes)} methods agree "
            f"({', '.join(agree)}), over k = {self.k_values[0]}..{self.k_values[-1]}.",
        ]
        for method, k in self.recommendations.items():
            verdict = f"k = {k}" if k is not None else "no recommendation"
            lines.append(f"- {method}: {verdict} ({rules[method]}).")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def _recommend(method, k_values, scores):
    ks = np.asarray(k_values)
    if method == "elbow":
        return find_knee(ks, scores["inertia"])
    if method in ("silhouette", "calinski_harabasz", "dunn"):
        return int(ks[np.argmax(scores[method])])
    if method in ("davies_bouldin", "bic", "aic"):
        return int(ks[np.argmin(scores[method])])
    if method == "gap":
        gap, se = scores["gap"], scores["gap_se"]
        for i in range(len(ks) - 1):
            if gap[i] >= gap[i + 1] - se[i + 1]:
                return int(ks[i])
        return None
    strong = ks[scores["prediction_strength"] >= PREDICTION_STRENGTH_THRESHOLD]
    return int(strong.max()) if strong.size else None


def choose_k(X, k_range=range(2, 11), *, methods="all", n_init=1, random_state=None,
             n_jobs=None, progress=True, gap_references=10,
             silhouette_sample_size=1500, mixture=False) -> ChooseKResult:
    """Fit k-means for every k in ``k_range`` and apply every K-selection method.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k_range : iterable of int, default=range(2, 11)
        Candidate K values (at least 2 each; the elbow needs 3 of them).
    methods : "all" or list of str, default="all"
        Any of ``"elbow"``, ``"silhouette"``, ``"calinski_harabasz"``,
        ``"davies_bouldin"``, ``"dunn"``, ``"bic"``, ``"aic"``, ``"gap"``
        (Tibshirani, Walther & Hastie 2001, uniform references over the
        bounding box) and ``"prediction_strength"`` (Tibshirani & Walther 2005,
        the cross-validation method).
    n_init : int, default=1
        Seedings shared by the sweep; each k keeps its best fit.
    random_state : int, numpy Generator or RandomState, default=None
    n_jobs : int, default=None
        Threads for the kernels (all cores when None).
    progress : bool, default=True
        Show a progress bar over the fits.
    gap_references : int, default=10
        Reference data sets for the gap statistic.
    silhouette_sample_size : int, default=1500
        Above 10,000 samples, the silhouette is estimated from this many
        points, stratified by cluster, each scored exactly against all the
        data (``None``: always exact, O(n^2)).
    mixture : bool, default=False
        Also fit Gaussian mixtures of every covariance type for every k
        (:func:`kmeanskit.choose_mixture`): adds ``gmm_bic`` / ``gmm_aic``
        (the lowest over covariance types, per k), a ``gmm_bic`` vote for the
        best (k, covariance type) pair, and ``result.mixture``.

    Returns
    -------
    ChooseKResult

    Notes
    -----
    Above 10,000 samples the silhouette is the stratified estimate of
    :func:`kmeanskit.metrics.silhouette_estimate` (its 95 % interval is in
    ``silhouette_low`` / ``silhouette_high``) and Dunn uses centroid
    separation over centroid spread; ``result.notes`` says so.
    """
    X = v.check_X(None, X, reset=True)
    if hasattr(X, "toarray"):
        X = X.toarray()
    k_values = sorted({int(k) for k in k_range})
    if not k_values or k_values[0] < 2:
        raise ValueError(f"k_range must hold integers >= 2; got {list(k_range)!r}.")
    v.check_n_clusters(k_values[-1] + 1, X.shape[0])
    chosen = list(METHODS) if methods == "all" else list(methods)
    unknown = sorted(set(chosen) - set(METHODS))
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; valid ones are {list(METHODS)}.")
    seed_seq = v.seed_sequence(random_state)
    sweep_seed, gap_seed, strength_seed, silhouette_seed = seed_seq.spawn(4)
    silhouette_rng = np.random.default_rng(silhouette_seed)

    from tqdm.auto import tqdm

    steps = 1 + ("gap" in chosen) + ("prediction_strength" in chosen) + len(k_values)
    bar = tqdm(total=steps, desc="choose_k", disable=not progress, leave=False)
    fits = _sweep(X, k_values, n_init, sweep_seed, n_jobs)
    bar.update(1)
    n, d = X.shape
    notes = []
    scores = {name: np.full(len(k_values), np.nan) for name in ("inertia", "distortion")}
    sample = None
    if "silhouette" in chosen and n > EXACT_SILHOUETTE_MAX and silhouette_sample_size:
        sample = silhouette_sample_size
        notes.append(f"silhouette estimated from a stratified sample of {sample} of {n} "
                     "samples (see the interval in silhouette_low/high).")
        scores["silhouette_low"] = np.full(len(k_values), np.nan)
        scores["silhouette_high"] = np.full(len(k_values), np.nan)
    if "dunn" in chosen and n > EXACT_DUNN_MAX:
        notes.append("Dunn index computed from centroids (separation between centroids "
                     f"over twice the mean distance to the centroid): n = {n} is above "
                     f"{EXACT_DUNN_MAX} for the exact point-pair version.")
    for i, k in enumerate(k_values):
        model = fits[k]
        labels = model.labels_
        sizes = np.bincount(labels, minlength=k)
        scores["inertia"][i] = model.inertia_
        _, min_dist = assign(Data(X, np.ones(n)), model.cluster_centers_)
        scores["distortion"][i] = np.sqrt(min_dist).mean()
        if "silhouette" in chosen:
            estimate = silhouette_estimate(X, labels, sample_size=sample,
                                           random_state=silhouette_rng, n_threads=n_jobs)
            scores.setdefault("silhouette", np.full(len(k_values), np.nan))[i] = estimate.score
            if sample:
                scores["silhouette_low"][i], scores["silhouette_high"][i] = estimate.interval
        if "calinski_harabasz" in chosen:
            scores.setdefault("calinski_harabasz", np.full(len(k_values), np.nan))[i] = \
                calinski_harabasz_score(X, labels)
        if "davies_bouldin" in chosen:
            scores.setdefault("davies_bouldin", np.full(len(k_values), np.nan))[i] = \
                davies_bouldin_score(X, labels)
        if "dunn" in chosen:
            variant = {} if n <= EXACT_DUNN_MAX else {"inter": "centroid", "intra": "centroid"}
            scores.setdefault("dunn", np.full(len(k_values), np.nan))[i] = \
                dunn_index(X, labels, n_threads=n_jobs, **variant)
        if "bic" in chosen or "aic" in chosen:
            bic, aic = kmeans_information_criteria(model.inertia_, sizes, d)
            if "bic" in chosen:
                scores.setdefault("bic", np.full(len(k_values), np.nan))[i] = bic
            if "aic" in chosen:
                scores.setdefault("aic", np.full(len(k_values), np.nan))[i] = aic
        bar.update(1)
    if "gap" in chosen:
        references = _reference_inertias(X, k_values, gap_references, gap_seed, n_jobs)
        scores["gap"] = references.mean(axis=0) - np.log(scores["inertia"])
        scores["gap_se"] = references.std(axis=0) * np.sqrt(1 + 1 / gap_references)
        bar.update(1)
    if "prediction_strength" in chosen:
        scores["prediction_strength"] = prediction_strengths(
            X, k_values, random_state=np.random.default_rng(strength_seed), n_threads=n_jobs)
        bar.update(1)
    selection = None
    if mixture:
        from .mixture import choose_mixture

        selection = choose_mixture(X, k_values, random_state=np.random.default_rng(gap_seed),
                                   n_threads=n_jobs)
        scores["gmm_bic"] = np.min([selection.bic[t] for t in selection.covariance_types],
                                   axis=0)
        scores["gmm_aic"] = np.min([selection.aic[t] for t in selection.covariance_types],
                                   axis=0)
        notes.append(f"The best Gaussian mixture by BIC has {selection.best_k} components "
                     f"with {selection.best_covariance_type} covariances.")
    bar.close()

    recommendations = {m: _recommend(m, k_values, scores) for m in chosen}
    if selection is not None:
        recommendations["gmm_bic"] = selection.best_k
    votes = [k for k in recommendations.values() if k is not None]
    if votes:
        counts = np.bincount(votes)
        consensus = int(np.argmax(counts))  # ties: the smaller K
    else:
        consensus = k_values[0]
    return ChooseKResult(k_values, scores, recommendations, consensus,
                         {k: fits[k] for k in k_values}, notes, selection)


# ---------------------------------------------------------------------------
# Estimators that find K
# ---------------------------------------------------------------------------


def anderson_darling(values: np.ndarray) -> tuple[float, float]:
    """Anderson-Darling normality test with estimated mean and variance.

    Returns the statistic A^2, corrected for the sample size
    (A*^2 = A^2 (1 + 4/n - 25/n^2)), and its p-value from the approximation of
    D'Agostino & Stephens (1986, table 4.9).
    """
    from scipy.stats import norm

    n = values.size
    z = np.sort((values - values.mean()) / values.std(ddof=1))
    i = np.arange(1, n + 1)
    a2 = -n - np.mean((2 * i - 1) * (norm.logcdf(z) + norm.logsf(z[::-1])))
    a2_star = a2 * (1 + 4 / n - 25 / n**2)
    if a2_star >= 153.0:  # past the fitted quadratic's minimum: p is nil
        p = 0.0
    elif a2_star >= 0.6:
        p = np.exp(1.2937 - 5.709 * a2_star + 0.0186 * a2_star**2)
    elif a2_star >= 0.34:
        p = np.exp(0.9177 - 4.279 * a2_star - 1.38 * a2_star**2)
    elif a2_star >= 0.2:
        p = 1 - np.exp(-8.318 + 42.796 * a2_star - 59.938 * a2_star**2)
    else:
        p = 1 - np.exp(-13.436 + 101.14 * a2_star - 223.73 * a2_star**2)
    return float(a2_star), float(min(max(p, 0.0), 1.0))


class _SplittingKMeans(ClusterMixin, BaseEstimator):
    """Shared machinery: grow K by splitting clusters, refit globally.

    Subclasses define ``_split(points, rng)``: the two child centres of a
    cluster's points when the cluster should split, else None.
    """

    _parameter_rules = {
        "max_clusters": [v.Integer(1)],
        "max_iter": [v.Integer(1)],
        "random_state": [v.RANDOM_STATE],
        "n_threads": [v.NONE, v.Integer(1)],
    }

    def fit(self, X, y=None):
        """Grow the clustering until no cluster passes the split test.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        self
        """
        v.check_params(self, self._parameter_rules)
        X = v.check_X(self, X, reset=True, accept_sparse=False)
        rng = v.as_generator(self.random_state)
        centers = X.mean(axis=0, keepdims=True)
        rounds = 0
        while True:
            rounds += 1
            model = KMeans(len(centers), init=centers, max_iter=self.max_iter,
                           n_threads=self.n_threads).fit(X)
            grown = []
            for c in range(len(model.cluster_centers_)):
                points = X[model.labels_ == c]
                children = None
                if len(grown) + (len(model.cluster_centers_) - c) < self.max_clusters \
                        and len(points) >= self._min_split_size(X.shape[1]):
                    children = self._split(points, rng)
                grown.extend(children if children is not None
                             else [model.cluster_centers_[c]])
            if len(grown) == len(model.cluster_centers_):
                break
            centers = np.asarray(grown)
        self.cluster_centers_ = model.cluster_centers_
        self.labels_ = model.labels_
        self.inertia_ = model.inertia_
        self.n_clusters_ = len(model.cluster_centers_)
        self.n_iter_ = rounds
        return self

    def _min_split_size(self, n_features) -> int:
        return 8

    def predict(self, X):
        """Nearest centroid of each row of X."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = v.check_X(self, X, reset=False, accept_sparse=False)
        return _label(X, v.unit_weights(X.shape[0]), self.cluster_centers_)[0]


class XMeans(_SplittingKMeans):
    """X-means (Pelleg & Moore, 2000): split a cluster in two when the two
    children have a lower BIC (spherical Gaussian model) than the parent.

    Parameters
    ----------
    max_clusters : int, default=100
    max_iter : int, default=300
        For every k-means fit.
    random_state : int, numpy Generator or RandomState, default=None
    n_threads : int, default=None

    Attributes
    ----------
    n_clusters_ : int
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
    n_iter_ : int
        Rounds of growth (a global k-means fit, then a split test per cluster).

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import XMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 1.0, (100, 2)) for c in (0, 10, 20)])
    >>> XMeans(random_state=0).fit(X).n_clusters_
    3
    """

    def __init__(self, max_clusters=100, *, max_iter=300, random_state=None, n_threads=None):
        self.max_clusters = max_clusters
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    def _split(self, points, rng):
        d = points.shape[1]
        parent_inertia = float(((points - points.mean(axis=0)) ** 2).sum())
        parent_bic, _ = kmeans_information_criteria(parent_inertia, np.array([len(points)]), d)
        # Three greedy k-means++ starts: for two centres a local search adds
        # a pass over the points and nothing the three starts do not cover.
        child = KMeans(2, init="k-means++", n_init=3, random_state=rng.integers(2**31),
                       max_iter=self.max_iter, n_threads=self.n_threads).fit(points)
        sizes = np.bincount(child.labels_, minlength=2)
        child_bic, _ = kmeans_information_criteria(child.inertia_, sizes, d)
        return list(child.cluster_centers_) if child_bic < parent_bic else None


class GMeans(_SplittingKMeans):
    """G-means (Hamerly & Elkan, 2003): split a cluster while the projection of
    its points on the line between its two k-means children does not look
    Gaussian (Anderson-Darling test at level ``alpha``).

    Parameters
    ----------
    alpha : float, default=0.0001
        Significance level of the normality test (the paper's choice): lower
        splits less.
    max_clusters : int, default=100
    max_iter : int, default=300
    random_state : int, numpy Generator or RandomState, default=None
    n_threads : int, default=None

    Attributes
    ----------
    n_clusters_ : int
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
    n_iter_ : int
        Rounds of growth (a global k-means fit, then a split test per cluster).

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import GMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 1.0, (200, 2)) for c in (0, 10, 20)])
    >>> GMeans(random_state=0).fit(X).n_clusters_
    3
    """

    _parameter_rules = {**_SplittingKMeans._parameter_rules,
                        "alpha": [v.Real(0, 1, open_low=True)]}

    def __init__(self, alpha=0.0001, *, max_clusters=100, max_iter=300, random_state=None,
                 n_threads=None):
        self.alpha = alpha
        self.max_clusters = max_clusters
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    def _split(self, points, rng):
        centre = points.mean(axis=0)
        centred = points - centre
        # Start the two children along the principal component (the paper's
        # c +/- m with m = v sqrt(2 lambda / pi)).
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        eigenvalue = singular[0] ** 2 / max(len(points) - 1, 1)
        offset = vt[0] * np.sqrt(2 * eigenvalue / np.pi)
        child = KMeans(2, init=np.array([centre + offset, centre - offset]),
                       max_iter=self.max_iter, n_threads=self.n_threads).fit(points)
        direction = child.cluster_centers_[0] - child.cluster_centers_[1]
        norm_sq = float(direction @ direction)
        if norm_sq == 0:
            return None
        projected = centred @ direction / norm_sq
        if projected.std() == 0:
            return None
        _, p_value = anderson_darling(projected)
        return list(child.cluster_centers_) if p_value < self.alpha else None
