"""How result documents print: a compact table, the flags, the candidates, the next commands.

Everything fits 80 columns: material ids are never cut, each flag is explained once below
the table in one line, and where the model states its band error the gaps judged
against it carry it. Classes and reasons are the documents' verdicts
(:mod:`socscreen.stores.verdicts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from socscreen.cli.common import console

__all__ = [
    "CSV_COLUMNS",
    "csv_row",
    "print_candidates",
    "print_flags",
    "print_next_commands",
    "print_results",
]

#: Columns of ``socscreen query --format csv``.
CSV_COLUMNS = [
    "material_id",
    "campaign",
    "reduced_formula",
    "nsites",
    "z2",
    "z2_class",
    "class",
    "gap_eV",
    "flags",
    "reason",
    "error",
]


def _verdict(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.get("verdict") or {}


def _indented(text: str, indent: int) -> None:
    """Print plain ``text`` indented, its wrapped lines too (80 columns stay readable)."""
    console.print(Padding(Text(text), (0, 0, 0, indent), expand=False))


def _signed_gap(doc: dict[str, Any]) -> float | None:
    """CBM - VBM with SOC of a stored result (eV), see :func:`.verdicts.signed_gap`."""
    from socscreen.stores.schemas.campaign import MaterialResultDocument
    from socscreen.stores.verdicts import signed_gap

    return signed_gap(MaterialResultDocument.model_validate(doc))


def csv_row(doc: dict[str, Any]) -> dict[str, Any]:
    """One result as the row of :data:`CSV_COLUMNS`."""
    from socscreen.stores.schemas.campaign import z2_label

    z2 = doc.get("z2") or {}
    return {
        "material_id": doc["material_id"],
        "campaign": doc["campaign"],
        "reduced_formula": doc.get("reduced_formula"),
        "nsites": doc.get("nsites"),
        "z2": z2_label(z2.get("z2")),
        "z2_class": z2.get("classification"),
        "class": _verdict(doc).get("material_class"),
        "gap_eV": doc.get("gap_eV"),
        "flags": ",".join(doc.get("flags") or []),
        "reason": _verdict(doc).get("reason") or (doc.get("error") or {}).get("reason"),
        "error": (doc.get("error") or {}).get("reason"),
    }


def _gap_cell(doc: dict[str, Any], model_error: float | None) -> str:
    gap = _signed_gap(doc)
    if gap is None:
        return "none" if not doc.get("error") else ""
    below = model_error is not None and abs(gap) < model_error
    return f"{gap:.3f}" + ("*" if below else "")


def print_results(
    title: str,
    docs: Sequence[dict[str, Any]],
    model_error: float | None = None,
    campaign_column: bool = False,
) -> None:
    """Print one row per result: id, formula, Z2, class and the gap with SOC (eV).

    Parameters
    ----------
    title
        Table title.
    docs
        Result documents as stored (dicts).
    model_error
        The predictor's stated error (eV; the checkpoint's test-split band error, or the
        physics predictors' mean gap error on real compounds): gaps smaller than it are
        marked ``*`` and a note says what that means; ``None``: no mark.
    campaign_column
        Add the campaign of each result.
    """
    from socscreen.stores.schemas.campaign import z2_label

    table = Table(
        title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left"
    )
    table.add_column("id", no_wrap=True)
    if campaign_column:
        table.add_column("campaign", no_wrap=True)
    for name in ("formula", "Z2", "class"):
        table.add_column(name)
    table.add_column("gap (eV)", justify="right", no_wrap=True)
    for doc in docs:
        cells = [doc["material_id"]] + ([doc["campaign"]] if campaign_column else [])
        material_class = _verdict(doc).get("material_class") or ""
        cells += [
            doc.get("reduced_formula") or "",
            z2_label((doc.get("z2") or {}).get("z2")) or "",
            material_class.replace("_", " "),
            _gap_cell(doc, model_error),
        ]
        table.add_row(*map(escape, cells))
    console.print(table)
    notes = ["gap = CBM - VBM with SOC; negative: the bands overlap (a semimetal)"]
    if model_error is not None:
        notes.append(
            f"* below the predictor's stated error, {model_error:.2f} eV: DFT may change the class"
        )
    for note in notes:
        _indented(note, 2)


def print_flags(docs: Sequence[dict[str, Any]]) -> None:
    """Print each flag set on ``docs`` once with the ids it is set on, and its meaning."""
    from socscreen.stores.verdicts import explain_flag

    ids: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        for flag in doc.get("flags") or []:
            ids[flag].append(doc["material_id"])
    if not ids:
        return
    console.print("flags:")
    for flag in sorted(ids):
        _indented(f"{flag} ({' '.join(ids[flag])})", 2)
        _indented(explain_flag(flag), 4)


def print_candidates(
    docs: Sequence[dict[str, Any]], chosen: set[str], model_error: float | None = None
) -> None:
    """Print the candidates: id, formula, class and gap (± the model's error), the reason."""
    picked = [d for d in docs if d["material_id"] in chosen]
    console.print(f"{len(picked)} candidate(s):")
    error = f" ± {model_error:.2f}" if model_error is not None else ""
    for doc in picked:
        verdict = _verdict(doc)
        gap = _signed_gap(doc)
        gap_text = "" if gap is None else f", gap {gap:.3f}{error} eV"
        head = f"{doc['material_id']} {doc.get('reduced_formula') or ''}"
        material_class = (verdict.get("material_class") or "").replace("_", " ")
        _indented(f"{head}: {material_class}{gap_text}", 2)
        if verdict.get("reason"):
            _indented(verdict["reason"], 4)


def print_next_commands(campaign: str, material_id: str | None, setup: str | None = None) -> None:
    """Print the commands that go on from a campaign's results, each whole on its line.

    ``setup`` (e.g. ``export SOCSCREEN_DB_URI=...``) comes first when the campaign's
    database is not the default one.
    """
    commands = [(setup, "first, so that the commands find this database")] if setup else []
    if material_id is not None:
        commands.append(
            (f"socscreen show {material_id} -o {material_id}.json",
             "its document, band and Wilson-loop figures")
        )  # fmt: skip
    commands += [
        (f"socscreen report {campaign} -o {campaign}.html", "every result and failure on a page"),
        (f"socscreen rerun {campaign} --candidates", "check the candidates by DFT"),
    ]
    console.print("next:")
    for command, what in commands:
        console.print(f"  {command}", soft_wrap=True, highlight=False, markup=False)
        _indented(what, 6)
