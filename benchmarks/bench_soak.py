"""Benchmark: a soak campaign on the embedded default database, with a worker and the
database killed on the way (issue 19, "Must show").

With no command typed by hand, in a fresh temporary ``SOCSCREEN_HOME``:

1. a source folder of ``--n`` files is written: small distinct crystals (at most 5
   atoms, :func:`socscreen.corpus.training_structures.training_structure` of seeds
   ``--seed`` on, then binary prototype fills, as CIF: :func:`crystals`), 1 % malformed
   files (at least one of each kind: a truncated CIF, a POSCAR with a NaN coordinate, a
   CIF with two atoms 0.1 Angstrom apart, a text file) and two twins (a crystal's CIF
   again under another name);
2. ``socscreen db start``, ``socscreen campaign submit`` and ``socscreen campaign run
   --workers W`` run as subprocesses with one OpenMP/BLAS thread each, with the default
   predictor (``scc``) and the default analysis unless ``--analyser`` names another
   (printed);
3. while the workers run, once ``--kill-worker-at`` of the structures have a result the
   worker process running a job is SIGKILLed (its pid from the launch folder's
   ``worker.pid``); once ``--kill-db-at`` have one, the database server is SIGKILLed
   and, ``--db-down`` s later, started again with ``socscreen db start`` (same port).
   Clients wait up to 30 s (pymongo's server selection) for a server: a shorter outage
   is ridden out inside them, a longer one makes ``campaign run`` stop its workers and
   start the server itself (``db start`` then finds it running);
4. at the end the stores are read back: every input file must be accounted for exactly
   once (a record with its result, an ingestion error with its reason, a merge naming
   the file, or a skipped entry with its reason), each malformed file as an error or
   skip, each twin as a merge; one result per material id (no duplicate), a result for
   every record (none lost), every Firework COMPLETED. The server's resident memory
   (sampled every second, over its restart) and the data folder on disk are measured,
   and wall time and disk (above the empty database) are extrapolated linearly to 10,000
   files, memory along its trend (MB per stored structure, fitted on the longest-lived
   server process).

Prints ``socscreen campaign status`` and a markdown table; exits with 1 if any
accounting check fails (2 if the run hung past ``--max-wall``).

Run::

    python benchmarks/bench_soak.py --n 2000            # the issue's soak
    python benchmarks/bench_soak.py --n 120 --batch-size 10

Measured with ``--n 120 --batch-size 10`` on this 2-core machine while other work kept
it loaded (load average 4-7), default predictor and analysis: 112 crystals to predict
(+ 3 ingestion errors, 2 twins and 2 StructureMatcher merges, 1 skipped text file);
worker SIGKILLed at 29/112 results (its Firework rerun), database SIGKILLed at 62/112
and back on the same port 10 s later (ridden out inside the clients); every check
passed: 120/120 files accounted for once, 0 duplicated, 0 lost, 26 Fireworks COMPLETED,
112 Hamiltonians in GridFS. 16.7 min wall (23 h for 10,000 at this load, linear);
server peak RSS 102 MB (trend +114 MB per 1,000 stored: about 1.1 GB at 10,000);
34 MB on disk, 0.2 MB per file above the empty database (2 GB at 10,000).

With ``--n 2000 --analyser bench_server_memory:structure_only`` (the issue's soak; the
per-structure analysis left out, so it measures prediction, storage and the faults, not
Z2) on the idle machine: 1966 crystals to predict (+ 15 ingestion errors, 14 merges with
the 2 twins among them, 5 skipped entries); worker SIGKILLed at 506 results, database
SIGKILLed at 1086 and back on the same port 6 s later (the runner stopped its workers,
reran Fireworks [114, 116] and resumed); every check passed: 2000/2000 files accounted
for once, 20/20 malformed files with their reason, 0 duplicated, 0 lost, every Firework
COMPLETED, 1981 results (1 failed in GPAW with its reason: an NF cell GPAW's grid cannot
interpolate). 35.2 min wall (2.9 h for 10,000, linear); server peak RSS 609 MB (trend
+102 MB per 1,000 stored: about 1.1 GB at 10,000); 299 MB on disk, 0.144 MB per file
(1.45 GB at 10,000).

With ``--n 60 --db-down 45`` (an outage longer than pymongo's 30 s): ``campaign run``
noticed it, stopped its workers, and reran Fireworks [9, 12] once ``db start`` had
brought the server back on its port; every check passed (60/60 files, 54 results of
54 crystals, 0 duplicated, 0 lost), 6.7 min, peak RSS 74 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import psutil
from pymatgen.core import Element, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from socscreen.corpus.training_structures import prototype_structure, training_structure

HERE = Path(__file__).resolve().parent
CAMPAIGN = "soak"
#: Largest cell of a generated crystal (sites): fast to predict and analyse.
MAX_ATOMS = 5
#: Malformed file kinds, one in every len(BAD_KINDS) malformed files.
BAD_KINDS = ("truncated-cif", "nan-poscar", "overlap-cif", "text")
#: Training-structure seeds looked at for distinct crystals before binary fills.
SEEDS_TRIED = 4000
#: Prototypes of the binary fills beyond the training structures.
BINARY_PROTOTYPES = ("rocksalt", "zincblende", "cesiumchloride")
#: Twin files: crystals written a second time under another name.
N_TWINS = 2
#: Files the 10,000-structure extrapolation is for.
TARGET = 10_000
#: Goal for the server's peak resident memory (MB).
RSS_GOAL_MB = 2048.0


# -- the source folder ------------------------------------------------------------------
def malformed_file(kind: str, crystal: Structure, folder: Path, index: int) -> str:
    """Write one malformed file of ``kind`` made from ``crystal``; return its name."""
    if kind == "truncated-cif":
        name, text = f"bad_{index:04d}_truncated.cif", str(CifWriter(crystal))
        text = text[: len(text) * 2 // 5]  # cut inside the header: no atom sites
    elif kind == "nan-poscar":
        name = f"bad_{index:04d}_nan.vasp"
        lines = Poscar(crystal).get_str().splitlines()
        lines[8] = "nan " + " ".join(lines[8].split()[1:])  # first coordinate of site 0
        text = "\n".join(lines) + "\n"
    elif kind == "overlap-cif":
        name = f"bad_{index:04d}_overlap.cif"
        crowded = crystal.copy()
        crowded.append(crowded[0].species, crowded[0].coords + [0.1, 0.0, 0.0],
                       coords_are_cartesian=True)  # fmt: skip
        text = str(CifWriter(crowded))
    else:
        name, text = f"notes_{index:04d}.txt", "measured by hand, not a structure\n"
    (folder / name).write_text(text)
    return name


def crystals(n: int, seed: int) -> list[Structure]:
    """Return ``n`` distinct crystals of at most :data:`MAX_ATOMS` sites.

    First the training structures of seeds ``seed`` on, one per prototype and formula
    (the generator repeats a compound under another strain, which a campaign merges as
    the same crystal); it knows about 600 of them, so the rest are binary rocksalt,
    zincblende and CsCl cells of two elements the scc predictor covers (Z >= 3, no noble
    gas) at covalent-radius distances, in an order shuffled by ``seed``.
    """
    from socscreen.model.predictors import gpaw_elements

    out: list[Structure] = []
    seen: set[tuple[str, str]] = set()
    for s in range(seed, seed + SEEDS_TRIED):
        crystal = training_structure(s)
        key = (crystal.properties.get("prototype", ""), crystal.composition.reduced_formula)
        if len(crystal) <= MAX_ATOMS and key not in seen:
            seen.add(key)
            out.append(crystal)
            if len(out) == n:
                return out
    elements = sorted(
        e for e in gpaw_elements() if Element(e).Z >= 3 and not Element(e).is_noble_gas
    )
    binaries = [(p, a, b) for p in BINARY_PROTOTYPES for a, b in combinations(elements, 2)]
    for i in np.random.default_rng(seed).permutation(len(binaries)):
        name, a, b = binaries[i]
        crystal = prototype_structure(name, [a, b])
        key = (name, crystal.composition.reduced_formula)
        if key not in seen:
            seen.add(key)
            out.append(crystal)
            if len(out) == n:
                return out
    raise ValueError(f"only {len(out)} distinct crystals to be had, {n} asked for")


def write_source(n: int, folder: Path, seed: int) -> dict[str, str]:
    """Write ``n`` files into ``folder``; return file name -> kind.

    Kinds: ``crystal``, ``twin:<name of the crystal's file>`` and the :data:`BAD_KINDS`.
    The malformed files are 1 % of ``n`` (at least one of each kind), the twins
    :data:`N_TWINS`; the rest are distinct crystals (:func:`crystals`) as CIF.
    """
    folder.mkdir(parents=True)
    n_bad = max(len(BAD_KINDS), round(0.01 * n))
    n_good = n - n_bad - N_TWINS
    if n_good < N_TWINS:
        raise ValueError(f"--n {n} leaves no room for crystals beside the malformed files")
    kinds: dict[str, str] = {}
    good = crystals(n_good, seed)
    for i, crystal in enumerate(good):
        name = f"c{i:05d}_{crystal.composition.reduced_formula}.cif"
        CifWriter(crystal).write_file(folder / name)
        kinds[name] = "crystal"
    names = list(kinds)
    for i in range(N_TWINS):  # the crystal of file i again, named to sort before it
        original = names[i * (n_good // N_TWINS)]
        twin = f"b_twin_{i}_{original}"
        (folder / twin).write_bytes((folder / original).read_bytes())
        kinds[twin] = f"twin:{original}"
    for i in range(n_bad):
        kind = BAD_KINDS[i % len(BAD_KINDS)]
        kinds[malformed_file(kind, good[i], folder, i)] = kind
    return kinds


# -- watching the server ----------------------------------------------------------------
@dataclass
class Sample:
    """One look at the server: time since the start (s), its pid, RSS (MB), results stored."""

    t: float
    pid: int
    rss_mb: float
    results: int


class ServerSampler(threading.Thread):
    """Sample the embedded server's resident memory every ``interval`` s, over restarts.

    The server's pid is read from ``server.json`` of ``storage`` each time the last one
    is gone; ``progress`` (results stored so far) is recorded beside each sample.
    """

    def __init__(self, storage: Path, t0: float, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.storage, self.t0, self.interval = storage, t0, interval
        self.samples: list[Sample] = []
        self.progress = 0
        self.stop = threading.Event()
        self.process: psutil.Process | None = None

    def server_pid(self) -> int | None:
        """The pid the server state file names (``None``: no server recorded)."""
        try:
            return int(json.loads((self.storage / "server.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if self.process is None or not self.process.is_running():
                    pid = self.server_pid()
                    self.process = psutil.Process(pid) if pid else None
                if self.process is not None:
                    rss = self.process.memory_info().rss / 2**20
                    t = time.monotonic() - self.t0
                    self.samples.append(Sample(t, self.process.pid, rss, self.progress))
            except psutil.Error:
                self.process = None
            time.sleep(self.interval)

    def peak_mb(self) -> float:
        """Largest RSS sampled (MB)."""
        return max((s.rss_mb for s in self.samples), default=0.0)

    def trend_mb_per_structure(self) -> tuple[float, float]:
        """RSS growth per stored result (MB) and intercept (MB), fitted on one server.

        The fit uses the samples of the server process with the most of them, taken once
        results arrive (a restart frees memory, so processes are not mixed; ingestion's
        writes come before); ``(0, peak)`` if its results never changed.
        """
        by_pid: dict[int, list[Sample]] = {}
        for sample in self.samples:
            by_pid.setdefault(sample.pid, []).append(sample)
        longest = max(by_pid.values(), key=len, default=[])
        longest = [s for s in longest if s.results > 0]  # the workers' writes, not ingestion
        x = np.array([s.results for s in longest], float)
        if len(longest) < 3 or np.ptp(x) == 0:
            return 0.0, self.peak_mb()
        slope, intercept = np.polyfit(x, [s.rss_mb for s in longest], 1)
        return float(slope), float(intercept)


def folder_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- the soak ---------------------------------------------------------------------------
@dataclass
class Soak:
    """What happened during the run (times in s since the submission started)."""

    events: list[str] = field(default_factory=list)
    worker_killed: float | None = None
    db_killed: float | None = None
    db_back: float | None = None
    same_port: bool | None = None


def socscreen(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``socscreen ARGS`` with this Python and ``env``; output captured as text."""
    command = [sys.executable, "-m", "socscreen", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, **kwargs)


def running_worker_pid(db) -> int | None:
    """Pid of a live local worker running a job (from its launch folder's pid file)."""
    for launch in db.launches.find({"state": "RUNNING"}, {"launch_dir": 1}):
        pid_file = Path(launch.get("launch_dir") or "/").parent / "worker.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if psutil.pid_exists(pid):
            return pid
    return None


def soak_run(args, env: dict[str, str], home: Path, uri: str, n_records: int, t0: float,
             sampler: ServerSampler) -> tuple[int, Soak, bool]:  # fmt: skip
    """Run ``campaign run`` and inject the faults; return its exit code, events, hung."""
    soak = Soak()
    log = open(home / "campaign_run.log", "w")  # noqa: SIM115 (closed below)
    command = [sys.executable, "-m", "socscreen", "campaign", "run", "--workers",
               str(args.workers), "--run-dir", str(home / "run")]  # fmt: skip
    runner = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=1000)
    db = client["socscreen"]
    storage = home / "db"

    def note(line: str) -> None:
        soak.events.append(f"{time.monotonic() - t0:7.0f} s  {line}")
        print(soak.events[-1], flush=True)

    hung = False
    while runner.poll() is None:
        if time.monotonic() - t0 > args.max_wall:
            note(f"no end after {args.max_wall:.0f} s: hung, SIGTERM to the runner")
            runner.send_signal(signal.SIGTERM)
            runner.wait(timeout=120)
            hung = True
            break
        try:
            done = db.results.count_documents(
                {"campaign": CAMPAIGN, "error.stage": {"$ne": "ingest"}}
            )
            sampler.progress = done
            if soak.worker_killed is None and done >= args.kill_worker_at * n_records:
                pid = running_worker_pid(db)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    soak.worker_killed = time.monotonic() - t0
                    note(f"SIGKILL worker pid {pid} at {done}/{n_records} results")
            elif (soak.worker_killed is not None and soak.db_killed is None
                  and done >= args.kill_db_at * n_records):  # fmt: skip
                old_port = json.loads((storage / "server.json").read_text())["port"]
                pid = sampler.server_pid()
                os.kill(pid, signal.SIGKILL)
                soak.db_killed = time.monotonic() - t0
                note(f"SIGKILL database server pid {pid} (port {old_port}) at "
                     f"{done}/{n_records} results")  # fmt: skip
                time.sleep(args.db_down)
                started = socscreen(env, "db", "start", timeout=300)
                new_port = json.loads((storage / "server.json").read_text())["port"]
                soak.db_back = time.monotonic() - t0
                soak.same_port = new_port == old_port
                note(f"`socscreen db start` rc {started.returncode}: "
                     f"{started.stdout.strip() or started.stderr.strip()}")  # fmt: skip
        except (PyMongoError, OSError) as error:  # the database is down: look again later
            if soak.db_killed is None:
                note(f"progress not readable: {type(error).__name__}")
        time.sleep(2.0)
    client.close()
    log.close()
    note(f"`socscreen campaign run` ended with rc {runner.returncode}")
    for line in (home / "campaign_run.log").read_text().splitlines():  # what it recovered
        if any(word in line for word in ("died", "rerun", "unreachable", "fizzled")):
            soak.events.append(f"{'':9}  runner: {line.strip()}")
    return runner.returncode, soak, hung


# -- accounting -------------------------------------------------------------------------
@dataclass
class Accounting:
    """The checks of the stores after the run, and what they hold.

    ``lines``: (check, figure, passed); ``n_results`` results, ``n_failed`` of them
    failed in predict or analysis, ``n_records_ok`` ingested crystals, ``n_blobs``
    Hamiltonians in GridFS (one per predicted crystal unless a rerun stored one twice).
    """

    lines: list[tuple[str, str, bool]] = field(default_factory=list)
    n_results: int = 0
    n_failed: int = 0
    n_records_ok: int = 0
    n_blobs: int = 0

    def check(self, name: str, value: str, ok: bool) -> None:
        """Record one check: what it measures, the figure, whether it passed."""
        self.lines.append((name, value, ok))

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(ok for _, _, ok in self.lines)


def account(uri: str, kinds: dict[str, str]) -> Accounting:
    """Read the stores back and check that every input file is accounted for once."""
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=30000)
    db = client["socscreen"]
    acc = Accounting()
    records = list(db.structures.find({"campaign": CAMPAIGN}, {"structure": 0}))
    campaign = db.campaigns.find_one({"campaign": CAMPAIGN}) or {}
    results = list(db.results.find({"campaign": CAMPAIGN}, {"material_id": 1, "error": 1}))
    states = Counter(d["state"] for d in db.fireworks.find({}, {"state": 1}))
    acc.n_blobs = db.outputs_blobs.files.count_documents({})
    client.close()

    how: dict[str, list[str]] = {name: [] for name in kinds}
    stray: list[str] = []
    record_of: dict[str, dict] = {}
    for record in records:
        entry = record["source"]["entry"]
        record_of[entry] = record
        error = record.get("error")
        how.setdefault(entry, stray).append(f"ingest error: {error['reason']}" if error
                                            else f"record {record['material_id']}")  # fmt: skip
        for merged in record.get("merged", []):
            how.setdefault(merged["source"]["entry"], stray).append(
                f"merged into {record['material_id']} ({merged['reason']})"
            )
    for source in campaign.get("sources", []):
        for skipped in source.get("skipped", []):
            how.setdefault(skipped["entry"], stray).append(f"skipped: {skipped['reason']}")
    counts = Counter(len(v) for k, v in how.items() if k in kinds)
    missing = [k for k in kinds if not how[k]]
    twice = [k for k in kinds if len(how[k]) > 1]
    acc.check("input files accounted for exactly once",
              f"{counts[1]}/{len(kinds)} (missing {len(missing)}, more than once {len(twice)}, "
              f"unknown {len(stray)})", not missing and not twice and not stray)  # fmt: skip
    bad = [k for k, kind in kinds.items() if kind in BAD_KINDS]
    bad_ok = [k for k in bad if how[k] and how[k][0].startswith(("ingest error", "skipped"))]
    acc.check("malformed files as ingest error or skip, with reason",
              f"{len(bad_ok)}/{len(bad)}", len(bad_ok) == len(bad))  # fmt: skip
    twins = [k for k, kind in kinds.items() if kind.startswith("twin:")]
    twins_ok = []
    for twin in twins:  # one of the pair is the record, the other merged into it
        pair = (twin, kinds[twin].removeprefix("twin:"))
        kept = [record_of[p] for p in pair if p in record_of]
        merged = [m["source"]["entry"] for r in kept for m in r.get("merged", [])]
        if len(kept) == 1 and set(pair) - {kept[0]["source"]["entry"]} <= set(merged):
            twins_ok.append(twin)
    acc.check("twin files merged, naming the file", f"{len(twins_ok)}/{len(twins)}",
              len(twins_ok) == len(twins))  # fmt: skip

    per_id = Counter(d["material_id"] for d in results)
    record_ids = {r["material_id"] for r in records}
    duplicated = [i for i, c in per_id.items() if c > 1]
    lost = sorted(record_ids - set(per_id))
    orphans = sorted(set(per_id) - record_ids)
    acc.check("duplicated results (material ids with > 1 result)", str(len(duplicated)),
              not duplicated)  # fmt: skip
    acc.check("lost results (records without a result)", str(len(lost)), not lost)
    acc.check("results without a record", str(len(orphans)), not orphans)
    left = {k: v for k, v in states.items() if k != "COMPLETED"}
    acc.check("Fireworks not COMPLETED", ", ".join(f"{k} {v}" for k, v in left.items()) or "0",
              not left)  # fmt: skip
    acc.n_results = len(results)
    acc.n_records_ok = sum(r.get("error") is None for r in records)
    acc.n_failed = sum(
        (d.get("error") or {}).get("stage") in ("predict", "analysis") for d in results
    )
    return acc


# -- main -------------------------------------------------------------------------------
def main() -> None:
    """Build the source, run the soak, check the stores, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="input files (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--batch-size", type=int, default=20, help="structures per batch job")
    parser.add_argument("--seed", type=int, default=0, help="first training-structure seed")
    parser.add_argument(
        "--analyser",
        default=None,
        help="per-structure analysis 'module:function' for `campaign submit "
        "--analyser` (default: the CLI's, the full analysis); modules "
        "in benchmarks/ import, e.g. bench_server_memory:structure_only",
    )
    parser.add_argument(
        "--kill-worker-at",
        type=float,
        default=0.25,
        help="SIGKILL a worker once this fraction has a result",
    )
    parser.add_argument(
        "--kill-db-at",
        type=float,
        default=0.55,
        help="SIGKILL the database server once this fraction has a result",
    )
    parser.add_argument(
        "--db-down",
        type=float,
        default=5.0,
        help="seconds between the server's kill and `db start`",
    )
    parser.add_argument(
        "--max-wall",
        type=float,
        default=8 * 3600.0,
        help="seconds after which the run counts as hung (default 8 h)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the home folder (database, logs) here instead of a temp dir",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp_name:
        tmp = args.keep or Path(tmp_name)
        home, source = tmp / "home", tmp / "structures"
        home.mkdir(parents=True)
        kinds = write_source(args.n, source, args.seed)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("SOCSCREEN_DB_URI", "SOCSCREEN_LAUNCHPAD_FILE")
        }
        env.update(
            COLUMNS="200",  # rich's tables and lines unwrapped
            SOCSCREEN_HOME=str(home),
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        )
        started = socscreen(env, "db", "start")
        if started.returncode:
            sys.exit(f"`socscreen db start` failed: {started.stderr}")
        state = json.loads((home / "db" / "server.json").read_text())
        uri = f"mongodb://{state['host']}:{state['port']}"
        disk_empty = folder_bytes(home / "db" / "data")
        t0 = time.monotonic()
        sampler = ServerSampler(home / "db", t0)
        sampler.start()
        analyser = ["--analyser", args.analyser] if args.analyser else []
        submitted = socscreen(env, "campaign", "submit", str(source), "--name", CAMPAIGN,
                              "--batch-size", str(args.batch_size), *analyser)  # fmt: skip
        t_submit = time.monotonic() - t0
        print(submitted.stdout.splitlines()[0] if submitted.stdout else submitted.stderr)
        if submitted.returncode:
            sys.exit(f"`socscreen campaign submit` failed (rc {submitted.returncode}):\n"
                     f"{submitted.stdout}{submitted.stderr}")  # fmt: skip
        with MongoClient(uri) as client:
            n_records = client["socscreen"].structures.count_documents(
                {"campaign": CAMPAIGN, "error": None}
            )
        rc, soak, hung = soak_run(args, env, home, uri, n_records, t0, sampler)
        wall = time.monotonic() - t0
        status = socscreen(env, "campaign", "status", CAMPAIGN)
        acc = account(uri, kinds)
        sampler.stop.set()
        sampler.join()
        disk = folder_bytes(home / "db" / "data")
        socscreen(env, "db", "stop")
        if args.keep is None:
            print(f"(run folder {tmp} removed; --keep DIR keeps it)")

    print("\n`socscreen campaign status soak`:\n" + status.stdout + status.stderr)
    slope, intercept = sampler.trend_mb_per_structure()
    peak = sampler.peak_mb()
    rss_target = max(peak, intercept + slope * TARGET * n_records / args.n)
    scale = TARGET / args.n
    analysis = args.analyser or "default (socscreen.makers.analyse:analyse_structure)"
    faults = [
        ("worker SIGKILLed", f"at {soak.worker_killed:.0f} s" if soak.worker_killed else "no",
         soak.worker_killed is not None),
        ("database SIGKILLed, `db start` again",
         f"at {soak.db_killed:.0f} s, back at {soak.db_back:.0f} s, same port: "
         f"{'yes' if soak.same_port else 'no'}" if soak.db_killed else "no",
         bool(soak.db_killed and soak.same_port)),
        ("`campaign run` exit code", f"{rc}{' (hung)' if hung else ''}", rc == 0 and not hung),
    ]  # fmt: skip
    print(f"\nsoak of {args.n} files ({n_records} crystals to predict), {args.workers} workers, "
          f"batches of {args.batch_size}, predictor scc, analysis {analysis}\n")  # fmt: skip
    print("| check / measure | value | at 10,000 | pass |")
    print("|---|---|---|---|")
    for name, value, ok in faults + acc.lines:
        print(f"| {name} | {value} | | {'yes' if ok else '**NO**'} |")
    print(f"| results (of which failed in predict/analysis) | {acc.n_results} "
          f"({acc.n_failed}) | | |")  # fmt: skip
    print(f"| Hamiltonians in GridFS (for {acc.n_records_ok} crystals) | {acc.n_blobs} | | |")
    print(f"| wall time (submit {t_submit:.0f} s + run) | {wall / 60:.1f} min | "
          f"{wall * scale / 3600:.1f} h (linear) | |")  # fmt: skip
    print(f"| server peak RSS (goal <= {RSS_GOAL_MB / 1024:.0f} GB) | {peak:.0f} MB | "
          f"{rss_target:.0f} MB ({slope * 1000:+.0f} MB per 1,000 stored) | "
          f"{'yes' if peak <= RSS_GOAL_MB else '**NO**'} |")  # fmt: skip
    per_file = (disk - disk_empty) / args.n
    print(f"| database on disk (empty: {disk_empty / 1e6:.1f} MB) | {disk / 1e6:.1f} MB "
          f"({per_file / 1e6:.3f} MB per file above empty) | "
          f"{(disk_empty + per_file * TARGET) / 1e9:.2f} GB (linear) | |")  # fmt: skip
    print("\nevents:\n" + "\n".join(soak.events))
    if hung:
        sys.exit(2)
    if not (acc.ok and all(ok for _, _, ok in faults)):
        sys.exit(1)


if __name__ == "__main__":
    main()
