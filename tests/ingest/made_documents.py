"""Documents with known content, made on the spot, for the loader tests and for
``bench/documents.py``: PDFs written with ``fpdf2`` (pure Python, in the test extra; it draws
tables with repeated header rows and custom headers/footers itself, which reportlab would do
too but at several times the install size), a scanned page made by rendering such a PDF with
pypdfium2 and placing the picture in a new PDF, and PPTX, XLSX, DOCX files written with
their own libraries.
"""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF

RUNNING_HEADER = "Northwind Field Manual - Internal"
TABLE_COLUMNS = ("Station", "Region", "Rainfall mm", "Operator")


def table_rows(n: int = 40) -> list[tuple[str, str, str, str]]:
    regions = ("North", "South", "East", "West")
    operators = ("Ada Byrne", "Bo Lindqvist", "Chen Wu", "Dara Okafor", "Eli Navarro")
    return [(f"ST-{100 + i}", regions[i % 4], str(300 + 17 * i), operators[i % 5])
            for i in range(n)]


class _Manual(FPDF):
    """A page with a running header and a page-number footer on every page."""

    def header(self):
        self.set_font("Helvetica", "", 9)
        self.cell(0, 8, RUNNING_HEADER, align="C")
        self.ln(14)

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", "", 9)
        self.cell(0, 10, f"Page {self.page_no()}", align="C")


def _heading(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font("Helvetica", "B", size)
    pdf.multi_cell(0, size * 0.6, text)
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 11)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 5.5, text)
    pdf.ln(3)


FILLER = ("The maintenance crew inspects every gauge before the season starts and records "
          "the readings in the station log, which the regional office collects each month.")
HYPHENATED = ("Calibration of the gauges follows the standard proce-", "dure of the office.")
HEADINGS = ("Rainfall stations", "Reading the gauges", "Station register", "Closing notes")


def manual_pdf(path: Path, rows: int = 40) -> Path:
    """Headings in a larger bold font, paragraphs (one with a word hyphenated over a line
    break), a table of ``rows`` rows that runs over two pages with its header row repeated,
    a running header and a page-number footer on every page."""
    pdf = _Manual(format="A4")
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    _heading(pdf, HEADINGS[0], 18)
    _paragraph(pdf, FILLER)
    _heading(pdf, HEADINGS[1], 14)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 5.5, HYPHENATED[0], new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5.5, HYPHENATED[1], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _paragraph(pdf, FILLER)
    _heading(pdf, HEADINGS[2], 14)
    pdf.set_font("Helvetica", "", 10)
    with pdf.table(col_widths=(30, 30, 30, 40), line_height=6) as table:
        table.row(TABLE_COLUMNS)
        for row in table_rows(rows):
            table.row(row)
    pdf.ln(4)
    _heading(pdf, HEADINGS[3], 14)
    for _ in range(3):
        _paragraph(pdf, FILLER)
    pdf.output(str(path))
    return path


LEFT_COLUMN = ("Owls hunt at night and turn their heads far around to look for mice in the "
               "fields near the old barn, where they nest every spring.")
RIGHT_COLUMN = ("Bees dance to point their hive mates at flowers, and the angle of the dance "
                "tells the direction of the food relative to the sun.")


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if pdf.get_string_width(trial) > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line]


def two_column_pdf(path: Path, repeat: int = 4) -> Path:
    """A page in two columns of text, written line by line across both columns (so the
    content order interleaves them and only the layout can tell the reading order)."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    width = 85
    left = _wrap(pdf, " ".join([LEFT_COLUMN] * repeat), width)
    right = _wrap(pdf, " ".join([RIGHT_COLUMN] * repeat), width)
    y = 30.0
    for i in range(max(len(left), len(right))):
        if i < len(left):
            pdf.text(15, y, left[i])
        if i < len(right):
            pdf.text(110, y, right[i])
        y += 5.5
    pdf.output(str(path))
    return path


SCANNED_TEXT = ("Scanned memo from the harbour office", "The ferry to Lindholm leaves at seven",
                "Passengers must show a valid ticket", "Bicycles travel free on weekdays")


def scanned_pdf(path: Path, dpi: int = 150) -> Path:
    """A page that is only a picture of text: ``SCANNED_TEXT`` set in a PDF, rendered to an
    image with pypdfium2, and the image placed alone on a new page."""
    import pypdfium2 as pdfium

    source = FPDF(format=(148, 210))
    source.add_page()
    source.set_font("Helvetica", "B", 16)
    source.cell(0, 12, SCANNED_TEXT[0], new_x="LMARGIN", new_y="NEXT")
    source.set_font("Helvetica", "", 13)
    for line in SCANNED_TEXT[1:]:
        source.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    document = pdfium.PdfDocument(bytes(source.output()))
    image = document[0].render(scale=dpi / 72).to_pil().convert("L")
    document.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    scan = FPDF(format=(148, 210))
    scan.add_page()
    scan.image(buffer, x=0, y=0, w=scan.w, h=scan.h)
    scan.output(str(path))
    return path


def text_image_png(lines: tuple[str, ...] = SCANNED_TEXT[1:3], dpi: int = 150) -> bytes:
    """A PNG picture of a few lines of text (for pictures inside DOCX and PPTX)."""
    import pypdfium2 as pdfium

    source = FPDF(format=(150, 40))
    source.set_auto_page_break(False)
    source.add_page()
    source.set_font("Helvetica", "", 13)
    for line in lines:
        source.cell(0, 9, line, new_x="LMARGIN", new_y="NEXT")
    document = pdfium.PdfDocument(bytes(source.output()))
    image = document[0].render(scale=dpi / 72).to_pil().convert("L")
    document.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


SLIDES = (("Quarterly results", ["Revenue grew by twelve percent", "Costs fell in the north"],
           "Mention the new warehouse in Tromsø."),
          ("Hiring plan", ["Three engineers in Oslo", "One designer in Bergen"], ""))


def deck_pptx(path: Path, picture: bytes | None = None) -> Path:
    """Two slides with titles, bullet points and speaker notes, a table on the second, and
    optionally a picture of text on a third."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, bullets, notes in SLIDES:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    shape = deck.slides[1].shapes.add_table(3, 2, Inches(1), Inches(4), Inches(6), Inches(1.5))
    for r, row in enumerate((("Role", "City"), ("Engineer", "Oslo"), ("Designer", "Bergen"))):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    if picture is not None:
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        slide.shapes.title.text = "Harbour notice"
        slide.shapes.add_picture(io.BytesIO(picture), Inches(1), Inches(2), width=Inches(7))
    deck.save(str(path))
    return path


def workbook_xlsx(path: Path) -> Path:
    """Two sheets: 'Sales' with a header row, values and a formula column whose results are
    stored as a spreadsheet program stores them (XlsxWriter, which python-pptx depends on,
    writes a formula with its value); 'Staff'."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sales = book.add_worksheet("Sales")
    sales.write_row(0, 0, ["Product", "Units", "Price", "Total"])
    for i, (product, units, price) in enumerate((("Kettle", 12, 30), ("Toaster", 7, 45),
                                                 ("Blender", 3, 80)), start=1):
        sales.write_row(i, 0, [product, units, price])
        sales.write_formula(i, 3, f"=B{i + 1}*C{i + 1}", None, units * price)
    staff = book.add_worksheet("Staff")
    staff.write_row(0, 0, ["Name", "Team"])
    staff.write_row(1, 0, ["Ingrid Holm", "Logistics"])
    staff.write_row(2, 0, ["Tomas Berg", "Sales"])
    book.close()
    return path
