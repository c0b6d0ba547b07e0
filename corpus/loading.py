"""Reading a training corpus and splitting it: which files, in which part, with what H(0).

* :func:`load_corpus`: the ``*.npz`` corpus files of a folder (or a listed subset);
* :func:`load_baselines`: the zeroth-step H(0) kept beside each of them
  (:mod:`socscreen.corpus.zeroth_step`), checked against the file's content;
* :func:`split_files`: the seeded train/validation/test split, by structure or by element
  set, which never holds out an element that no training structure has;
* :func:`recorded_split`: the split a checkpoint record keeps (fine-tuning on a grown
  corpus never tests on what the model was trained on).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from socscreen.corpus.zeroth_step import companion_is_current, current_companion
from socscreen.hamiltonian import Hamiltonian

__all__ = ["load_baselines", "load_corpus", "recorded_split", "split_files"]


def load_corpus(
    folder: str | os.PathLike, names: Sequence[str] | None = None
) -> tuple[list[Path], list[Hamiltonian]]:
    """Read the ``*.npz`` corpus files of a folder (or only ``names``), sorted by name.

    Returns
    -------
    tuple
        The file paths and their Hamiltonians (eV), in the same order.

    Raises
    ------
    ValueError
        If the folder has no corpus file, or a listed name is not in it.
    """
    if names is None:
        files = sorted(Path(folder).glob("*.npz"))
    else:
        files = sorted(Path(folder) / name for name in names)
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise ValueError(f"{len(missing)} listed corpus files are not in {folder}: {missing}")
    if not files:
        raise ValueError(f"no *.npz corpus files in {folder}")
    return files, [Hamiltonian.from_npz(f) for f in files]


def load_baselines(
    files: Sequence[Path], references: Sequence[Hamiltonian], content_sha256: Sequence[str]
) -> Iterator[Hamiltonian]:
    """Read the zeroth-step H(0) kept beside each corpus file, one at a time.

    ``references`` are the files' Hamiltonians (:func:`load_corpus`) and ``content_sha256``
    their :meth:`Hamiltonian.content_sha256`, in file order. Every companion is checked
    against its file's content before the first is read (from its ``meta`` alone); they
    are then read lazily, so a caller that turns each into a sample never holds them all.

    Raises
    ------
    ValueError
        At once, if any file has no current H(0) (missing, or computed from other
        content), naming them and the command that computes them.
    """
    stale = [
        f.name
        for f, sha in zip(files, content_sha256, strict=True)
        if not companion_is_current(f, sha)
    ]
    if stale:
        folders = " ".join(sorted({str(f.parent) for f in files}))
        raise ValueError(
            f"{len(stale)} corpus file(s) have no current H(0) (e.g. {', '.join(stale[:3])}): "
            f"run `socscreen dft-corpus zeroth-step {folders}`"
        )
    return (
        current_companion(f, h, sha)
        for f, h, sha in zip(files, references, content_sha256, strict=True)
    )


def _element_set(h: Hamiltonian) -> str:
    return "-".join(sorted(h.orbitals.element_shells))


def split_files(
    hamiltonians: Sequence[Hamiltonian],
    *,
    seed: int,
    by: Literal["structure", "composition"],
    val_fraction: float,
    test_fraction: float,
    kept: dict[int, str] | None = None,
) -> dict[str, list[int]]:
    """Seeded split into train/val/test indices, by structure or by element set.

    A structure (or element-set group, ``by="composition"``) is only held out if every one
    of its elements stays in some training structure, so the model covers all it is
    evaluated on. ``kept`` maps indices to the part they must stay in (a previous split,
    :func:`recorded_split`); only the other files are drawn, ``val_fraction`` and
    ``test_fraction`` of their own number.

    Raises
    ------
    ValueError
        If no training structure would be left.
    """
    kept = kept or {}
    rng = random.Random(seed)
    elements = [set(h.orbitals.element_shells) for h in hamiltonians]
    new = [i for i in range(len(hamiltonians)) if i not in kept]
    if by == "structure":
        groups = [[i] for i in new]
    else:
        by_key: dict[str, list[int]] = {}
        for i in new:
            by_key.setdefault(_element_set(hamiltonians[i]), []).append(i)
        groups = [by_key[k] for k in sorted(by_key)]
    rng.shuffle(groups)
    n = len(new)
    n_test = int(round(test_fraction * n))
    n_val = max(1, int(round(val_fraction * n))) if n > 2 and val_fraction > 0 else 0
    out: dict[str, list[int]] = {"test": [], "val": [], "train": []}
    for i, part in kept.items():
        out[part].append(i)
    in_train = Counter(
        e
        for i in range(len(hamiltonians))
        if i not in kept or kept[i] == "train"
        for e in elements[i]
    )
    quota = {"test": n_test + len(out["test"]), "val": n_val + len(out["val"])}
    for group in groups:
        part = (
            "test"
            if len(out["test"]) < quota["test"]
            else "val"
            if len(out["val"]) < quota["val"]
            else "train"
        )
        held = Counter(e for i in group for e in elements[i])
        if part != "train" and all(in_train[e] > held[e] for e in held):
            in_train -= held
        else:
            part = "train"
        out[part] += group
    if not out["train"]:
        raise ValueError(f"no training structures left in a split of {n} files")
    return {k: sorted(v) for k, v in out.items()}


def recorded_split(record_path: str | None, files: Sequence[Path]) -> dict[int, str]:
    """Index -> part of the ``files`` that a checkpoint record (``.json``) split.

    ``None`` gives ``{}``; files the record does not name are left out (new files).

    Raises
    ------
    ValueError
        If the record holds no split.
    """
    if record_path is None:
        return {}
    record = json.loads(Path(record_path).read_text())
    parts = {name: part for part, names in record.get("split", {}).items() for name in names}
    if not parts:
        raise ValueError(f"{record_path} records no split")
    return {i: parts[f.name] for i, f in enumerate(files) if f.name in parts}
