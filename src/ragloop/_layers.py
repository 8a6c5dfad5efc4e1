"""The rank of every room of ``ragloop``: a room imports only rooms of a lower rank.

``tests/test_layering.py`` enforces it and the docs draw the architecture diagram from it
(``docs/gen_reference.py``), so the rule and its picture cannot drift apart. A new room (a
top-level module or package of ``ragloop``) gets its rank here. This module imports nothing.
"""

RANKS: dict[str, int] = {
    "records": 0, "errors": 0, "redact": 0,
    "config": 1, "registry": 1,
    "models": 2, "executors": 2, "project": 2,
    "index": 3, "feedback": 3,
    "ingest": 4, "retrieve": 4,
    "answer": 5,
    "evals": 6, "chat": 6,
    "pipeline": 7, "checks": 7, "monitor": 7,
    "train": 8, "demo": 8, "api": 8,
    "serve": 9,
    "cli": 10,
}
