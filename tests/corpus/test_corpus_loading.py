"""Reading and splitting a corpus: files, their H(0), a seeded split that covers its elements."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from pymatgen.core import Element

from socscreen.corpus.loading import load_baselines, load_corpus, recorded_split, split_files
from socscreen.corpus.zeroth_step import companion_path
from socscreen.dft.zeroth_step import ZEROTH_STEP_VERSION
from socscreen.orbitals import OrbitalTable

#: Split settings of the tests (``TrainConfig`` passes its own).
SPLIT = {"seed": 5, "by": "structure", "val_fraction": 0.2, "test_fraction": 0.2}


def _fake(symbols: str) -> SimpleNamespace:
    """Split logic only reads the orbital table's elements."""
    numbers = tuple(Element(s).Z for s in symbols.split())
    return SimpleNamespace(orbitals=OrbitalTable(numbers, {s: (0, 1) for s in symbols.split()}))


SETS = [
    "Bi Se",
    "Bi Te",
    "Se Te",
    "Bi Se",
    "Bi Se Te",
    "Si",
    "Si Ge",
    "Ge",
    "Ge Te",
    "Bi Ge",
    "Se Si",
    "Te Si",
    "Bi Se",
    "Ge Se",
    "Bi Te",
]


@pytest.mark.parametrize("mode", ["structure", "composition"])
def test_split_keeps_held_out_elements_covered(mode):
    hs = [_fake(x) for x in SETS]
    config = {**SPLIT, "by": mode}
    split = split_files(hs, **config)
    assert sorted(sum(split.values(), [])) == list(range(len(hs)))
    assert split["test"] and split["val"]
    train_elements = {e for i in split["train"] for e in hs[i].orbitals.element_shells}
    for part in ("val", "test"):
        assert {e for i in split[part] for e in hs[i].orbitals.element_shells} <= train_elements
    if mode == "composition":
        keys = {p: {SETS[i] for i in split[p]} for p in split}
        assert not (keys["train"] & keys["test"]) and not (keys["train"] & keys["val"])
    assert split == split_files(hs, **config)  # seeded


def test_split_from_a_record_keeps_its_parts_and_splits_only_new_files(tmp_path):
    old = split_files([_fake(x) for x in SETS[:10]], **SPLIT)
    hs = [_fake(x) for x in SETS]  # the corpus grew by five files
    kept = {i: part for part, indices in old.items() for i in indices}
    grown = split_files(hs, **SPLIT, kept=kept)
    for part, indices in old.items():
        assert set(indices) <= set(grown[part])  # nothing moves, above all not into training
    assert sorted(sum(grown.values(), [])) == list(range(len(hs)))
    new = {i for part in ("val", "test") for i in grown[part]} - set(kept)
    assert len(new) == 2  # 20 % of the 5 new files each for val and test, rounded
    train_elements = {e for i in grown["train"] for e in hs[i].orbitals.element_shells}
    assert all(set(hs[i].orbitals.element_shells) <= train_elements for i in new)

    names = [tmp_path / f"train_{i:05d}.npz" for i in range(len(hs))]
    record = tmp_path / "model.json"
    record.write_text(
        json.dumps({"split": {p: [names[i].name for i in v] for p, v in old.items()}})
    )
    assert recorded_split(str(record), names) == kept
    record.write_text(json.dumps({"training_files": []}))
    with pytest.raises(ValueError, match="records no split"):
        recorded_split(str(record), names)


def test_load_corpus_reads_a_folder_or_the_listed_files(data_dir, tmp_path):
    files, hams = load_corpus(data_dir / "corpus")
    assert [f.name for f in files] == ["train_00006_GeTe.npz", "train_00010_Te2.npz"]
    assert [h.structure.composition.reduced_formula for h in hams] == ["GeTe", "Te"]
    only, _ = load_corpus(data_dir / "corpus", ["train_00010_Te2.npz"])
    assert [f.name for f in only] == ["train_00010_Te2.npz"]
    with pytest.raises(ValueError, match="1 listed corpus files are not in"):
        load_corpus(data_dir / "corpus", ["missing.npz"])
    with pytest.raises(ValueError, match=r"no \*.npz corpus files"):
        load_corpus(tmp_path)


def test_load_baselines_reads_current_companions_and_names_stale_ones(data_dir, tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(data_dir / "corpus", folder)
    files, hams = load_corpus(folder)
    shas = [h.content_sha256() for h in hams]
    with pytest.raises(ValueError, match=r"2 corpus file\(s\) have no current H\(0\)"):
        load_baselines(files, hams, shas)
    for f, h, sha in zip(files, hams, shas, strict=True):  # the references stand in for H(0)
        h.meta["reference"] = {"file": f.name, "sha256": sha}
        h.meta["zeroth_step_version"] = ZEROTH_STEP_VERSION
        h.to_npz(companion_path(f))
    assert [b.meta["reference"]["sha256"] for b in load_baselines(files, hams, shas)] == shas
    with pytest.raises(ValueError, match=r"1 corpus file\(s\) have no current H\(0\)"):
        load_baselines(files, hams, [shas[0], "another content"])
