"""``KEY=VALUE`` filter expressions (CLI, HTTP query strings) → ``Filters``.

    source=docs/a.md      exact document source (repeatable: any of them)
    path=docs/**/*.md     fnmatch glob on the source
    after=2024-01-31      modified at or after (ISO date/time or unix seconds)
    before=1717000000     modified before
    lang=en               any other key: document metadata equality (JSON values allowed:
                          year=2024 matches the number 2024, draft=true the boolean)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ragloop.errors import RagloopError
from ragloop.index.store import Filters


class FilterError(RagloopError):
    """A filter expression could not be parsed; the message names it."""


def _time(expr: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(f"filter '{expr}': '{value}' is neither unix seconds nor an ISO "
                          "date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _value(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_filters(expressions: Iterable[str]) -> Filters | None:
    sources: list[str] = []
    glob = after = before = None
    fields: dict[str, Any] = {}
    for expr in expressions:
        key, sep, value = expr.partition("=")
        key = key.strip()
        if not sep or not key:
            raise FilterError(f"filter '{expr}': expected KEY=VALUE")
        if key == "source":
            sources.append(value)
        elif key == "path":
            glob = value
        elif key == "after":
            after = _time(expr, value)
        elif key == "before":
            before = _time(expr, value)
        else:
            fields[key] = _value(value)
    filters = Filters(sources=tuple(sources), path_glob=glob, modified_after=after,
                      modified_before=before, fields=fields)
    return None if filters.is_empty() else filters
