"""Text in images, offline, with ``rapidocr-onnxruntime`` (the ``ocr`` extra): its wheel ships
the PP-OCRv4 detection and recognition models as ONNX files, so nothing is downloaded.

``recognize(image)`` returns the text lines found in an image (a page rendered by pypdfium2,
a picture inside a DOCX or PPTX) with their boxes and recognition scores. The engine is
built once per process. Detection thresholds are lowered from the package's defaults
(``box_thresh`` 0.5 → 0.3, ``unclip_ratio`` 1.6 → 2.0): with the defaults whole lines of a
clean rendered page went missing (``bench/documents.py`` measures the character error rate).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

from ragloop.errors import IngestError

BOX_THRESH = 0.3
UNCLIP_RATIO = 2.0
INSTALL_HINT = "install the OCR extra: pip install 'ragloop[ocr]'"


@dataclass(frozen=True)
class OcrLine:
    text: str
    x0: float  # pixels, origin top left
    y0: float
    x1: float
    y1: float
    score: float


def available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise IngestError("ocr", f"OCR is not installed; {INSTALL_HINT}") from None
    # detection at the image's own size up to 2000 px: the package's default scales the
    # short side up to 736 px, which made a 237 px high picture take 5 s instead of 1
    return RapidOCR(print_verbose=False, det_limit_type="max", det_limit_side_len=2000)


def recognize(image) -> list[OcrLine]:
    """Text lines in ``image`` (a numpy array, RGB or BGR, or a PIL image), top to bottom."""
    import numpy as np

    array = np.asarray(image.convert("RGB"))[:, :, ::-1] if hasattr(image, "convert") \
        else np.asarray(image)
    result, _ = _engine()(array, box_thresh=BOX_THRESH, unclip_ratio=UNCLIP_RATIO,
                          text_score=0.5)
    lines = []
    for box, text, score in result or []:
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        if str(text).strip():
            lines.append(OcrLine(str(text).strip(), min(xs), min(ys), max(xs), max(ys),
                                 float(score)))
    return sorted(lines, key=lambda line: (line.y0, line.x0))


def confidence(lines: list[OcrLine]) -> float:
    """Recognition score of a page, weighted by characters (0 when nothing was read)."""
    chars = sum(len(line.text) for line in lines)
    return sum(line.score * len(line.text) for line in lines) / chars if chars else 0.0


def image_text(data: bytes, min_pixels: int = 64) -> tuple[str, float] | None:
    """The text in an encoded image (PNG, JPEG, ...), lines joined, and its confidence; None
    when the image is too small to hold text, cannot be decoded, or holds none."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if min(image.size) < min_pixels or image.size[0] * image.size[1] > 40_000_000:
                return None
            lines = recognize(image)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    if not lines:
        return None
    return "\n".join(line.text for line in lines), confidence(lines)
