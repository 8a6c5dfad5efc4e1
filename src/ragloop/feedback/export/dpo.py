"""DPO rows (TRL conversational preference: ``prompt``, ``chosen``, ``rejected``).

Pairs come from corrections (corrected over original) and from answers to the same question
(case and spacing ignored) rated up over ones rated down; the prompt is the chosen side's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from ragloop.feedback.export.base import Judged, assistant


class DPOExporter:
    name = "dpo"
    columns = ("prompt", "chosen", "rejected")

    def rows(self, items: Iterable[Judged]) -> Iterator[dict]:
        by_question: dict[str, dict[str, list[Judged]]] = defaultdict(
            lambda: {"up": [], "down": []})
        for item in items:
            if item.correction and item.correction.strip() != item.answer.strip():
                yield self._pair(item, item.correction, item.answer)
            if item.rating in ("up", "down"):
                by_question[item.question_key][item.rating].append(item)
        for rated in by_question.values():
            for good in rated["up"]:
                for bad in rated["down"]:
                    if good.answer.strip() != bad.answer.strip():
                        yield self._pair(good, good.answer, bad.answer)

    @staticmethod
    def _pair(item: Judged, chosen: str, rejected: str) -> dict:
        return {"prompt": item.prompt, "chosen": assistant(chosen),
                "rejected": assistant(rejected)}
