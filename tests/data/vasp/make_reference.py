"""Generate the VASP reference folders replayed by atomate2's ``monkeypatch_vasp`` in tests.

Run from the repository root (about a minute on one core)::

    OMP_NUM_THREADS=1 python tests/data/vasp/make_reference.py

For each case it builds the socscreen VASP validation runs with the real makers
(:class:`socscreen.makers.vasp.VaspRunMakers`: atomate2 ``StaticMaker`` and
``NonSCFMaker`` with the spin-orbit settings) and runs them with jobflow's
``run_locally``. atomate2 writes the inputs exactly as in production (POTCAR.spec instead
of POTCAR, as atomate2's own test fixture does); where VASP would start,
:mod:`vasp_emulator` computes the outputs from the case's GPAW LCAO Hamiltonian with
spin-orbit coupling. The inputs and outputs of every job are then stored in atomate2's
reference layout::

    <case>/<job name with "_">/inputs/{INCAR,KPOINTS,POSCAR,POTCAR.spec}
    <case>/<job name with "_">/outputs/{INCAR,KPOINTS,POSCAR,POTCAR.spec,
                                         vasprun.xml,OUTCAR,CONTCAR[,PROCAR][,CHGCAR]}.gz

THE OUTPUTS ARE GENERATED FROM GPAW, NOT COMPUTED BY VASP (see README.md).

Cases
-----
* ``Bi2Se3``: ``tests/data/Bi2Se3_szp.npz`` (tetradymite, GPAW szp(dzp) with SOC),
  spin-orbit runs and the SOC-off twin; a strong topological insulator, (1;000).
* ``Si``: ``tests/data/Si_szp.npz`` (diamond), spin-orbit runs; trivial, (0;000), with
  the inversion centre between the two atoms (an origin shift for the parity map).
"""

from __future__ import annotations

import gzip
import shutil
import sys
import warnings
from pathlib import Path

import pytest
from atomate2.vasp.sets.base import VaspInputGenerator
from jobflow import CURRENT_JOB, Flow, JobStore, run_locally
from maggma.stores import MemoryStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vasp_emulator import emulate  # noqa: E402

from socscreen.hamiltonian import Hamiltonian  # noqa: E402
from socscreen.makers.vasp import VaspRunMakers  # noqa: E402

DATA = HERE.parent
INPUTS = ("INCAR", "KPOINTS", "POSCAR", "POTCAR.spec")

#: case name -> (fixture file, run the SOC-off twin)
CASES = {"Bi2Se3": ("Bi2Se3_szp.npz", True), "Si": ("Si_szp.npz", False)}


def job_folder_name(job_name: str) -> str:
    """Reference folder of a job: its name with spaces replaced by underscores."""
    return job_name.replace(" ", "_")


def store_reference(job_dir: Path, target: Path, outputs: list[str]) -> None:
    """Copy a job's inputs (plain) and outputs (inputs too, gzipped) into ``target``."""
    if target.exists():
        shutil.rmtree(target)
    (target / "inputs").mkdir(parents=True)
    (target / "outputs").mkdir()
    for name in INPUTS:
        shutil.copy(job_dir / name, target / "inputs" / name)
    for name in (*INPUTS, *outputs):
        with (
            (job_dir / name).open("rb") as src,
            gzip.GzipFile(target / "outputs" / f"{name}.gz", "wb", compresslevel=9, mtime=0) as dst,
        ):
            shutil.copyfileobj(src, dst)


def generate(case: str, fixture: str, twin: bool, workdir: Path) -> None:
    """Run the validation's VASP jobs of one case with the emulator in place of VASP."""
    ham = Hamiltonian.from_npz(DATA / fixture)
    structure = ham.structure
    cache: dict = {}

    def fake_vasp(*_args, **_kwargs) -> None:
        job_dir = Path.cwd()
        written = emulate(ham, job_dir, cache)
        store_reference(job_dir, HERE / case / job_folder_name(CURRENT_JOB.job.name), written)

    jobs = []
    for soc in (True, False) if twin else (True,):
        jobs += VaspRunMakers.spin_orbit(soc).for_structure(structure).make_jobs(structure)[0]

    get_input_set = VaspInputGenerator.get_input_set

    def with_potcar_spec(self, *args, **kwargs):
        kwargs["potcar_spec"] = True  # no POTCARs here: atomate2's test fixture does the same
        return get_input_set(self, *args, **kwargs)

    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("atomate2.vasp.jobs.base.run_vasp", fake_vasp)
        mp.setattr(VaspInputGenerator, "get_input_set", with_potcar_spec)
        run_locally(
            Flow(jobs), store=store, create_folders=True, root_dir=workdir, ensure_success=True
        )


def main() -> None:
    """Regenerate every case (the folders are replaced)."""
    import tempfile

    warnings.simplefilter("ignore")
    for case, (fixture, twin) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            generate(case, fixture, twin, Path(tmp))
        size = sum(p.stat().st_size for p in (HERE / case).rglob("*") if p.is_file())
        print(f"{case}: {size / 1024:.0f} KiB in {HERE / case}")


if __name__ == "__main__":
    main()
