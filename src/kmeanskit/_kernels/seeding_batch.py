"""Greedy k-means++ in batches of steps: kernels.

The per-step kernels (:mod:`.seeding`) read every row some candidate might
bring closer, at every step: at 512 well-separated clusters in 64 features
that is nearly half of X, 512 times, and the steps are bound by memory
bandwidth.  Here one pass over the rows serves many steps: a batch draws P
*proposals* at once from the potential at its start (w d0^2), finds for each
one every row it would bring closer than d0 (``screened_pairs``: a float32
product per block of rows, screened with a bound on its rounding error, the
pairs it lets through summed exactly from the differences), and then runs
greedy steps on those lists alone (``batch_steps``).  A step takes proposals
in order and accepts each with probability d^2 / d0^2 (d: its distance to
the closest centre now); the accepted ones are draws from the current
potential, exactly as the step-by-step algorithm draws them (rejection
sampling: d <= d0 for every row).  A row a centre chosen in the batch could
bring closer is in that centre's list, since d <= d0, so the steps' gains
and updates are exact.

The float32 screen: with rows and proposals centred on the data's mean and
rounded to float32 (x~, p~, norms a and b), ||x - p|| < d0 implies
||x~ - p~|| < R = d0 + 2u (a + B) (u = 2^-24, B the largest b: rounding
each coordinate moves a point by at most u times its norm), that is

    x~.p~ - b^2 / 2  >  (a^2 - R^2) / 2.

The left side is one float32 product (rows carry a last coordinate 1,
proposals -b^2 / 2), off by at most (d + 3) u (a B + B^2) (Higham's bound
for a dot product in any summation order, with the rounding of b^2 / 2 and
of the result); the right side, less that, is rounded down to float32.
Pairs that fail it are never closer; those that pass are summed exactly.
"""

import numpy as np
from numba import njit, prange

from . import FASTMATH

# Rows per product block (the (P x rows) float32 dots stay in L2) and
# blocks per parallel task.
SCREEN_BLOCK_ROWS = 256
SCREEN_TASK_BLOCKS = 8
SCREEN_TASK_ROWS = SCREEN_BLOCK_ROWS * SCREEN_TASK_BLOCKS
QUARTER = SCREEN_BLOCK_ROWS // 4  # one 64-bit mask of rows per quarter
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
NO_BITS = np.uint64(0)
ONE_BIT = np.uint64(1)
# The position of a mask's lowest set bit by de Bruijn multiplication: the
# top six bits of (2^b x this constant) are distinct for b = 0..63.
DE_BRUIJN = 0x03F79D71B4CB0A89
DE_BRUIJN_POSITION = np.zeros(64, dtype=np.int64)
for _b in range(64):
    DE_BRUIJN_POSITION[((DE_BRUIJN << _b) % 2**64) >> 58] = _b


@njit(cache=True)
def _bit_index(power_of_two):
    """b for a uint64 equal to 2^b."""
    return DE_BRUIJN_POSITION[(power_of_two * np.uint64(DE_BRUIJN)) >> np.uint64(58)]


@njit(cache=True, fastmath=FASTMATH)
def _centred_block(X, rows, m, mean, out, norms):
    """Rows ``rows[:m]`` of X minus ``mean``, rounded to float32, into
    ``out[:m, :d]`` with a last coordinate 1 (the product then adds a
    proposal's -||p~||^2 / 2 to the dot), zeros after; their norms (float64,
    without the last coordinate).  Reading X here (rows in increasing order)
    also leaves the rows in cache for the exact distances that follow."""
    d = X.shape[1]
    for i in range(m):
        row = rows[i]
        for f in range(d):  # two loops: one that fused them did not vectorise
            out[i, f] = np.float32(np.float64(X[row, f]) - mean[f])
        s = 0.0
        for f in range(d):
            s += np.float64(out[i, f]) * np.float64(out[i, f])
        out[i, d] = 1.0
        norms[i] = np.sqrt(s)
    out[m:] = 0.0


@njit(cache=True, fastmath=FASTMATH)
def _squared_distance(X, row, points, j):
    """||X[row] - points[j]||^2 from the differences (in X's dtype, as the
    step-by-step kernels take them), summed in float64."""
    dist = 0.0
    for f in range(X.shape[1]):
        diff = X[row, f] - points[j, f]
        dist += diff * diff
    return dist


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def screened_pairs(X, rows, mean, proposals, proposals32, largest_norm, limit_sq, capacity,
                   pair_rows, pair_proposals, pair_sq, task_counts):
    """The (row, proposal) pairs with ||x - p||^2 < ``limit_sq[x]``, exact.

    rows : (m,) the rows to try, increasing.
    proposals : (P, d) in X's dtype; ``proposals32`` (P, d + 1) the same
        less ``mean`` in float32, then -||p~||^2 / 2; ``largest_norm`` the
        largest ||p~||.
    capacity : pairs a task may write per row; task ``g`` writes its pairs
        from ``g * SCREEN_TASK_ROWS * capacity`` on (block by block, then by
        proposal: a proposal's rows increase), ``task_counts[g, j]`` of them
        for proposal j.
    Returns how many tasks' pairs did not fit (the caller then runs the rows
    again with a larger capacity).
    """
    m_all = rows.shape[0]
    width = X.shape[1] + 1
    n_proposals = proposals.shape[0]
    n_tasks = (m_all + SCREEN_TASK_ROWS - 1) // SCREEN_TASK_ROWS
    unit = FLOAT32_UNIT_ROUNDOFF
    dot_slack = (width + 2) * unit * 1.01
    overflowed = 0
    for g in prange(n_tasks):
        block = np.empty((SCREEN_BLOCK_ROWS, width), dtype=np.float32)
        norms = np.empty(SCREEN_BLOCK_ROWS)
        threshold = np.empty(SCREEN_BLOCK_ROWS, dtype=np.float32)
        found = np.empty(SCREEN_BLOCK_ROWS, dtype=np.int64)
        dots = np.empty((n_proposals, SCREEN_BLOCK_ROWS), dtype=np.float32)
        first = g * SCREEN_TASK_ROWS
        out = first * capacity
        end = min(m_all, first + SCREEN_TASK_ROWS)
        stop = first * capacity + (end - first) * capacity
        overflow = False
        task_counts[g, :] = 0
        for start in range(first, end, SCREEN_BLOCK_ROWS):
            m = min(SCREEN_BLOCK_ROWS, end - start)
            _centred_block(X, rows[start:], m, mean, block, norms)
            np.dot(proposals32, block.T, dots)
            for i in range(m):
                a = norms[i]
                reach = np.sqrt(limit_sq[rows[start + i]]) + 2.0 * unit * (a + largest_norm) + 1e-30
                low = (a * a - reach * reach) / 2.0 - dot_slack * (
                    a * largest_norm + largest_norm * largest_norm)
                # Rounded to float32 no higher than ``low``.
                threshold[i] = np.float32(low - abs(low) * 2.0 * unit)
            threshold[m:] = np.inf  # the block's padding rows reach nothing
            for j in range(n_proposals):
                # A proposal reaches few rows of a block, if any: one bit
                # mask per quarter of the block (four in one vectorised
                # loop), then only the set bits are visited.
                m0 = m1 = m2 = m3 = NO_BITS
                for i in range(QUARTER):
                    bit = ONE_BIT << np.uint64(i)
                    m0 |= bit if dots[j, i] > threshold[i] else NO_BITS
                    m1 |= bit if dots[j, i + QUARTER] > threshold[i + QUARTER] else NO_BITS
                    m2 |= bit if dots[j, i + 2 * QUARTER] > threshold[i + 2 * QUARTER] else NO_BITS
                    m3 |= bit if dots[j, i + 3 * QUARTER] > threshold[i + 3 * QUARTER] else NO_BITS
                if (m0 | m1 | m2 | m3) == NO_BITS:
                    continue
                masks = (m0, m1, m2, m3)
                hits = 0
                for q in range(4):
                    mask = masks[q]
                    while mask != NO_BITS:
                        lowest = mask & (~mask + ONE_BIT)
                        found[hits] = q * QUARTER + _bit_index(lowest)
                        hits += 1
                        mask ^= lowest
                for h in range(hits):
                    row = rows[start + found[h]]
                    dist = _squared_distance(X, row, proposals, j)
                    if not dist < limit_sq[row]:
                        continue
                    if out == stop:
                        overflow = True
                        break
                    pair_rows[out] = row
                    pair_proposals[out] = j
                    pair_sq[out] = dist
                    task_counts[g, j] += 1
                    out += 1
                if overflow:
                    break
            if overflow:
                break
        overflowed += overflow
    return overflowed


@njit(parallel=True, cache=True)
def by_proposal(task_counts, task_stride, pair_rows, pair_proposals, pair_sq, indptr,
                list_rows, list_sq, at):
    """The tasks' pairs (``screened_pairs``) as one list per proposal, from
    ``at`` on in ``list_rows`` / ``list_sq``: proposal j's is
    ``indptr[j]:indptr[j + 1]`` (``indptr`` is (P + 1,)), its rows
    increasing (tasks in order, each task's pairs in theirs).  Each task
    scatters its own pairs, from where the counts put them.  Returns the
    lists' end."""
    n_tasks, n_proposals = task_counts.shape
    offsets = np.empty((n_tasks, n_proposals), dtype=np.int64)
    for j in range(n_proposals):
        indptr[j] = at
        for g in range(n_tasks):
            offsets[g, j] = at
            at += task_counts[g, j]
    indptr[n_proposals] = at
    for g in prange(n_tasks):
        for q in range(g * task_stride, g * task_stride + task_counts[g].sum()):
            j = pair_proposals[q]
            list_rows[offsets[g, j]] = pair_rows[q]
            list_sq[offsets[g, j]] = pair_sq[q]
            offsets[g, j] += 1
    return at


@njit(parallel=True, cache=True)
def _list_gains(accepted, indptr, list_rows, list_sq, weights, closest_sq, gains):
    """The potential each accepted proposal's list would remove now, one
    proposal per task."""
    for a in prange(accepted.shape[0]):
        j = accepted[a]
        gain = 0.0
        for s in range(indptr.shape[0]):
            for q in range(indptr[s, j], indptr[s, j + 1]):
                r = list_rows[q]
                if list_sq[q] < closest_sq[r]:
                    gain += weights[r] * (closest_sq[r] - list_sq[q])
        gains[a] = gain


@njit(cache=True)
def batch_steps(proposal_rows, accept_uniforms, indptr, list_rows, list_sq, weights,
                limit_sq, t, first_center, n_centers, closest_sq, closest_id, chosen):
    """Greedy steps on one batch's lists while its proposals last.

    ``indptr`` is (segments, P + 1): the rows were screened a segment at a
    time, and proposal j's list is the concatenation of its
    ``indptr[s, j]:indptr[s, j + 1]`` over the segments.  Each step takes
    the next proposals in order, accepting proposal ``j`` when
    ``accept_uniforms[j] * limit_sq[row] < closest_sq[row]``, until t are
    accepted; the one whose list lowers the potential most (the first of
    equal gains) becomes centre ``first_center + step`` and its list updates
    ``closest_sq`` / ``closest_id``.  Writes the chosen proposals' indices
    into ``chosen``; returns the number of steps."""
    n_proposals = proposal_rows.shape[0]
    accepted = np.empty(t, dtype=np.int64)
    gains = np.empty(t)
    taken = 0
    steps = 0
    while first_center + steps < n_centers:
        n_accepted = 0
        while n_accepted < t and taken < n_proposals:
            row = proposal_rows[taken]
            if accept_uniforms[taken] * limit_sq[row] < closest_sq[row]:
                accepted[n_accepted] = taken
                n_accepted += 1
            taken += 1
        if n_accepted < t:
            break
        _list_gains(accepted, indptr, list_rows, list_sq, weights, closest_sq, gains)
        best, best_gain = -1, 0.0
        for a in range(t):
            if best < 0 or gains[a] > best_gain:
                best, best_gain = accepted[a], gains[a]
        for s in range(indptr.shape[0]):
            for q in range(indptr[s, best], indptr[s, best + 1]):
                r = list_rows[q]
                if list_sq[q] < closest_sq[r]:
                    closest_sq[r] = list_sq[q]
                    closest_id[r] = first_center + steps
        chosen[steps] = best
        steps += 1
    return steps
