"""Parameter rules, input checks and random-state handling.

Public functions validate with these helpers; private ones trust callers.
Only scikit-learn's public API is used (``sklearn.utils.validation``).
"""

from __future__ import annotations

import mmap
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

# ---------------------------------------------------------------------------
# Parameter rules: one declarative table per estimator, checked in ``fit``.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Integer:
    """An int (not bool) in ``[low, high]``; ``None`` bounds are open."""

    low: int | None = None
    high: int | None = None

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        return (self.low is None or value >= self.low) and (
            self.high is None or value <= self.high
        )

    def describe(self) -> str:
        low = "-inf" if self.low is None else self.low
        high = "inf)" if self.high is None else f"{self.high}]"
        return f"an int in the range [{low}, {high}"


@dataclass(frozen=True)
class Real:
    """A finite real number (not bool) in ``[low, high]``, or ``(low, high]``
    when ``open_low``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if not np.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.open_low else value >= self.low)
        return above and (self.high is None or value <= self.high)

    def describe(self) -> str:
        low = "(-inf" if self.low is None else f"{'(' if self.open_low else '['}{self.low}"
        high = "inf)" if self.high is None else f"{self.high}]"
        return f"a float in the range {low}, {high}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self) -> str:
        return "a str among {" + ", ".join(repr(v) for v in self.values) + "}"


@dataclass(frozen=True)
class Kind:
    """A value passing ``predicate``, described as ``name``."""

    name: str
    predicate: object

    def accepts(self, value) -> bool:
        return bool(self.predicate(value))

    def describe(self) -> str:
        return self.name


NONE = Kind("None", lambda v: v is None)
BOOL = Kind("a bool", lambda v: isinstance(v, (bool, np.bool_)))
CALLABLE = Kind("a callable", callable)
ARRAY_LIKE = Kind(
    "an array-like of shape (n_clusters, n_features)",
    lambda v: hasattr(v, "__array__") or isinstance(v, (list, tuple)),
)
RANDOM_STATE = Kind(
    "an int, a numpy Generator, a numpy RandomState or None",
    lambda v: v is None
    or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v < 2**63)
    or isinstance(v, (np.random.Generator, np.random.RandomState)),
)


def check_value(owner: str, name: str, value, allowed: list) -> None:
    """Raise a ValueError unless one of the ``allowed`` rules accepts ``value``.

    The message reads like "The 'n_clusters' parameter of KMeans must be an
    int in the range [1, inf); got 0." and lists every valid option.
    """
    if any(rule.accepts(value) for rule in allowed):
        return
    wanted = " or ".join(rule.describe() for rule in allowed)
    raise ValueError(f"The {name!r} parameter of {owner} must be {wanted}; got {value!r}.")


def check_params(estimator, rules: dict) -> None:
    """Check ``estimator``'s parameters against ``rules`` (name -> list of rules)."""
    params = estimator.get_params(deep=False)
    for name, allowed in rules.items():
        check_value(type(estimator).__name__, name, params[name], allowed)


# ---------------------------------------------------------------------------
# Input data
# ---------------------------------------------------------------------------


def _non_numeric_columns(X) -> list:
    """Names of the non-numeric columns of a DataFrame-like ``X``."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return [
        name
        for name, dtype in X.dtypes.items()
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))
    ]


def check_X(estimator, X, *, reset: bool, accept_sparse: bool = True):
    """Validate ``X`` for a fit (``reset=True``) or for predict/transform.

    Returns a C-contiguous float64/float32 ndarray or a CSR matrix.  float32
    is kept; every other numeric dtype becomes float64.  Records (on fit) or
    checks (otherwise) ``n_features_in_`` and ``feature_names_in_``.
    """
    if hasattr(X, "dtypes") and hasattr(X, "columns"):
        bad = _non_numeric_columns(X)
        if bad:
            raise TypeError(
                f"X has non-numeric columns {bad}; select the numeric columns or "
                "encode these (e.g. one-hot) before clustering."
            )
    shape = getattr(X, "shape", None)
    if shape is None and isinstance(X, (list, tuple)):
        shape = np.shape(X)
    if shape is not None and len(shape) == 1:
        raise ValueError(
            f"Expected a 2-D array of shape (n_samples, n_features), got a 1-D "
            f"array of shape {tuple(shape)}. Reshape your data with "
            "X.reshape(-1, 1) if it holds a single feature, or X.reshape(1, -1) "
            "if it holds a single sample."
        )
    sparse = "csr" if accept_sparse else False
    if estimator is None:
        from sklearn.utils import check_array

        X = check_array(
            X, accept_sparse=sparse, dtype=[np.float64, np.float32], order="C",
            ensure_all_finite=False,
        )
    else:
        X = validate_data(
            estimator, X, reset=reset, accept_sparse=sparse,
            dtype=[np.float64, np.float32], order="C", ensure_all_finite=False,
        )
    check_finite(X, "X")
    if sp.issparse(X) and not X.has_canonical_format:
        # The kernels assume one stored value per (row, column); the caller's
        # matrix is left as it was.
        X = X.copy()
        X.sum_duplicates()
    return X


def _finite_block(block) -> bool:
    """Whether every value of ``block`` is finite.  A float matrix's row sums
    come first, one BLAS pass (half the time of ``isfinite``'s mask over
    100 MB): a NaN or an infinity makes its row's sum NaN or infinite, and
    only then, or where finite values overflow the sum, is every value
    tested."""
    if block.ndim == 2 and block.dtype in (np.float32, np.float64):
        if np.isfinite(block @ np.ones(block.shape[1], dtype=block.dtype)).all():
            return True
    return bool(np.isfinite(block).all())


def check_finite(values, name: str) -> None:
    """Raise a ValueError locating the first NaN or infinity in ``values``
    (a dense array or a CSR matrix)."""
    stored = values.data if sp.issparse(values) else values
    # In blocks of rows: a memory-mapped X is never materialised whole.
    block_rows = max(1, 2**20 // max(1, int(np.prod(stored.shape[1:]))))
    if all(_finite_block(stored[start:start + block_rows])
           for start in range(0, stored.shape[0], block_rows)):
        return
    finite = np.isfinite(stored)
    bad = np.argwhere(~finite)
    first = tuple(int(i) for i in bad[0])
    kind = "NaN" if np.isnan(stored[first]) else "infinite"
    if sp.issparse(values):
        first = (int(np.searchsorted(values.indptr, first[0], side="right")) - 1,
                 int(values.indices[first[0]]))
    where = f"row {first[0]}, column {first[1]}" if len(first) == 2 else f"position {first[0]}"
    raise ValueError(
        f"{name} contains {len(bad)} NaN or infinite value(s), the first ({kind}) "
        f"at {where}. Remove or impute missing values before clustering."
    )


def is_memory_mapped(X) -> bool:
    """Whether ``X`` is (a view of) a memory-mapped file."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


def unit_weights(n_samples: int) -> np.ndarray:
    """Weight 1 for each sample without storing n of them: a read-only
    broadcast view (stride 0), for data streamed from disk."""
    return np.broadcast_to(np.float64(1.0), (n_samples,))


def is_unit_weights(weights: np.ndarray) -> bool:
    """Whether ``weights`` is a :func:`unit_weights` view."""
    return weights.strides[0] == 0 and weights.size > 0 and weights[0] == 1.0


def check_weights_for(X, sample_weight) -> np.ndarray:
    """:func:`check_sample_weight` for validated X, except that X streamed
    from disk without weights gets :func:`unit_weights`, not n of them."""
    if sample_weight is None and is_memory_mapped(X):
        return unit_weights(X.shape[0])
    return check_sample_weight(sample_weight, X.shape[0])


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Return float64 weights of shape (n_samples,); ones when None."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"sample_weight must be numeric; {exc}") from None
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weights.shape}, expected ({n_samples},): "
            "one weight per sample."
        )
    check_finite(weights, "sample_weight")
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(
            f"sample_weight must be non-negative; found {negative.size} negative "
            f"value(s), the first at index {negative[0]}."
        )
    if not weights.any():
        raise ValueError(
            "sample_weight is zero everywhere; at least one sample needs a "
            "positive weight."
        )
    return np.ascontiguousarray(weights)


def check_n_clusters(n_clusters: int, n_samples: int) -> None:
    """Need at least as many samples as clusters."""
    if n_samples < n_clusters:
        raise ValueError(
            f"n_samples={n_samples} should be >= n_clusters={n_clusters}: ask for "
            "fewer clusters or provide more samples."
        )


def check_init_array(init, n_clusters: int, n_features: int, dtype) -> np.ndarray:
    """Validate an explicit (n_clusters, n_features) array of initial centres."""
    if sp.issparse(init):
        init = init.toarray()
    centers = np.array(init, dtype=dtype, order="C", copy=True)
    if centers.shape != (n_clusters, n_features):
        raise ValueError(
            f"The init array has shape {centers.shape}, expected (n_clusters, "
            f"n_features) = ({n_clusters}, {n_features})."
        )
    check_finite(centers, "The init array")
    return centers


# ---------------------------------------------------------------------------
# Randomness
# ---------------------------------------------------------------------------


def seed_sequence(random_state) -> np.random.SeedSequence:
    """Normalise ``None | int | Generator | RandomState`` to a SeedSequence.

    An int gives a reproducible stream; a Generator or RandomState is advanced
    by one draw, so repeated fits with the same object differ, as in numpy.
    Never touches numpy's global state.
    """
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if isinstance(random_state, np.random.RandomState):
        return np.random.SeedSequence(int(random_state.randint(2**31 - 1)))
    return np.random.SeedSequence(int(random_state))


def as_generator(random_state) -> np.random.Generator:
    """A numpy Generator from any accepted ``random_state``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(seed_sequence(random_state))
