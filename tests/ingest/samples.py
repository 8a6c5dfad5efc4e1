"""Input files made inside the tests: PDFs (written by hand, encrypted with pypdf), a docx
(python-docx), and a folder of good and bad inputs."""

from __future__ import annotations

from pathlib import Path


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None,
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objects)} 0 R >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def write_pdf(path: Path, pages: list[str], *, outline: list[tuple[str, int]] = (),
              password: str | None = None) -> Path:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(pages))))
    for title, page in outline:
        writer.add_outline_item(title=title, page_number=page)
    if password is not None:
        writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Gardening Guide"
    document.add_heading("Gardening Guide", level=0)
    document.add_paragraph("Tomatoes need six hours of direct sunlight every day.")
    document.add_heading("Watering", level=1)
    document.add_paragraph("Water deeply twice a week rather than a little every day.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "plant", "litres"
    table.cell(1, 0).text, table.cell(1, 1).text = "tomato", "two"
    document.save(str(path))
    return path


GOOD_MD = """# Volcano Facts

Volcanoes form where magma reaches the surface of the earth.

## Eruptions

An eruption releases lava, ash and gases such as sulfur dioxide.
"""


def make_bad_input_folder(root: Path) -> dict[str, Path]:
    """Good files and one of each kind of bad input. Returns name → path."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "good_md": root / "volcano.md",
        "good_txt": root / "penguins.txt",
        "good_pdf": root / "report.pdf",
        "good_docx": root / "garden.docx",
        "good_html": root / "page.html",
        "corpus": root / "corpus.jsonl",
        "cp1252": root / "legacy.txt",
        "binary": root / "binary.txt",
        "empty": root / "empty.md",
        "corrupt_pdf": root / "corrupt.pdf",
        "encrypted_pdf": root / "secret.pdf",
        "huge": root / "huge.txt",
    }
    files["good_md"].write_text(GOOD_MD, encoding="utf-8")
    files["good_txt"].write_text("Emperor penguins huddle together to survive the Antarctic "
                                 "winter.\n\nThey breed on sea ice.\n", encoding="utf-8")
    write_pdf(files["good_pdf"], ["Quarterly revenue grew by twelve percent.",
                                  "Glaciers retreat when summers warm."],
              outline=[("Finance", 0), ("Climate", 1)])
    write_docx(files["good_docx"])
    files["good_html"].write_text(
        "<html><head><title>Lighthouses</title></head><body><nav>Home | About | Contact</nav>"
        "<article><h1>Lighthouses</h1><p>Lighthouses guide ships with a rotating beam of "
        "light visible for many nautical miles at night.</p><p>Most lighthouses are "
        "automated today and need no keeper.</p></article>"
        "<footer>Copyright Example Corp, all rights reserved</footer></body></html>",
        encoding="utf-8")
    files["corpus"].write_text(
        '{"_id": "d1", "title": "Honey bees", "text": "Honey bees communicate with a waggle '
        'dance."}\n'
        "this line is not json\n"
        '{"_id": "d2", "title": "Octopus", "text": "An octopus has three hearts and blue '
        'blood."}\n', encoding="utf-8")
    files["cp1252"].write_bytes("Café crème brûlée costs 5 € at the “bistro”.\n"
                                .encode("cp1252"))
    files["binary"].write_bytes(bytes(range(256)) * 8)
    files["empty"].write_bytes(b"")
    files["corrupt_pdf"].write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog garbage\n%%EOF")
    write_pdf(files["encrypted_pdf"], ["Top secret plans."], password="hunter2")
    with files["huge"].open("wb") as handle:  # sparse: 50 MB on paper, nothing on disk
        handle.truncate(50 * 1024 * 1024)
    return files


GOOD_QUERIES = {  # a word only that file holds → the file's source
    "magma": "good_md", "huddle": "good_txt", "revenue": "good_pdf", "tomatoes": "good_docx",
    "nautical": "good_html", "waggle": "corpus", "octopus": "corpus", "brûlée": "cp1252",
}
BAD = ("binary", "empty", "corrupt_pdf", "encrypted_pdf", "huge")
