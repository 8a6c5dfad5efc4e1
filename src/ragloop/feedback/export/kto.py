"""KTO rows (TRL unpaired preference: ``prompt``, ``completion``, ``label``).

Thumbs give the label of the answer shown; a correction is a desirable completion and, unless
the answer was also rated up, marks the original answer undesirable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ragloop.feedback.export.base import Judged, assistant


class KTOExporter:
    name = "kto"
    columns = ("prompt", "completion", "label")

    def rows(self, items: Iterable[Judged]) -> Iterator[dict]:
        for item in items:
            if item.rating in ("up", "down"):
                yield {"prompt": item.prompt, "completion": assistant(item.answer),
                       "label": item.rating == "up"}
            if item.correction and item.correction.strip() != item.answer.strip():
                yield {"prompt": item.prompt, "completion": assistant(item.correction),
                       "label": True}
                if item.rating is None:
                    yield {"prompt": item.prompt, "completion": assistant(item.answer),
                           "label": False}
