"""The ``db``, ``campaign``, ``query`` and ``show`` commands."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from campaign_test_functions import sample_coverage
from fireworks.utilities.fw_serializers import load_object_from_file
from typer.testing import CliRunner

from socscreen.cli import app
from socscreen.model.inference import load_model
from socscreen.stores.queries import save_results
from socscreen.stores.schemas.campaign import (
    ErrorDocument,
    GapsDocument,
    MaterialResultDocument,
    Z2Document,
)

SAMPLE = Path(__file__).parents[2] / "examples" / "gnome_sample"
runner = CliRunner()


@pytest.fixture
def filled(db):
    db.ensure_indexes()
    results = db.store("results")
    results.connect()
    save_results(results, [
        MaterialResultDocument(material_id="ti", campaign="hand", elements=["Bi", "Se"],
                               reduced_formula="Bi2Se3",
                               z2=Z2Document.from_indices([1, 0, 0, 0], "parity"),
                               gaps=GapsDocument(indirect=0.3)),
        MaterialResultDocument(material_id="si", campaign="hand", elements=["Si"],
                               reduced_formula="Si",
                               z2=Z2Document.from_indices([0, 0, 0, 0], "parity"),
                               gaps=GapsDocument(indirect=0.6)),
        MaterialResultDocument(material_id="bad", campaign="hand", elements=["U"],
                               error=ErrorDocument(stage="ingest", reason="element U unknown")),
    ])  # fmt: skip
    results.close()
    return db


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def test_query_formats_and_filters(filled):
    uri = ["--db-uri", f"{filled.uri}/{filled.database}"]
    table = invoke("query", "--campaign", "hand", *uri)
    assert table.exit_code == 0 and "3 result(s)" in table.output
    strong = invoke("query", "--z2", "strong", "--format", "json", *uri)
    assert [d["material_id"] for d in json.loads(strong.output)] == ["ti"]
    gapped = invoke("query", "--gap-min", "0.5", "--format", "csv", *uri)
    rows = list(csv.DictReader(io.StringIO(gapped.output)))
    assert [(r["material_id"], r["z2_class"], r["z2"]) for r in rows] == [
        ("si", "trivial", "(0;000)")
    ]
    bismuth = invoke("query", "-e", "Bi", "--format", "json", *uri)
    assert [d["material_id"] for d in json.loads(bismuth.output)] == ["ti"]
    failed = invoke("query", "--failed", "--flags", "error", "--format", "csv", *uri)
    assert "element U unknown" in failed.output
    assert invoke("query", "--z2", "maybe", *uri).exit_code == 2
    # filters that can only match nothing by mistake are refused, each in one line
    for args, words in (
        (["-e", "Xx"], "-e Xx: not an element symbol"),
        (["-e", "bi"], "-e bi: not an element symbol (symbols are case-sensitive: Bi?)"),
        (["--gap-min", "-0.1"], "a gap is never negative"),
        (["--gap-min", "0.5", "--gap-max", "0.2"], "--gap-min 0.5 eV is above --gap-max 0.2 eV"),
    ):
        refused = invoke("query", *args, *uri)
        assert refused.exit_code == 2 and words in " ".join(refused.output.split())
    unknown = invoke("query", "--campaign", "nosuch", *uri)
    assert unknown.exit_code == 1
    assert "no campaign 'nosuch' in this database (campaigns: hand)" in " ".join(
        unknown.output.split()
    )
    shown = json.loads(invoke("show", "ti", *uri).output)
    assert shown["z2"]["classification"] == "strong" and "structure" not in shown
    missing = invoke("show", "nothing", *uri)
    assert missing.exit_code == 1 and "no result or record" in missing.output


def test_worker_files_and_slurm_adapter(db, tmp_path):
    out = tmp_path / "workers"
    result = invoke("campaign", "worker-files", out, "--category", "gpu", "--slurm",
                    "--queue", "batch", "--db-uri", f"{db.uri}/{db.database}")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((out / "my_fworker.yaml").read_text())["category"] == ["gpu"]
    assert yaml.safe_load((out / "my_launchpad.yaml").read_text())["name"] == db.database
    store_spec = yaml.safe_load((out / "jobflow.yaml").read_text())["JOB_STORE"]
    assert store_spec["additional_stores"]["data"]["type"] == "GridFSStore"
    adapter = load_object_from_file(str(out / "my_qadapter.yaml"))
    script = adapter.get_script_str(str(tmp_path))
    assert "#SBATCH --partition=batch" in script
    assert f"export JOBFLOW_CONFIG_FILE={out / 'jobflow.yaml'}" in script
    assert (
        f"rlaunch -l {out / 'my_launchpad.yaml'} -w {out / 'my_fworker.yaml'} rapidfire" in script
    )
    assert "None" not in script


def socscreen(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOCSCREEN_HOME": str(home),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                       os.environ.get("PYTHONPATH")]))}  # fmt: skip
    env.pop("SOCSCREEN_DB_URI", None)
    result = subprocess.run([sys.executable, "-m", "socscreen", *args], env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_commands_on_the_embedded_server(tmp_path):
    home = tmp_path / "home"
    # without any configuration, submit starts the embedded server and stops it again
    submitted = socscreen(home, "campaign", "submit", str(SAMPLE), "--name", "demo",
                          "--batch-size", "5", "--min-heavy-z", "50", "--predictor", "model",
                          "--analyser", "campaign_test_functions:structure_only")  # fmt: skip
    # Si is filtered out, TePb is a duplicate; elements the shipped model lacks (La at
    # least) are ingestion errors
    uncovered = sample_coverage(SAMPLE, load_model()[0].elements)
    n_submitted = 12 - len(uncovered)
    counts = (f"14 read = {n_submitted} structures + {len(uncovered)} ingestion errors + "
              "1 merged + 1 filtered + 0 skipped")  # fmt: skip
    assert counts in " ".join(submitted.stdout.split())
    assert "element(s) La not covered by the predictor" in submitted.stdout
    assert f"submitted {n_submitted} structures" in submitted.stdout
    assert socscreen(home, "db", "status", check=False).returncode == 1
    assert (home / "db" / "data").is_dir()

    started = socscreen(home, "db", "start")
    assert "database server running at mongodb://127.0.0.1:" in started.stdout
    try:
        assert "running at" in socscreen(home, "db", "status").stdout
        ran = socscreen(home, "campaign", "run", "--workers", "2")
        n_fireworks = 2 + 2 * math.ceil(n_submitted / 5)  # fan-out, (predict, analyse)s, summary
        assert f"COMPLETED {n_fireworks}" in ran.stdout
        status = socscreen(home, "campaign", "status", "demo")
        assert "demo" in status.stdout and "12" in status.stdout
        rows = json.loads(socscreen(home, "query", "--campaign", "demo", "--format", "json").stdout)
        assert len(rows) == 12
        assert sum("test-structure-only" in r["flags"] for r in rows) == n_submitted
        shown = json.loads(socscreen(home, "show", "socx000001", "--structure").stdout)
        assert shown["reduced_formula"] == "Bi2Se3" and shown["structure"]["@class"] == "Structure"
        again = socscreen(home, "campaign", "submit", str(SAMPLE), "--name", "demo",
                          "--min-heavy-z", "50", "--predictor", "model",
                          "--analyser", "campaign_test_functions:structure_only")  # fmt: skip
        assert "nothing to do" in again.stdout
        # results of another model are not done: a retrained model redoes them all
        retrained = socscreen(home, "campaign", "submit", str(SAMPLE), "--name", "demo",
                              "--min-heavy-z", "50", "--model-version", "retrained",
                              "--predictor", "model",
                              "--analyser", "campaign_test_functions:structure_only")  # fmt: skip
        assert f"submitted {n_submitted} structures" in retrained.stdout
    finally:
        socscreen(home, "db", "stop")
    assert socscreen(home, "db", "status", check=False).returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--group", "predict"], "CATEGORY=N"), (["--group", "predict=0"], "CATEGORY=N"),
     (["--group", "predict=1", "--category", "analyse"], "not both")],
    ids=["no-count", "zero", "group-and-category"],
)  # fmt: skip
def test_run_rejects_bad_worker_groups(args, message):
    result = invoke("campaign", "run", *args, "--db-uri", "mongodb://127.0.0.1:1")
    assert result.exit_code == 2 and message in result.output
