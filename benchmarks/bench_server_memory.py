"""Benchmark: memory and disk of the embedded database server while a campaign stores its
predictions.

A fresh embedded SecantusDB server (:func:`socscreen.stores.server.embedded_server`, with
its default settings) stores a campaign of ``--n`` generated structures (those of
``bench_campaign.py``) run by ``--workers`` local FireWorks workers; the analysis is
replaced by :func:`structure_only` (identity fields only, no physics), so the run
measures what the database sees: every predicted Hamiltonian written to GridFS by a
predict job and read back by its analyse job. Printed:

* the server's resident memory (RSS, sampled every 0.2 s): at the start, peak, at the end
  and after every client closed;
* the stored predictions: GridFS bytes per prediction (``outputs_blobs.files`` lengths)
  and the server's data folder on disk per structure;
* the cursors the server still holds open after the run.

Measured on this 2-core machine with ``--predictor model`` (batches of 10; 1000: of 20):

==========================  =========  ==========  ============  ============
run                         peak RSS   end RSS     GridFS/pred.  disk/struct.
==========================  =========  ==========  ============  ============
100, before (exact, 1 GB)   710 MB     326 MB      2.17 MB       2.42 MB
100, compact, 256 MB cache  91 MB      76 MB       0.20 MB       0.49 MB
300, compact, 256 MB cache  197 MB     139 MB      0.20 MB       0.31 MB
1000, compact, 256 MB       504 MB     495 MB      0.20 MB       0.23 MB
1000, compact, 64 MB cache  517 MB     517 MB      0.20 MB       0.25 MB
1000, 256 MB, mmap 64 kB    482 MB     357 MB      0.20 MB       0.24 MB
==========================  =========  ==========  ============  ============

The last row is the default now (``stores.server.SERVER_ENV``). The cache size hardly
matters at this scale: at the end of a 400-structure run WiredTiger held 7.6 MB in its
cache and Python objects took 17 MB (tracemalloc) of the server's 140-230 MB; the rest
grows with the number of structures (about 0.4 MB each) and goes with a restart.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_server_memory.py --n 100 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from pymongo import MongoClient

from socscreen.hamiltonian import Hamiltonian
from socscreen.stores.schemas.campaign import (
    CampaignSettings,
    MaterialResultDocument,
    StructureRecord,
)

HERE = Path(__file__).resolve().parent


def structure_only(
    record: StructureRecord, ham: Hamiltonian, settings: CampaignSettings
) -> MaterialResultDocument:
    """Result with the identity fields only (the benchmark measures storage, not physics)."""
    if ham.structure.atomic_numbers != record.get_structure().atomic_numbers:
        raise ValueError(f"{record.material_id} got the Hamiltonian of another structure")
    return MaterialResultDocument.from_record(record, flags=["bench-structure-only"])


class RssSampler(threading.Thread):
    """Sample the resident memory of a process (MB) every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[float] = []
        self.stop = threading.Event()

    def rss_mb(self) -> float:
        """Current RSS (MB)."""
        return self.process.memory_info().rss / 2**20

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append(self.rss_mb())
            except psutil.NoSuchProcess:
                return
            time.sleep(self.interval)


def folder_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="structures (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--batch-size", type=int, default=10, help="structures per batch")
    parser.add_argument("--seed", type=int, default=0, help="structure generator seed")
    parser.add_argument("--predictor", default="model", help="model (default), baseline, scc")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    paths = [str(HERE), os.environ.get("PYTHONPATH")]  # workers import structure_only
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    from bench_campaign import write_structures

    from socscreen.makers.analyse import AnalyseBatchMaker
    from socscreen.model.inference import load_model
    from socscreen.stores.config import DatabaseConfig
    from socscreen.stores.server import embedded_server
    from socscreen.workflows.campaign import CampaignMaker, submit_campaign
    from socscreen.workflows.workers import run_workers

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "structures.json"
        write_structures(args.n, source, args.seed)
        with embedded_server(tmp / "db") as server:
            sampler = RssSampler(server.pid)
            rss_start = sampler.rss_mb()
            sampler.start()
            db = DatabaseConfig(uri=server.uri, database="bench")
            maker = CampaignMaker(analyse_maker=AnalyseBatchMaker(analyser=structure_only))
            settings = CampaignSettings(batch_size=args.batch_size, predictor=args.predictor)
            t0 = time.perf_counter()
            submit_campaign(db, source, "bench", settings, maker=maker, merge_duplicates=False,
                            supported_elements=load_model()[0].elements)  # fmt: skip
            run = run_workers(db, args.workers, tmp / "run")
            wall = time.perf_counter() - t0
            rss_end = sampler.rss_mb()
            store = db.job_store().additional_stores["data"]
            store.connect()
            files = store._files_collection  # GridFS metadata: one document per stored blob
            lengths = [d["length"] for d in files.find({}, {"length": 1})]
            store.close()
            time.sleep(5.0)  # clients closed: what the server keeps
            rss_idle = sampler.rss_mb()
            status = MongoClient(server.uri).admin.command("serverStatus")
            cursors = (status.get("metrics") or {}).get("cursor", {}).get("open", {})
            sampler.stop.set()
            sampler.join()
            disk = folder_bytes(tmp / "db" / "data")
            peak = max(sampler.samples, default=rss_end)
    n_blobs = len(lengths)
    per_blob = sum(lengths) / max(n_blobs, 1)
    print(f"campaign of {args.n} structures, {args.workers} workers, batches of "
          f"{args.batch_size}: Fireworks {dict(run.states)} in {wall:.0f} s")  # fmt: skip
    print(f"server RSS (MB): start {rss_start:.0f}, peak {peak:.0f}, end {rss_end:.0f}, "
          f"idle after the clients closed {rss_idle:.0f}")  # fmt: skip
    print(f"GridFS: {n_blobs} blobs, {per_blob / 1e6:.3f} MB per blob "
          f"({sum(lengths) / max(args.n, 1) / 1e6:.3f} MB per structure)")  # fmt: skip
    print(f"data folder on disk: {disk / 1e6:.1f} MB ({disk / max(args.n, 1) / 1e6:.3f} MB "
          "per structure)")  # fmt: skip
    print(f"server cursors open after the run: {cursors}")


if __name__ == "__main__":
    main()
