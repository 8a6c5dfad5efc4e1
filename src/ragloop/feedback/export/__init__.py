"""Feedback → training data in TRL's dataset formats (SFT, DPO, KTO) and golden eval sets.

Each format is one module with an ``Exporter`` (``name`` and ``rows(items)``); add a format
by adding a module and listing it in ``EXPORTERS``.
"""

from ragloop.feedback.export.base import Exporter, Judged, judged_items
from ragloop.feedback.export.dpo import DPOExporter
from ragloop.feedback.export.kto import KTOExporter
from ragloop.feedback.export.sft import SFTExporter

EXPORTERS: dict[str, Exporter] = {e.name: e for e in (SFTExporter(), DPOExporter(),
                                                      KTOExporter())}

__all__ = ["EXPORTERS", "Exporter", "Judged", "judged_items"]
