"""Rerun submission on a real MongoDB-protocol server: selection, links, no duplicates.

The validation jobs are submitted, not run here (the end-to-end test runs them).
"""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    CampaignSummaryDocument,
    CandidateDocument,
    GapsDocument,
    MaterialResultDocument,
    Z2Document,
)
from socscreen.stores.schemas.validation import (
    BandComparisonDocument,
    ValidationDocument,
    ValidationTarget,
)
from socscreen.stores.validations import save_validation
from socscreen.workflows.rerun import route_maker, select_targets, submit_rerun

SI = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


@pytest.fixture
def campaign(db):
    """Campaign 'c' with a candidate, a low-confidence result and a confident trivial one."""
    db.ensure_indexes()

    def result(material_id, z2, confidence, flags=()):
        return MaterialResultDocument(
            material_id=material_id, campaign="c", structure=SI.as_dict(),
            z2=Z2Document.from_indices(z2, "parity"), gaps=GapsDocument(indirect=0.3),
            confidence=confidence, flags=list(flags), model_version="m-1",
        )  # fmt: skip

    docs = [result("a-ti", [1, 0, 0, 0], 0.9), result("b-shaky", [0, 0, 0, 0], 0.2),
            result("c-plain", [0, 0, 0, 0], 1.0)]  # fmt: skip
    stores = {n: db.store(n) for n in ("results", "candidates", "campaigns")}
    for store in stores.values():
        store.connect()
    save_results(stores["results"], docs)
    candidate = CandidateDocument(material_id="a-ti", campaign="c", reasons=["strong"],
                                  result_last_updated=docs[0].last_updated)  # fmt: skip
    stores["candidates"].update([candidate.model_dump()], key=["campaign", "material_id"])
    summary = CampaignSummaryDocument(
        campaign="c", settings=CampaignSettings(checkpoint="/models/ft.pt")
    )
    stores["campaigns"].update([summary.model_dump()], key="campaign")
    for store in stores.values():
        store.close()
    return db


def test_targets_link_to_their_predictions(campaign):
    targets = select_targets(campaign, "c")
    assert [t.material_id for t in targets] == ["a-ti", "b-shaky"]
    ti, shaky = targets
    assert ti.reasons == ["candidate"] and shaky.reasons == ["low_confidence"]
    assert ti.checkpoint == "/models/ft.pt" and ti.model_version == "m-1"
    assert ti.z2_predicted == [1, 0, 0, 0] and ti.get_structure() == SI
    only_query = select_targets(campaign, "c", ["query"], extra={"material_id": "c-plain"})
    assert [t.material_id for t in only_query] == ["c-plain"]
    with pytest.raises(ValueError, match="no campaign 'nope'"):
        select_targets(campaign, "nope")


def test_submission_is_categorised_and_never_duplicated(campaign):
    first = submit_rerun(campaign, "c", limit=1)
    assert first.selected == ["a-ti", "b-shaky"] and first.submitted == ["a-ti"]
    launchpad = campaign.launchpad()
    fw = launchpad.get_fw_by_id(first.fw_ids["a-ti"])
    assert fw.spec["_category"] == "dft" and fw.spec["validation_id"] == "a-ti:gpaw"
    assert fw.spec["stage"] == "validation" and fw.state == "READY"
    job = fw.tasks[0]["job"]  # as a worker loads it
    assert job.function_args[0].material_id == "a-ti"
    assert GPAWReferenceSettings(**job.function.__self__.settings).basis == "szp(dzp)"

    second = submit_rerun(campaign, "c")
    assert second.in_flight == ["a-ti"] and second.submitted == ["b-shaky"]
    third = submit_rerun(campaign, "c")
    assert third.submitted == [] and third.in_flight == ["a-ti", "b-shaky"]
    assert launchpad.fireworks.count_documents({"spec.stage": "validation"}) == 2

    # once validated (and the Firework finished) a material is skipped unless forced
    launchpad.fireworks.update_many({}, {"$set": {"state": "COMPLETED"}})
    store = campaign.store("validations")
    store.connect()
    comparison = BandComparisonDocument(
        band_mae=0.1, band_max_error=0.3, window=2.0, n_kpoints=1, n_bands_compared=1,
        efermi_dft=0.0, efermi_predicted=0.0, gap_dft=0.1, gap_predicted=0.2,
        spin_splitting_mae=None,
    )  # fmt: skip
    save_validation(store, ValidationDocument(validation_id="a-ti:gpaw", material_id="a-ti",
                                              campaign="c", route="gpaw",
                                              band_comparison=comparison))  # fmt: skip
    store.close()
    fourth = submit_rerun(campaign, "c", category=None)
    assert fourth.already_validated == ["a-ti"] and fourth.submitted == ["b-shaky"]
    assert "_category" not in launchpad.get_fw_by_id(fourth.fw_ids["b-shaky"]).spec
    forced = submit_rerun(campaign, "c", reasons=["candidate"], force=True)
    assert forced.submitted == ["a-ti"]


def test_route_makers(campaign):
    gpaw = route_maker("gpaw", soc_off_twin=True)
    assert gpaw.soc_off_twin is True and gpaw.name == "gpaw validation"
    with pytest.raises(ValueError, match="unknown validation route"):
        route_maker("abinit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        submit_rerun(campaign, "c", limit=0)
    assert isinstance(select_targets(campaign, "c")[0], ValidationTarget)


def test_rerun_command(campaign):
    uri = f"{campaign.uri}/{campaign.database}"
    runner = CliRunner()
    out = runner.invoke(app, ["rerun", "c", "--low-confidence", "--soc-off-twin",
                              "--db-uri", uri])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "1 selected" in out.output and "1 submitted" in out.output
    assert "socscreen campaign run --category dft" in out.output
    fw = campaign.launchpad().fireworks.find_one({"spec.validation_id": "b-shaky:gpaw"})
    assert fw["spec"]["_tasks"][0]["job"]["function"]["@bound"]["soc_off_twin"] is True
    bad = runner.invoke(app, ["rerun", "c", "--query", "{not json", "--db-uri", uri])
    assert bad.exit_code == 2 and "not valid JSON" in bad.output
    wrong = runner.invoke(app, ["rerun", "c", "--route", "abinit", "--db-uri", uri])
    assert wrong.exit_code == 2


def test_vasp_route_submits_a_categorised_flow_per_material(campaign):
    report = submit_rerun(campaign, "c", route="vasp", reasons=["candidate"])
    assert report.submitted == ["a-ti"]
    fireworks = list(campaign.launchpad().fireworks.find({"spec.validation_id": "a-ti:vasp"}))
    assert len(fireworks) >= 4  # spin-orbit static, band path, TRIM parities, compare
    assert {fw["spec"]["_category"] for fw in fireworks} == {"dft"}
    first = campaign.launchpad().get_fw_by_id(report.fw_ids["a-ti"])
    assert first.spec["validation_id"] == "a-ti:vasp" and not first.parents
    again = submit_rerun(campaign, "c", route="vasp", reasons=["candidate"])
    assert again.in_flight == ["a-ti"] and again.submitted == []
