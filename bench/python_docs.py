"""The Python documentation as a new user would ingest it: Debian's ``python3-doc`` HTML
(library/ + tutorial/ + howto/, 354 pages), through the ``ragloop`` command.

    scripts/get-python-docs.sh            # installs python3-doc (test data, not a dependency)
    python -m bench.python_docs [--docs /usr/share/doc/python3/html] [--limit N]
                                [--out /tmp/ragloop-python-docs] [--skip-ingest]

1. Section labels, no model needed: every page is loaded and its section titles compared with
   the headings a reader sees in the page body (``h1``-``h6`` text without the "¶"); pages
   whose sections equal their headings, and headings found.
2. Ingest: ``ragloop init`` + ``ragloop ingest --json`` of the three folders into a fresh
   project with the default settings (ONNX MiniLM embedder, no enrichment): wall time,
   documents, chunks, seconds per stage; then a second ``ingest`` of the same folders (nothing
   changed).
3. Chunk labels on the pages named in issue 15: the chunks that hold given text must carry
   the section path of the heading the text sits under in the page.
4. Search: hit@1 and hit@3 (the expected page among the documents of the top 3 chunks) for
   the hand-written questions in ``QUESTIONS``, with the default retriever.

Prints tables and writes ``bench/results/python_docs.json`` (``--labels-only``:
``python_docs-labels.json``). ``--limit N`` ingests only the first N pages of each folder
(sorted), and says so in the results. ``--out`` is the project folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import lxml.html
from rich.console import Console
from rich.table import Table

from bench.harness import REPO, Bench, Timer
from bench.harness import project as open_project
from ragloop.errors import IngestError
from ragloop.ingest.loaders import file_doc_id, load_path

console = Console(width=120)
DOCS = Path("/usr/share/doc/python3/html")
FOLDERS = ("library", "tutorial", "howto")

# Written by hand before any search was run: question → pages that answer it (relative to
# the docs root); a hit is any of them among the documents of the top results.
QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("format a datetime as a string with codes like %Y-%m-%d", ("library/datetime.html",)),
    ("run an external command and capture its output", ("library/subprocess.html",)),
    ("cache the results of a function with a least recently used cache",
     ("library/functools.html",)),
    ("parse command line arguments and options", ("library/argparse.html",
                                                   "howto/argparse.html")),
    ("sort a list of dictionaries by a key", ("howto/sorting.html",)),
    ("serialize a Python object to a JSON string", ("library/json.html",)),
    ("count how often each item occurs with a dict subclass",
     ("library/collections.html",)),
    ("create a temporary directory that is removed automatically", ("library/tempfile.html",)),
    ("write log messages to a file with severity levels", ("library/logging.html",
                                                           "howto/logging.html",
                                                           "howto/logging-cookbook.html",
                                                           "library/logging.handlers.html")),
    ("create a virtual environment and install packages into it",
     ("tutorial/venv.html", "library/venv.html")),
    ("read and write CSV files", ("library/csv.html",)),
    ("a class decorator that generates __init__ and __repr__ from field annotations",
     ("library/dataclasses.html",)),
    ("run coroutines concurrently with asyncio.gather", ("library/asyncio-task.html",)),
    ("find file names matching a wildcard pattern like *.txt", ("library/glob.html",
                                                                "library/fnmatch.html")),
    ("handle exceptions with try, except and finally", ("tutorial/errors.html",)),
    ("why 0.1 + 0.2 is not exactly 0.3 in floating point",
     ("tutorial/floatingpoint.html",)),
    ("shuffle a list and pick random numbers", ("library/random.html",)),
    ("read a file line by line with readline and move with seek",
     ("tutorial/inputoutput.html", "library/io.html")),
    ("write unit tests with test cases and assertions", ("library/unittest.html",)),
    ("match a regular expression at the start of a string", ("library/re.html",
                                                              "howto/regex.html")),
]

# Issue 15's pages: text in the page → the section path its chunk must carry (outermost
# first; the page title is the first element).
LABELS: list[tuple[str, str, tuple[str, ...]]] = [
    ("tutorial/inputoutput.html", "f.readline()",
     ("7. Input and Output", "7.2. Reading and Writing Files",
      "7.2.1. Methods of File Objects")),
    ("tutorial/inputoutput.html", "The % operator (modulo) can also be used",
     ("7. Input and Output", "7.1. Fancier Output Formatting", "7.1.4. Old string formatting")),
    ("library/datetime.html", "datetime.strftime(format)",
     ("datetime — Basic date and time types", "datetime Objects")),
    ("library/datetime.html", "Week number of the year (Sunday as the first",
     ("datetime — Basic date and time types", "strftime() and strptime() Behavior",
      "strftime() and strptime() Format Codes")),
    ("library/subprocess.html", "subprocess.run(args",
     ("subprocess — Subprocess management", "Using the subprocess Module")),
]


def real_headings(path: Path) -> list[str]:
    """What a reader sees in each heading, normalised as ragloop normalises all text (NFKC:
    "…" reads "...")."""
    tree = lxml.html.parse(str(path))
    body = (tree.xpath('//div[@role="main"]') or tree.xpath("//body"))[0]
    return [" ".join(unicodedata.normalize("NFKC", h.text_content()).replace("¶", "").split())
            for h in body.iter("h1", "h2", "h3", "h4", "h5", "h6")]


def pages(docs: Path, limit: int | None) -> list[Path]:
    out = []
    for folder in FOLDERS:
        found = sorted((docs / folder).rglob("*.html"))
        out += found[:limit] if limit else found
    return out


def named_subset(docs: Path, library_first: int) -> list[Path]:
    """tutorial/ and howto/ whole; from library/ the first ``library_first`` pages by name
    (distractors) and every page a question or label check names."""
    named = {page for _, expected in QUESTIONS for page in expected} | {p for p, _, _ in LABELS}
    library = sorted((docs / "library").rglob("*.html"))
    keep = set(library[:library_first]) | {docs / p for p in named if p.startswith("library/")}
    return ([p for p in library if p in keep] + sorted((docs / "tutorial").rglob("*.html"))
            + sorted((docs / "howto").rglob("*.html")))


def check_sections(files: list[Path], docs: Path) -> dict:
    exact, headings, found, failed, worst = 0, 0, 0, [], []
    with Timer() as timer:
        for path in files:
            try:
                (doc,) = load_path(path)
            except IngestError as err:
                failed.append(str(err))
                continue
            real = real_headings(path)
            got = [s.title for s in doc.sections]
            exact += got == real
            headings += len(real)
            hits = sum((Counter(real) & Counter(got)).values())
            found += hits
            if got != real:
                worst.append({"page": str(path.relative_to(docs)), "headings": len(real),
                              "found": hits, "missing": [h for h in real if h not in got][:3],
                              "extra": [t for t in got if t not in real][:3]})
    worst.sort(key=lambda w: w["found"] - w["headings"])
    return {"pages": len(files), "pages_exact": exact, "headings": headings,
            "headings_found": found, "load_failures": failed, "worst": worst[:10],
            "seconds": round(timer.seconds, 1)}


def ragloop(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-c", "from ragloop.cli import main; main()",
                           "--project", str(project),
                           *args], capture_output=True, text=True, env=env, check=False)


def subset_folders(files: list[Path], docs: Path, project: Path) -> list[Path]:
    """Links to ``files`` under ``project/docs``, keeping the folder layout."""
    root = project / "docs"
    for path in files:
        link = root / path.relative_to(docs)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(path)
    return [root / folder for folder in FOLDERS]


def ingest(project: Path, folders: list[Path]) -> dict:
    with Timer() as timer:
        run = ragloop(project, "ingest", "--json", "--quiet", *map(str, folders))
    seconds = timer.seconds
    if run.returncode not in (0, 3):
        raise SystemExit(f"ragloop ingest failed ({run.returncode}):\n{run.stderr[-3000:]}")
    report = json.loads(run.stdout)
    return {"wall_seconds": round(seconds, 1), "exit_code": run.returncode, "report": report}


def check_labels(project: Path, docs: Path, folders: list[Path]) -> list[dict]:
    store = open_project(project).store
    entries = {e.doc_id: e for e in store.documents()}
    out = []
    for page, needle, expected in LABELS:
        doc_id = next((file_doc_id(root.parent / page) for root in folders
                       if (root.parent / page).exists()), None)
        entry = entries.get(doc_id)
        if entry is None:
            out.append({"page": page, "text": needle, "ok": None, "why": "not ingested"})
            continue
        chunks = store.get_chunks([f"{doc_id}#{i}" for i in range(entry.n_chunks)])
        chunk = next((c for c in chunks if needle in c.text), None)
        path = tuple(chunk.section_path) if chunk else None
        out.append({"page": page, "text": needle, "expected": list(expected),
                    "got": list(path) if path else None, "header": chunk.header if chunk
                    else None, "ok": path == expected})
    return out


def check_labels_unindexed(docs: Path) -> list[dict]:
    """``LABELS`` on chunks cut with the default settings but not embedded (seconds, no
    index): the section path of the chunk holding each text."""
    from ragloop.config import EmbedderSettings, IngestSettings
    from ragloop.ingest.chunk import ChunkBuilder
    from ragloop.models.factory import build_embedder

    builder = ChunkBuilder(IngestSettings(), build_embedder(EmbedderSettings(cache=False), None),
                           contextual=False)
    out, chunked = [], {}
    for page, needle, expected in LABELS:
        if page not in chunked:
            (doc,) = load_path(docs / page)
            chunked[page] = builder.chunks(doc)
        chunk = next((c for c in chunked[page] if needle in c.text), None)
        path = tuple(chunk.section_path) if chunk else None
        out.append({"page": page, "text": needle, "expected": list(expected),
                    "got": list(path) if path else None, "header": chunk.header if chunk
                    else None, "ok": path == expected})
    return out


def search(project: Path, docs: Path) -> dict:
    pipeline = open_project(project)
    rows, hit1, hit3 = [], 0, 0
    for question, expected in QUESTIONS:
        found = pipeline.retrieve(question, 3)
        got = []
        for cand in found:
            source = Path(cand.chunk.metadata.get("source", ""))
            parts = source.parts
            rel = "/".join(parts[-2:]) if len(parts) >= 2 else str(source)
            got.append(rel)
        rank = next((i for i, rel in enumerate(got, start=1) if rel in expected), None)
        hit1 += rank == 1
        hit3 += rank is not None
        rows.append({"question": question, "expected": list(expected), "top3": got,
                     "rank": rank})
    n = len(QUESTIONS)
    return {"questions": n, "hit_at_1": round(hit1 / n, 3), "hit_at_3": round(hit3 / n, 3),
            "rows": rows}


def print_tables(results: dict) -> None:
    if "sections" in results:
        sections = results["sections"]
        console.print(f"section labels: {sections['pages_exact']}/{sections['pages']} pages "
                      f"exact, {sections['headings_found']}/{sections['headings']} headings "
                      "found")
    if "ingest" in results:
        counts = results["ingest"]["report"]["counts"]
        console.print(f"ingest: {results['ingest']['wall_seconds']} s wall, "
                      f"{counts['added']} added, {counts['chunks']} chunks, "
                      f"{counts['failed']} failed; re-ingest "
                      f"{results['reingest']['wall_seconds']} s")
    labels = Table(title="chunk section labels on issue 15's pages")
    for column in ("page", "text", "section path of its chunk", "ok"):
        labels.add_column(column, overflow="fold")
    for row in results.get("labels", []):
        labels.add_row(row["page"], row["text"], " > ".join(row.get("got") or []) or "-",
                       str(row["ok"]))
    console.print(labels)
    if "search" in results:
        table = Table(title=f"search: hit@1 {results['search']['hit_at_1']}, "
                            f"hit@3 {results['search']['hit_at_3']}")
        for column in ("question", "expected", "rank", "top 3"):
            table.add_column(column, overflow="fold")
        for row in results["search"]["rows"]:
            table.add_row(row["question"], row["expected"][0], str(row["rank"] or "-"),
                          ", ".join(row["top3"]))
        console.print(table)


def options(parser) -> None:
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N pages of each folder")
    parser.add_argument("--subset", type=int, default=None, metavar="N",
                        help="tutorial/ + howto/ + the first N library pages + the library "
                             "pages the questions name")
    parser.add_argument("--resume", action="store_true",
                        help="ingest into the project already in --out (incremental)")
    parser.add_argument("--labels-only", action="store_true",
                        help="only the label check on chunks cut but not embedded (no index)")
    parser.add_argument("--skip-ingest", action="store_true",
                        help="reuse the index already in --out")


def main(argv=None) -> None:
    bench = Bench("python_docs", __doc__, argv, extra=options,
                  out=Path("/tmp/ragloop-python-docs"),
                  quick_help="the first 3 pages of each folder, into a fresh project")
    args = bench.args
    if args.quick:
        args.limit, args.out = 3, args.out / "quick"
        if (args.out / "ragloop.toml").exists():
            import shutil

            shutil.rmtree(args.out)
    project_dir = args.out
    if not (args.docs / "library").is_dir():
        raise SystemExit(f"{args.docs}/library not found: run scripts/get-python-docs.sh")
    files = named_subset(args.docs, args.subset) if args.subset is not None \
        else pages(args.docs, args.limit)
    results: dict = {"load_average": {"start": os.getloadavg()},
                     "docs": str(args.docs), "folders": list(FOLDERS), "pages": len(files),
                     "note": "Default settings (ONNX MiniLM embedder, no LLM enrichment). "
                             "The CPU is shared with other jobs: see the load averages."}
    if args.limit:
        results["note"] += f" Subset: the first {args.limit} pages of each folder."
    if args.subset is not None:
        results["note"] += (f" Subset of {len(files)} pages: tutorial/ and howto/ whole, the "
                            f"first {args.subset} library pages by name and the library pages "
                            "the questions name.")

    def save() -> None:
        results["load_average"]["end"] = os.getloadavg()
        bench.write(results)

    if args.labels_only:
        labels = check_labels_unindexed(args.docs)
        bench.write({"labels": labels}, stem="python_docs-labels")
        print_tables({"labels": labels})
        return
    folders = [args.docs / f for f in FOLDERS]
    subset = bool(args.limit or args.subset is not None)
    if not args.skip_ingest:
        if (project_dir / "ragloop.toml").exists() and not args.resume:
            raise SystemExit(f"{project_dir} already holds a project: remove it or pass "
                             "--resume or --skip-ingest")
        project_dir.mkdir(parents=True, exist_ok=True)
        if not (project_dir / "ragloop.toml").exists():
            init = ragloop(project_dir, "init", str(project_dir))
            if init.returncode:
                raise SystemExit(f"ragloop init failed:\n{init.stderr}")
        if subset:
            folders = subset_folders(files, args.docs, project_dir)
        results["ingest"] = ingest(project_dir, folders)
        save()
        results["reingest"] = ingest(project_dir, folders)
        results["reingest"]["report"] = {k: v for k, v in results["reingest"]["report"].items()
                                         if k != "files"}
        results["ingest"]["report"] = {k: v for k, v in results["ingest"]["report"].items()
                                       if k != "files"}
        save()
    elif subset:
        folders = [project_dir / "docs" / f for f in FOLDERS]
    results["labels"] = check_labels(project_dir, args.docs, folders)
    results["search"] = search(project_dir, args.docs)
    save()
    # every page of the three folders, whatever was ingested: no model needed
    results["sections"] = check_sections(files if args.quick else pages(args.docs, None),
                                         args.docs)
    save()
    print_tables(results)


if __name__ == "__main__":
    main()
