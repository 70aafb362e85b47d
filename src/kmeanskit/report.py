"""The self-contained HTML segmentation report (needs ``kmeanskit[report]``).

Everything the page shows is in one file: figures are embedded PNGs, the
style sheet is inline, nothing is fetched, so the report opens offline.
"""

from __future__ import annotations

import base64
import html
import io
import platform
from datetime import UTC, datetime

import numpy as np


def _require():
    try:
        import jinja2  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("the report needs matplotlib and jinja2: pip install "
                          "'kmeanskit[report]'") from None


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(frame, *, index=False, float_format="{:,.2f}") -> str:
    """A plain HTML table (no pandas styling, no scripts)."""
    frame = frame.reset_index() if index else frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                text = "" if np.isnan(value) else float_format.format(value)
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(value, int | np.integer):
                cells.append(f'<td class="num">{value:,}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _separation_words(score) -> str:
    if score is None:
        return "separation could not be measured (a single distinct segment)"
    if score > 0.7:
        verdict = "strongly separated"
    elif score > 0.5:
        verdict = "clearly separated"
    elif score > 0.25:
        verdict = "weakly separated: the segments overlap"
    else:
        verdict = "barely separated: treat the segments as a convenient split, not natural groups"
    return f"{verdict} (mean silhouette {score:.2f}, on a scale from -1 to 1)"


def build_report(result, segmenter, *, source="data", title="Segmentation report") -> str:
    """HTML of the report for a :class:`~kmeanskit.segmentation.SegmentationResult`."""
    _require()
    import jinja2
    import pandas as pd

    from . import __version__, plots
    from .metrics import silhouette_samples
    from .mixture import MixtureSelection
    from .selection import ChooseKResult

    table, features = result.table, result.features
    used = table.dropna(subset=["segment"])
    Z = result.scaled
    labels = used["segment"].to_numpy(dtype=int)
    values = result.values.to_numpy(dtype=float)

    figures = {}
    selection = result.selection
    votes = None
    if isinstance(selection, ChooseKResult):
        figures["elbow"] = _png(plots.elbow(selection))
        figures["silhouette_vs_k"] = _png(plots.score_curve(selection, "silhouette"))
        votes = _table(pd.DataFrame(
            [(m.replace("_", " "), "-" if k is None else k)
             for m, k in selection.recommendations.items()],
            columns=["method", "recommended K"]))
        k_text = (f"K = {result.k} was chosen automatically: "
                  + selection.explain().splitlines()[0].split(": ", 1)[1])
    elif isinstance(selection, MixtureSelection):
        figures["mixture_bic"] = _png(plots.mixture_bic(selection))
        k_text = (f"K = {result.k} was chosen automatically: the Gaussian mixture with the "
                  f"lowest BIC has {selection.best_k} components with "
                  f"{selection.best_covariance_type} covariances.")
    else:
        k_text = f"K = {result.k} was set by hand."

    centers_original = result.centers
    scatter = plots.clusters(values, labels, centers_original.to_numpy(dtype=float),
                             feature_names=features if len(features) == 2 else None)
    figures["scatter"] = _png(scatter)
    if len(np.unique(labels)) >= 2:
        values = silhouette_samples(Z, labels) if len(labels) <= 20_000 else None
        if values is not None:
            figures["silhouette"] = _png(plots.silhouette(values, labels))
    figures["distributions"] = _png(plots.feature_distributions(
        result.values.assign(segment=labels), features))
    categories = {column: _png(plots.category_shares(used, column))
                  for column in result.categorical if used[column].nunique() <= 12}

    profiles = result.profiles.copy()
    profiles["share"] = (profiles["share"] * 100).round(1).astype(str) + " %"
    model = segmenter.model_
    import matplotlib
    import numba
    import scipy
    import sklearn

    parameters = {
        "source": source,
        "rows": f"{len(table):,} ({len(used):,} segmented)",
        "columns": ", ".join(map(str, features)),
        "k": str(segmenter.k),
        "scale": segmenter.scale,
        "method": segmenter.method,
        "init": segmenter.init if segmenter.method == "kmeans" else "kmeans (EM start)",
        "missing": segmenter.missing,
        "seed": str(segmenter.seed),
        "model": repr(model),
    }
    versions = {"kmeanskit": __version__, "python": platform.python_version(),
                "numpy": np.__version__, "scipy": scipy.__version__,
                "scikit-learn": sklearn.__version__, "pandas": pd.__version__,
                "numba": numba.__version__, "matplotlib": matplotlib.__version__}
    scale_words = {"standard": "standardised (mean 0, standard deviation 1)",
                   "minmax": "rescaled to 0-1", "robust": "robust-scaled (median, IQR)",
                   "none": "used as they are"}[segmenter.scale]
    method_words = "k-means" if segmenter.method == "kmeans" else "a Gaussian mixture"
    summary = (
        f"{len(used):,} {segmenter.noun} were split into {result.k} segments by "
        f"{method_words} on {len(features)} feature{'s' if len(features) > 1 else ''} "
        f"({', '.join(map(str, features))}), {scale_words}. {k_text} The segments are "
        f"{_separation_words(result.silhouette)}."
    )
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("kmeanskit", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = environment.get_template("report.html.j2")
    return template.render(
        title=title, summary=summary, notes=result.notes, figures=figures, votes=votes,
        descriptions=result.descriptions, sizes=result.profiles,
        centers=_table(centers_original, index=True),
        profiles=_table(profiles), categories=categories, parameters=parameters,
        versions=versions, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        k=result.k, noun=segmenter.noun)


def write_report(path, result, segmenter, **kwargs):
    """Write the report atomically to ``path``; returns the path."""
    from .persistence import write_atomic

    text = build_report(result, segmenter, **kwargs)
    return write_atomic(path, lambda stream: stream.write(text.encode("utf-8")))
