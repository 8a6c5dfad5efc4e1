"""Data moves one way: importing a room (every module in it, in a fresh interpreter) loads
no higher room and no sibling of the same rank. The ranks are ``ragloop._layers.RANKS``
(the docs' architecture page draws its diagram from the same table).

A second test reads every module's source, imports inside functions included (the lazy
imports that keep start-up cheap): those may only reach lower rooms too. A module whose
optional third-party dependency is missing (psycopg, ray, sentence-transformers) is skipped
by the first test, and the skip is reported in the child's output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ragloop
from ragloop._layers import RANKS

CHILD = """
import importlib, json, pkgutil, sys
room = sys.argv[1]
module = importlib.import_module("ragloop." + room)
skipped = []
for info in pkgutil.walk_packages(getattr(module, "__path__", []), "ragloop." + room + "."):
    try:
        importlib.import_module(info.name)
    except ImportError as err:  # an optional dependency of this module is not installed
        if (err.name or "").startswith("ragloop"):
            raise
        skipped.append(info.name)
loaded = sorted({name.split(".")[1] for name in sys.modules if name.startswith("ragloop.")})
print(json.dumps({"loaded": loaded, "skipped": skipped}))
"""


def _rooms_on_disk() -> set[str]:
    root = Path(ragloop.__file__).parent
    # _layers holds the table itself and imports nothing
    return {p.stem for p in root.glob("*.py")
            if not p.stem.startswith("__") and p.stem != "_layers"} | {
        p.name for p in root.iterdir() if (p / "__init__.py").is_file()}


def test_every_room_has_a_rank():
    assert _rooms_on_disk() == set(RANKS), "give a new room its place in RANKS"


@pytest.fixture(scope="module")
def imports() -> dict[str, dict]:
    children = {room: subprocess.Popen([sys.executable, "-c", CHILD, room],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
                for room in RANKS}
    found = {}
    for room, child in children.items():
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, f"importing ragloop.{room} failed:\n{err}"
        found[room] = json.loads(out.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("room", list(RANKS))
def test_a_room_imports_only_lower_rooms(imports, room):
    loaded = set(imports[room]["loaded"]) - {room}
    upward = sorted(r for r in loaded if RANKS[r] >= RANKS[room])
    assert not upward, f"ragloop.{room} imports {upward} (rank {RANKS[room]}: only lower)"


def _imports_in(path: Path) -> set[str]:
    """Every ragloop room a module imports, at its top or inside a function."""
    import ast

    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "ragloop" else \
                [f"ragloop.{alias.name}" for alias in node.names]
        rooms |= {n.split(".")[1] for n in names if n.startswith("ragloop.")}
    return rooms & set(RANKS)


# Reached on purpose from below, inside a function, with the reason: none so far.
LAZY_UPWARD: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("room", list(RANKS))
def test_no_import_inside_a_function_reaches_up(room):
    root = Path(ragloop.__file__).parent
    files = [root / f"{room}.py"] if (root / f"{room}.py").is_file() \
        else sorted((root / room).rglob("*.py"))
    upward = sorted(f"{path.relative_to(root)} → {other}" for path in files
                    for other in _imports_in(path) - {room}
                    if RANKS[other] >= RANKS[room] and (room, other) not in LAZY_UPWARD)
    assert not upward, f"upward or sideways imports: {upward}"
