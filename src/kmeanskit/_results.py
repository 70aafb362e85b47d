"""Result records shared by the estimators, plots, reports and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class IterationRecord:
    """What one iteration of a batch k-means fit did.

    Attributes
    ----------
    iteration : int
        1-based iteration number.
    inertia : float
        Weighted sum of squared distances of the points to the centroids they
        were assigned to in this iteration (the centroids before the update).
    n_changed : int
        Points whose cluster changed in this iteration (all points in the first).
    n_empty : int
        Clusters that lost all their points and were relocated.
    seconds : float
        Wall-clock time of the iteration.
    n_skipped : int
        Point-to-centroid distance computations the bounds of an accelerated
        algorithm saved, relative to Lloyd's n x k (0 for Lloyd; negative when
        re-tightening a bound cost more than it saved).
    algorithm : str
        The algorithm that ran this iteration.
    """

    iteration: int
    inertia: float
    n_changed: int
    n_empty: int
    seconds: float
    n_skipped: int = 0
    algorithm: str = "lloyd"


@dataclass(frozen=True)
class KMeansResult:
    """Outcome of a k-means fit, as returned by :func:`kmeanskit.kmeans`.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features)
    labels : ndarray of shape (n_samples,)
    inertia : float
    n_iter : int
    history : list of IterationRecord
        Per-iteration record of the best run.
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    history: list[IterationRecord] = field(default_factory=list)


@dataclass(frozen=True)
class MiniBatchRecord:
    """What one mini-batch step did.

    Attributes
    ----------
    step : int
    batch_inertia : float
        Inertia of the batch under the centroids before the step, per sample.
    smoothed_inertia : float
        Exponentially weighted average of ``batch_inertia`` (the stopping signal).
    n_reassigned : int
        Small clusters moved onto random batch points in this step.
    seconds : float
    """

    step: int
    batch_inertia: float
    smoothed_inertia: float
    n_reassigned: int
    seconds: float
