"""Crystals as padded-block graphs: per-structure arrays, batching, target gathering.

A :class:`CrystalData` holds one structure's radius graph, its exact overlap S(R) (a
network input: H is learned relative to it) and, for training, its DFT blocks as dense
per-R arrays (float32). Padded ``[n_pad, n_pad]`` targets per edge are
gathered on the fly when a batch is built (:func:`collate`), which keeps a corpus of a
few hundred structures in memory. The same index arrays scatter predicted padded blocks
back into dense ``[n_R, n, n]`` arrays (:func:`scatter_blocks`).

Block targets (corpus convention, README "Every file socscreen reads or writes"): ``h0``
(eV), ``overlap``, and the spin-orbit part as real antisymmetric ``A_α`` with
``H_uu = i A_z`` and ``H_ud = i A_x + A_y`` (eV).

A correction model (``ModelConfig.correction``) also takes the zeroth-step H(0) of the
structure (:mod:`socscreen.dft.zeroth_step`) as input, its blocks on the same lattice
vectors (``baseline_h0``, ``baseline_soc``), and predicts H = H(0) + ΔH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from pymatgen.core import Structure
from scipy import sparse

from socscreen.dft.block_assembly import row_lookup
from socscreen.dft.graph import CrystalGraph, radius_graph
from socscreen.hamiltonian import Hamiltonian
from socscreen.model.layout import OrbitalLayout
from socscreen.orbitals import OrbitalTable
from socscreen.sparse_hamiltonian import SparseHamiltonian

__all__ = [
    "CrystalData",
    "GraphBatch",
    "blocks_on",
    "collate",
    "covering",
    "on_rows",
    "soc_vector_blocks",
    "scatter_blocks",
    "scatter_sparse_blocks",
]


def soc_vector_blocks(h: Hamiltonian | SparseHamiltonian) -> np.ndarray | list[sparse.csr_matrix]:
    """Real ``A_α(R)`` of a Hamiltonian's SOC part, shape ``[3, n_R, n, n]`` (eV).

    Uses the time-reversal-symmetric form ``H_uu = i A_z``, ``H_ud = i A_x + A_y``;
    zeros when the Hamiltonian has no SOC part. For a
    :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian` the three stacked CSR
    ``[n_R * n, n]`` instead.
    """
    if isinstance(h, SparseHamiltonian):
        if not h.has_soc:
            return [sparse.csr_matrix(h.h0.shape)] * 3
        return [h.soc_ud.imag.tocsr(), h.soc_ud.real.tocsr(), h.soc_uu.imag.tocsr()]
    if not h.has_soc:
        return np.zeros((3, *h.h0.shape))
    return np.stack([h.soc_ud.imag, h.soc_ud.real, h.soc_uu.imag])


@dataclass
class CrystalData:
    """One structure ready for the network (numpy; converted per batch).

    Attributes
    ----------
    species
        Element index (into the layout's sorted elements) of every atom, ``[n_atoms]``.
    graph
        The radius graph.
    orbital_slots
        Global orbital index of each padded orbital of each atom (-1 where the element
        has no orbital there), ``[n_atoms, n_pad]``.
    r_index
        Row of each edge's ``R`` in :attr:`R` (-1 if the blocks of that ``R`` are
        unknown), ``[n_edges]``.
    R
        Lattice vectors of the dense arrays, ``[n_R, 3]``.
    overlap
        Exact overlap S(R), ``[n_R, n, n]`` (float32).
    known
        Edges whose DFT block is known (training only), ``[n_edges]``.
    h0, soc
        DFT blocks (float32) ``[n_R, n, n]`` and ``[3, n_R, n, n]`` (eV); ``None`` at
        inference.
    efermi
        DFT Fermi level (eV) or ``None``.
    name
        Label (file stem or formula).
    baseline_h0, baseline_soc
        Zeroth-step H(0) blocks on :attr:`R` (float32), ``[n_R, n, n]`` and
        ``[3, n_R, n, n]`` (eV, ``A_α``); ``None`` for a model without correction.
    """

    species: np.ndarray
    graph: CrystalGraph
    orbital_slots: np.ndarray
    r_index: np.ndarray
    R: np.ndarray
    overlap: np.ndarray
    known: np.ndarray | None = None
    h0: np.ndarray | None = None
    soc: np.ndarray | None = None
    efermi: float | None = None
    name: str = ""
    baseline_h0: np.ndarray | None = None
    baseline_soc: np.ndarray | None = None

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.species)

    @classmethod
    def from_structure(
        cls,
        structure: Structure,
        layout: OrbitalLayout,
        cutoffs: Mapping[str, float],
        basis_name: str,
        name: str = "",
        baseline: Hamiltonian | None = None,
    ) -> CrystalData:
        """Graph, index arrays and exact overlap of a structure.

        Without ``baseline``, ``R`` is the graph's and S is computed
        (:func:`~socscreen.dft.overlap.overlap_matrices`). With ``baseline`` (the
        structure's H(0), for a correction model) ``R`` is the baseline's, and the
        overlap and H(0) blocks are the baseline's own arrays, not copies: GPAW's S is
        the same exact two-centre overlap, so a large cell pays for it once. Call
        :func:`covering` first if the graph may reach lattice vectors H(0) lacks.

        Raises
        ------
        ValueError
            If the structure has elements the layout does not cover (all listed), or
            the graph reaches a lattice vector ``baseline`` lacks.
        """
        from socscreen.dft.overlap import overlap_matrices

        species = _species(structure, layout)
        graph = radius_graph(structure, cutoffs)
        common = {
            "species": species,
            "graph": graph,
            "orbital_slots": _orbital_slots(structure, layout),
            "name": name or structure.composition.reduced_formula,
        }
        if baseline is not None:
            r_index = row_lookup(baseline.R, graph.shifts)
            if (r_index < 0).any():
                raise ValueError(
                    "the graph reaches lattice vectors H(0) lacks: pass covering(baseline, ...)"
                )
            return cls(
                **common,
                r_index=r_index,
                R=baseline.R,
                overlap=baseline.overlap,
                baseline_h0=baseline.h0,
                baseline_soc=soc_vector_blocks(baseline),
            )
        R = graph.lattice_vectors
        symbols = {site.specie.symbol for site in structure}
        orbitals = OrbitalTable(
            tuple(structure.atomic_numbers),
            {k: v for k, v in layout.element_shells.items() if k in symbols},
            basis_name,
        )
        return cls(
            **common,
            r_index=row_lookup(R, graph.shifts),
            R=R,
            overlap=overlap_matrices(structure, orbitals, R),
        )

    @classmethod
    def from_hamiltonian(
        cls,
        h: Hamiltonian,
        layout: OrbitalLayout,
        cutoffs: Mapping[str, float],
        name: str = "",
        baseline: Hamiltonian | None = None,
    ) -> CrystalData:
        """Training sample: every graph edge with its DFT block, exact S on the file's R.

        ``baseline`` (the file's H(0)) is gathered onto the file's R for a correction model.

        Corpus files store only lattice vectors with a non-zero element, so an edge whose
        ``R`` is missing but lies inside the file's H(R) grid (``meta["hr_grid"]``) has a
        known zero block; edges beyond the grid have no target (and such a file's H(R)
        is aliased, see :attr:`complete`). The overlap is recomputed exactly
        (:func:`~socscreen.dft.overlap.overlap_matrices`): the stored one is rounded to
        float32 with elements below 1e-5 dropped, which can make S(k) indefinite.
        """
        from socscreen.dft.overlap import overlap_matrices

        own = {s: layout.element_shells.get(s) for s in h.orbitals.element_shells}
        if own != h.orbitals.element_shells:
            raise ValueError(f"{name or h}: orbital shells differ from the model's layout")
        graph = radius_graph(h.structure, cutoffs)
        r_index = row_lookup(h.R, graph.shifts)
        grid = h.meta.get("hr_grid")
        reach = (np.asarray(grid) - 1) // 2 if grid is not None else np.abs(h.R).max(axis=0)
        known = (r_index >= 0) | np.all(np.abs(graph.shifts) <= reach, axis=1)
        return cls(
            species=_species(h.structure, layout),
            graph=graph,
            orbital_slots=_orbital_slots(h.structure, layout),
            r_index=r_index,
            R=h.R,
            overlap=overlap_matrices(h.structure, h.orbitals, h.R),
            known=known,
            h0=h.h0.astype(np.float32),
            soc=soc_vector_blocks(h).astype(np.float32),
            efermi=h.efermi,
            name=name or h.structure.composition.reduced_formula,
            **_baseline_arrays(baseline, h.R),
        )

    @property
    def complete(self) -> bool:
        """Whether every overlapping pair has a known block (the file's grid is big enough).

        Only then are Bloch sums of the stored H(R) free of aliasing.
        """
        return self.known is None or bool(self.known.all())


def on_rows(blocks: np.ndarray, R_from: np.ndarray, R_to: np.ndarray) -> np.ndarray:
    """Blocks ``[..., n_R_from, n, n]`` on the lattice vectors ``R_to`` (zeros where absent)."""
    rows = row_lookup(R_from, np.asarray(R_to))
    gathered = blocks[..., np.maximum(rows, 0), :, :]
    return np.where((rows >= 0)[:, None, None], gathered, 0.0)


def blocks_on(h: Hamiltonian, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """H0 ``[n_R, n, n]`` and SOC ``A_α`` ``[3, n_R, n, n]`` blocks of ``h`` on the rows ``R``.

    Lattice vectors ``h`` does not have get zero blocks.
    """
    return on_rows(h.h0, h.R, R), on_rows(soc_vector_blocks(h), h.R, R)


def covering(
    baseline: Hamiltonian | SparseHamiltonian, cutoffs: Mapping[str, float]
) -> Hamiltonian | SparseHamiltonian:
    """``baseline`` with zero blocks added on the graph's lattice vectors it lacks.

    H(0) has every lattice vector on which two orbitals overlap; a model whose cutoffs
    reach further gets zero H(0), S and SOC blocks there (exactly what they are). The
    same object comes back when nothing is missing, so the usual case copies nothing.
    """
    graph_R = radius_graph(baseline.structure, cutoffs).lattice_vectors
    extra = graph_R[row_lookup(baseline.R, graph_R) < 0]
    if not len(extra):
        return baseline
    R = np.concatenate([baseline.R, extra])
    if isinstance(baseline, SparseHamiltonian):  # empty rows of the stacked CSR
        empty = sparse.csr_matrix((len(extra) * baseline.n_orbitals, baseline.n_orbitals))

        def grown(blocks):
            return None if blocks is None else sparse.vstack([blocks, empty], format="csr")

    else:

        def grown(blocks):
            return None if blocks is None else on_rows(blocks, baseline.R, R)

    return type(baseline)(
        baseline.structure,
        baseline.orbitals,
        R,
        grown(baseline.h0),
        grown(baseline.overlap),
        soc_uu=grown(baseline.soc_uu),
        soc_ud=grown(baseline.soc_ud),
        nelect=baseline.nelect,
        meta=dict(baseline.meta),
    )


def _baseline_arrays(baseline: Hamiltonian | None, R: np.ndarray) -> dict[str, np.ndarray]:
    if baseline is None:
        return {}
    h0, soc = blocks_on(baseline, R)
    return {"baseline_h0": h0.astype(np.float32), "baseline_soc": soc.astype(np.float32)}


def _species(structure: Structure, layout: OrbitalLayout) -> np.ndarray:
    symbols = [site.specie.symbol for site in structure]
    unknown = sorted(set(symbols) - set(layout.elements))
    if unknown:
        raise ValueError(f"element(s) {unknown} are not covered by the model")
    return np.array([layout.elements.index(s) for s in symbols], dtype=np.int64)


def _orbital_slots(structure: Structure, layout: OrbitalLayout) -> np.ndarray:
    symbols = [site.specie.symbol for site in structure]
    out = np.full((len(symbols), layout.n_pad), -1, dtype=np.int64)
    start = 0
    for a, symbol in enumerate(symbols):
        index = layout.orbital_index(symbol)
        out[a, index] = start + np.arange(len(index))
        start += len(index)
    return out


@dataclass
class GraphBatch:
    """Several crystals as one disconnected graph (torch tensors).

    Shapes: ``N`` atoms and ``E`` edges of all structures, ``P = n_pad``.
    """

    species: torch.Tensor  # [N] long
    node_batch: torch.Tensor  # [N] long, structure of each atom
    edge_index: torch.Tensor  # [2, E] long, global atom indices
    vectors: torch.Tensor  # [E, 3] Cartesian d (Å)
    cutoffs: torch.Tensor  # [E] pair cutoff r_i + r_j (Å)
    partner: torch.Tensor  # [E] long, global index of (j, i, -R)
    is_self: torch.Tensor  # [E] bool, on-site edges
    edge_batch: torch.Tensor  # [E] long
    n_structures: int
    overlap: torch.Tensor  # [E, P, P] exact S (network input)
    h0: torch.Tensor | None = None  # [E, P, P] eV
    soc: torch.Tensor | None = None  # [E, 3, P, P] eV
    target_mask: torch.Tensor | None = None  # [E, P, P] bool, known elements
    baseline_h0: torch.Tensor | None = None  # [E, P, P] eV, H(0) (correction models)
    baseline_soc: torch.Tensor | None = None  # [E, 3, P, P] eV, H(0)'s A_α

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> GraphBatch:
        """Copy to a device; floating tensors also to ``dtype`` if given."""
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                if dtype is not None and value.is_floating_point():
                    value = value.to(dtype)
                changes[f.name] = value.to(device)
        return GraphBatch(**{**self.__dict__, **changes})


def _padded(
    dense: np.ndarray | sparse.csr_matrix | list[sparse.csr_matrix],
    r_index: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
) -> np.ndarray:
    """Gather ``dense[..., r, rows, cols]`` per edge with -1 -> 0, ``[E, ..., P, P]``.

    ``dense`` may also be a stacked CSR ``[n_R * n, n]`` of a sparse container (or a list
    of them, one per leading index): the same blocks, gathered element by element.
    """
    if isinstance(dense, list):
        return np.stack([_padded(part, r_index, rows, cols) for part in dense], axis=1)
    valid = (r_index[:, None, None] >= 0) & (rows[:, :, None] >= 0) & (cols[:, None, :] >= 0)
    if sparse.issparse(dense):
        n = dense.shape[1]
        row = np.maximum(r_index, 0)[:, None, None] * n + np.maximum(rows, 0)[:, :, None]
        row = np.broadcast_to(row, valid.shape)
        col = np.broadcast_to(np.maximum(cols, 0)[:, None, :], valid.shape)
        values = np.asarray(dense[row.ravel(), col.ravel()]).reshape(valid.shape)
        return np.where(valid, values, 0.0)
    out = dense[
        ...,
        np.maximum(r_index, 0)[:, None, None],
        np.maximum(rows, 0)[:, :, None],
        np.maximum(cols, 0)[:, None, :],
    ]
    out = np.where(valid, out, 0.0)
    return np.moveaxis(out, 0, 1) if dense.ndim == 4 else out


def collate(samples: Sequence[CrystalData], with_targets: bool = True) -> GraphBatch:
    """Concatenate crystals into one :class:`GraphBatch` (targets gathered if present)."""
    node_offset = edge_offset = 0
    parts: dict[str, list] = {
        k: []
        for k in (
            "species",
            "node_batch",
            "edge_index",
            "vectors",
            "cutoffs",
            "partner",
            "is_self",
            "edge_batch",
            "h0",
            "overlap",
            "soc",
            "target_mask",
            "baseline_h0",
            "baseline_soc",
        )
    }
    for b, s in enumerate(samples):
        g = s.graph
        parts["species"].append(s.species)
        parts["node_batch"].append(np.full(s.n_atoms, b))
        parts["edge_index"].append(g.edge_index + node_offset)
        parts["vectors"].append(g.vectors)
        parts["cutoffs"].append(g.cutoffs)
        parts["partner"].append(g.partner + edge_offset)
        parts["is_self"].append(g.is_self)
        parts["edge_batch"].append(np.full(g.n_edges, b))
        rows = s.orbital_slots[g.edge_index[0]]
        cols = s.orbital_slots[g.edge_index[1]]
        parts["overlap"].append(_padded(s.overlap, s.r_index, rows, cols))
        if s.baseline_h0 is not None:
            parts["baseline_h0"].append(_padded(s.baseline_h0, s.r_index, rows, cols))
            parts["baseline_soc"].append(_padded(s.baseline_soc, s.r_index, rows, cols))
        if with_targets:
            parts["h0"].append(_padded(s.h0, s.r_index, rows, cols))
            parts["soc"].append(_padded(s.soc, s.r_index, rows, cols))
            parts["target_mask"].append(
                s.known[:, None, None] & (rows[:, :, None] >= 0) & (cols[:, None, :] >= 0)
            )
        node_offset += s.n_atoms
        edge_offset += g.n_edges
    if len(parts["baseline_h0"]) not in (0, len(samples)):
        raise ValueError("either every structure of a batch carries its H(0) or none does")
    cat = {k: np.concatenate(v, axis=-1 if k == "edge_index" else 0) for k, v in parts.items() if v}
    dtype = torch.float64  # callers cast with GraphBatch.to(device, dtype)
    return GraphBatch(
        species=torch.as_tensor(cat["species"]),
        node_batch=torch.as_tensor(cat["node_batch"]),
        edge_index=torch.as_tensor(cat["edge_index"]),
        vectors=torch.as_tensor(cat["vectors"], dtype=dtype),
        cutoffs=torch.as_tensor(cat["cutoffs"], dtype=dtype),
        partner=torch.as_tensor(cat["partner"]),
        is_self=torch.as_tensor(cat["is_self"]),
        edge_batch=torch.as_tensor(cat["edge_batch"]),
        n_structures=len(samples),
        h0=torch.as_tensor(cat["h0"], dtype=dtype) if with_targets else None,
        overlap=torch.as_tensor(cat["overlap"], dtype=dtype),
        soc=torch.as_tensor(cat["soc"], dtype=dtype) if with_targets else None,
        target_mask=torch.as_tensor(cat["target_mask"]) if with_targets else None,
        **{
            key: torch.as_tensor(cat[key], dtype=dtype)
            for key in ("baseline_h0", "baseline_soc")
            if key in cat
        },
    )


def scatter_sparse_blocks(blocks: np.ndarray, sample: CrystalData) -> sparse.csr_matrix:
    """Stacked CSR ``[n_R * n, n]`` from one structure's padded edge blocks ``[n_edges, P, P]``.

    The sparse counterpart of :func:`scatter_blocks` (real blocks; edges with
    ``r_index = -1`` and padding skipped), on :attr:`CrystalData.R`, for adding a
    correction to a :class:`~socscreen.sparse_hamiltonian.SparseHamiltonian`.
    """
    n = int((sample.orbital_slots >= 0).sum())
    g = sample.graph
    rows = sample.orbital_slots[g.edge_index[0]][:, :, None]  # [E, P, 1]
    cols = sample.orbital_slots[g.edge_index[1]][:, None, :]  # [E, 1, P]
    valid = (sample.r_index[:, None, None] >= 0) & (rows >= 0) & (cols >= 0)
    row = np.broadcast_to(sample.r_index[:, None, None] * n + rows, valid.shape)[valid]
    col = np.broadcast_to(cols, valid.shape)[valid]
    shape = (len(sample.R) * n, n)
    return sparse.coo_matrix((blocks[valid], (row, col)), shape=shape).tocsr()


def scatter_blocks(
    blocks: torch.Tensor,
    sample: CrystalData,
    orbitals: OrbitalTable | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Dense ``[..., n_R, n, n]`` arrays from one structure's padded edge blocks.

    Parameters
    ----------
    blocks
        Padded blocks of this structure's edges, ``[n_edges, ..., P, P]`` (any leading
        per-edge shape after the edge axis, e.g. ``[n_edges, 3, P, P]``).
    sample
        The structure; edges with ``r_index = -1`` are skipped.
    orbitals
        Only used to size ``n`` when given; otherwise ``n`` is the number of real
        orbitals in :attr:`CrystalData.orbital_slots`.
    out
        Array ``[..., n_R, n, n]`` on :attr:`CrystalData.R` to add the blocks to in
        place (a view of a numpy array works: nothing dense is allocated); default a
        new zero array.

    Returns
    -------
    torch.Tensor
        ``[..., n_R, n, n]`` with ``R`` = :attr:`CrystalData.R` (``out`` when given);
        differentiable.
    """
    n = orbitals.n_orbitals if orbitals is not None else int((sample.orbital_slots >= 0).sum())
    g = sample.graph
    lead = blocks.shape[1:-2]
    accumulate = out is not None
    if out is None:
        out = blocks.new_zeros(*lead, len(sample.R), n, n)
    target = out.movedim(tuple(range(len(lead))), tuple(range(3, 3 + len(lead))))
    first_atom = {
        int(z): int(np.flatnonzero(sample.species == z)[0]) for z in np.unique(sample.species)
    }
    present = {z: sample.orbital_slots[a] >= 0 for z, a in first_atom.items()}
    species_i, species_j = sample.species[g.edge_index[0]], sample.species[g.edge_index[1]]
    for a in present:
        for b in present:
            sel = np.flatnonzero((sample.r_index >= 0) & (species_i == a) & (species_j == b))
            if len(sel) == 0:
                continue
            pa, pb = torch.as_tensor(present[a]), torch.as_tensor(present[b])
            rows = torch.as_tensor(sample.orbital_slots[g.edge_index[0, sel]][:, present[a]])
            cols = torch.as_tensor(sample.orbital_slots[g.edge_index[1, sel]][:, present[b]])
            r = torch.as_tensor(sample.r_index[sel])
            values = blocks[torch.as_tensor(sel)][..., pa, :][..., pb]  # [E', *lead, na, nb]
            values = values.movedim(tuple(range(1, 1 + len(lead))), tuple(range(-len(lead), 0)))
            target.index_put_(
                (r[:, None, None], rows[:, :, None], cols[:, None, :]),
                values.to(target.dtype),
                accumulate=accumulate,
            )
    return out
