"""Generate the DFT training corpus: one GPAW reference calculation per training seed.

:func:`compute_corpus_entry` is the per-structure work (a plain function that a FireWorks
campaign can call per seed): build the seed's structure, skip it if its file exists or
it is over the size caps (:func:`estimated_cost`), else run
:func:`~socscreen.dft.reference.compute_gpaw_reference` and write
``train_<seed>_<formula>.npz`` atomically. :func:`generate_corpus` runs many seeds
locally, each in a CPU-time-limited child process, skipping seeds that failed before,
logging failures as JSON lines without stopping, and stopping at a size budget.
:func:`training_data_flow` is the same work as a FireWorks campaign (``socscreen
dft-corpus submit``, run by ``socscreen campaign run --workers N``): batches of seeds per
job, each seed in the same CPU-limited child process, files written to a shared folder.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import resource
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Literal

import numpy as np
from jobflow import Flow, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from socscreen.corpus.storage import write_compact
from socscreen.corpus.training_structures import training_structure
from socscreen.dft.calculator import GPAWReferenceSettings
from socscreen.dft.reference import (
    OverlapNotPositiveDefiniteError,
    compute_gpaw_reference,
    hill_formula,
)
from socscreen.hamiltonian import Hamiltonian

__all__ = [
    "CorpusEntry",
    "FAILURES_FILE",
    "compact_corpus",
    "compute_corpus_entry",
    "corpus_file_name",
    "estimated_cost",
    "corpus_batch",
    "generate_corpus",
    "pending_seeds",
    "training_data_flow",
]

#: Default cap on a corpus cell's atoms. The estimated-cost cap is what bounds the time;
#: this one admits the 6-atom heterobilayers of the 2D sheets and 8-atom bulk cells.
MAX_ATOMS = 8

#: Name of the JSON-lines failure log inside the corpus folder.
FAILURES_FILE = "failures.jsonl"

Status = Literal["written", "exists", "skipped", "failed"]


class CorpusEntry(BaseModel):
    """Outcome of one training seed (also the output document of a corpus job)."""

    seed: int = Field(description="Training-structure seed.")
    formula: str = Field(description="Hill formula of the cell (the file-name formula).")
    prototype: str = Field(description="Prototype of the structure, e.g. 'rocksalt'.")
    status: Status = Field(
        description="'written', 'exists' (file already there), 'skipped' (over the size "
        "caps) or 'failed'."
    )
    path: str | None = Field(None, description="The corpus file (if written or existing).")
    seconds: float = Field(0.0, description="Wall time of the reference calculation (s).")
    error: str | None = Field(
        None, description="'ExceptionType: message' of a failure, or the reason for a skip."
    )


def corpus_file_name(seed: int, formula: str) -> str:
    """File name of a training entry, ``train_<seed:05d>_<formula>.npz``."""
    return f"train_{seed:05d}_{formula}.npz"


def _lens_volume(r1: np.ndarray, r2: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Volume shared by spheres of radii r1, r2 at distance d (Angstrom^3), vectorised."""
    small = np.minimum(r1, r2)
    partial = (
        np.pi
        * np.clip(r1 + r2 - d, 0, None) ** 2
        * (d**2 + 2 * d * (r1 + r2) - 3 * (r1 - r2) ** 2)
        / (12 * np.maximum(d, 1e-12))
    )
    inside = d <= np.abs(r1 - r2)
    return np.where(d >= r1 + r2, 0.0, np.where(inside, 4 / 3 * np.pi * small**3, partial))


def estimated_cost(structure: Structure, basis: str) -> float:
    """Relative cost of a GPAW LCAO run, without running GPAW.

    GPAW integrates the potential matrix in real space over every overlapping pair of
    orbitals, periodic images included; the cost is the sum over atom pairs (i, j, R)
    of ``n_i n_j V_ij`` with ``V_ij`` the volume the two basis cutoff spheres share,
    in units of 10^6 Angstrom^3. Si (diamond) is 1.7 (5 CPU seconds), Bi2Se3 2.6,
    ScPtBi 42 (2 CPU minutes); small cells of diffuse atoms (Sr, Cs, Pd, ...) reach 50
    and more, and metals among them may need many more SCF iterations.
    """
    from socscreen.dft.basis_functions import load_basis

    bases = [load_basis(site.specie.symbol, basis) for site in structure]
    n = np.array([sum(2 * ell + 1 for ell in b.shells) for b in bases], dtype=float)
    r = np.array([b.cutoff for b in bases])
    cell, spos = structure.lattice.matrix, structure.frac_coords % 1.0
    bound = np.ceil(2 * r.max() * np.linalg.norm(np.linalg.inv(cell).T, axis=1)).astype(int) + 1
    R = np.array(list(itertools.product(*[range(-b, b + 1) for b in bound])))  # [n_R, 3]
    d = np.linalg.norm((spos[None, None] - spos[None, :, None] + R[:, None, None]) @ cell, axis=-1)
    volume = _lens_volume(r[:, None], r[None, :], d)  # [n_R, i, j]
    return float((n[:, None] * n[None, :] * volume).sum() / 1e6)


def compute_corpus_entry(
    seed: int,
    out_dir: str | Path,
    settings: GPAWReferenceSettings | None = None,
    max_atoms: int = MAX_ATOMS,
    max_cost: float = 45.0,
    progress: Callable[[str], None] | None = None,
) -> CorpusEntry:
    """Compute and write the corpus file of one training seed (skipping existing files).

    Parameters
    ----------
    seed
        Seed of :func:`~socscreen.corpus.training_structures.training_structure`.
    out_dir
        Corpus folder; the file is ``out_dir / train_<seed>_<formula>.npz``.
    settings
        Reference settings (corpus defaults if ``None``); their ``seed`` is set to ``seed``.
    max_atoms, max_cost
        Caps on the cell size and on :func:`estimated_cost` (45 is about 2-3 CPU
        minutes); larger cells are skipped (status ``skipped``).
    progress
        Receives the stage names of the reference calculation.

    Returns
    -------
    CorpusEntry
        What happened; exceptions of the calculation are caught and reported as
        ``failed``.
    """
    structure = training_structure(seed)
    formula = hill_formula(structure)
    prototype = structure.properties["prototype"]
    path = Path(out_dir) / corpus_file_name(seed, formula)
    if path.exists():
        return CorpusEntry(
            seed=seed, formula=formula, prototype=prototype, status="exists", path=str(path)
        )
    settings = (settings or GPAWReferenceSettings()).model_copy(update={"seed": seed})
    cost = estimated_cost(structure, settings.basis)
    if len(structure) > max_atoms or cost > max_cost:
        reason = f"{len(structure)} atoms, estimated cost {cost:.1f}"
        return CorpusEntry(
            seed=seed,
            formula=formula,
            prototype=prototype,
            status="skipped",
            error=f"over the caps: {reason}",
        )
    start = time.perf_counter()
    try:
        ham = compute_gpaw_reference(structure, settings, progress=progress)
        _write_checked(ham, path, settings)
    except Exception as error:  # noqa: BLE001 - every failure is logged, none is fatal
        return CorpusEntry(
            seed=seed,
            formula=formula,
            prototype=prototype,
            status="failed",
            seconds=round(time.perf_counter() - start, 1),
            error=f"{type(error).__name__}: {error}",
        )
    return CorpusEntry(
        seed=seed,
        formula=formula,
        prototype=prototype,
        status="written",
        path=str(path),
        seconds=round(time.perf_counter() - start, 1),
    )


def _write_checked(ham: Hamiltonian, path: Path, settings: GPAWReferenceSettings) -> None:
    """Write a corpus file (:func:`write_compact`); keep it only if its S(k) is positive definite.

    A file whose stored S(k) is indefinite would break every consumer, so it is removed
    and the seed reported as failed.
    """
    try:
        write_compact(ham, path, settings.n_overlap_checks, settings.seed)
    except OverlapNotPositiveDefiniteError as error:
        path.unlink(missing_ok=True)
        raise OverlapNotPositiveDefiniteError(f"stored file: {error}") from error


def _failed_seeds(log: Path) -> set[int]:
    """Seeds whose last line in the failure log says ``failed``."""
    if not log.exists():
        return set()
    last: dict[int, str] = {}
    with log.open() as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                last[record["seed"]] = record["status"]
    return {seed for seed, status in last.items() if status == "failed"}


def _log_outcome(log: Path, entry: CorpusEntry) -> None:
    """Append a failed entry, or a written one that retries a failed seed, to the log.

    The log is append-only (parallel FireWorks workers share it): a retried seed that
    now succeeds gets a ``written`` line after its ``failed`` one.
    """
    retried = entry.status == "written" and entry.seed in _failed_seeds(log)
    if entry.status != "failed" and not retried:
        return
    record = {**entry.model_dump(), "time": datetime.now(UTC).isoformat(timespec="seconds")}
    with log.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def _entry_in_child(
    conn: Connection,
    cpu_seconds: int | None,
    seed: int,
    out_dir: Path,
    settings: GPAWReferenceSettings | None,
    caps: dict[str, float],
) -> None:
    """Child-process body: CPU-limited :func:`compute_corpus_entry`, result sent back."""
    if cpu_seconds is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 10))
    conn.send(compute_corpus_entry(seed, out_dir, settings, **caps))
    conn.close()


def _start_child(
    seed: int,
    out_dir: Path,
    settings: GPAWReferenceSettings | None,
    cpu_seconds: int | None,
    caps: dict[str, float],
) -> tuple[Connection, BaseProcess]:
    """Fork a CPU-limited child computing one seed; its entry arrives on the connection."""
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(
        target=_entry_in_child,
        args=(sender, cpu_seconds, seed, out_dir, settings, caps),
        daemon=True,
    )
    process.start()
    sender.close()
    return receiver, process


def _collect(
    receiver: Connection,
    process: BaseProcess,
    seed: int,
    cpu_seconds: int | None,
    started: float,
) -> CorpusEntry:
    """Receive the child's entry, or make a ``failed`` one saying how it died."""
    try:
        entry = receiver.recv()
    except EOFError:
        process.join()
        entry = _died(seed, process.exitcode, cpu_seconds, time.perf_counter() - started)
    process.join()
    receiver.close()
    return entry


def _died(seed: int, exitcode: int | None, cpu_seconds: int | None, seconds: float) -> CorpusEntry:
    """Entry of a child process that ended without a result (CPU limit, crash, kill)."""
    structure = training_structure(seed)
    if exitcode == -signal.SIGXCPU:
        reason = f"CPUTimeLimit: over the limit of {cpu_seconds} CPU seconds"
    elif exitcode is not None and exitcode < 0:
        reason = f"Killed: process ended by signal {signal.Signals(-exitcode).name}"
    else:
        reason = f"Crashed: process exited with code {exitcode} and no result"
    return CorpusEntry(
        seed=seed,
        formula=hill_formula(structure),
        prototype=structure.properties["prototype"],
        status="failed",
        seconds=round(seconds, 1),
        error=reason,
    )


def generate_corpus(
    n: int,
    seed: int,
    out_dir: str | Path,
    settings: GPAWReferenceSettings | None = None,
    workers: int = 1,
    retry_failed: bool = False,
    max_total_mb: float | None = None,
    cpu_seconds: int | None = 600,
    on_entry: Callable[[CorpusEntry], None] | None = None,
    **caps: float,
) -> list[CorpusEntry]:
    """Run :func:`compute_corpus_entry` for seeds ``seed .. seed + n - 1``.

    Every seed runs in its own child process (``workers`` at a time) under a CPU-time
    limit, so that one pathological structure (slow SCF, crash) costs at most
    ``cpu_seconds`` and is logged as failed.

    Parameters
    ----------
    n, seed
        Number of seeds and the first one.
    out_dir
        Corpus folder (created); failures go to ``out_dir / failures.jsonl``.
    settings
        Reference settings (corpus defaults if ``None``).
    workers
        Parallel processes (each GPAW run single-threaded: set ``OMP_NUM_THREADS=1``).
    retry_failed
        Also run seeds that the failure log lists (skipped by default).
    max_total_mb
        Stop starting new seeds once the ``.npz`` files in ``out_dir`` reach this size
        (MB, the corpus budget); ``None``: no limit.
    cpu_seconds
        CPU-time limit of one seed (s); ``None``: no limit.
    on_entry
        Called with each finished entry (progress display).
    **caps
        ``max_atoms``, ``max_cost`` of :func:`compute_corpus_entry`.

    Returns
    -------
    list of CorpusEntry
        One per seed that was attempted, in completion order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / FAILURES_FILE
    skip = set() if retry_failed else _failed_seeds(log)
    queue: Iterator[int] = (s for s in range(seed, seed + n) if s not in skip)
    running: dict[Connection, tuple[int, BaseProcess, float]] = {}
    entries: list[CorpusEntry] = []

    def within_budget() -> bool:
        if max_total_mb is None:
            return True
        return sum(p.stat().st_size for p in out_dir.glob("*.npz")) < max_total_mb * 1e6

    def start_next() -> bool:
        next_seed = next(queue, None)
        if next_seed is None or not within_budget():
            return False
        receiver, process = _start_child(next_seed, out_dir, settings, cpu_seconds, caps)
        running[receiver] = (next_seed, process, time.perf_counter())
        return True

    more = True
    while True:
        while more and len(running) < workers:
            more = start_next()
        if not running:
            return entries
        for receiver in wait(list(running)):
            child_seed, process, started = running.pop(receiver)
            entry = _collect(receiver, process, child_seed, cpu_seconds, started)
            _log_outcome(log, entry)
            entries.append(entry)
            if on_entry is not None:
                on_entry(entry)


def compact_corpus(
    folder: str | Path, on_file: Callable[[Path, int, int], None] | None = None
) -> tuple[int, int]:
    """Rewrite every corpus file of a folder in the corpus' storage (:func:`write_compact`).

    Files written with the general thresholds (:data:`CORPUS_ZERO_THRESHOLDS`, e.g. the
    shared GPAW files or older corpus files) keep SOC elements that the size-capped
    training corpus stores as zero, and both lattice vectors of each ``±R`` pair.
    Each file is replaced atomically, so an interrupted run leaves every file either old
    or new, never half written.

    Parameters
    ----------
    folder
        Corpus folder (``*.npz``).
    on_file
        Called with ``(path, bytes_before, bytes_after)`` after each file.

    Returns
    -------
    tuple of int
        Total size before and after (bytes).
    """
    files = sorted(Path(folder).glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no corpus files (*.npz) in {folder}")
    total_before = total_after = 0
    for path in files:
        before = path.stat().st_size
        write_compact(Hamiltonian.from_npz(path), path)
        after = path.stat().st_size
        total_before, total_after = total_before + before, total_after + after
        if on_file is not None:
            on_file(path, before, after)
    return total_before, total_after


# -- the same work as a FireWorks campaign ---------------------------------------------------
@job
def corpus_batch(
    seeds: list[int],
    out_dir: str,
    settings: GPAWReferenceSettings | None = None,
    cpu_seconds: int | None = 600,
    max_atoms: int = MAX_ATOMS,
    max_cost: float = 45.0,
) -> list[CorpusEntry]:
    """FireWorks job: the corpus files of a batch of seeds, one CPU-limited child each.

    Failures are logged in ``out_dir / failures.jsonl`` (as by :func:`generate_corpus`)
    and returned as entries; they never fail the job, so one bad structure does not hold
    up the batch.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    caps = {"max_atoms": max_atoms, "max_cost": max_cost}
    entries = []
    for seed in seeds:
        receiver, process = _start_child(seed, folder, settings, cpu_seconds, caps)
        entry = _collect(receiver, process, seed, cpu_seconds, time.perf_counter())
        _log_outcome(folder / FAILURES_FILE, entry)
        entries.append(entry)
    return entries


def training_data_flow(
    seeds: Sequence[int],
    out_dir: str | Path,
    settings: GPAWReferenceSettings | None = None,
    batch_size: int = 4,
    category: str | None = None,
    **caps: float,
) -> Flow:
    """Build a flow of :func:`corpus_batch` jobs over ``seeds`` (``batch_size`` per job).

    ``out_dir`` must be a folder every worker can write (it is made absolute);
    ``category`` routes the jobs to FireWorks workers of that category (e.g. ``"dft"``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("no seeds to compute")
    folder = str(Path(out_dir).resolve())
    jobs = []
    for start in range(0, len(seeds), batch_size):
        chunk = seeds[start : start + batch_size]
        batch = corpus_batch(chunk, folder, settings, **caps)
        batch.name = f"corpus seeds {chunk[0]}-{chunk[-1]}"
        batch.update_metadata({"stage": "training_data", "seeds": chunk, "corpus": folder})
        if category:
            batch.update_config({"manager_config": {"_category": category}})
        jobs.append(batch)
    return Flow(jobs, name=f"training data {Path(folder).name} seeds {seeds[0]}-{seeds[-1]}")


def pending_seeds(n: int, seed: int, out_dir: str | Path, retry_failed: bool = False) -> list[int]:
    """Seeds ``seed .. seed + n - 1`` without a corpus file (nor a logged failure)."""
    folder = Path(out_dir)
    done = {int(p.name.split("_")[1]) for p in folder.glob("train_*_*.npz")}
    failed = set() if retry_failed else _failed_seeds(folder / FAILURES_FILE)
    return [s for s in range(seed, seed + n) if s not in done | failed]
