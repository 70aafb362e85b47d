"""The customer-segmentation workflow as a library: table in, segments out.

:class:`Segmenter` chooses the feature columns, handles missing values,
scales, picks K (or takes it), clusters with k-means or a Gaussian mixture,
and describes the segments in the data's own units.  Its result
(:class:`SegmentationResult`) feeds the HTML report and the command line;
the fitted Segmenter saves to a model file that labels new rows the same way.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SCALINGS = ("standard", "minmax", "robust", "none")
METHODS = ("kmeans", "gmm")
MISSING = ("error", "drop", "mean")
INITS = ("k-means||", "local-search++", "k-means++", "random", "sharding")


class SegmentationError(ValueError):
    """A problem with the input table or the request, in the user's terms."""


def _plain_name(column: str) -> str:
    """'Annual Income (k$)' -> 'annual income'."""
    return re.sub(r"\s*\(.*?\)\s*", " ", str(column)).strip().lower() or str(column)


def parse_k(text) -> int | tuple[int, int] | str:
    """'auto' | 'N' | 'MIN-MAX' -> 'auto' | N | (MIN, MAX)."""
    if isinstance(text, int):
        return text
    text = str(text).strip().lower()
    if text == "auto":
        return "auto"
    match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
    if match:
        low, high = int(match[1]), int(match[2])
        if not 1 <= low < high:
            raise SegmentationError(f"--k range {text!r} must be MIN-MAX with 1 <= MIN < MAX.")
        return low, high
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise SegmentationError(f"--k must be 'auto', a number such as 5, or a range such as "
                            f"3-8; got {text!r}.")


@dataclass
class SegmentationResult:
    """What one segmentation found, ready to present.

    Attributes
    ----------
    table : DataFrame
        Every input row, plus ``segment`` (1..k, empty for rows dropped for
        missing values), ``distance`` to the segment centre (in scaled
        units) and, for mixtures, ``p_segment_<j>`` membership probabilities.
    profiles : DataFrame
        Per segment: size, share, and the mean and median of every feature in
        its original units.
    centers : DataFrame
        Segment centres in original units (means of the members for mixtures).
    descriptions : dict of int -> str
        A plain-words description of each segment.
    features, categorical : list of str
    k : int
    selection : ChooseKResult or MixtureSelection or None
        The K-selection evidence when K was chosen automatically.
    silhouette : float or None
    notes : list of str
        Decisions taken along the way (columns skipped, rows dropped, ...).
    values : DataFrame
        The feature values of the segmented rows as clustered (missing values
        filled), in original units.
    scaled : ndarray
        The same rows after scaling.
    """

    table: pd.DataFrame
    profiles: pd.DataFrame
    centers: pd.DataFrame
    descriptions: dict
    features: list
    categorical: list
    k: int
    selection: object = None
    silhouette: float | None = None
    notes: list = field(default_factory=list)
    values: pd.DataFrame | None = field(default=None, repr=False)
    scaled: np.ndarray | None = field(default=None, repr=False)


class Segmenter:
    """Segment the rows of a table.

    Parameters
    ----------
    columns : list of str, default=None
        Feature columns; all numeric columns when None, except identifier-like
        ones (distinct integers that run 1, 2, 3, ... or whose name ends in
        "id", "key", "number" or "no", like ``CustomerID``).
    k : "auto", int or (min, max), default="auto"
        Number of segments, or the range ``choose_k`` searches (2-10 for auto).
    scale : {"standard", "minmax", "robust", "none"}, default="standard"
    method : {"kmeans", "gmm"}, default="kmeans"
    init : {"k-means||", "local-search++", "k-means++", "random", "sharding"}, \
default="k-means||"
        :class:`KMeans`' ``init``.
    missing : {"error", "drop", "mean"}, default="error"
    seed : int, default=0
    noun : str, default="rows"
        What a row is, for the descriptions ("customers").
    """

    def __init__(self, columns=None, *, k="auto", scale="standard", method="kmeans",
                 init="k-means||", missing="error", seed=0, noun="rows"):
        self.columns = columns
        self.k = k
        self.scale = scale
        self.method = method
        self.init = init
        self.missing = missing
        self.seed = seed
        self.noun = noun

    # -- preparing the table -------------------------------------------------

    def _check_options(self):
        for name, value, valid in (("scale", self.scale, SCALINGS),
                                   ("method", self.method, METHODS),
                                   ("missing", self.missing, MISSING),
                                   ("init", self.init, INITS)):
            if value not in valid:
                raise SegmentationError(f"--{name} must be one of {', '.join(valid)}; "
                                        f"got {value!r}.")

    def _select_columns(self, frame: pd.DataFrame, notes: list):
        if frame.shape[0] == 0:
            raise SegmentationError("the table has a header but no rows.")
        if self.columns:
            missing = [c for c in self.columns if c not in frame.columns]
            if missing:
                raise SegmentationError(
                    f"column {missing[0]!r} does not exist; the columns are: "
                    f"{', '.join(map(str, frame.columns))}.")
            features = list(self.columns)
            for column in features:
                _check_numeric(frame, column)
        else:
            features = []
            for column in frame.columns:
                if not pd.api.types.is_numeric_dtype(frame[column]) \
                        or pd.api.types.is_bool_dtype(frame[column]):
                    continue
                values = frame[column].dropna()
                if _looks_like_identifier(values):
                    notes.append(f"Column {column!r} looks like an identifier (distinct "
                                 "integers) and was not used for clustering.")
                    continue
                features.append(column)
            if not features:
                raise SegmentationError(
                    "the table has no numeric columns to cluster on; choose columns "
                    "with --columns (they must hold numbers).")
        constant = [c for c in features if frame[c].nunique(dropna=True) <= 1]
        for column in constant:
            warnings.warn(f"column {column!r} is constant and was dropped.", UserWarning,
                          stacklevel=3)
            notes.append(f"Column {column!r} is constant and was dropped.")
        features = [c for c in features if c not in constant]
        if not features:
            raise SegmentationError("every chosen column is constant: nothing to cluster on.")
        categorical = [c for c in frame.columns if c not in features
                       and not pd.api.types.is_numeric_dtype(frame[c])]
        return features, categorical

    def _handle_missing(self, values: pd.DataFrame, notes: list):
        counts = values.isna().sum()
        counts = counts[counts > 0]
        keep = np.ones(len(values), dtype=bool)
        self.fill_values_ = np.full(values.shape[1], np.nan)
        if counts.empty:
            return values, keep
        detail = ", ".join(f"{c} ({n})" for c, n in counts.items())
        if self.missing == "error":
            raise SegmentationError(
                f"{int(counts.sum())} missing values in columns {detail}; use --missing "
                "drop to leave those rows out or --missing mean to fill them with the "
                "column mean.")
        if self.missing == "drop":
            keep = ~values.isna().any(axis=1).to_numpy()
            notes.append(f"{int((~keep).sum())} rows with missing values ({detail}) were left "
                         "out; their segment is empty in segments.csv.")
            return values[keep], keep
        self.fill_values_ = values.mean().to_numpy()
        notes.append(f"{int(counts.sum())} missing values ({detail}) were filled with the "
                     "column means.")
        return values.fillna(values.mean()), keep

    def _fit_scaler(self, X: np.ndarray):
        if self.scale == "standard":
            center, spread = X.mean(axis=0), X.std(axis=0)
        elif self.scale == "minmax":
            center, spread = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
        elif self.scale == "robust":
            q1, median, q3 = np.percentile(X, [25, 50, 75], axis=0)
            center, spread = median, q3 - q1
        else:
            center, spread = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.center_ = center
        self.spread_ = np.where(spread > 0, spread, 1.0)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.center_) / self.spread_

    def _features_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise SegmentationError(
                f"column {missing[0]!r}, used by the model, does not exist in the data; "
                f"the columns are: {', '.join(map(str, frame.columns))}.")
        for column in self.features_:
            _check_numeric(frame, column)
        return frame[self.features_].apply(pd.to_numeric)

    # -- fitting ---------------------------------------------------------------

    def _prepare(self, frame: pd.DataFrame, notes: list):
        """Choose columns, handle missing values and fit the scaler.

        Returns the clustered values (original units), the mask of rows kept,
        and the scaled matrix.
        """
        self._check_options()
        self.features_, self.categorical_ = self._select_columns(frame, notes)
        values, keep = self._handle_missing(self._features_of(frame), notes)
        X = values.to_numpy(dtype=np.float64)
        self._fit_scaler(X)
        return values, keep, self._transform(X)

    def prepare(self, frame: pd.DataFrame) -> np.ndarray:
        """The scaled feature matrix of ``frame`` as :meth:`fit` would cluster
        it (same columns, missing-value policy and scaling), without clustering."""
        return self._prepare(frame, [])[2]

    def fit(self, frame: pd.DataFrame, *, progress=False) -> SegmentationResult:
        """Segment ``frame``; returns the :class:`SegmentationResult`."""
        from . import GaussianMixture, KMeans, choose_k, choose_mixture

        k_request = parse_k(self.k)
        notes = []
        values, keep, Z = self._prepare(frame, notes)
        n = Z.shape[0]
        distinct = len(np.unique(Z, axis=0))
        selection = None
        if k_request == "auto" or isinstance(k_request, tuple):
            low, high = (2, 10) if k_request == "auto" else k_request
            high = min(high, distinct - 1, n - 1)
            low = max(low, 2 if self.method == "kmeans" else 1)
            if high < low:
                raise SegmentationError(
                    f"{n} rows ({distinct} distinct) are too few to choose among "
                    f"{low} or more segments; give --k a number.")
            if self.method == "gmm":
                selection = choose_mixture(Z, range(low, high + 1), random_state=self.seed)
                k = selection.best_k
            else:
                selection = choose_k(Z, range(low, high + 1), random_state=self.seed,
                                     progress=progress)
                k = selection.k
        else:
            k = k_request
        if n < k:
            raise SegmentationError(f"{n} rows but {k} segments were asked for: ask for at "
                                    "most as many segments as rows.")
        if self.method == "gmm":
            covariance = selection.best_covariance_type if selection is not None else "full"
            model = GaussianMixture(k, covariance_type=covariance, n_init=3,
                                    random_state=self.seed).fit(Z)
            raw = model.predict(Z)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicates: reported via the notes
                model = KMeans(k, init=self.init, random_state=self.seed).fit(Z)
            raw = model.labels_
        # Segments are numbered 1..k by decreasing size.
        sizes = np.bincount(raw, minlength=k)
        order = np.argsort(-sizes, kind="stable")
        self.segment_of_label_ = np.empty(k, dtype=int)
        self.segment_of_label_[order] = np.arange(1, k + 1)
        self.model_ = model
        self.k_ = k
        if len(np.unique(raw)) < k:
            notes.append(f"Only {len(np.unique(raw))} of the {k} segments received rows "
                         "(the data has many duplicate rows).")
        return self._describe(frame, keep, values, Z, raw, selection, notes)

    def _segment_columns(self, Z):
        """Segment numbers, distance to the centre and probabilities for scaled rows."""
        from .mixture import GaussianMixture

        if isinstance(self.model_, GaussianMixture):
            proba = self.model_.predict_proba(Z)
            raw = proba.argmax(axis=1)
            centres = self.model_.means_
        else:
            raw = self.model_.predict(Z)
            proba = None
            centres = self.model_.cluster_centers_
        distance = np.linalg.norm(Z - centres[raw], axis=1)
        return self.segment_of_label_[raw], distance, proba

    def _describe(self, frame, keep, values, Z, raw, selection, notes) -> SegmentationResult:
        from .metrics import silhouette_score

        segments, distance, proba = self._segment_columns(Z)
        table = frame.copy()
        table["segment"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        table.loc[keep, "segment"] = segments
        table["distance"] = np.nan
        table.loc[keep, "distance"] = distance
        if proba is not None:
            for label in range(self.k_):
                column = np.full(len(frame), np.nan)
                column[keep] = proba[:, label]
                table[f"p_segment_{self.segment_of_label_[label]}"] = column
            table = table[[c for c in table.columns if not c.startswith("p_segment_")]
                          + [f"p_segment_{j}" for j in range(1, self.k_ + 1)]]
        used = table[keep]
        features = values.set_axis(used.index)
        profiles = pd.DataFrame({
            "segment": range(1, self.k_ + 1),
            "size": [int((used.segment == j).sum()) for j in range(1, self.k_ + 1)],
        })
        profiles["share"] = profiles["size"] / profiles["size"].sum()
        grouped = features.groupby(used.segment.to_numpy())
        for column in self.features_:
            profiles[f"{column} mean"] = [grouped[column].mean().get(j, np.nan)
                                          for j in profiles.segment]
            profiles[f"{column} median"] = [grouped[column].median().get(j, np.nan)
                                            for j in profiles.segment]
        centers = pd.DataFrame(
            [grouped.mean().loc[j] if j in grouped.groups else
             pd.Series(np.nan, index=self.features_) for j in profiles.segment],
            index=pd.Index(profiles.segment, name="segment"))
        descriptions = {
            int(j): self._description(centers.loc[j], features, int(size), share)
            for j, size, share in zip(profiles.segment, profiles["size"], profiles.share,
                                      strict=True)
        }
        score = None
        if 2 <= len(np.unique(raw)) < len(raw):
            score = silhouette_score(Z, raw, sample_size=2000 if len(raw) > 10_000 else None,
                                     random_state=self.seed)
        return SegmentationResult(table, profiles, centers, descriptions,
                                  list(self.features_), list(self.categorical_), self.k_,
                                  selection, score, notes, features, Z)

    def _description(self, centre, features, size, share) -> str:
        mean, std = features.mean(), features.std(ddof=0).replace(0, 1)
        parts = []
        for column in self.features_:
            z = (centre[column] - mean[column]) / std[column]
            level = 2 if z > 0.5 else 0 if z < -0.5 else 1
            name = _plain_name(column)
            if name == "age":
                parts.append(("younger", "middle-aged", "older")[level])
            else:
                parts.append(f"{('low', 'average', 'high')[level]} {name}")
        return f"{', '.join(parts)} — {size} {self.noun}, {share:.1%}"

    def describe(self, frame: pd.DataFrame) -> SegmentationResult:
        """The result object for ``frame`` under the fitted model, without
        refitting (how the report of a saved model is rebuilt)."""
        values = self._features_of(frame)
        notes = [f"Segments from a saved model with K = {self.k_}; the data was not "
                 "re-clustered."]
        keep = np.ones(len(frame), dtype=bool)
        if values.isna().any().any():
            if self.missing == "mean":
                values = values.fillna(pd.Series(self.fill_values_, index=self.features_))
            else:
                keep = ~values.isna().any(axis=1).to_numpy()
                values = values[keep]
                notes.append(f"{int((~keep).sum())} rows with missing values were left out.")
        Z = self._transform(values.to_numpy(dtype=np.float64))
        return self._describe(frame, keep, values, Z, self.model_.predict(Z), None, notes)

    # -- new rows ------------------------------------------------------------

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Label new rows with the same preprocessing: the rows plus
        ``segment``, ``distance`` (and probabilities for mixtures)."""
        values = self._features_of(frame)
        if values.isna().any().any():
            if self.missing != "mean":
                counts = values.isna().sum()
                detail = ", ".join(f"{c} ({n})" for c, n in counts[counts > 0].items())
                raise SegmentationError(f"{int(counts.sum())} missing values in columns "
                                        f"{detail}; the model was fitted with --missing "
                                        f"{self.missing}, so rows must be complete.")
            values = values.fillna(pd.Series(self.fill_values_, index=self.features_))
        Z = self._transform(values.to_numpy(dtype=np.float64))
        segments, distance, proba = self._segment_columns(Z)
        out = frame.copy()
        out["segment"] = segments
        out["distance"] = distance
        if proba is not None:
            for label in np.argsort(self.segment_of_label_):
                out[f"p_segment_{self.segment_of_label_[label]}"] = proba[:, label]
        return out

    # -- persistence -----------------------------------------------------------

    def _state(self):
        from .persistence import estimator_state

        kind, data, arrays = estimator_state(self.model_)
        arrays = {f"model.{name}": value for name, value in arrays.items()}
        arrays.update({"center": self.center_, "spread": self.spread_,
                       "fill_values": self.fill_values_,
                       "segment_of_label": self.segment_of_label_})
        params = {"columns": self.columns, "k": self.k if isinstance(self.k, (int, str))
                  else list(self.k), "scale": self.scale, "method": self.method,
                  "init": self.init, "missing": self.missing, "seed": self.seed,
                  "noun": self.noun}
        data = {"params": params, "features": [str(c) for c in self.features_],
                "categorical": [str(c) for c in self.categorical_], "k": int(self.k_),
                "model_kind": kind, "model": data}
        return "Segmenter", data, arrays

    @classmethod
    def _from_state(cls, data, arrays):
        from .persistence import ModelFileError, estimator_from_state

        try:
            params = dict(data["params"])
            if isinstance(params["k"], list):
                params["k"] = tuple(params["k"])
            segmenter = cls(**params)
            segmenter.features_ = list(data["features"])
            segmenter.categorical_ = list(data["categorical"])
            segmenter.k_ = int(data["k"])
            segmenter.center_ = arrays["center"]
            segmenter.spread_ = arrays["spread"]
            segmenter.fill_values_ = arrays["fill_values"]
            segmenter.segment_of_label_ = arrays["segment_of_label"]
            model_arrays = {name.split(".", 1)[1]: value for name, value in arrays.items()
                            if name.startswith("model.")}
            segmenter.model_ = estimator_from_state(data["model_kind"], data["model"],
                                                    model_arrays)
        except (KeyError, TypeError) as exc:
            raise ModelFileError(f"the segmentation model is incomplete ({exc}).") from None
        return segmenter


_ID_NAME = re.compile(r"(^|[^a-z])(id|key|number|no)$|^id([^a-z]|$)", re.IGNORECASE)


def _looks_like_identifier(values: pd.Series) -> bool:
    """Distinct integers that are named like an identifier or run 1, 2, 3, ..."""
    if len(values) < 3 or not pd.api.types.is_integer_dtype(values) or not values.is_unique:
        return False
    consecutive = values.max() - values.min() == len(values) - 1
    return consecutive or bool(_ID_NAME.search(str(values.name)))


def _check_numeric(frame: pd.DataFrame, column) -> None:
    """Raise naming the column and the first row that is not a number."""
    series = frame[column]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SegmentationError(
            f"column {column!r} has a non-numeric value {series.iloc[row]!r} in row {row + 1} "
            "(the first data row is row 1); fix the value or choose other columns.")
