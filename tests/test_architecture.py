"""The arrows between rooms (docs/architecture.md): nothing imports upward, torch stays in model.

Reads every module's imports with ``ast`` (top level and inside functions), so a lazy
import counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The core: the container and what it needs (everything in socscreen/ but the CLI).
CORE = tuple(
    str(path.relative_to(ROOT))
    for path in sorted((ROOT / "socscreen").glob("*.py"))
    if path.name != "__main__.py"  # ``python -m socscreen`` runs the CLI
)

#: Folder (or file) of each room and the socscreen packages it must never import.
_ABOVE_CORE = {"analysis", "dft", "corpus", "model", "makers", "stores", "workflows", "cli"}
FORBIDDEN = {
    **{module: _ABOVE_CORE for module in CORE},
    "analysis": {"dft", "corpus", "model", "makers", "stores", "workflows", "cli"},
    "dft": {"corpus", "model", "makers", "stores", "workflows", "cli"},
    "corpus": {"model", "makers", "stores", "workflows", "cli"},
    "model": {"makers", "stores", "workflows", "cli"},
    "stores": {"makers", "workflows", "cli"},
    "makers": {"workflows", "cli"},
}  # fmt: skip

#: Rooms that must not import torch at all (they run where torch is not needed): the
#: container and the rest of the core, analysis and dft (so neither reaches the model's
#: torch code, even lazily), and the corpus.
TORCH_FREE = (*CORE, "analysis", "dft", "corpus")


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
    """No torch, e3nn or socscreen.model module that imports them (they are the model's)."""
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(room)
        for name in _imports(path)
        if name == "torch" or name.startswith(("torch.", "e3nn", "socscreen.model"))
    ]
    assert not offences, "\n".join(offences)


def test_the_core_is_every_module_of_socscreen_but_the_cli():
    assert {
        "socscreen/hamiltonian.py",
        "socscreen/eigensolver.py",
        "socscreen/sparse_bloch.py",
        "socscreen/orbitals.py",
    } <= set(CORE)
    assert not any(module.startswith("socscreen/cli") for module in CORE)
