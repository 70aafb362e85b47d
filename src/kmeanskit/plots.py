"""Figures for K selection and cluster inspection (needs ``kmeanskit[plot]``).

Every function returns a matplotlib Figure and never calls ``plt.show()``;
they read result objects (``ChooseKResult``) or plain arrays, never an
estimator's internals.
"""

from __future__ import annotations

import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "kmeanskit.plots needs matplotlib: pip install 'kmeanskit[plot]'"
        ) from None
    return plt


def _colors(n: int):
    """n distinguishable colours: tab10, tab20, then an evenly spaced wheel."""
    plt = _pyplot()
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("hsv")(i / n) for i in range(n)]


def _figure(figsize=(6.0, 4.0)):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def elbow(result, *, metric="inertia"):
    """Inertia (or ``"distortion"``) against k, with the Kneedle knee marked."""
    fig, ax = _figure()
    ks = np.asarray(result.k_values)
    values = result.scores[metric]
    ax.plot(ks, values, "o-", color="C0")
    knee = result.recommendations.get("elbow")
    if knee is not None and knee in result.k_values:
        y = values[result.k_values.index(knee)]
        ax.axvline(knee, color="C3", linestyle="--", linewidth=1)
        ax.plot([knee], [y], "o", color="C3", markersize=10, label=f"knee: k = {knee}")
        ax.legend()
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel(metric)
    ax.set_title("Elbow")
    ax.set_xticks(ks)
    return fig


_SCORE_LABELS = {
    "silhouette": ("mean silhouette", "higher is better"),
    "calinski_harabasz": ("Calinski-Harabasz", "higher is better"),
    "davies_bouldin": ("Davies-Bouldin", "lower is better"),
    "dunn": ("Dunn index", "higher is better"),
    "bic": ("BIC", "lower is better"),
    "aic": ("AIC", "lower is better"),
    "gap": ("gap statistic", "1-SE rule"),
    "prediction_strength": ("prediction strength", "largest k above 0.8"),
}


def score_curve(result, method):
    """One K-selection score against k, with that method's choice marked
    (gap with its standard-error bars, prediction strength with its 0.8 line,
    a sampled silhouette with its confidence band)."""
    if method not in result.scores:
        raise ValueError(f"{method!r} was not computed; available: {sorted(result.scores)}.")
    fig, ax = _figure()
    ks = np.asarray(result.k_values)
    values = result.scores[method]
    if method == "gap":
        ax.errorbar(ks, values, yerr=result.scores["gap_se"], fmt="o-", capsize=3)
    else:
        ax.plot(ks, values, "o-")
    if method == "silhouette" and "silhouette_low" in result.scores:
        ax.fill_between(ks, result.scores["silhouette_low"], result.scores["silhouette_high"],
                        alpha=0.2, label="95 % interval (sampled)")
    if method == "prediction_strength":
        ax.axhline(0.8, color="grey", linestyle=":", label="threshold 0.8")
    chosen = result.recommendations.get(method)
    if chosen is not None:
        ax.axvline(chosen, color="C3", linestyle="--", linewidth=1, label=f"k = {chosen}")
    label, rule = _SCORE_LABELS.get(method, (method, ""))
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel(label)
    ax.set_title(f"{label} ({rule})" if rule else label)
    ax.set_xticks(ks)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return fig


def silhouette(values, labels, *, mean=None):
    """The classic silhouette "knife" plot: each cluster's sorted silhouette
    values as horizontal bars, with the mean as a dashed line.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        From :func:`kmeanskit.metrics.silhouette_samples`.
    labels : array-like of shape (n_samples,)
    mean : float, default=None
        The line to draw; the mean of ``values`` when None.
    """
    values = np.asarray(values, dtype=float)
    labels = np.asarray(labels)
    clusters = np.unique(labels)
    fig, ax = _figure((6.0, max(4.0, 0.25 * len(clusters) + 3)))
    colors = _colors(len(clusters))
    bottom = 0
    gap = max(2, len(values) // 100)
    for i, cluster in enumerate(clusters):
        own = np.sort(values[labels == cluster])
        ax.fill_betweenx(np.arange(bottom, bottom + own.size), 0, own,
                         color=colors[i], alpha=0.8)
        ax.text(-0.05, bottom + own.size / 2, str(cluster), ha="right", va="center")
        bottom += own.size + gap
    line = float(values.mean()) if mean is None else mean
    ax.axvline(line, color="C3", linestyle="--", label=f"mean {line:.3f}")
    ax.set_xlim(min(-0.1, values.min() - 0.05), 1.0)
    ax.set_yticks([])
    ax.set_xlabel("silhouette coefficient")
    ax.set_ylabel("cluster")
    ax.set_title("Silhouette per cluster")
    ax.legend(loc="lower right")
    return fig


def clusters(X, labels, centers=None, *, feature_names=None):
    """Scatter of the points coloured by cluster, centroids as crosses.

    Two features are drawn directly; more are projected on their first two
    principal components (the axes say so).
    """
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    if X.shape[1] == 2:
        points = X
        projected = None if centers is None else np.asarray(centers, dtype=float)
        names = list(feature_names) if feature_names is not None else ["feature 0", "feature 1"]
    else:
        mean = X.mean(axis=0)
        _, singular, vt = np.linalg.svd(X - mean, full_matrices=False)
        basis = vt[:2].T
        points = (X - mean) @ basis
        projected = None if centers is None else (np.asarray(centers, dtype=float) - mean) @ basis
        share = singular[:2] ** 2 / (singular**2).sum()
        names = [f"PC{i + 1} ({share[i]:.0%} of variance)" for i in range(2)]
    fig, ax = _figure((7.0, 5.0))
    clusters_present = np.unique(labels)
    colors = _colors(len(clusters_present))
    for i, cluster in enumerate(clusters_present):
        own = points[labels == cluster]
        ax.scatter(own[:, 0], own[:, 1], s=12, color=colors[i], alpha=0.7,
                   label=str(cluster))
    if projected is not None:
        ax.scatter(projected[:, 0], projected[:, 1], marker="X", s=160, color="black",
                   edgecolor="white", linewidth=1.5, label="centroids")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title("Clusters")
    ax.legend(title="cluster", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def mixture_bic(selection):
    """BIC against the number of components, one line per covariance type,
    the best (k, covariance type) marked."""
    fig, ax = _figure()
    ks = np.asarray(selection.k_values)
    for covariance_type in selection.covariance_types:
        ax.plot(ks, selection.bic[covariance_type], "o-", label=covariance_type)
    best = selection.bic[selection.best_covariance_type][
        selection.k_values.index(selection.best_k)]
    ax.plot([selection.best_k], [best], "*", color="black", markersize=16,
            label=f"best: k = {selection.best_k}, {selection.best_covariance_type}")
    ax.set_xlabel("number of components k")
    ax.set_ylabel("BIC (lower is better)")
    ax.set_title("Gaussian mixture: BIC by covariance type")
    ax.set_xticks(ks)
    ax.legend()
    return fig


def mixture_ellipses(X, mixture, *, feature_names=None):
    """The data with each component's 1, 2 and 3 standard-deviation ellipses.

    Two features are drawn directly; more are projected on their first two
    principal components (and the covariances with them).
    """
    from matplotlib.patches import Ellipse

    X = np.asarray(X, dtype=float)
    k, d = mixture.means_.shape
    covariances = {
        "full": lambda c: mixture.covariances_[c],
        "tied": lambda c: mixture.covariances_,
        "diag": lambda c: np.diag(mixture.covariances_[c]),
        "spherical": lambda c: np.eye(d) * mixture.covariances_[c],
    }[mixture.covariance_type]
    if d == 2:
        basis, origin = np.eye(2), np.zeros(2)
        names = list(feature_names) if feature_names is not None else ["feature 0", "feature 1"]
    else:
        origin = X.mean(axis=0)
        _, singular, vt = np.linalg.svd(X - origin, full_matrices=False)
        basis = vt[:2].T
        share = singular[:2] ** 2 / (singular**2).sum()
        names = [f"PC{i + 1} ({share[i]:.0%} of variance)" for i in range(2)]
    points = (X - origin) @ basis
    labels = mixture.predict(X)
    colors = _colors(k)
    fig, ax = _figure((7.0, 5.0))
    for c in range(k):
        own = points[labels == c]
        ax.scatter(own[:, 0], own[:, 1], s=10, color=colors[c], alpha=0.5)
        centre = (mixture.means_[c] - origin) @ basis
        covariance = basis.T @ covariances(c) @ basis
        values, vectors = np.linalg.eigh(covariance)
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        for scale in (1, 2, 3):
            width, height = 2 * scale * np.sqrt(np.maximum(values[::-1], 0))
            ax.add_patch(Ellipse(centre, width, height, angle=angle, fill=False,
                                 color=colors[c], linewidth=1.5, alpha=0.9 / scale))
        ax.plot(*centre, "X", color="black", markersize=10)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(f"Gaussian mixture ({mixture.covariance_type} covariances)")
    ax.set_aspect("equal", adjustable="datalim")
    return fig


def feature_distributions(table, features, segment_column="segment"):
    """Box plots of every feature by segment, one panel per feature."""
    plt = _pyplot()
    n = len(features)
    columns = min(n, 2)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.0 * columns, 3.2 * rows),
                             layout="constrained", squeeze=False)
    segments = sorted(int(s) for s in table[segment_column].dropna().unique())
    colors = _colors(len(segments))
    for ax, feature in zip(axes.ravel(), features, strict=False):
        data = [table.loc[table[segment_column] == s, feature].dropna().to_numpy()
                for s in segments]
        parts = ax.boxplot(data, patch_artist=True, showfliers=True)
        for patch, color in zip(parts["boxes"], colors, strict=True):
            patch.set_facecolor(color)
            patch.set_alpha(0.7)
        ax.set_xticks(range(1, len(segments) + 1), [str(s) for s in segments])
        ax.set_xlabel("segment")
        ax.set_title(str(feature))
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig


def category_shares(table, column, segment_column="segment"):
    """Stacked bars: the share of each category of ``column`` in every segment."""
    fig, ax = _figure((6.0, 3.5))
    used = table.dropna(subset=[segment_column])
    shares = (used.groupby(segment_column)[column].value_counts(normalize=True)
              .unstack(fill_value=0.0).sort_index())
    bottom = np.zeros(len(shares))
    colors = _colors(shares.shape[1])
    positions = np.arange(len(shares))
    for color, category in zip(colors, shares.columns, strict=True):
        ax.bar(positions, shares[category], bottom=bottom, color=color, label=str(category))
        bottom += shares[category].to_numpy()
    ax.set_xticks(positions, [str(int(s)) for s in shares.index])
    ax.set_xlabel("segment")
    ax.set_ylabel("share")
    ax.set_ylim(0, 1)
    ax.set_title(f"{column} by segment")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return fig
