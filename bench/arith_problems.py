"""Seeded arithmetic word problems with programmatic answers, for the test-time-compute
benchmark. Each problem is a short "document" (the facts) and a question about it."""

from __future__ import annotations

import random
from dataclasses import dataclass

NAMES = ("Tom", "Ana", "Lee", "Maya", "Omar", "Sara", "Ivan", "Nina")
ITEMS = ("apples", "pencils", "stamps", "marbles", "books", "cards")


@dataclass(frozen=True)
class Problem:
    id: str
    facts: str
    question: str
    answer: int


def _add_sub(rng: random.Random) -> tuple[str, str, int]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(5, 40), rng.randint(2, 20)
    c = rng.randint(1, a + b - 1)
    return (f"{name} has {a} {item}. {name} buys {b} more {item} and then gives {c} {item} "
            f"to a friend.", f"How many {item} does {name} have now?", a + b - c)


def _multiply(rng: random.Random) -> tuple[str, str, int]:
    item = rng.choice(ITEMS)
    boxes, per = rng.randint(2, 9), rng.randint(3, 12)
    return (f"There are {boxes} boxes. Each box holds {per} {item}.",
            f"How many {item} are there in total?", boxes * per)


def _divide(rng: random.Random) -> tuple[str, str, int]:
    item = rng.choice(ITEMS)
    people, each = rng.randint(2, 8), rng.randint(2, 9)
    return (f"{people * each} {item} are shared equally among {people} children.",
            f"How many {item} does each child get?", each)


def _two_step(rng: random.Random) -> tuple[str, str, int]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    packs, per, extra = rng.randint(2, 6), rng.randint(3, 10), rng.randint(1, 9)
    return (f"{name} buys {packs} packs of {item} with {per} {item} in each pack, and finds "
            f"{extra} more {item} at home.", f"How many {item} does {name} have altogether?",
            packs * per + extra)


KINDS = (_add_sub, _multiply, _divide, _two_step)


def generate(n: int, seed: int = 0) -> list[Problem]:
    rng = random.Random(seed)
    problems = []
    for i in range(n):
        facts, question, answer = KINDS[i % len(KINDS)](rng)
        problems.append(Problem(f"arith-{seed}-{i}", facts, question, answer))
    return problems
