"""Submission on a real server: every input file accounted for, idempotent resubmission.

The source is a folder of twin files (the same rock-salt crystal twice, a strained copy
of another), a broken CIF, a text file and a subfolder. Workers are real ``rlaunch``
processes predicting with the shipped model and analysing with a structure-only test
analyser.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from campaign_test_functions import rock_salt, structure_only
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.makers.analyse import AnalyseBatchMaker
from socscreen.model.inference import load_model
from socscreen.stores.schemas.campaign import CampaignSettings, CampaignSummaryDocument
from socscreen.workflows.campaign import CampaignMaker, submit_campaign
from socscreen.workflows.ingestion import ingest, read_structure_folder
from socscreen.workflows.workers import firework_states, run_workers

#: file -> what becomes of it: (outcome, file it ends up in or the reason)
OUTCOMES = {
    "LiF.cif": ("record", "LiF.cif"),
    "rs-LiF.cif": ("merged", "LiF.cif"),  # the primitive cell: the same id
    "NaCl.cif": ("record", "NaCl.cif"),
    "rs-NaCl.cif": ("merged", "NaCl.cif"),  # 0.4 % strained: another id, the same crystal
    "broken.cif": ("record", "broken.cif"),  # an ingestion error record
    "notes.txt": ("skipped", "not a CIF or POSCAR file"),
    "old": ("skipped", "a folder"),
}


def outcomes(records, skipped) -> Counter:
    """(file, outcome, where) of every entry the records, their merges and skips name."""
    found = Counter()
    for record in records:
        found[record.source.entry, "record", record.source.entry] += 1
        for merged in record.merged:
            found[merged.source.entry, "merged", record.source.entry] += 1
    for entry in skipped:
        found[entry.entry, "skipped", entry.reason.split(" (")[0]] += 1
    return found


def expected() -> Counter:
    return Counter((name, *outcome) for name, outcome in OUTCOMES.items())


def test_every_file_is_a_record_a_named_merge_or_a_skip(twins):
    report = ingest(read_structure_folder(twins))
    assert outcomes(report.records, report.skipped) == expected()
    assert report.n_read == report.n_accounted == len(OUTCOMES)
    reasons = {m.entry.source.entry: (m.entry.reason, m.keeper.entry) for m in report.merges}
    assert reasons == {"rs-LiF.cif": ("same id", "LiF.cif"),
                       "rs-NaCl.cif": ("same crystal", "NaCl.cif")}  # fmt: skip
    (lif,) = [r for r in report.records if r.source.entry == "LiF.cif"]
    assert lif.merged[0].material_id == lif.material_id
    (nacl,) = [r for r in report.records if r.source.entry == "NaCl.cif"]
    assert nacl.merged[0].material_id not in (nacl.material_id, None)


def maker() -> CampaignMaker:
    return CampaignMaker(analyse_maker=AnalyseBatchMaker(analyser=structure_only))


def submit(db, source, campaign, **settings):
    settings = CampaignSettings(**{"batch_size": 1, "predictor": "model", **settings})
    return submit_campaign(db, source, campaign, settings, maker=maker(),
                           supported_elements=load_model()[0].elements)  # fmt: skip


def campaign_doc(db, campaign) -> CampaignSummaryDocument | None:
    store = db.store("campaigns")
    store.connect()
    try:
        found = store.query_one({"campaign": campaign}, properties={"_id": 0})
    finally:
        store.close()
    return None if found is None else CampaignSummaryDocument.model_validate(found)


def stored_records(db, campaign):
    from socscreen.stores.schemas.campaign import StructureRecord

    store = db.store("structures")
    store.connect()
    try:
        return [StructureRecord.model_validate(d) for d in store.query({"campaign": campaign})]
    finally:
        store.close()


@pytest.mark.slow
def test_submitting_twice_then_running_predicts_each_structure_once(db, twins, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])))  # fmt: skip
    first = submit(db, twins, "twins")
    assert (first.n_todo, first.n_done, first.n_pending) == (2, 0, 0)
    again = submit(db, twins, "twins")  # before any worker ran
    assert (again.fw_id, again.n_todo, again.n_pending) == (None, 0, 2)

    summary = campaign_doc(db, "twins")
    assert summary.workflow_ids == [first.fw_id]
    (source,) = summary.sources
    assert (summary.n_read, summary.n_duplicates, summary.n_ingest_errors, summary.n_skipped,
            summary.n_filtered) == (7, 2, 1, 2, 0)  # fmt: skip
    assert (source.n_read, source.n_structures, source.n_merged) == (7, 2, 2)
    assert outcomes(stored_records(db, "twins"), source.skipped) == expected()

    launchpad = db.launchpad()
    report = run_workers(db, 2, tmp_path / "run")
    assert report.exit_codes == [0, 0]
    # one workflow: fan-out, two (predict, analyse) batches, summary; each launched once
    assert firework_states(launchpad, "twins") == {"COMPLETED": 6}
    launches = Counter(doc["fw_id"] for doc in launchpad.launches.find({}, {"fw_id": 1}))
    assert set(launches.values()) == {1}
    job_store = db.job_store()
    job_store.connect()
    predicted = Counter(
        item["material_id"]
        for doc in job_store.docs_store.query(
            {"metadata.campaign": "twins", "metadata.stage": "predict"}
        )  # fmt: skip
        for item in doc["output"]["hamiltonians"]
    )
    job_store.close()
    assert sorted(predicted.values()) == [1, 1]

    # done now; another model version is new work, once however often it is submitted
    assert submit(db, twins, "twins").n_done == 2
    retrained = submit(db, twins, "twins", model_version="retrained")
    assert (retrained.n_todo, retrained.n_done, retrained.n_pending) == (2, 0, 0)
    assert submit(db, twins, "twins", model_version="retrained").fw_id is None
    summary = campaign_doc(db, "twins")
    assert summary.workflow_ids == [first.fw_id, retrained.fw_id]
    assert (summary.n_read, summary.n_duplicates, summary.n_ingest_errors) == (7, 2, 1)


def test_a_file_of_another_source_merges_into_the_stored_record(db, twins, tmp_path):
    second = tmp_path / "second"
    second.mkdir()
    rock_salt(4.03, "Li", "F").to(filename=str(second / "LiF-again.cif"))
    submit(db, twins, "sources")
    report = submit(db, second, "sources")
    assert report.n_todo == 0 and report.ingest.records == []
    (merge,) = report.ingest.merges
    assert (merge.entry.source.entry, merge.keeper.entry) == ("LiF-again.cif", "LiF.cif")
    (lif,) = [r for r in stored_records(db, "sources") if r.source.entry == "LiF.cif"]
    assert [(m.source.entry, m.reason) for m in lif.merged] == [
        ("rs-LiF.cif", "same id"), ("LiF-again.cif", "same id")]  # fmt: skip
    submit(db, twins, "sources")  # the first source again keeps the other source's merge
    (lif,) = [r for r in stored_records(db, "sources") if r.source.entry == "LiF.cif"]
    assert [m.source.entry for m in lif.merged] == ["LiF-again.cif", "rs-LiF.cif"]
    summary = campaign_doc(db, "sources")
    assert (summary.n_read, summary.n_duplicates, len(summary.sources)) == (8, 3, 2)


runner = CliRunner()


def test_submit_prints_where_every_file_went(db, twins):
    uri = f"{db.uri}/{db.database}"
    result = runner.invoke(app, ["campaign", "submit", str(twins), "--name", "cli",
                                 "--predictor", "baseline", "--db-uri", uri])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert ("7 read = 2 structures + 1 ingestion errors + 2 merged + 0 filtered + 2 skipped"
            in text)  # fmt: skip
    assert "merged rs-LiF.cif (sc-" in text and "(LiF.cif): same id" in text
    assert "(NaCl.cif): same crystal" in text
    assert "skipped notes.txt: not a CIF or POSCAR file" in text
    assert "skipped old: a folder" in text
    assert "(broken.cif)" in text


@pytest.mark.parametrize("content", [[], ["notes.txt", "README"]], ids=["empty", "no-structures"])
def test_a_source_without_structures_is_refused(db, tmp_path, content):
    folder = tmp_path / "source"
    folder.mkdir()
    for name in content:
        (folder / name).write_text("text\n")
    result = runner.invoke(app, ["campaign", "submit", str(folder), "--name", "none",
                                 "--predictor", "baseline",
                                 "--db-uri", f"{db.uri}/{db.database}"])  # fmt: skip
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("error: ") and lines[0].endswith(": nothing submitted")
    assert ("skipped README, notes.txt" in lines[0]) == bool(content)
    assert campaign_doc(db, "none") is None
    assert firework_states(db.launchpad()) == {}
