"""The arrows between rooms (docs/architecture.md): nothing imports upward, torch stays in model.

Reads every module's imports with ``ast`` (top level and inside functions), so a lazy
import counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Folder (or file) of each room and the socscreen packages it must never import.
_ABOVE_CORE = {"analysis", "dft", "corpus", "model", "makers", "stores", "workflows", "cli"}
FORBIDDEN = {
    "socscreen/hamiltonian.py": _ABOVE_CORE,
    "socscreen/orbitals.py": _ABOVE_CORE,
    "socscreen/bilayers.py": _ABOVE_CORE,
    "analysis": {"dft", "corpus", "model", "makers", "stores", "workflows", "cli"},
    "dft": {"corpus", "model", "makers", "stores", "workflows", "cli"},
    "corpus": {"model", "makers", "stores", "workflows", "cli"},
    "model": {"makers", "stores", "workflows", "cli"},
    "stores": {"makers", "workflows", "cli"},
    "makers": {"workflows", "cli"},
}  # fmt: skip

#: Rooms that must not import torch at all (they run where torch is not needed).
TORCH_FREE = ("socscreen/hamiltonian.py", "socscreen/orbitals.py", "analysis", "dft", "corpus")


def _modules(room: str) -> list[Path]:
    path = ROOT / room
    return [path] if path.is_file() else sorted(path.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("room", FORBIDDEN)
def test_rooms_never_import_upward(room):
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(room)
        for name in _imports(path)
        if name.startswith("socscreen.") and name.split(".")[1] in FORBIDDEN[room]
    ]
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("room", TORCH_FREE)
def test_torch_stays_in_the_model(room):
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(room)
        for name in _imports(path)
        if name == "torch" or name.startswith(("torch.", "e3nn"))
    ]
    assert not offences, "\n".join(offences)
