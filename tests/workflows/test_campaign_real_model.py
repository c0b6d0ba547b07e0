"""A whole campaign with the shipped model and the real analysis, through FireWorks.

``socscreen campaign example`` on a real SecantusDB server: ingestion (an element the
model does not know is rejected with its reason), two ``rlaunch`` worker processes,
prediction, analysis, result documents and the candidates collection.
"""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.hamiltonian import Hamiltonian
from socscreen.stores.schemas.campaign import MaterialResultDocument

pytestmark = pytest.mark.slow


@pytest.fixture
def source(tmp_path, data_dir):
    bi2se3 = Hamiltonian.from_npz(data_dir / "Bi2Se3_szp.npz").structure
    gasb = Structure.from_spacegroup("F-43m", Lattice.cubic(6.096), ["Ga", "Sb"],
                                     [[0, 0, 0], [0.25, 0.25, 0.25]]).get_primitive_structure()  # fmt: skip
    unknown = Structure(Lattice.cubic(3.0), ["Og"], [[0, 0, 0]])
    path = tmp_path / "structures.json"
    path.write_text(json.dumps([s.as_dict() for s in (bi2se3, gasb, unknown)]))
    return path


def test_example_campaign_with_the_shipped_model(db, source, tmp_path):
    uri = f"{db.uri}/{db.database}"
    result = CliRunner().invoke(
        app,
        ["campaign", "example", "--source", str(source), "--name", "real", "--workers", "2",
         "--batch-size", "1", "--run-dir", str(tmp_path / "run"), "--db-uri", uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "topological candidate(s)" in result.output

    results = db.store("results")
    results.connect()
    docs = [MaterialResultDocument.model_validate(d) for d in results.query({"campaign": "real"})]
    results.close()
    assert len(docs) == 3
    by_formula = {d.reduced_formula: d for d in docs}
    rejected = next(d for d in docs if "Og" in d.elements)
    assert rejected.error is not None and "Og" in rejected.error.reason
    for formula in ("Bi2Se3", "GaSb"):
        doc = by_formula[formula]
        assert doc.error is None, doc.error
        assert doc.model_version and doc.model_version.startswith("Uni-HamGNN")
        assert doc.gaps is not None and doc.timings.predict > 0 and doc.timings.analysis > 0
        # either a Z2 assignment or the reason there is none
        assert doc.z2 is not None or {"metal", "semimetal"} & set(doc.flags)

    launchpad = db.launchpad()
    states = {fw["state"] for fw in launchpad.fireworks.find({}, {"state": 1})}
    assert states == {"COMPLETED"}
    candidates = db.store("candidates")
    candidates.connect()
    chosen = {d["material_id"] for d in candidates.query({"campaign": "real"})}
    candidates.close()
    topological = {d.material_id for d in docs if d.z2 and d.z2.classification != "trivial"
                   and (d.gap_eV or 0) >= 0.01}  # fmt: skip
    assert chosen == topological
