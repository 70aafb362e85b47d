"""One EM iteration for Gaussian mixtures, fused: E-step and M-step moments.

Per row: log-densities of every component, log-sum-exp, responsibilities,
then the weighted moments the M-step needs (sum of responsibilities, first
and second moments of the rows).  X is read once per iteration; rows are
shifted by the data mean first so second moments stay accurate.  Rows are
split into a fixed number of groups whose partial sums the caller reduces in
group order (thread-count independent).

Full (and tied) covariances are given by upper-triangular precision
Cholesky factors P_c (``y = (x - mu_c) P_c``, ``-0.5 |y|^2``); diagonal (and
spherical) ones by per-feature precisions.  Both passes use BLAS products over
chunks of rows, every component at once.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH

# Rows per chunk in the fused EM passes.
EM_CHUNK_ROWS = 256


@njit(cache=True, fastmath=FASTMATH)
def _log_densities_full(row, means, prec_chol, log_norm, out):
    k, d = means.shape
    diff = np.empty(d)
    for c in range(k):
        for f in range(d):
            diff[f] = row[f] - means[c, f]
        q = 0.0
        for j in range(d):
            s = 0.0
            for i in range(j + 1):
                s += diff[i] * prec_chol[c, i, j]
            q += s * s
        out[c] = log_norm[c] - 0.5 * q


@njit(cache=True, fastmath=FASTMATH)
def _log_densities_diag(row, means, precisions, log_norm, out):
    k, d = means.shape
    for c in range(k):
        q = 0.0
        for f in range(d):
            diff = row[f] - means[c, f]
            q += diff * diff * precisions[c, f]
        out[c] = log_norm[c] - 0.5 * q


@njit(cache=True, fastmath=FASTMATH)
def _normalise(log_prob):
    """log-sum-exp of ``log_prob``; turns it into responsibilities in place."""
    top = log_prob.max()
    total = 0.0
    for c in range(log_prob.shape[0]):
        total += np.exp(log_prob[c] - top)
    lse = top + np.log(total)
    for c in range(log_prob.shape[0]):
        log_prob[c] = np.exp(log_prob[c] - lse)
    return lse


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def em_full(X, weights, shift, factors_cat, offsets, log_norm,
            group_lse, group_nk, group_sx, group_sxx):
    """Fused EM pass for full (or tied) covariances, two BLAS products a chunk.

    X : (n, d) rows; weights : (n,); shift : (d,) subtracted from every row.
    factors_cat : (d, k * d) the components' upper-triangular precision
    Cholesky factors P_c side by side; offsets : (k * d,) the blocks mu_c P_c
    (means in the shifted frame); log_norm : (k,) log weight + log det P_c -
    d/2 log(2 pi).

    Per chunk, ``rows @ factors_cat`` gives every (x - mu_c) P_c at once; the
    responsibility-weighted rows, laid side by side, give every component's
    second moments in one more product.  Outputs per group g: group_lse[g] =
    sum of w * log p(x); group_nk[g] (k,); group_sx[g] (k, d); group_sxx[g]
    (k * d, d), component c's moments in rows c*d .. c*d + d - 1.
    """
    n, d = X.shape
    k = log_norm.shape[0]
    n_groups = group_lse.shape[0]
    n_chunks = (n + EM_CHUNK_ROWS - 1) // EM_CHUNK_ROWS
    for g in prange(n_groups):
        rows = np.empty((EM_CHUNK_ROWS, d))
        projected = np.empty((EM_CHUNK_ROWS, k * d))
        weighted = np.empty((EM_CHUNK_ROWS, k * d))
        moments = np.empty((k * d, d))
        prob = np.empty(k)
        nk = group_nk[g]
        sx = group_sx[g]
        sxx = group_sxx[g]
        nk[:] = 0.0
        sx[:] = 0.0
        sxx[:] = 0.0
        lse_sum = 0.0
        for chunk in range(g * n_chunks // n_groups, (g + 1) * n_chunks // n_groups):
            start = chunk * EM_CHUNK_ROWS
            m = min(EM_CHUNK_ROWS, n - start)
            for i in range(m):
                for f in range(d):
                    rows[i, f] = X[start + i, f] - shift[f]
            np.dot(rows[:m], factors_cat, projected[:m])
            for i in range(m):
                for c in range(k):
                    q = 0.0
                    for f in range(c * d, (c + 1) * d):
                        y = projected[i, f] - offsets[f]
                        q += y * y
                    prob[c] = log_norm[c] - 0.5 * q
                w = weights[start + i]
                lse_sum += w * _normalise(prob)
                for c in range(k):
                    resp = prob[c] * w
                    nk[c] += resp
                    for f in range(d):
                        value = resp * rows[i, f]
                        weighted[i, c * d + f] = value
                        sx[c, f] += value
            np.dot(weighted[:m].T, rows[:m], moments)
            for a in range(k * d):
                for b in range(d):
                    sxx[a, b] += moments[a, b]
        group_lse[g] = lse_sum


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def em_diag(X, weights, shift, means, precisions, log_norm,
            group_lse, group_nk, group_sx, group_sxx):
    """Fused EM pass for diagonal (or spherical) covariances; as
    :func:`em_full` with per-feature ``precisions`` (k, d) and group_sxx of
    shape (g, k, d) holding second moments per feature.

    Per chunk, the quadratic form expands into two BLAS products,
    sum_f x_f^2 p_cf - 2 x_f mu_cf p_cf + mu_cf^2 p_cf, and the moments into
    two more (responsibilities^T rows, responsibilities^T rows^2).
    """
    n, d = X.shape
    k = means.shape[0]
    n_groups = group_lse.shape[0]
    n_chunks = (n + EM_CHUNK_ROWS - 1) // EM_CHUNK_ROWS
    precisions_t = np.ascontiguousarray(precisions.T)
    scaled_means_t = np.ascontiguousarray((means * precisions).T)
    constant = np.empty(k)
    for c in range(k):
        constant[c] = log_norm[c] - 0.5 * np.sum(means[c] ** 2 * precisions[c])
    for g in prange(n_groups):
        rows = np.empty((EM_CHUNK_ROWS, d))
        squares = np.empty((EM_CHUNK_ROWS, d))
        quadratic = np.empty((EM_CHUNK_ROWS, k))
        cross = np.empty((EM_CHUNK_ROWS, k))
        resp = np.empty((EM_CHUNK_ROWS, k))
        first = np.empty((k, d))
        second = np.empty((k, d))
        nk = group_nk[g]
        sx = group_sx[g]
        sxx = group_sxx[g]
        nk[:] = 0.0
        sx[:] = 0.0
        sxx[:] = 0.0
        lse_sum = 0.0
        for chunk in range(g * n_chunks // n_groups, (g + 1) * n_chunks // n_groups):
            start = chunk * EM_CHUNK_ROWS
            m = min(EM_CHUNK_ROWS, n - start)
            for i in range(m):
                for f in range(d):
                    value = X[start + i, f] - shift[f]
                    rows[i, f] = value
                    squares[i, f] = value * value
            np.dot(squares[:m], precisions_t, quadratic[:m])
            np.dot(rows[:m], scaled_means_t, cross[:m])
            for i in range(m):
                for c in range(k):
                    resp[i, c] = constant[c] - 0.5 * quadratic[i, c] + cross[i, c]
                w = weights[start + i]
                lse_sum += w * _normalise(resp[i])
                for c in range(k):
                    resp[i, c] *= w
                    nk[c] += resp[i, c]
            np.dot(resp[:m].T, rows[:m], first)
            np.dot(resp[:m].T, squares[:m], second)
            for c in range(k):
                for f in range(d):
                    sx[c, f] += first[c, f]
                    sxx[c, f] += second[c, f]
        group_lse[g] = lse_sum


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def log_densities_full(X, shift, means, prec_chol, log_norm, out):
    """Weighted log-densities log(w_c) + log N(x | c) of every row, (n, k)."""
    n, d = X.shape
    for r in prange(n):
        row = np.empty(d)
        for f in range(d):
            row[f] = X[r, f] - shift[f]
        _log_densities_full(row, means, prec_chol, log_norm, out[r])


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def log_densities_diag(X, shift, means, precisions, log_norm, out):
    """Diagonal twin of :func:`log_densities_full`."""
    n, d = X.shape
    for r in prange(n):
        row = np.empty(d)
        for f in range(d):
            row[f] = X[r, f] - shift[f]
        _log_densities_diag(row, means, precisions, log_norm, out[r])
