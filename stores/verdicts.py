"""How a result document is read: its class, the candidate decision and what its flags mean.

:func:`judge_result` is the one decision on a result. The analysis stores it on the
document (``verdict``) and the candidate builder selects by it, so a result and its
candidate never disagree. Classes (:data:`~socscreen.stores.schemas.campaign.MaterialClass`):

* ``metal``: the direct gap closes somewhere (a band crossing at the Fermi level) or the
  electron count is odd; there is no Z2 and no gap;
* ``topological_insulator`` / ``trivial_insulator``: a Z2 index and an indirect gap of at
  least the campaign's ``min_gap``;
* ``topological_semimetal`` / ``trivial_semimetal``: a Z2 index (the direct gap is open
  at every k) but no usable gap: the bands overlap in energy, or the gap is below
  ``min_gap`` (Bi2Se3 and Sb2Te3 in the szp(dzp) basis);
* ``undetermined``: gapped, but no Z2 index could be assigned (or none was computed: a
  large cell analysed at its valley edges only, flag ``valley_edges_only``);
* ``failed``: the result carries an error.

Candidates are the two topological classes. Every decision has a one-line reason with
its numbers (eV).
"""

from __future__ import annotations

from socscreen.stores.schemas.campaign import (
    MaterialClass,
    MaterialResultDocument,
    VerdictDocument,
    z2_label,
)

__all__ = [
    "CANDIDATE_CLASSES",
    "FLAG_MEANINGS",
    "explain_flag",
    "judge_result",
    "signed_gap",
    "with_verdict",
]

#: Classes selected as candidates.
CANDIDATE_CLASSES: frozenset[MaterialClass] = frozenset(
    {"topological_insulator", "topological_semimetal"}
)

#: One line per flag of a result document.
FLAG_MEANINGS: dict[str, str] = {
    "metal": "the gap closes (bands cross at some k, or an odd electron count): no Z2",
    "semimetal": "valence and conduction bands overlap in energy but never touch: Z2 holds",
    "gapless": "the gap is below the campaign's min_gap: too small to count as a gap",
    "odd_electron_count": "an odd number of electrons half-fills a Kramers pair: a metal",
    "two_dimensional": "a 2D sheet (>= 10 A vacuum or no hoppings along an axis): Z2 is nu",
    "magnetic_treated_as_nonmagnetic": "magnetic ions (V-Ni, Ce-Yb, U-Cm) treated as "
    "non-magnetic: may be wrong",
    "uncorrected_elements": "elements the correction model never saw: H(0) alone for them",
    "sparsely_trained_elements": "elements in under 20 training structures: less certain, "
    "check gaps with DFT",
    "error": "processing failed; the error says at which stage and why",
    "z2_no_inversion": "no inversion centre: Z2 from Wilson loops, no parity check",
    "z2_inversion_broken_by_hamiltonian": "H breaks the crystal's inversion: Z2 by Wilson loops",
    "z2_gapless_at_trim": "the gap closes at a TRIM: no parity Z2",
    "z2_gapless_on_loop": "the gap closes on a Wilson loop: no Z2 (the result is a metal)",
    "z2_parity_not_integer": "parity eigenvalues are not +-1: the parity Z2 is unreliable",
    "z2_wcc_not_converged": "Wilson-loop centres did not converge: check the Z2",
    "z2_wcc_not_kramers_paired": "Wilson-loop centres not Kramers-paired: check the Z2",
    "z2_routes_disagree": "parity and Wilson loops give different Z2: confidence halved",
    "z2_fractional_electron_count": "the electron count is not a whole number: no Z2",
    "z2_odd_electron_count": "an odd electron count half-fills a Kramers pair: no Z2",
    "z2_no_soc": "no spin-orbit coupling in H: Z2 of the spinless problem",
}


def explain_flag(flag: str) -> str:
    """Return the one-line meaning of a flag (flags of other stages are named as such)."""
    return FLAG_MEANINGS.get(flag, "set by another stage (see its documentation)")


def with_verdict(doc: MaterialResultDocument, min_gap: float) -> MaterialResultDocument:
    """Return ``doc`` carrying its verdict (:func:`judge_result` with ``min_gap`` in eV)."""
    return doc.model_copy(update={"verdict": judge_result(doc, min_gap)})


def signed_gap(doc: MaterialResultDocument) -> float | None:
    """CBM - VBM with SOC (eV): the gap, minus the band overlap; ``None`` without a gap.

    ``None`` for a metal, a failed result and a result without gaps.
    """
    kind = _kind(doc)
    if doc.error is not None or kind in ("metal", None):
        return None
    if kind == "semimetal" and doc.gaps is not None and doc.gaps.band_overlap:
        return -doc.gaps.band_overlap
    return doc.gap_eV


def _kind(doc: MaterialResultDocument) -> str | None:
    """Metal, semimetal or insulator: stored on the gaps, else read from flags and gap."""
    if doc.gaps is not None and doc.gaps.kind is not None:
        return doc.gaps.kind
    for kind in ("metal", "semimetal"):
        if kind in doc.flags:
            return kind
    return "insulator" if doc.gap_eV else None  # no gap recorded: unknown


#: How a Z2 class reads in front of "insulator" and "semimetal".
_ADJECTIVES = {
    "strong": ("strong topological", "strong topological"),
    "weak": ("weak topological", "weak topological"),
    "qsh": ("quantum spin Hall", "2D topological"),
    "trivial": ("trivial", "trivial"),
}


def judge_result(doc: MaterialResultDocument, min_gap: float) -> VerdictDocument:
    """Class, candidate decision and one-line reason of a result (see the module docstring).

    Parameters
    ----------
    doc
        A result document.
    min_gap
        Smallest indirect gap with SOC that counts as a gap (eV).

    Examples
    --------
    ``candidate: strong topological semimetal, Z2 = (1;000) by parity, direct gap >=
    0.089 eV at every k, bands overlap by 0.147 eV`` (Bi2Se3, szp(dzp) DFT).
    """
    if doc.error is not None:
        return VerdictDocument.from_error(doc.error)
    kind, gaps = _kind(doc), doc.gaps

    def verdict(material_class: MaterialClass, *why: str) -> VerdictDocument:
        candidate = material_class in CANDIDATE_CLASSES
        head = "candidate" if candidate else "not a candidate"
        return VerdictDocument(
            material_class=material_class,
            candidate=candidate,
            reason=f"{head}: " + ", ".join(w for w in why if w),
        )

    if kind == "metal":
        if "odd_electron_count" in doc.flags:
            return verdict("metal", "metal", "an odd electron count half-fills a Kramers pair")
        where = ""
        if gaps is not None and gaps.k_direct is not None:
            where = " near k = (" + ", ".join(f"{x:.3f}" for x in gaps.k_direct) + ")"
        return verdict("metal", "metal", f"the bands cross{where}: no gap, no Z2")
    if doc.z2 is None and "valley_edges_only" in doc.flags:
        return verdict(
            "undetermined",
            "undetermined",
            f"a large cell analysed at its valley edges only (gap {doc.gap_eV or 0.0:.3f} eV "
            "over K and Gamma): no Z2 index",
        )
    if doc.z2 is None or kind is None:
        problems = ", ".join(f for f in doc.flags if f.startswith("z2_"))
        missing = "no Z2 index" if doc.z2 is None else "no gap recorded"
        return verdict("undetermined", "undetermined", missing, problems)
    z2 = doc.z2
    topological = z2.classification != "trivial"
    evidence = f"Z2 = {z2_label(z2.z2)} by {z2.route}"
    gap = doc.gap_eV or 0.0
    if kind == "insulator" and gap >= min_gap:
        name = f"{_ADJECTIVES[z2.classification][0]} insulator"
        material_class = "topological_insulator" if topological else "trivial_insulator"
        return verdict(material_class, name, evidence, f"gap {gap:.3f} eV >= {min_gap:g} eV")
    name = f"{_ADJECTIVES[z2.classification][1]} semimetal"
    material_class = "topological_semimetal" if topological else "trivial_semimetal"
    direct = f"direct gap >= {gaps.direct:.3f} eV at every k" if gaps and gaps.direct else ""
    if kind == "semimetal":
        overlap = gaps.band_overlap if gaps is not None else None
        usable = f"bands overlap by {overlap:.3f} eV" if overlap else "bands overlap"
    else:
        usable = f"gap {gap:.3f} eV < {min_gap:g} eV"
    return verdict(material_class, name, evidence, direct, usable)
