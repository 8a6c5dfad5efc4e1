"""Text in the pictures of office documents (a scanned form pasted into a DOCX, a screenshot
on a slide), read by OCR when ``[ingest] ocr`` is "auto" and the ``ocr`` extra is installed.
Pictures count against ``[ingest] ocr_max_pages`` like scanned pages."""

from __future__ import annotations

from pathlib import Path

from ragloop.ingest import ocr
from ragloop.ingest.loaders.base import LoadLimits


class PictureReader:
    """OCR for the pictures of one file, within its limits; what was read or skipped is
    reported in ``confidences`` and ``warnings``."""

    def __init__(self, path: Path, limits: LoadLimits):
        self.path = path
        self.limits = limits
        self.enabled = limits.ocr == "auto" and ocr.available()
        self.confidences: list[float] = []
        self.skipped = 0

    def text(self, blob: bytes) -> str | None:
        """The text of one picture, or None (no text, OCR off, over the limit)."""
        if not self.enabled:
            return None
        if len(self.confidences) >= self.limits.ocr_max_pages:
            self.skipped += 1
            return None
        found = ocr.image_text(blob)
        if found is None:
            return None
        text, confidence = found
        self.confidences.append(confidence)
        return text

    def record(self, meta: dict) -> None:
        """Add what OCR did to a document's metadata."""
        if self.confidences:
            meta["ocr_pictures"] = [round(c, 3) for c in self.confidences]
            low = sum(1 for c in self.confidences if c < self.limits.ocr_min_confidence)
            if low:
                meta.setdefault("warnings", []).append(
                    f"{self.path}: OCR confidence below {self.limits.ocr_min_confidence:g} "
                    f"on {low} picture(s)")
        if self.skipped:
            meta.setdefault("warnings", []).append(
                f"{self.path}: {self.skipped} picture(s) not OCR'd, over [ingest] "
                f"ocr_max_pages ({self.limits.ocr_max_pages})")
