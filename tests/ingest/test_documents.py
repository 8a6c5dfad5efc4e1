"""Documents as people keep them, made by the tests with known content (``made_documents``):
PDF layout (headings, hyphenation, a 40-row table over two pages, running header and footer,
two columns), a scanned page read by OCR, slides, spreadsheets, CSV/TSV, EPUB, DOCX tables,
HTML whose code comments look like headings; then one real ingest on the embedded models
where a table cell, a scanned page, a slide and a sheet are each found by a question."""

from __future__ import annotations

import zipfile

import pytest

from ragloop.errors import IngestError
from ragloop.ingest.loaders import LOADERS, LoadLimits, load_path

from . import made_documents as made


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("documents")
    picture = made.text_image_png()
    return {"manual": made.manual_pdf(folder / "manual.pdf"),
            "columns": made.two_column_pdf(folder / "columns.pdf"),
            "scan": made.scanned_pdf(folder / "scan.pdf"),
            "deck": made.deck_pptx(folder / "deck.pptx", picture),
            "book": made.workbook_xlsx(folder / "book.xlsx")}


def table_cells(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ")]


def test_registry_knows_the_office_and_book_formats():
    assert {".pptx", ".xlsx", ".csv", ".tsv", ".epub"} <= set(LOADERS)


def test_pdf_layout_headings_paragraphs_and_running_text(files):
    (doc,) = load_path(files["manual"])
    assert [(s.level, s.title) for s in doc.sections] == [
        (1, "Rainfall stations"), (2, "Reading the gauges"), (2, "Station register"),
        (2, "Closing notes")]
    assert "standard procedure of the office." in doc.text  # hyphen rejoined over the break
    assert made.RUNNING_HEADER not in doc.text and "Page 1" not in doc.text
    assert made.RUNNING_HEADER in doc.metadata["running_text"]
    assert len(doc.pages) == 2 and doc.metadata["n_pages"] == 2


def test_pdf_table_over_two_pages_is_one_markdown_table(files):
    (doc,) = load_path(files["manual"])
    cells = table_cells(doc.text)
    assert cells[0] == list(made.TABLE_COLUMNS) and cells[1][0].startswith("---")
    assert cells[2:] == [list(row) for row in made.table_rows(40)]  # every cell in its place


def test_pdf_two_columns_are_read_column_by_column(files):
    (doc,) = load_path(files["columns"])
    owls, bees = doc.text.index("Owls"), doc.text.index("Bees")
    assert owls < bees and doc.text.rindex("Owls") < bees  # no interleaving


def test_scanned_pdf_page_is_read_by_ocr_with_its_confidence(files):
    (doc,) = load_path(files["scan"])
    for line in made.SCANNED_TEXT:
        assert line in doc.text
    assert doc.metadata["ocr_pages"][1] > 0.8


def test_scanned_pdf_without_ocr_is_refused_by_name(files):
    from ragloop.ingest.loaders import iter_path

    with pytest.raises(IngestError, match=r"scan.pdf: no text layer .*\[ingest\] ocr is off"):
        list(iter_path(files["scan"], ocr="off"))


def test_slides_are_sections_with_notes_tables_and_pictures(files):
    (doc,) = load_path(files["deck"])
    assert [s.title for s in doc.sections] == [
        "Slide 1: Quarterly results", "Slide 2: Hiring plan", "Slide 3: Harbour notice"]
    assert "Notes: Mention the new warehouse in Tromsø." in doc.text
    assert ["Engineer", "Oslo"] in table_cells(doc.text)
    assert "The ferry to Lindholm leaves at seven" in doc.text  # the picture, by OCR


def test_sheets_are_sections_and_formulas_their_values(files):
    (doc,) = load_path(files["book"])
    assert [s.title for s in doc.sections] == ["Sheet Sales", "Sheet Staff"]
    assert ["Kettle", "12", "30", "360"] in table_cells(doc.text)
    assert ["Tomas Berg", "Sales"] in table_cells(doc.text)


def test_csv_and_tsv_delimiters_are_sniffed_and_rows_limited(tmp_path):
    semicolons = tmp_path / "prices.csv"
    semicolons.write_text("item;price\nsoap;2,50\nbread;3,10\n", encoding="utf-8")
    (doc,) = load_path(semicolons)
    assert table_cells(doc.text) == [["item", "price"], ["---", "---"], ["soap", "2,50"],
                                     ["bread", "3,10"]]
    tabs = tmp_path / "staff.tsv"
    tabs.write_text("name\tteam\n" + "".join(f"p{i}\tt{i}\n" for i in range(50)),
                    encoding="utf-8")
    (item,) = LOADERS.get(".tsv")().load(tabs, tabs.read_bytes(), LoadLimits(max_table_rows=10))
    assert len(table_cells(item.text)) == 2 + 10 and "max_table_rows" in item.metadata[
        "warnings"][0]


def test_docx_tables_become_markdown_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Rota", level=1)
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate((("Day", "Person"), ("Monday", "Ines"))):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.save(tmp_path / "rota.docx")
    (doc,) = load_path(tmp_path / "rota.docx")
    assert table_cells(doc.text) == [["Day", "Person"], ["---", "---"], ["Monday", "Ines"]]


def write_epub(path, chapters):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", (
            '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/book.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>'))
        items = "".join(f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
                        for i in range(len(chapters)))
        refs = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        archive.writestr("OEBPS/book.opf", (
            '<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Sea Birds</dc:title>'
            f'</metadata><manifest>{items}</manifest><spine>{refs}</spine></package>'))
        for i, body in enumerate(chapters):
            archive.writestr(f"OEBPS/c{i}.xhtml", '<html xmlns="http://www.w3.org/1999/xhtml">'
                                                 f'<body>{body}</body></html>')


def test_epub_chapters_in_spine_order_with_sections(tmp_path):
    write_epub(tmp_path / "birds.epub", [
        "<h1>Gulls</h1><p>Gulls nest on cliffs.</p>",
        "<h1>Terns</h1><h2>Arctic terns</h2><p>They fly from pole to pole.</p>"])
    (doc,) = load_path(tmp_path / "birds.epub")
    assert doc.title == "Sea Birds"
    assert [s.title for s in doc.sections] == ["Gulls", "Terns", "Arctic terns"]
    assert doc.text.index("cliffs") < doc.text.index("pole to pole")


@pytest.mark.parametrize("suffix", [".pptx", ".xlsx", ".epub"])
def test_a_corrupt_zip_based_file_is_that_files_error(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(IngestError, match="broken"):
        load_path(path)


def test_html_code_comments_never_become_headings_or_titles(tmp_path):
    path = tmp_path / "cron.html"
    path.write_text(
        "<html><head><title>Scheduling jobs</title></head><body>"
        "<div class='navheader'><a href='a.html'>Prev</a></div>"
        "<div class='chapter'><h2 class='title'>Scheduling jobs</h2><p>Use cron.</p>"
        "<pre class='screen'># Download data every night at 7:25 pm\n25 19 * * * get</pre>"
        "<h3>Checking the log</h3><p>Read /var/log/syslog.</p></div></body></html>",
        encoding="utf-8")
    (doc,) = load_path(path)
    assert doc.title == "Scheduling jobs"
    assert [s.title for s in doc.sections] == ["Scheduling jobs", "Checking the log"]
    assert "# Download data every night" in doc.text and "Prev" not in doc.text


def test_real_ingest_finds_a_table_cell_a_scan_a_slide_and_a_sheet(files, tmp_path):
    from ragloop.pipeline import Pipeline
    from real_project import make_project

    project = make_project(tmp_path / "project", tail="[ingest]\nchunk_tokens = 120\n"
                                                      "overlap_tokens = 10\n")
    with Pipeline(project, use_cache=False) as pipeline:
        report = pipeline.ingest([files["manual"], files["scan"], files["deck"], files["book"]])
        assert report.ok, report
        chunks = [c for stored in pipeline.store.export() for c in stored.chunks]
        assert not any(made.RUNNING_HEADER in c.text for c in chunks)
        table_parts = [c for c in chunks if "| ST-1" in c.text]
        assert len(table_parts) >= 2  # the table is cut between rows ...
        header = "| " + " | ".join(made.TABLE_COLUMNS) + " |"
        assert all(c.text.startswith(header) for c in table_parts)  # ... header in each part

        def top(question):
            return pipeline.search(question, k=3)[0].chunk

        cell = top("Which operator reads station ST-133?")
        assert "| ST-133 | South | 861 | Dara Okafor |" in cell.text and header in cell.text
        assert cell.metadata["place"] in ("p. 1", "p. 2", "pp. 1-2")
        assert "Lindholm" in top("When does the ferry to Lindholm leave?").text
        assert top("How many engineers are hired in Oslo?").metadata["place"] == (
            "Slide 2: Hiring plan")
        assert top("Which team is Ingrid Holm in?").section_path[-1] == "Sheet Staff"


def test_ocr_models_come_from_the_installed_wheel_without_network(monkeypatch):
    import socket

    from ragloop.ingest import ocr

    def no_network(*args, **kwargs):
        raise AssertionError("OCR tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    ocr._engine.cache_clear()  # built again here, with the network closed
    text, score = ocr.image_text(made.text_image_png(made.SCANNED_TEXT[1:2]))
    assert text.strip() == made.SCANNED_TEXT[1] and score > 0.8
