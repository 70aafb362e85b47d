"""``GaussianMixture``: soft clustering with four covariance shapes and
sample weights, scikit-learn compatible.

Numerically it follows scikit-learn's formulation (precision Cholesky
factors, log-sum-exp responsibilities, ``reg_covar`` on the diagonal, the
same initialisations and stopping rule), so from the same initial
parameters the two agree; each EM iteration is one fused numba pass over X
(see ``_kernels/mixture.py``).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from . import _validation as v
from ._driver import column_mean
from ._kernels.mixture import (
    em_diag,
    em_full,
    log_densities_diag,
    log_densities_full,
)
from ._threads import thread_limits

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
# Row groups for the fused EM pass (fixed, so results do not depend on threads).
EM_GROUPS = 32
COLLAPSE_MESSAGE = (
    "Fitting the mixture failed: component {component} has an ill-defined "
    "covariance (it collapsed onto too few or identical points). Increase "
    "reg_covar (now {reg_covar}), use fewer components, or scale the features."
)


def _cholesky_precisions(covariances, covariance_type, reg_covar):
    """Precision Cholesky factors from covariances; a clear error when a
    covariance is not positive definite."""
    if covariance_type in ("full", "tied"):
        stack = covariances[None] if covariance_type == "tied" else covariances
        factors = np.empty_like(stack)
        for c, covariance in enumerate(stack):
            try:
                lower = linalg.cholesky(covariance, lower=True)
            except linalg.LinAlgError:
                raise ValueError(COLLAPSE_MESSAGE.format(component=c, reg_covar=reg_covar)) \
                    from None
            factors[c] = linalg.solve_triangular(lower, np.eye(len(covariance)), lower=True).T
        return factors[0] if covariance_type == "tied" else factors
    bad = np.flatnonzero(np.atleast_1d(covariances <= 0).reshape(len(covariances), -1).any(1))
    if bad.size:
        raise ValueError(COLLAPSE_MESSAGE.format(component=bad[0], reg_covar=reg_covar))
    return 1.0 / np.sqrt(covariances)


def _covariances_from_precisions(precisions, covariance_type):
    if covariance_type == "full":
        return np.array([linalg.inv(p) for p in precisions])
    if covariance_type == "tied":
        return linalg.inv(precisions)
    return 1.0 / precisions


class GaussianMixture(DensityMixin, ClusterMixin, BaseEstimator):
    """Gaussian mixture model fitted by (weighted) expectation-maximisation.

    Each component c has a weight, a mean and a covariance; a point belongs to
    every component with a probability (``predict_proba``: "70 % this
    segment, 30 % that one"). Use it where k-means fails: elongated clusters,
    clusters of different sizes or spreads, overlapping clusters.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Each component's own full covariance; one full covariance shared by
        all; a diagonal covariance each; a single variance each.
    tol : float, default=1e-3
        Stop when the mean log-likelihood (the lower bound) gains less.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance (keeps them positive).
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations; the one with the highest lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        Initial responsibilities: a kmeanskit KMeans partition, k-means++
        seeds, random responsibilities, or random points.
    weights_init, means_init, precisions_init : array-like, default=None
        Initial parameters (precisions: inverse covariances, shaped as
        ``covariances_``).
    warm_start : bool, default=False
        Start the next ``fit`` from this fit's parameters (then ``n_init`` is 1).
    random_state : int, numpy Generator or RandomState, default=None
    verbose : int, default=0
    n_threads : int, default=None

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (k, d, d) full, (d, d) tied, (k, d) diag, (k,) spherical.
    precisions_ : ndarray
        Inverses of the covariances, same shapes.
    precisions_cholesky_ : ndarray
        Cholesky factors of the precisions (upper triangular, as scikit-learn).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean (weighted) log-likelihood of the training data at the last E-step.
    history_ : list of dict
        Per iteration: ``lower_bound``, ``change``, ``seconds``.
    labels_ : ndarray of shape (n_samples,)
        Most probable component of each training row (``predict(X)``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from kmeanskit import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 2, (100, 2))])
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.weights_), 2)
    array([0.33, 0.67])
    """

    _parameter_rules = {
        "n_components": [v.Integer(1)],
        "covariance_type": [v.Options(COVARIANCE_TYPES)],
        "tol": [v.Real(0)],
        "reg_covar": [v.Real(0)],
        "max_iter": [v.Integer(0)],
        "n_init": [v.Integer(1)],
        "init_params": [v.Options(INIT_PARAMS)],
        "weights_init": [v.NONE, v.Kind("an array-like", lambda x: hasattr(x, "__len__"))],
        "means_init": [v.NONE, v.Kind("an array-like", lambda x: hasattr(x, "__len__"))],
        "precisions_init": [v.NONE, v.Kind("an array-like", lambda x: hasattr(x, "__len__"))],
        "warm_start": [v.BOOL],
        "random_state": [v.RANDOM_STATE],
        "verbose": [v.Integer(0), v.BOOL],
        "n_threads": [v.NONE, v.Integer(1)],
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, warm_start=False, random_state=None,
                 verbose=0, n_threads=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads

    # -- parameters from responsibilities (initialisation) -----------------

    def _estimate_from_resp(self, X, weights, resp):
        """Weights, means, covariances from (n, k) responsibilities."""
        resp = resp * weights[:, None]
        nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
        means = resp.T @ X / nk[:, None]
        reg = self.reg_covar
        d = X.shape[1]
        if self.covariance_type == "full":
            covariances = np.empty((len(nk), d, d))
            for c in range(len(nk)):
                diff = X - means[c]
                covariances[c] = (resp[:, c] * diff.T) @ diff / nk[c]
                covariances[c].flat[:: d + 1] += reg
        elif self.covariance_type == "tied":
            covariances = (X.T @ (X * weights[:, None]) - (nk * means.T) @ means) / nk.sum()
            covariances.flat[:: d + 1] += reg
        else:
            second = resp.T @ (X * X) / nk[:, None]
            covariances = second - 2 * means * (resp.T @ X) / nk[:, None] + means**2 + reg
            if self.covariance_type == "spherical":
                covariances = covariances.mean(axis=1)
        return nk, means, covariances

    def _initial_resp(self, X, weights, rng):
        n, k = X.shape[0], self.n_components
        resp = np.zeros((n, k))
        if self.init_params == "kmeans":
            from .kmeans import KMeans

            labels = KMeans(k, n_init=1, random_state=rng, n_threads=self.n_threads).fit(
                X, sample_weight=weights).labels_
            resp[np.arange(n), labels] = 1
        elif self.init_params == "k-means++":
            from .init import _kmeans_plusplus

            _, indices = _kmeans_plusplus(X, k, weights, rng)
            resp[indices, np.arange(k)] = 1
        elif self.init_params == "random":
            resp = rng.uniform(size=(n, k))
            resp /= resp.sum(axis=1, keepdims=True)
        else:
            indices = rng.choice(np.flatnonzero(weights > 0), size=k, replace=False)
            resp[indices, np.arange(k)] = 1
        return resp

    def _initialise(self, X, weights, rng):
        nk, means, covariances = self._estimate_from_resp(
            X, weights, self._initial_resp(X, weights, rng))
        mixture_weights = nk / weights.sum()
        if self.weights_init is not None:
            mixture_weights = np.asarray(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            covariances = _covariances_from_precisions(
                np.asarray(self.precisions_init, dtype=np.float64), self.covariance_type)
        factors = _cholesky_precisions(covariances, self.covariance_type, self.reg_covar)
        return mixture_weights, means, factors

    def _check_init_shapes(self, n_features):
        k, d = self.n_components, n_features
        expected = {
            "weights_init": (k,),
            "means_init": (k, d),
            "precisions_init": {"full": (k, d, d), "tied": (d, d), "diag": (k, d),
                                "spherical": (k,)}[self.covariance_type],
        }
        for name, shape in expected.items():
            value = getattr(self, name)
            if value is not None and np.shape(value) != shape:
                raise ValueError(f"{name} has shape {np.shape(value)}, expected {shape} "
                                 f"(n_components={k}, n_features={d}, "
                                 f"covariance_type={self.covariance_type!r}).")
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=float)
            if (w < 0).any() or not np.isclose(w.sum(), 1.0):
                raise ValueError("weights_init must be non-negative and sum to 1; "
                                 f"they sum to {w.sum():.6g}.")

    # -- the fused EM pass --------------------------------------------------

    def _kernel_inputs(self, weights_, means, factors, shift):
        """Per-component arrays the kernels take, in the frame centred on shift."""
        d = means.shape[1]
        centred = np.ascontiguousarray(means - shift)
        if self.covariance_type in ("full", "tied"):
            stack = np.broadcast_to(factors, (len(weights_), d, d)) \
                if self.covariance_type == "tied" else factors
            stack = np.ascontiguousarray(stack)
            log_det = np.log(np.diagonal(stack, axis1=1, axis2=2)).sum(axis=1)
        else:
            per_feature = factors[:, None] * np.ones(d) if self.covariance_type == "spherical" \
                else factors
            stack = np.ascontiguousarray(per_feature**2)  # precisions
            log_det = np.log(per_feature).sum(axis=1)
        with np.errstate(divide="ignore"):
            log_norm = np.log(weights_) + log_det - 0.5 * d * np.log(2 * np.pi)
        return centred, stack, log_norm

    def _em_pass(self, X, weights, shift, params):
        """E-step with ``params``; returns the lower bound and new parameters."""
        mixture_weights, means, factors = params
        k, d = means.shape
        centred, stack, log_norm = self._kernel_inputs(mixture_weights, means, factors, shift)
        groups = max(1, min(EM_GROUPS, X.shape[0]))
        lse, nk = np.empty(groups), np.empty((groups, k))
        sx = np.empty((groups, k, d))
        if self.covariance_type in ("full", "tied"):
            # All factors side by side: (d, k d); offsets mu_c P_c.
            factors_cat = np.ascontiguousarray(np.concatenate(list(stack), axis=1))
            offsets = np.einsum("ki,kij->kj", centred, stack).ravel()
            sxx = np.empty((groups, k * d, d))
            em_full(X, weights, shift, factors_cat, offsets, log_norm, lse, nk, sx, sxx)
            sxx = sxx.reshape(groups, k, d, d)
        else:
            sxx = np.empty((groups, k, d))
            em_diag(X, weights, shift, centred, stack, log_norm, lse, nk, sx, sxx)
        total = weights.sum()
        lower_bound = lse.sum() / total
        nk = nk.sum(axis=0) + 10 * np.finfo(np.float64).eps
        sx, sxx = sx.sum(axis=0), sxx.sum(axis=0)
        new_means = sx / nk[:, None]
        reg = self.reg_covar
        if self.covariance_type == "full":
            covariances = sxx / nk[:, None, None] \
                - new_means[:, :, None] * new_means[:, None, :]
            covariances[:, np.arange(d), np.arange(d)] += reg
        elif self.covariance_type == "tied":
            covariances = (sxx.sum(axis=0) - (nk * new_means.T) @ new_means) / nk.sum()
            covariances.flat[:: d + 1] += reg
        else:
            covariances = sxx / nk[:, None] - new_means**2 + reg
            if self.covariance_type == "spherical":
                covariances = covariances.mean(axis=1)
        new_factors = _cholesky_precisions(covariances, self.covariance_type, reg)
        return lower_bound, (nk / total, new_means + shift, new_factors), covariances

    def _log_weighted_densities(self, X):
        shift = self.means_.mean(axis=0)
        params = (self.weights_, self.means_, self.precisions_cholesky_)
        centred, stack, log_norm = self._kernel_inputs(*params, shift)
        out = np.empty((X.shape[0], self.n_components))
        kernel = log_densities_full if self.covariance_type in ("full", "tied") \
            else log_densities_diag
        with thread_limits(self.n_threads):
            kernel(X, shift.astype(X.dtype), centred, stack, log_norm, out)
        return out

    # -- fit ------------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each point (a multiplicity).

        Returns
        -------
        self
        """
        v.check_params(self, self._parameter_rules)
        X = v.check_X(self, X, reset=not (self.warm_start and hasattr(self, "means_")),
                      accept_sparse=False)
        n, d = X.shape
        if n < self.n_components:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = "
                             f"{self.n_components}, n_samples = {n}: use fewer components.")
        if n < 2:
            raise ValueError("GaussianMixture needs at least 2 samples (got n_samples = 1).")
        self._check_init_shapes(d)
        weights = v.check_sample_weight(sample_weight, n)
        shift = column_mean(X)
        warm = self.warm_start and hasattr(self, "means_")
        seeds = v.seed_sequence(self.random_state).spawn(1 if warm else self.n_init)
        X64 = np.asarray(X, dtype=np.float64)
        best = None
        with thread_limits(self.n_threads):
            for seed in seeds:
                rng = np.random.default_rng(seed)
                params = (self.weights_, self.means_, self.precisions_cholesky_) if warm \
                    else self._initialise(X64, weights, rng)
                result = self._run_em(X, weights, shift.astype(X.dtype), params)
                if best is None or result[0] > best[0]:
                    best = result
        lower_bound, params, covariances, n_iter, converged, history = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                f"GaussianMixture did not converge in {self.max_iter} iterations "
                f"(last change above tol={self.tol}); raise max_iter or tol.",
                ConvergenceWarning, stacklevel=2)
        self.weights_, self.means_, self.precisions_cholesky_ = params
        self.covariances_ = covariances
        self.precisions_ = self._precisions_of(self.precisions_cholesky_)
        self.lower_bound_ = lower_bound
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.history_ = history
        self.labels_ = self.predict(X)
        return self

    def _run_em(self, X, weights, shift, params):
        lower_bound = -np.inf
        history = []
        converged = False
        covariances = None
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            start = time.perf_counter()
            previous = lower_bound
            lower_bound, new_params, new_covariances = self._em_pass(X, weights, shift, params)
            change = lower_bound - previous
            history.append({"lower_bound": lower_bound, "change": change,
                            "seconds": time.perf_counter() - start})
            if self.verbose:
                print(f"Iteration {n_iter}: lower bound {lower_bound:.8g}, change {change:.3g}")
            params, covariances = new_params, new_covariances
            if abs(change) < self.tol:
                converged = True
                break
        if covariances is None:  # max_iter == 0: the initial parameters as they are
            covariances = self._covariances_of(params[2])
        return lower_bound, params, covariances, n_iter, converged, history

    def _covariances_of(self, factors):
        precisions = self._precisions_of(factors)
        return _covariances_from_precisions(precisions, self.covariance_type)

    def _precisions_of(self, factors):
        if self.covariance_type == "full":
            return np.einsum("kij,klj->kil", factors, factors)
        if self.covariance_type == "tied":
            return factors @ factors.T
        return factors**2

    # -- using a fitted mixture -----------------------------------------------

    def _validated(self, X):
        check_is_fitted(self)
        return v.check_X(self, X, reset=False, accept_sparse=False)

    def score_samples(self, X):
        """Log-density of each row under the mixture, shape (n_samples,)."""
        return logsumexp(self._log_weighted_densities(self._validated(X)), axis=1)

    def score(self, X, y=None, sample_weight=None):
        """Mean (weighted) log-likelihood of X."""
        values = self.score_samples(X)
        weights = v.check_sample_weight(sample_weight, values.shape[0])
        return float(weights @ values / weights.sum())

    def predict_proba(self, X):
        """Membership probability of each row in each component, (n_samples, n_components)."""
        log_prob = self._log_weighted_densities(self._validated(X))
        return np.exp(log_prob - logsumexp(log_prob, axis=1, keepdims=True))

    def predict(self, X):
        """Most probable component of each row."""
        return self._log_weighted_densities(self._validated(X)).argmax(axis=1)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then label the training rows."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def sample(self, n_samples=1):
        """Draw ``n_samples`` points from the fitted mixture; returns (X, components)."""
        check_is_fitted(self)
        if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 1):
            raise ValueError(f"n_samples must be an int >= 1; got {n_samples!r}.")
        rng = v.as_generator(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        d = self.means_.shape[1]
        draws, labels = [], []
        for c, count in enumerate(counts):
            if self.covariance_type == "full":
                cov = self.covariances_[c]
            elif self.covariance_type == "tied":
                cov = self.covariances_
            elif self.covariance_type == "diag":
                cov = np.diag(self.covariances_[c])
            else:
                cov = np.eye(d) * self.covariances_[c]
            draws.append(rng.multivariate_normal(self.means_[c], cov, size=count))
            labels.append(np.full(count, c))
        return np.concatenate(draws), np.concatenate(labels)

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        covariance = {"full": k * d * (d + 1) / 2, "tied": d * (d + 1) / 2,
                      "diag": k * d, "spherical": k}[self.covariance_type]
        return int(covariance + k * d + k - 1)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better)."""
        X = self._validated(X)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X):
        """Akaike information criterion on X (lower is better)."""
        X = self._validated(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()


# ---------------------------------------------------------------------------
# Model selection
# ---------------------------------------------------------------------------


@dataclass
class MixtureSelection:
    """AIC and BIC of Gaussian mixtures over n_components and covariance types.

    Attributes
    ----------
    k_values : list of int
    covariance_types : list of str
    bic, aic : dict of str -> ndarray
        Per covariance type, one value per k (lower is better).
    best_k : int
    best_covariance_type : str
        The pair with the lowest BIC.
    best_model : GaussianMixture
    """

    k_values: list[int]
    covariance_types: list[str]
    bic: dict[str, np.ndarray]
    aic: dict[str, np.ndarray]
    best_k: int
    best_covariance_type: str
    best_model: GaussianMixture = field(repr=False)

    def to_frame(self):
        """One row per (covariance type, k) with its BIC and AIC."""
        import pandas as pd

        rows = [(t, k, self.bic[t][i], self.aic[t][i])
                for t in self.covariance_types for i, k in enumerate(self.k_values)]
        return pd.DataFrame(rows, columns=["covariance_type", "k", "bic", "aic"])


def choose_mixture(X, k_range=range(1, 11), *, covariance_types=COVARIANCE_TYPES,
                   sample_weight=None, n_init=1, random_state=None, n_threads=None,
                   **params) -> MixtureSelection:
    """Fit a mixture for every (n_components, covariance type) pair and pick
    the one with the lowest BIC.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k_range : iterable of int, default=range(1, 11)
    covariance_types : iterable of str, default=all four
    sample_weight : array-like of shape (n_samples,), default=None
    n_init : int, default=1
    random_state : int, numpy Generator or RandomState, default=None
    n_threads : int, default=None
    **params
        Any other :class:`GaussianMixture` parameter (``reg_covar``, ``tol`` ...).

    Returns
    -------
    MixtureSelection
    """
    X = v.check_X(None, X, reset=True, accept_sparse=False)
    k_values = sorted({int(k) for k in k_range})
    types = list(covariance_types)
    unknown = sorted(set(types) - set(COVARIANCE_TYPES))
    if unknown:
        raise ValueError(f"Unknown covariance types {unknown}; valid: {list(COVARIANCE_TYPES)}.")
    weights = v.check_sample_weight(sample_weight, X.shape[0])
    seeds = iter(v.seed_sequence(random_state).spawn(len(types) * len(k_values)))
    bic = {t: np.empty(len(k_values)) for t in types}
    aic = {t: np.empty(len(k_values)) for t in types}
    best = None
    total = weights.sum()
    for covariance_type in types:
        for i, k in enumerate(k_values):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = GaussianMixture(k, covariance_type=covariance_type, n_init=n_init,
                                        random_state=np.random.default_rng(next(seeds)),
                                        n_threads=n_threads, **params).fit(
                    X, sample_weight=weights)
            # Criteria of the weighted fit: the weights count as samples.
            log_likelihood = model.score(X, sample_weight=weights) * total
            p = model._n_parameters()
            bic[covariance_type][i] = -2 * log_likelihood + p * np.log(total)
            aic[covariance_type][i] = -2 * log_likelihood + 2 * p
            if best is None or bic[covariance_type][i] < best[0]:
                best = (bic[covariance_type][i], k, covariance_type, model)
    return MixtureSelection(k_values, types, bic, aic, best[1], best[2], best[3])
