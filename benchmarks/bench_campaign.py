"""Benchmark: a screening campaign of N generated structures through FireWorks.

Structures are made from the GNoME-format sample in ``examples/gnome_sample`` by
isovalent substitution (Bi<->Sb, Se<->Te<->S, Sn<->Pb<->Ge, Hg<->Zn, In<->Ga, Pt<->Pd,
Si<->Ge, Cd->Zn/Hg; elements the model lacks are always replaced, bases it cannot cover
are left out) and isotropic strain of 1-3 % either way, with fixed ids, so that strained
copies stay distinct crystals (``StructureMatcher`` scales volumes and would merge them;
the campaign is submitted without merging). They are submitted through
:func:`socscreen.workflows.campaign.submit_campaign` to a launchpad on the embedded
SecantusDB server (or ``--db-uri``) and run by ``--workers`` local ``rlaunch`` processes
(one thread each, every stage). Printed:

* wall time of ingestion + submission and of the workers, structures per minute;
* per stage (ingest, fan-out, predict, analyse, summary/builder): number of jobs, the
  sum of their run times from the launchpad's launches (loading the batch's Hamiltonians
  from GridFS included) and, for predict and analyse, the CPU time of the worker
  processes during the jobs (on a shared machine wall times grow, CPU times do not);
* per structure: mean predict and analysis time (result timings) per prototype;
* peak resident memory of each worker process (``ru_maxrss`` at the end of its jobs);
* error documents per stage and reason.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_campaign.py --n 1000 --workers 2

Develop with ``--n 100``. Measured with ``--n 100`` while another process kept one of the
two cores busy: 184 s wall (33 structures/min), job CPU 21 s predict + 125 s analyse,
176 CPU-s for everything (workers and database server), peak 1.26 GB per worker, no
errors; 1,000 structures extrapolate to about 31 minutes on the shared machine and
about 15 minutes on two free cores.

Measured with ``--n 1000 --workers 2`` (retrained checkpoint, otherwise idle 2-core
machine, embedded SecantusDB): 1278 s wall = 21.3 min (goal 30 min), 46.9
structures/min, 102 Fireworks COMPLETED, 0 errors; job CPU 110 s predict + 1112 s
analyse; peak RSS 1.37 / 1.38 GB per worker. The embedded server held the GridFS
Hamiltonians in memory (about 8 GB peak RSS): use a real MongoDB for bigger campaigns.
Since then predictions are stored compactly (0.2 MB instead of 2.2 MB each) and the
server's cache is 256 MB: see ``bench_server_memory.py`` for its memory now.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from socscreen.model.inference import load_model
from socscreen.stores.config import DatabaseConfig
from socscreen.stores.schemas.campaign import CampaignSettings
from socscreen.workflows.campaign import submit_campaign
from socscreen.workflows.ingestion import ingest, open_source
from socscreen.workflows.workers import run_workers

SAMPLE = Path(__file__).parents[1] / "examples" / "gnome_sample"
#: Isovalent replacements of each element.
SUBSTITUTES = {
    "Bi": ["Sb"], "Sb": ["Bi"], "Se": ["Te", "S"], "Te": ["Se", "S"], "S": ["Se", "Te"],
    "Sn": ["Pb", "Ge"], "Pb": ["Sn"], "Ge": ["Sn", "Si"], "Si": ["Ge"], "Hg": ["Zn"],
    "Cd": ["Zn", "Hg"], "Zn": ["Hg"], "In": ["Ga"], "Ga": ["In"], "Pt": ["Pd"], "Pd": ["Pt"],
}  # fmt: skip
STAGES = ("fanout", "predict", "analyse", "summary")


def bases(elements: set[str]) -> list[tuple[str, Structure]]:
    """Primitive cells of the sample whose elements the model covers after substitution."""
    out = []
    for record in ingest(open_source(SAMPLE)).ok:
        fixable = all(e in elements or set(SUBSTITUTES.get(e, [])) & elements
                      for e in record.elements)  # fmt: skip
        if fixable:
            out.append((record.reduced_formula, record.get_structure()))
    return out


def variant(base: Structure, elements: set[str], rng: np.random.Generator) -> Structure:
    """One substituted and isotropically strained (1-3 %, either sign) copy of ``base``."""
    mapping = {}
    for element in sorted({s.specie.symbol for s in base}):
        options = [e for e in SUBSTITUTES.get(element, []) if e in elements]
        if options and (element not in elements or rng.random() < 0.5):
            mapping[element] = str(rng.choice(options))
    structure = base.copy()
    if mapping:
        structure.replace_species(mapping)
    strain = rng.uniform(0.01, 0.03) * rng.choice([-1.0, 1.0])
    structure.scale_lattice(structure.volume * (1.0 + strain) ** 3)
    return structure


def write_structures(n: int, path: Path, seed: int) -> dict[str, str]:
    """Write ``n`` generated structures as a pymatgen JSON list; return id -> prototype."""
    elements = set(load_model()[0].elements)
    rng = np.random.default_rng(seed)
    sources = bases(elements)
    entries, prototypes = [], {}
    for i in range(n):
        prototype, base = sources[i % len(sources)]
        material_id = f"bench-{i:05d}"
        structure = variant(base, elements, rng)
        entries.append({"material_id": material_id, "structure": structure.as_dict()})
        prototypes[material_id] = prototype
    path.write_text(json.dumps(entries))
    return prototypes


def stage_table(db: DatabaseConfig) -> tuple[dict, dict]:
    """Per stage: jobs, summed launch run times and job CPU times; peak memory per worker."""
    launchpad = db.launchpad()
    stage_of = {fw["fw_id"]: fw["spec"].get("stage") for fw in launchpad.fireworks.find()}
    fw_of_job = {
        fw["spec"]["_tasks"][0]["job"]["uuid"]: fw["fw_id"]
        for fw in launchpad.fireworks.find({}, {"spec._tasks.job.uuid": 1, "fw_id": 1})
    }
    jobs: Counter = Counter()
    seconds: dict[str, float] = defaultdict(float)
    worker_of = {}
    for launch in launchpad.launches.find({"state": "COMPLETED"}):
        stage = stage_of[launch["fw_id"]]
        jobs[stage] += 1
        seconds[stage] += launch.get("runtime_secs") or 0.0
        worker_of[launch["fw_id"]] = Path(launch["launch_dir"]).parent.name
    cpu: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    store = db.job_store().docs_store
    store.connect()
    for doc in store.query({"metadata.stage": {"$in": ["predict", "analyse"]}},
                           ["uuid", "metadata.stage", "output"]):  # fmt: skip
        output = doc["output"]
        cpu[doc["metadata"]["stage"]] += output.get("cpu_seconds") or 0.0
        worker = worker_of.get(fw_of_job.get(doc["uuid"]))
        if worker and output.get("peak_memory_mb"):
            peak[worker] = max(peak[worker], output["peak_memory_mb"])
    store.close()
    return {s: (jobs[s], seconds[s], cpu.get(s)) for s in STAGES}, dict(peak)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="structures (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--batch-size", type=int, default=20, help="structures per batch")
    parser.add_argument("--seed", type=int, default=0, help="structure generator seed")
    parser.add_argument("--db-uri", help="MongoDB URI (default: a fresh embedded server)")
    parser.add_argument("--run-dir", type=Path, help="worker folders (default: a temp dir)")
    args = parser.parse_args()

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-campaign-")))
        if args.db_uri:
            db = DatabaseConfig.from_uri(args.db_uri)
        else:
            from socscreen.stores.server import embedded_server

            server = stack.enter_context(embedded_server(tmp / "db"))
            db = DatabaseConfig(uri=server.uri, database="bench")
        source = tmp / "structures.json"
        prototypes = write_structures(args.n, source, args.seed)
        settings = CampaignSettings(batch_size=args.batch_size)
        t0 = time.perf_counter()
        report = submit_campaign(db, source, "bench", settings, merge_duplicates=False,
                                 supported_elements=load_model()[0].elements)  # fmt: skip
        t_submit = time.perf_counter() - t0
        run = run_workers(db, args.workers, args.run_dir or tmp / "run")
        stages, peak = stage_table(db)
        results = db.store("results")
        results.connect()
        docs = list(results.query({"campaign": "bench"}, ["material_id", "error", "timings"]))
        results.close()

    wall = t_submit + run.seconds
    print(
        f"\ncampaign of {args.n} structures, {args.workers} workers, batches of "
        f"{args.batch_size}: Fireworks {dict(run.states)}, exit codes {run.exit_codes}"
    )
    print(f"{'stage':<22}{'jobs':>6}{'sum of run times (s)':>22}{'job CPU (s)':>13}")
    print(f"{'ingest + submit':<22}{1:>6}{t_submit:>22.1f}")
    for stage in STAGES:
        jobs, seconds, cpu = stages[stage]
        name = "summary/builder" if stage == "summary" else stage
        cpu_text = "" if cpu is None else f"{cpu:13.1f}"
        print(f"{name:<22}{jobs:>6}{seconds:>22.1f}{cpu_text}")
    print(f"{'wall time (s)':<28}{wall:>22.1f}   (workers {run.seconds:.1f})")
    print(f"{'structures / min':<28}{args.n / wall * 60:>22.1f}")
    for worker, mb in sorted(peak.items()):
        print(f"{'peak RSS ' + worker + ' (MB)':<28}{mb:>22.0f}")
    errors = Counter((d["error"]["stage"], d["error"]["reason"][:60]) for d in docs if d["error"])
    print(f"{'errors':<28}{sum(errors.values()):>22d}   (ingestion: {len(report.ingest.errors)})")
    for (stage, reason), count in errors.most_common(8):
        print(f"    {count:>5} {stage}: {reason}")
    by_prototype: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for d in docs:
        timings = d.get("timings") or {}
        if not d["error"] and timings.get("analysis") is not None:
            by_prototype[prototypes[d["material_id"]]].append(
                (timings["predict"], timings["analysis"])
            )
    print(f"\n{'per structure (s)':<22}{'n':>6}{'predict':>10}{'analyse':>10}")
    for prototype, times in sorted(by_prototype.items(), key=lambda kv: -len(kv[1])):
        predict, analyse = (statistics.mean(t[i] for t in times) for i in (0, 1))
        print(f"{prototype:<22}{len(times):>6}{predict:>10.2f}{analyse:>10.2f}")


if __name__ == "__main__":
    main()
