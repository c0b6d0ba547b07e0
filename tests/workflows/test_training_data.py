"""The corpus generator: real GPAW runs in CPU-limited child processes, resumable."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from jobflow.managers.fireworks import flow_to_workflow
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.corpus.storage import OVERLAP_ZERO_THRESHOLDS, write_compact
from socscreen.corpus.training_structures import training_structure
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.reference import OverlapNotPositiveDefiniteError, check_overlap_positive_definite
from socscreen.hamiltonian import COMPACT_ZERO_THRESHOLDS, Hamiltonian
from socscreen.workflows.training_data import (
    FAILURES_FILE,
    _write_checked,
    compute_corpus_entry,
    corpus_file_name,
    estimated_cost,
    generate_corpus,
    pending_seeds,
    training_data_flow,
)
from socscreen.workflows.workers import run_workers

SZ = GPAWReferenceSettings(basis="sz(dzp)")
CORPUS = Path(__file__).parents[2] / "data" / "corpus" / "gpaw-szp"


def _cheap_seed(start: int = 0) -> int:
    """First seed from ``start`` whose structure has at most 2 atoms and a tiny cost."""
    return next(
        s
        for s in range(start, start + 500)
        if len(training_structure(s)) <= 2 and estimated_cost(training_structure(s), SZ.basis) < 0.5
    )


def test_estimated_cost_orders_cells_by_gpaw_effort(silicon, bi2se3):
    si = estimated_cost(silicon.structure, "szp(dzp)")
    assert si == pytest.approx(1.74, abs=0.01)
    assert estimated_cost(bi2se3.structure, "szp(dzp)") > si
    assert estimated_cost(silicon.structure, "sz(dzp)") < si  # fewer orbitals


@pytest.mark.gpaw
@pytest.mark.slow
def test_generate_writes_once_and_resumes(tmp_path):
    seed = _cheap_seed()
    first = generate_corpus(1, seed, tmp_path, SZ)
    assert [e.status for e in first] == ["written"]
    path = tmp_path / corpus_file_name(seed, first[0].formula)
    assert first[0].path == str(path)
    ham = Hamiltonian.from_npz(path)
    structure = training_structure(seed)
    assert ham.meta["seed"] == seed and ham.meta["basis"] == "sz(dzp)"
    assert ham.meta["prototype"] == structure.properties["prototype"]
    assert ham.meta["strain_sigma"] == 0.02 and ham.has_soc
    again = generate_corpus(1, seed, tmp_path, SZ)
    assert [e.status for e in again] == ["exists"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.gpaw
def test_cpu_limit_failure_is_logged_and_skipped_on_resume(tmp_path):
    seed = _cheap_seed()
    entries = generate_corpus(1, seed, tmp_path, SZ, cpu_seconds=1)
    assert [e.status for e in entries] == ["failed"]
    assert "CPUTimeLimit" in entries[0].error
    records = [json.loads(line) for line in (tmp_path / FAILURES_FILE).read_text().splitlines()]
    assert [(r["seed"], r["status"]) for r in records] == [(seed, "failed")]
    assert not list(tmp_path.glob("*.npz"))
    assert generate_corpus(1, seed, tmp_path, SZ, cpu_seconds=1) == []  # skipped on resume
    retried = generate_corpus(1, seed, tmp_path, SZ, cpu_seconds=1, retry_failed=True)
    assert [e.status for e in retried] == ["failed"]
    # a retry that succeeds is logged after the failures, so the seed is no longer skipped
    retried = generate_corpus(1, seed, tmp_path, SZ, cpu_seconds=None, retry_failed=True)
    assert [e.status for e in retried] == ["written"]
    records = [json.loads(line) for line in (tmp_path / FAILURES_FILE).read_text().splitlines()]
    assert [r["status"] for r in records] == ["failed", "failed", "written"]
    assert [e.status for e in generate_corpus(1, seed, tmp_path, SZ)] == ["exists"]


def test_caps_and_budget_skip_without_running_gpaw(tmp_path):
    seed = _cheap_seed()
    entry = compute_corpus_entry(seed, tmp_path, SZ, max_cost=1e-6)
    assert entry.status == "skipped" and "estimated cost" in entry.error
    assert generate_corpus(3, seed, tmp_path, SZ, max_total_mb=0) == []
    assert not list(tmp_path.iterdir())


def test_cli_generate_reports_counts(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "dft-corpus",
            "generate",
            "--n",
            "3",
            "--seed",
            "0",
            "--out",
            str(tmp_path),
            "--max-cost",
            "0.000001",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "0 written, 0 already there, 3 over the caps, 0 failed" in result.output
    # one line per seed (the progress bar on stderr shares the captured output)
    assert len(re.findall(r"seed +\d+ +\w+ +\w+ +skipped +over the caps", result.output)) == 3


def test_compact_rewrites_old_files_with_current_storage(data_dir, tmp_path):
    # the fixture was written with the shared files' 1e-5 eV SOC threshold and full R
    old = tmp_path / "Bi2Se3_szp.npz"
    shutil.copy(data_dir / "Bi2Se3_szp.npz", old)
    before = Hamiltonian.from_npz(old)
    size = old.stat().st_size
    result = CliRunner().invoke(app, ["dft-corpus", "compact", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"{tmp_path}: {size / 1e6:.1f} MB ->" in result.output
    assert old.stat().st_size < 0.5 * size
    with np.load(old) as stored:
        assert len(stored["R"]) == (len(before.R) + 1) // 2  # one of each ±R pair
    after = Hamiltonian.from_npz(old)
    threshold = COMPACT_ZERO_THRESHOLDS["Hsoc"]
    for soc in (after.soc_uu, after.soc_ud):
        assert not np.any((np.abs(soc) > 0) & (np.abs(soc) < threshold))
    order = [after.R.tolist().index(r) for r in before.R.tolist()]
    np.testing.assert_array_equal(after.R[order], before.R)
    np.testing.assert_allclose(after.h0[order], before.h0, atol=1e-7)
    np.testing.assert_allclose(after.overlap[order], before.overlap, atol=1e-7)
    k = np.random.default_rng(1).random((20, 3))
    e_before, e_after = before.eigh(k), after.eigh(k)
    near_ef = np.abs(e_before - before.efermi) < 2.0
    assert np.abs(e_after - e_before)[near_ef].max() < 1e-3  # eV
    assert len(list(tmp_path.glob(".*"))) == 0  # no temporary file left behind
    # compacting again changes nothing
    size = old.stat().st_size
    assert CliRunner().invoke(app, ["dft-corpus", "compact", str(tmp_path)]).exit_code == 0
    assert old.stat().st_size == size


def test_compact_refuses_a_folder_without_corpus_files(tmp_path):
    result = CliRunner().invoke(app, ["dft-corpus", "compact", str(tmp_path)])
    assert result.exit_code == 1
    assert "no corpus files" in result.output


def test_stored_file_with_indefinite_overlap_is_removed(silicon, tmp_path):
    overlap = silicon.overlap * 3.0  # off-site blocks too large: S(k) indefinite somewhere
    overlap[silicon.home_index] = silicon.overlap[silicon.home_index]
    broken = silicon._replace(overlap=overlap)
    path = tmp_path / "train_00001_Si2.npz"
    with pytest.raises(OverlapNotPositiveDefiniteError, match="stored file"):
        _write_checked(broken, path, GPAWReferenceSettings())
    assert not path.exists()
    _write_checked(silicon, path, GPAWReferenceSettings())
    assert path.exists()


def _stored_overlap_tails(ham: Hamiltonian) -> bool:
    """Whether S keeps any nonzero element below the corpus threshold of 1e-5."""
    size = np.abs(ham.overlap)
    return bool(np.any((size > 0) & (size < COMPACT_ZERO_THRESHOLDS["SR"])))


def test_near_singular_overlap_is_stored_with_its_tails(silicon, tmp_path):
    """fcc Pt in szp(dzp): S(Gamma) is within 1e-5 of singular (GPAW, seed 424).

    Zeroing its thousands of overlap tails below 1e-5 makes the stored S(k) indefinite,
    so :func:`write_compact` keeps them (the next threshold of OVERLAP_ZERO_THRESHOLDS).
    """
    platinum = Hamiltonian.from_npz(CORPUS / "train_00424_Pt.npz")
    assert platinum.meta["prototype"] == "fcc" and _stored_overlap_tails(platinum)
    plain = platinum.to_npz(tmp_path / "plain.npz", thresholds=COMPACT_ZERO_THRESHOLDS, half_R=True)
    with pytest.raises(OverlapNotPositiveDefiniteError):
        check_overlap_positive_definite(Hamiltonian.from_npz(plain))
    stored = Hamiltonian.from_npz(write_compact(platinum, tmp_path / "train_00424_Pt.npz"))
    check_overlap_positive_definite(stored)
    assert _stored_overlap_tails(stored)
    assert OVERLAP_ZERO_THRESHOLDS[0] == COMPACT_ZERO_THRESHOLDS["SR"]
    assert stored.content_sha256() == platinum.content_sha256()  # idempotent
    # a well-conditioned overlap keeps the compact threshold
    assert not _stored_overlap_tails(
        Hamiltonian.from_npz(write_compact(silicon, tmp_path / "si.npz"))
    )


@pytest.mark.slow
@pytest.mark.gpaw
def test_training_data_campaign_runs_through_fireworks_workers(db, tmp_path):
    """Two seeds (one per job) through a real launchpad and a real `rlaunch` worker."""
    first = _cheap_seed()
    second = _cheap_seed(first + 1)
    out = tmp_path / "corpus"
    flow = training_data_flow([first, second], out, SZ, batch_size=1, category="dft")
    assert [j.config.manager_config for j in flow.jobs] == [{"_category": "dft"}] * 2
    db.launchpad().add_wf(flow_to_workflow(flow))

    report = run_workers(db, 1, tmp_path / "run", category=["dft"])

    assert report.exit_codes == [0] and report.states == {"COMPLETED": 2}
    written = sorted(out.glob("train_*.npz"))
    assert [int(p.name.split("_")[1]) for p in written] == [first, second]
    for path in written:  # complete corpus files, loadable by every consumer
        ham = Hamiltonian.from_npz(path)
        assert ham.has_soc and ham.meta["basis"] == "sz(dzp)"
    store = db.job_store()
    store.connect()
    outputs = [doc["output"] for doc in store.query({"name": {"$regex": "^corpus"}})]
    assert sorted(e["seed"] for o in outputs for e in o) == [first, second]
    assert {e["status"] for o in outputs for e in o} == {"written"}
    assert pending_seeds(second - first + 1, first, out) == [
        s for s in range(first + 1, second)
    ]  # resubmitting skips the written seeds


def test_training_data_flow_rejects_bad_batches(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        training_data_flow([1], tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="no seeds"):
        training_data_flow([], tmp_path)


def test_cli_submit_adds_only_pending_seeds(db, tmp_path):
    first = _cheap_seed()
    uri = ["--db-uri", f"{db.uri}/{db.database}"]
    args = ["dft-corpus", "submit", "--n", "3", "--seed", str(first), "--out", str(tmp_path)]
    (tmp_path / corpus_file_name(first, "X")).write_bytes(b"")  # seed `first` is done
    result = CliRunner().invoke(app, [*args, "--batch-size", "2", "--category", "dft", *uri])
    assert result.exit_code == 0, result.output
    assert "submitted 2 seeds in 1 jobs" in result.output
    fireworks = list(db.launchpad().fireworks.find({}, {"spec": 1}))
    assert len(fireworks) == 1 and fireworks[0]["spec"]["_category"] == "dft"

    (tmp_path / corpus_file_name(first + 1, "X")).write_bytes(b"")
    (tmp_path / corpus_file_name(first + 2, "X")).write_bytes(b"")
    again = CliRunner().invoke(app, [*args, *uri])
    assert again.exit_code == 0 and "nothing to submit" in again.output
