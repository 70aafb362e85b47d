"""Kneedle: the knee (elbow) of a curve (Satopää, Albrecht, Irwin & Raghavan,
"Finding a 'Kneedle' in a Haystack", ICDCS workshops, 2011)."""

from __future__ import annotations

import numpy as np
from scipy.signal import argrelextrema


def find_knee(x, y, *, sensitivity: float = 1.0,
              curve: str = "convex", direction: str = "decreasing"):
    """x-value of the knee of ``y(x)``, or None when the curve has none.

    The curve is normalised to the unit square and turned into an increasing
    concave one; the knee is the first local maximum of the difference curve
    (normalised y minus normalised x) after which the difference drops below
    that maximum minus ``sensitivity`` times the mean x step, before a local
    minimum intervenes.

    Parameters
    ----------
    x : array-like, increasing
    y : array-like
    sensitivity : float, default=1.0
        The paper's S: larger waits for a clearer knee.
    curve : {"convex", "concave"}
    direction : {"decreasing", "increasing"}
        An inertia or distortion curve over k is convex and decreasing.

    Examples
    --------
    >>> find_knee([1, 2, 3, 4, 5, 6], [100, 40, 20, 15, 12, 10])
    3
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    x_n = (x - x.min()) / np.ptp(x)
    y_n = (y - y.min()) / np.ptp(y)
    mirrored = (direction, curve) in (("decreasing", "concave"), ("increasing", "convex"))
    if direction == "decreasing" and curve == "convex":
        y_n = 1.0 - y_n
    elif direction == "decreasing":
        y_n = y_n[::-1]
    elif curve == "convex":
        y_n = (1.0 - y_n)[::-1]
    if mirrored:
        x_n = (1.0 - x_n)[::-1]
    difference = y_n - x_n
    maxima = argrelextrema(difference, np.greater_equal)[0]
    minima = set(argrelextrema(difference, np.less_equal)[0].tolist())
    if maxima.size == 0:
        return None
    step = abs(np.diff(x_n).mean())
    thresholds = difference[maxima] - sensitivity * step
    maxima_list = maxima.tolist()
    threshold, threshold_at, active, seen = None, None, True, 0
    for i in range(maxima[0], difference.size - 1):
        if i in maxima_list:
            threshold, threshold_at, active = thresholds[seen], i, True
            seen += 1
        if i in minima:
            threshold, active = 0.0, False
        if active and difference[i + 1] < threshold:
            index = threshold_at if not mirrored else -(threshold_at + 1)
            value = x[index]
            return int(value) if float(value).is_integer() else float(value)
    return None
