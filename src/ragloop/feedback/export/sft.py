"""SFT rows (TRL conversational ``messages``): answers rated up, and corrected answers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ragloop.feedback.export.base import Judged, assistant


class SFTExporter:
    name = "sft"
    columns = ("messages",)

    def rows(self, items: Iterable[Judged]) -> Iterator[dict]:
        for item in items:
            if item.correction:
                yield {"messages": item.prompt + assistant(item.correction)}
            elif item.rating == "up":
                yield {"messages": item.prompt + assistant(item.answer)}
