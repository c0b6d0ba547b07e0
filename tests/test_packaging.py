"""A regular (non-editable) wheel carries every subpackage and the shipped data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_every_package_and_the_checkpoint(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("socscreen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = {"socscreen": ROOT / "socscreen"} | {
        f"socscreen/{d}": ROOT / d
        for d in ("dft", "corpus", "model", "analysis", "makers", "workflows", "stores")
    }
    for prefix, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            member = f"{prefix}/{init.relative_to(folder).as_posix()}"
            assert member in names, f"{member} missing from the wheel"
    assert any(n.startswith("socscreen/model/checkpoints/") and n.endswith(".pt") for n in names)
    assert any(n.startswith("socscreen/workflows/templates/") for n in names)
