"""Real documents through today's loaders and the loaders before issue 25, side by side.

    scripts/get-documents.sh            # Debian documentation packages, into a cache folder
    python -m bench.documents [--quick] [--documents DIR]

Both loaders read the same files in one run; chunks are cut by the default structure
chunker (200 MiniLM tokens) for both.

1. **Made PDFs with known content** (``tests/ingest/made_documents.py``): a manual with
   headings, a 40-row table over two pages and a running header and page-number footer on
   every page; a two-column page; a scanned page. Heading recall, table cell accuracy (a
   cell counts when it sits in its row under its column's name: a Markdown table row, or a
   text line holding exactly the row's cells in order, whichever the loader gives), the
   share of table rows whose chunk also holds the header row, header/footer occurrences left
   in chunks, two-column interleaving, OCR character error rate (CER) on the scanned page.
2. **Debian's PDF manuals** (gnuplot, asymptote, developers-reference, debian-faq,
   debian-reference: LaTeX, Texinfo TeX, Sphinx LaTeX, DocBook). Heading recall and
   precision of font-based headings against the file's own bookmarks, with the bookmarks
   hidden from both loaders; running-line leakage: lines found at the top or bottom of at
   least a quarter of the pages of pdfium's plain text (digits ignored, 8+ characters) and
   the share of chunks that still hold one; pages/s.
3. **OCR of real pages**: pages of developers-reference.pdf rendered at 200 dpi into an
   image-only PDF and read back by the loader; CER against the pages' own text layer
   (whitespace collapsed); OCR pages/s.
4. **HTML from seven generators** (Sphinx, DocBook x2, MkDocs, Javadoc, latex2html, Texinfo):
   share of chunks with a section path, recall of the pages' h1-h6 texts as section titles,
   wrong titles (a title that is no h1-h6 or <title> text of its page), contents pages set
   aside.
5. **pypdfium2 against pdfplumber**: characters with boxes and fonts from every page of
   gnuplot.pdf (311 pages), the speed behind the choice of PDF library.

``--quick`` reads a few pages and files of each. Writes ``bench/results/documents.json``.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

from bench.harness import Bench

CACHE = Path.home() / ".cache" / "ragloop" / "documents"
PDFS = {"gnuplot (LaTeX)": "gnuplot-doc/usr/share/doc/gnuplot/gnuplot.pdf",
        "asymptote (Texinfo TeX)": "asymptote-doc/usr/share/doc/asymptote/asymptote.pdf",
        "developers-reference (Sphinx LaTeX)":
            "developers-reference/usr/share/developers-reference/developers-reference.pdf",
        "debian-faq (DocBook)": "debian-faq/usr/share/doc/debian/FAQ/debian-faq.en.pdf",
        "debian-reference (DocBook)":
            "debian-reference-en/usr/share/debian-reference/debian-reference.en.pdf"}
HTML = {"Sphinx": "developers-reference/usr/share/developers-reference",
        "DocBook (debian-reference)": "debian-reference-en/usr/share/debian-reference",
        "DocBook (debian-faq)": "debian-faq/usr/share/doc/debian/FAQ",
        "MkDocs": "mkdocs-doc/usr/share/doc/mkdocs",
        "Javadoc": "libcommons-fileupload-java-doc/usr/share/doc",
        "latex2html": "gnuplot-doc/usr/share/doc/gnuplot",
        "Texinfo": "asymptote-doc/usr/share/doc/asymptote"}
OCR_PDF = "developers-reference (Sphinx LaTeX)"


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    return " ".join(text.split())


def heading_key(text: str) -> str:
    """A heading without its numbering, case and punctuation ("5.8. Handling bugs" ->
    "handling bugs"), so bookmark and heading texts compare."""
    text = norm(text).lower()
    text = re.sub(r"^(chapter|appendix|part)?\s*[\divxlc]+(\.\d+)*\.?\s+", "", text)
    return re.sub(r"[^\w]+", " ", text).strip()


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(found: str, truth: str) -> float:
    found, truth = norm(found), norm(truth)
    return round(edit_distance(found, truth) / max(1, len(truth)), 4)


class Loaders:
    """Today's loader and the old one for a suffix, and the chunker both are cut by."""

    def __init__(self):
        from ragloop.config import EmbedderSettings, IngestSettings
        from ragloop.ingest.chunk import ChunkBuilder
        from ragloop.models.factory import build_embedder

        embedder = build_embedder(EmbedderSettings(cache=False), cache_dir=None)
        self.builder = ChunkBuilder(IngestSettings(), embedder, contextual=False)

    @staticmethod
    def load(kind: str, path: Path):
        from bench import legacy_loaders
        from ragloop.ingest.loaders import load_path

        if kind == "new":
            (document,) = load_path(path)
            return document
        return (legacy_loaders.legacy_pdf if path.suffix == ".pdf"
                else legacy_loaders.legacy_html)(path)

    def chunks(self, document) -> list:
        return self.builder.chunks(document)


class hidden_bookmarks:
    """Both PDF loaders without the file's bookmarks, so headings come from the page."""

    def __enter__(self):
        from bench import legacy_loaders
        from ragloop.ingest.loaders import pdf

        self.saved = pdf._bookmarks, legacy_loaders._outline
        pdf._bookmarks = legacy_loaders._outline = lambda _: {}

    def __exit__(self, *exc):
        from bench import legacy_loaders
        from ragloop.ingest.loaders import pdf

        pdf._bookmarks, legacy_loaders._outline = self.saved


# ----------------------------------------------------------------------------- made PDFs
def table_cell_accuracy(text: str, columns, rows) -> float:
    """Cells in their row under their column: Markdown rows are read by the header's
    column order; a plain text line counts when it is exactly the row's cells in order."""
    right = 0
    lines = [norm(line) for line in text.splitlines()]
    header_index = None
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")] if line.startswith("|") else None
        if cells and cells == list(columns):
            header_index = {name: i for i, name in enumerate(cells)}
    by_station = {}
    for line in lines:
        if line.startswith("|") and header_index:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == len(columns):
                by_station[cells[header_index[columns[0]]]] = (
                    [cells[header_index[name]] for name in columns])
        else:
            for row in rows:
                if line == " ".join(row):
                    by_station[row[0]] = list(row)
    for row in rows:
        found = by_station.get(row[0])
        right += sum(1 for a, b in zip(found or [], row, strict=False) if a == b)
    return round(right / (len(rows) * len(columns)), 4)


def made_pdfs(bench: Bench, loaders: Loaders) -> dict:
    from tests.ingest import made_documents as made

    folder = bench.args.out / "made"
    folder.mkdir(exist_ok=True)
    manual = made.manual_pdf(folder / "manual.pdf")
    columns = made.two_column_pdf(folder / "columns.pdf")
    scan = made.scanned_pdf(folder / "scan.pdf", dpi=200)
    header = "| " + " | ".join(made.TABLE_COLUMNS) + " |"
    rows = made.table_rows(40)
    out = {}
    for kind in ("new", "old"):
        document = loaders.load(kind, manual)
        chunks = loaders.chunks(document)
        row_chunks = [c for c in chunks for row in rows if row[0] in c.text]
        titles = {heading_key(s.title) for s in document.sections}
        page_lines = sum(len(re.findall(r"\bPage \d+\b", c.text)) for c in chunks)
        result = {
            "heading_recall": round(sum(heading_key(h) in titles for h in made.HEADINGS)
                                    / len(made.HEADINGS), 4),
            "table_cell_accuracy": table_cell_accuracy(document.text, made.TABLE_COLUMNS, rows),
            "table_rows_with_header_in_chunk": round(
                sum(header in c.text for c in row_chunks) / max(1, len(row_chunks)), 4),
            "running_header_in_chunks": sum(c.text.count(made.RUNNING_HEADER) for c in chunks),
            "page_number_footers_in_chunks": page_lines,
            "chunks": len(chunks)}
        two = loaders.load(kind, columns).text
        owls = [m.start() for m in re.finditer("Owls", two)]
        bees = [m.start() for m in re.finditer("Bees", two)]
        result["two_column_interleaved"] = bool(owls and bees and max(owls) > min(bees))
        started = time.perf_counter()
        try:
            text = loaders.load(kind, scan).text
        except Exception as err:  # noqa: BLE001 - the old loader refuses scans: CER 1
            text, result["scan_error"] = "", str(err).split(": ", 1)[-1][:120]
        result["scan_seconds"] = round(time.perf_counter() - started, 2)
        result["scan_cer"] = cer(text, " ".join(made.SCANNED_TEXT))
        out[kind] = result
        print(f"made PDFs, {kind}: {result}", flush=True)
    return out


# ----------------------------------------------------------------------------- real PDFs
def running_lines(path: Path, pages: int | None) -> set[str]:
    """Lines at the top or bottom of at least a quarter of the pages (digits ignored)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    n = min(len(pdf), pages or len(pdf))
    seen: Counter = Counter()
    for index in range(n):
        page = pdf[index]
        textpage = page.get_textpage()
        lines = [norm(x) for x in textpage.get_text_range().splitlines() if norm(x)]
        textpage.close()
        page.close()
        ends = {re.sub(r"\d+", "#", x) for x in lines[:2] + lines[-2:]}
        seen.update(ends)
    pdf.close()
    return {line for line, count in seen.items()
            if count >= max(3, n / 4) and len(line.replace("#", "").strip()) >= 8}


def truncated(path: Path, pages: int | None, folder: Path) -> Path:
    if not pages:
        return path
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(str(path))
    target = pdfium.PdfDocument.new()
    target.import_pages(source, list(range(min(pages, len(source)))))
    cut = folder / f"{path.stem}-{pages}p.pdf"
    target.save(str(cut))
    return cut


def bookmark_titles(path: Path, pages: int | None) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    titles = []
    for item in pdf.get_toc(max_depth=6):
        dest = item.get_dest()
        index = dest.get_index() if dest is not None else None
        if index is not None and index >= 0 and (not pages or index < pages):
            titles.append(item.get_title() or "")
    pdf.close()
    return titles


def real_pdfs(bench: Bench, loaders: Loaders, root: Path) -> dict:
    pages = 12 if bench.args.quick else None
    folder = bench.args.out / "pdf"
    folder.mkdir(exist_ok=True)
    out = {}
    for name, relative in PDFS.items():
        source = root / relative
        if not source.exists():
            print(f"missing {source}: run scripts/get-documents.sh", flush=True)
            continue
        path = truncated(source, pages, folder)
        truth = {heading_key(t) for t in bookmark_titles(source, pages)} - {""}
        running = running_lines(path, None)
        entry = {"bookmarks": len(truth), "running_lines": sorted(running)[:12]}
        for kind in ("new", "old"):
            started = time.perf_counter()
            with hidden_bookmarks():
                document = loaders.load(kind, path)
            seconds = time.perf_counter() - started
            chunks = loaders.chunks(document)
            found = {heading_key(s.title) for s in document.sections} - {""}
            leaked = sum(any(line in re.sub(r"\d+", "#", norm(c.text)) for line in running)
                         for c in chunks)
            n_pages = len(document.pages)
            entry[kind] = {
                "pages": n_pages, "seconds": round(seconds, 2),
                "pages_per_s": round(n_pages / seconds, 2),
                "heading_recall": round(len(found & truth) / max(1, len(truth)), 4),
                "heading_precision": round(len(found & truth) / len(found), 4) if found else None,
                "chunks": len(chunks),
                "chunks_with_running_line": round(leaked / max(1, len(chunks)), 4),
                "chunks_with_section_path": round(
                    sum(bool(c.section_path) for c in chunks) / max(1, len(chunks)), 4)}
        out[name] = entry
        print(f"{name}: new {entry['new']} old {entry['old']}", flush=True)
    return out


def pdf_totals(results: dict) -> dict:
    totals = {}
    for kind in ("new", "old"):
        pages = sum(r[kind]["pages"] for r in results.values())
        seconds = sum(r[kind]["seconds"] for r in results.values())
        chunks = sum(r[kind]["chunks"] for r in results.values())
        leaked = sum(r[kind]["chunks_with_running_line"] * r[kind]["chunks"]
                     for r in results.values())
        totals[kind] = {"pages": pages, "pages_per_s": round(pages / max(seconds, 1e-9), 2),
                        "chunks_with_running_line": round(leaked / max(1, chunks), 4),
                        "heading_recall_mean": round(sum(r[kind]["heading_recall"]
                                                         for r in results.values())
                                                     / max(1, len(results)), 4)}
    return totals


# ----------------------------------------------------------------------------- OCR
def real_ocr(bench: Bench, loaders: Loaders, root: Path) -> dict:
    import io

    import pypdfium2 as pdfium
    from fpdf import FPDF

    source = root / PDFS[OCR_PDF]
    if not source.exists():
        return {}
    pdf = pdfium.PdfDocument(str(source))
    numbers = [20, 40] if bench.args.quick else [20, 50, 80]
    truths, scan = [], FPDF(unit="pt")
    for number in numbers:
        page = pdf[number]
        textpage = page.get_textpage()
        truths.append(textpage.get_text_range())
        textpage.close()
        width, height = page.get_size()
        image = page.render(scale=200 / 72).to_pil().convert("L")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        scan.add_page(format=(width, height))
        scan.image(buffer, x=0, y=0, w=width, h=height)
        page.close()
    pdf.close()
    path = bench.args.out / "scanned-pages.pdf"
    scan.output(str(path))
    started = time.perf_counter()
    document = loaders.load("new", path)
    seconds = time.perf_counter() - started
    bounds = [*document.pages, len(document.text)]
    rates = [cer(document.text[bounds[i]:bounds[i + 1]], truth)
             for i, truth in enumerate(truths)]
    result = {"file": OCR_PDF, "pages": numbers, "dpi": 200, "cer_per_page": rates,
              "cer_mean": round(sum(rates) / len(rates), 4), "seconds": round(seconds, 2),
              "pages_per_s": round(len(numbers) / seconds, 3),
              "confidence": document.metadata.get("ocr_pages")}
    print(f"OCR of real pages: {result}", flush=True)
    return result


# ----------------------------------------------------------------------------- HTML
def page_headings(path: Path) -> tuple[set[str], set[str]]:
    """The h1-h6 texts of a page and the texts a title may rightly be (those and <title>)."""
    import lxml.html

    tree = lxml.html.fromstring(path.read_bytes())
    headings = {heading_key(h.text_content()) for h in tree.iter("h1", "h2", "h3", "h4",
                                                                  "h5", "h6")} - {""}
    titles = set(headings) | {heading_key(t.text_content()) for t in tree.iter("title")}
    return headings, titles


def html_sets(bench: Bench, loaders: Loaders, root: Path) -> dict:
    limit = 8 if bench.args.quick else 40
    out = {}
    for name, relative in HTML.items():
        files = sorted(p for p in (root / relative).rglob("*.html") if not p.is_symlink())
        files = files[:limit]
        if not files:
            print(f"no HTML for {name} under {root / relative}", flush=True)
            continue
        entry = {"files": len(files)}
        for kind in ("new", "old"):
            chunks = with_path = recalled = headings = wrong = contents = failed = 0
            started = time.perf_counter()
            for path in files:
                try:
                    document = loaders.load(kind, path)
                except Exception:  # noqa: BLE001 - a page either loader refuses is counted
                    failed += 1
                    continue
                if document.metadata.get("contents_page"):
                    contents += 1
                    continue
                truth, titles = page_headings(path)
                found = {heading_key(s.title) for s in document.sections}
                headings += len(truth)
                recalled += len(truth & found)
                wrong += heading_key(document.title) not in titles
                pieces = loaders.chunks(document)
                chunks += len(pieces)
                with_path += sum(bool(c.section_path) for c in pieces)
            entry[kind] = {"chunks": chunks,
                           "chunks_with_section_path": round(with_path / max(1, chunks), 4),
                           "heading_recall": round(recalled / max(1, headings), 4),
                           "wrong_titles": wrong, "contents_pages_left_out": contents,
                           "failed": failed,
                           "seconds": round(time.perf_counter() - started, 2)}
        out[name] = entry
        print(f"HTML {name}: new {entry['new']} old {entry['old']}", flush=True)
    return out


# ----------------------------------------------------------------------------- libraries
def libraries(bench: Bench, root: Path) -> dict:
    import pypdfium2 as pdfium

    from ragloop.ingest.loaders.pdf_chars import page_spans

    path = root / PDFS["gnuplot (LaTeX)"]
    if not path.exists():
        return {}
    pages = 30 if bench.args.quick else None
    started = time.perf_counter()
    pdf = pdfium.PdfDocument(str(path))
    n = min(len(pdf), pages or len(pdf))
    chars = 0
    for index in range(n):
        page = pdf[index]
        textpage = page.get_textpage()
        chars += sum(len(span.text) for span in page_spans(textpage))
        textpage.close()
        page.close()
    pdf.close()
    result = {"file": "gnuplot.pdf", "pages": n,
              "pypdfium2": {"seconds": round(time.perf_counter() - started, 2),
                            "characters": chars}}
    try:
        import pdfplumber
    except ImportError:
        result["pdfplumber"] = "not installed"
        return result
    started = time.perf_counter()
    count = 0
    with pdfplumber.open(str(path), pages=list(range(1, n + 1))) as plumber:
        for page in plumber.pages:
            count += sum(1 for c in page.chars if c["text"].strip())
            page.close()
    result["pdfplumber"] = {"seconds": round(time.perf_counter() - started, 2),
                            "characters": count}
    result["pdfplumber_over_pypdfium2"] = round(result["pdfplumber"]["seconds"]
                                                / max(1e-9, result["pypdfium2"]["seconds"]), 2)
    print(f"libraries: {result}", flush=True)
    return result


def main(argv=None) -> None:
    bench = Bench("documents", __doc__, argv, extra=lambda p: p.add_argument(
        "--documents", type=Path, default=CACHE,
        help="where scripts/get-documents.sh unpacked the Debian packages"))
    root = bench.args.documents
    loaders = Loaders()
    results = {"packages": sorted({rel.split("/")[0] for rel in [*PDFS.values(),
                                                                *HTML.values()]})}
    with bench.timed("made_pdfs"):
        results["made_pdfs"] = made_pdfs(bench, loaders)
    with bench.timed("real_pdfs"):
        results["real_pdfs"] = real_pdfs(bench, loaders, root)
        results["real_pdfs_total"] = pdf_totals(results["real_pdfs"])
    with bench.timed("ocr"):
        results["ocr_real_pages"] = real_ocr(bench, loaders, root)
    with bench.timed("html"):
        results["html"] = html_sets(bench, loaders, root)
    with bench.timed("libraries"):
        results["libraries"] = libraries(bench, root)
    bench.write(results)


if __name__ == "__main__":
    main()
