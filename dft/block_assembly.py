"""Vectorised bookkeeping for assembling atom-pair blocks into S(R) arrays.

Pure index helpers shared by the two-centre and the three-centre (PAW) overlap terms:
finding lattice vectors in a list, scattering blocks into ``[n_R, n, n]`` arrays, summing
blocks per target, pairing edges of the same centre atom and padding per-centre edge lists
into dense batches.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

__all__ = ["add_blocks", "group_sum", "padded_by_centre", "row_lookup", "same_centre_pairs"]


def row_lookup(table: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Row of each integer vector of ``query`` in ``table`` (-1 where absent).

    Parameters
    ----------
    table, query
        Integer vectors, shapes ``[n, 3]`` and ``[m, 3]``; rows of ``table`` distinct.

    Returns
    -------
    numpy.ndarray
        Shape ``[m]``.
    """
    span = int(max(np.abs(table).max(initial=0), np.abs(query).max(initial=0))) + 1
    base = 2 * span + 1

    def key(r: np.ndarray) -> np.ndarray:
        r = r + span
        return (r[:, 0] * base + r[:, 1]) * base + r[:, 2]

    table_keys, query_keys = key(table), key(query)
    order = np.argsort(table_keys)
    pos = np.clip(np.searchsorted(table_keys, query_keys, sorter=order), 0, len(order) - 1)
    found = order[pos]
    return np.where(table_keys[found] == query_keys, found, -1)


def add_blocks(
    out: np.ndarray,
    r_index: np.ndarray,
    row_start: np.ndarray,
    col_start: np.ndarray,
    blocks: np.ndarray,
) -> None:
    """``out[r, row_start + a, col_start + b] += blocks[p, a, b]`` for distinct targets.

    Parameters
    ----------
    out
        Array ``[n_R, n, n]`` (C-contiguous), updated in place.
    r_index, row_start, col_start
        Target R row and first row/column of each block, shape ``[p]``; no two blocks
        may share a target.
    blocks
        Shape ``[p, a, b]``.
    """
    n = out.shape[1]
    rows = row_start[:, None] + np.arange(blocks.shape[1])
    cols = col_start[:, None] + np.arange(blocks.shape[2])
    flat = (r_index[:, None, None] * n + rows[:, :, None]) * n + cols[:, None, :]
    out.reshape(-1)[flat] += blocks


def group_sum(groups: np.ndarray, n_groups: int, rows: np.ndarray) -> np.ndarray:
    """Sum of ``rows`` (``[m, k]``) per group id (``[m]``), shape ``[n_groups, k]``."""
    m = len(groups)
    indicator = csr_matrix((np.ones(m), (groups, np.arange(m))), shape=(n_groups, m))
    return indicator @ rows


def same_centre_pairs(centre_1: np.ndarray, centre_2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs ``(p, q)`` with ``centre_1[p] == centre_2[q]``.

    Both inputs must be sorted; pairs come sorted by ``p``, then ``q``.
    """
    start = np.searchsorted(centre_2, centre_1, side="left")
    counts = np.searchsorted(centre_2, centre_1, side="right") - start
    p = np.repeat(np.arange(len(centre_1)), counts)
    q = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - start, counts)
    return p, q


def padded_by_centre(
    values: np.ndarray, centre: np.ndarray, rank: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """Arrange per-edge values into one zero-padded row per centre atom.

    Parameters
    ----------
    values
        Per-edge arrays, shape ``[n_e, ...]``, edges sorted by ``centre``.
    centre
        Centre atom of each edge, sorted, shape ``[n_e]``.
    rank
        Row of each atom in the output (atoms not used may have any value).
    n_rows
        Number of output rows.

    Returns
    -------
    tuple
        ``padded[n_rows, width, ...]`` with ``padded[rank[centre[e]], slot[e]] =
        values[e]``, and ``slot`` (position of each edge among its centre's edges).
    """
    slot = np.arange(len(centre)) - np.searchsorted(centre, centre, side="left")
    width = int(slot.max(initial=-1)) + 1
    padded = np.zeros((n_rows, width, *values.shape[1:]))
    padded[rank[centre], slot] = values
    return padded, slot
