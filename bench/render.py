"""Render the benchmark results into the docs: one page per benchmark under
``docs/results/`` (every table of its result files), ``docs/results/index.md``, the
README's headline numbers between ``<!-- headline:start -->`` and ``<!-- headline:end -->``,
and the pages' entries in ``mkdocs.yml``'s nav between ``# results-nav:start`` and
``# results-nav:end``.

    python -m bench.render           # write the pages and the README's headline block
    python -m bench.render --check   # exit 1 when a rendered file differs from the tree

Every number on a page is the JSON's own value, printed as Python prints it (never rounded
here: a benchmark rounds what it writes). Result files written before the harness (no
``meta``; ``machine`` a string, a dict of another shape, or missing) are read as they are.
``*.quick.json`` files are checks, not measurements, and are never rendered. Reads only
JSON (no benchmark module is imported), so ``--check`` takes well under a second.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
PAGES_DIR = REPO / "docs" / "results"
README = REPO / "README.md"
MKDOCS = REPO / "mkdocs.yml"
START, END = "<!-- headline:start -->", "<!-- headline:end -->"
NAV_START, NAV_END = "# results-nav:start", "# results-nav:end"  # lines of mkdocs.yml
BANNER = "<!-- rendered by `python -m bench.render` from bench/results/; do not edit -->"
MAX_ROWS = 40  # a longer list of records is counted, not tabled (the JSON holds it)
MAX_COLUMNS = 14  # a dict of dicts wider than this is rendered as one section per key
LEGACY_META = ("machine", "args", "command", "python", "benchmark")  # pre-harness keys


@dataclass(frozen=True)
class Page:
    slug: str  # docs/results/SLUG.md
    title: str
    module: str | None  # bench/MODULE.py, whose docstring introduces the page
    stems: tuple[str, ...]  # result files: STEM.json, STEM-*.json, STEM_*.json


PAGES = (
    Page("beir", "Retrieval on BEIR folders", "beir", ("beir",)),
    Page("python-docs", "Python's own documentation", "python_docs", ("python_docs",)),
    Page("first-hour", "The first hour on a new project", "first_hour",
         ("first_hour", "first-hour")),
    Page("extract", "Extractive answers and the router", "extract", ("extract",)),
    Page("documents", "Real documents through the loaders", "documents", ("documents",)),
    Page("ingest", "Ingest throughput", "ingest", ("ingest",)),
    Page("index-scale", "Index commits at scale", "index_scale", ("index-scale",)),
    Page("scale", "Stores at scale", "scale", ("scale",)),
    Page("serve", "Serving under load", "serve", ("serve",)),
    Page("embedders", "Embedder backends", "embedders", ("embedders",)),
    Page("judge-calibration", "Judge calibration", None, ("judge-calibration",)),
    Page("likelihood-scoring", "Likelihood scoring", "likelihood_scoring",
         ("likelihood-scoring",)),
    Page("judge-train", "Training the judge", "judge_train", ("judge-train",)),
    Page("posttrain", "Post-training on PubMedQA", "posttrain", ("posttrain",)),
    Page("pubmedqa", "PubMedQA", "pubmedqa", ("pubmedqa", "selfgen-pubmedqa")),
    Page("pubmedqa-probe", "PubMedQA: a probe on the model's features", "pubmedqa_probe",
         ("pubmedqa-probe",)),
    Page("repeat-penalty", "Repeat penalty", "repeat_penalty", ("repeat_penalty",)),
    Page("demo-train", "Training on the demo project", "demo_train", ("demo_train",)),
    Page("ttc", "Test-time compute", "ttc", ("ttc",)),
    Page("train-cost", "Training cost", "train_cost", ("train_cost", "train-cost")),
)


@dataclass(frozen=True)
class Headline:
    label: str
    stems: tuple[str, ...]  # the first of these result files that exists is read
    path: tuple  # keys into it; "PREFIX*" the first key starting with PREFIX; a dict the
    # list element whose items match it
    unit: str = ""


# The README's headline figures: which number of which result file.
HEADLINES = (
    Headline("Retrieval, BEIR SciFact, nDCG@10 — ragloop defaults", ("beir-scifact",),
             ("rows", "defaults: *", "all", "ndcg@10")),
    Headline("Retrieval, BEIR SciFact, nDCG@10 — bm25s baseline, same run", ("beir-scifact",),
             ("rows", "bm25s (title+text, stopwords, stemming)", "all", "ndcg@10")),
    Headline("Retrieval, Python docs, right page first (hit@1)", ("python_docs",),
             ("search", "hit_at_1")),
    Headline("Retrieval, Python docs, right page in the top 3 (hit@3)", ("python_docs",),
             ("search", "hit_at_3")),
    Headline("Default answers (auto), token F1 on the demo golden set",
             ("first_hour", "first-hour"), ("policies", "default (auto)", "token_f1", "mean")),
    Headline("Old default (direct), token F1 on the demo golden set",
             ("first_hour", "first-hour"),
             ("policies", "direct (the old default)", "token_f1", "mean")),
    Headline("Ask latency, default answer, median", ("first_hour", "first-hour"),
             ("policies", "default (auto)", "seconds", "p50"), " s"),
    Headline("Ask latency, first `ragloop ask` in a new process", ("first_hour", "first-hour"),
             ("cold_cli_ask_s",), " s"),
    Headline("Ingest throughput, SciFact, documents per second", ("ingest",),
             ("plain", "docs_per_s")),
    Headline("Ingest throughput, SciFact, chunks per second", ("ingest",),
             ("plain", "chunks_per_s")),
    Headline("Likelihood faithfulness judge, Cohen's kappa against human labels",
             ("judge-calibration",), ("judges", {"judge": "faithfulness (likelihood)"}, "kappa")),
)


# ----------------------------------------------------------------------------- reading


def result_files() -> dict[str, dict]:
    """Every committed-kind result file (``*.quick.json`` left out), by stem."""
    found = {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.name.endswith(".quick.json"):
            continue
        try:
            found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    return found


def belongs(stem: str, prefix: str) -> bool:
    return stem == prefix or stem.startswith((f"{prefix}-", f"{prefix}_"))


def page_of(stem: str) -> Page:
    """The page a result file goes on: the page with the longest matching stem, or a page of
    its own for a file no page names (so no result is left unrendered)."""
    matches = [(len(p), page) for page in PAGES for p in page.stems if belongs(stem, p)]
    if matches:
        return max(matches, key=lambda m: m[0])[1]
    return Page(stem, stem, None, (stem,))


def meta_of(data: dict) -> dict:
    """The run's facts in one shape: the harness's ``meta``, or what an older file held."""
    if isinstance(data.get("meta"), dict):
        return data["meta"]
    legacy = {"legacy": True, "machine": data.get("machine")}
    if data.get("python"):
        legacy["python"] = data["python"]
    if isinstance(data.get("args"), dict):
        legacy["flags"] = data["args"]
    if data.get("command"):
        legacy["argv"] = data["command"]
    return legacy


def machine_text(machine) -> str:
    if machine is None:
        return "not recorded"
    if isinstance(machine, str):
        return machine
    if isinstance(machine, dict) and "cpu" in machine:  # the harness's shape
        return (f"{machine.get('cpu')}, {machine.get('cores')} cores, "
                f"{machine.get('memory_gb')} GB, {machine.get('os')}, "
                f"Python {machine.get('python')}, load {cell(machine.get('load_average'))}")
    if isinstance(machine, dict):
        return "; ".join(f"{k} {cell(v)}" for k, v in machine.items())
    return cell(machine)


def docstring_lead(module: str | None) -> str:
    """The first paragraph of ``bench/MODULE.py``'s docstring, read without importing it."""
    if module is None or not (REPO / "bench" / f"{module}.py").exists():
        return ""
    tree = ast.parse((REPO / "bench" / f"{module}.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    return " ".join(doc.split("\n\n")[0].split())


def pick(data, path: tuple):
    """The value at ``path`` in ``data`` (None when any step is missing)."""
    for step in path:
        if isinstance(step, dict):
            data = next((x for x in data if isinstance(x, dict)
                         and all(x.get(k) == v for k, v in step.items())), None) \
                if isinstance(data, list) else None
        elif isinstance(data, dict) and step.endswith("*"):
            data = next((v for k, v in data.items() if k.startswith(step[:-1])), None)
        elif isinstance(data, dict):
            data = data.get(step)
        else:
            return None
        if data is None:
            return None
    return data


# ----------------------------------------------------------------------------- markdown


def scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def cell(value) -> str:
    """A table cell: integers as the JSON holds them, other numbers to four significant digits
    (a benchmark's float carries more digits than its interval justifies)."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = repr(value)
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, str):
        text = " ".join(value.split()) or "—"
    elif isinstance(value, list) and all(scalar(v) for v in value):
        text = ", ".join(cell(v) for v in value) if value else "none"
    elif isinstance(value, list) and all(isinstance(v, list) and all(scalar(x) for x in v)
                                         for v in value):
        text = json.dumps(value, ensure_ascii=False)  # a matrix: small, and all numbers
    elif isinstance(value, list):
        text = f"{len(value)} entries"
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|")


def flatten(value: dict, prefix: str = "") -> dict:
    """Nested dicts as dotted keys, for the columns of a table."""
    flat = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def record_table(records: list[dict]) -> list[str]:
    """A list of dicts: a row per record, a column per (flattened) key."""
    flat = [flatten(r) for r in records]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    return table(columns, [[r.get(c) for c in columns] for r in flat])


def keyed_table(value: dict[str, dict]) -> list[str]:
    """A dict of dicts: a row per key, a column per (flattened) key of its values."""
    flat = {name: flatten(item) for name, item in value.items()}
    columns = list(dict.fromkeys(k for r in flat.values() for k in r))
    return table(["", *columns], [[name, *(r.get(c) for c in columns)]
                                  for name, r in flat.items()])


def width(value: dict[str, dict]) -> int:
    return len({k for item in value.values() for k in flatten(item)})


def section(data: dict, level: int) -> list[str]:
    """A dict as markdown: its plain values in one two-column table, then a heading and a
    table (or a nested section) for each structured value."""
    out = []
    facts = [[k, v] for k, v in data.items()
             if scalar(v) or (isinstance(v, list) and all(scalar(x) for x in v))]
    if facts:
        out += table(["", "value"], facts)
    for key, value in data.items():
        if scalar(value) or (isinstance(value, list) and all(scalar(x) for x in value)):
            continue
        out += [f"{'#' * min(level, 6)} {key}", ""]
        if isinstance(value, dict) and not value:
            out += ["(empty)", ""]
        elif isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) \
                and width(value) <= MAX_COLUMNS:
            out += keyed_table(value)
        elif isinstance(value, dict):
            out += section(value, level + 1)
        elif len(value) > MAX_ROWS:
            out += [f"{len(value)} entries (per-item data: in the result file).", ""]
        elif all(isinstance(v, dict) for v in value):
            out += record_table(value)
        else:
            out += ["```json", json.dumps(value, ensure_ascii=False), "```", ""]
    return out


def meta_lines(meta: dict) -> list[str]:
    if meta.get("legacy"):
        lines = ["Written before the benchmark harness: no commit or command line recorded."]
    else:
        commit = (meta.get("commit") or "unknown")[:12]
        lines = [f"Commit `{commit}`{' (with uncommitted changes)' if meta.get('dirty') else ''}"
                 f", ragloop {meta.get('ragloop')}, wall time {cell(meta.get('wall_s'))} s."]
    if meta.get("argv"):
        argv = meta["argv"]
        lines.append(f"Command: `{' '.join(map(str, argv)) if isinstance(argv, list) else argv}`")
    lines.append(f"Machine: {machine_text(meta.get('machine'))}"
                 + (f"; Python {meta['python']}" if meta.get("python") else ""))
    if meta.get("phases_s"):
        lines.append("Phases (s): " + ", ".join(f"{k} {cell(v)}"
                                                 for k, v in meta["phases_s"].items()))
    if meta.get("flags"):
        lines.append("Flags: " + ", ".join(f"`{k}={v}`" for k, v in meta["flags"].items()))
    return [*(f"- {line}" for line in lines), ""]


def body(data: dict) -> dict:
    """The measurements: the file without its run facts."""
    meta_keys = {"meta"} if isinstance(data.get("meta"), dict) else {"meta", *LEGACY_META}
    return {k: v for k, v in data.items() if k not in meta_keys}


def render_page(page: Page, files: dict[str, dict]) -> str:
    out = [BANNER, "", f"# {page.title}", ""]
    lead = docstring_lead(page.module)
    if lead:
        out += [lead, ""]
    if page.module:
        out += [f"Run it: `python -m bench.{page.module}` (see "
                f"[running a benchmark](../guides/benchmarks.md)).", ""]
    for stem, data in files.items():
        out += [f"## {stem}.json", "", f"From `bench/results/{stem}.json`.", ""]
        out += meta_lines(meta_of(data))
        out += section(body(data), 3)
    return "\n".join(out).rstrip() + "\n"


def headline_rows(results: dict[str, dict]) -> list[list]:
    rows = []
    for headline in HEADLINES:
        stem = next((s for s in headline.stems if s in results), None)
        value = pick(results[stem], headline.path) if stem else None
        source = f"bench/results/{stem or headline.stems[0]}.json"
        shown = "not measured yet" if value is None else f"{cell(value)}{headline.unit}"
        rows.append([headline.label, shown, f"`{source}`"])
    return rows


def render_headline(results: dict[str, dict]) -> str:
    lines = table(["what", "figure", "from"], headline_rows(results))
    return "\n".join(["<!-- rendered by `python -m bench.render`; do not edit -->", "",
                      *lines]).rstrip()


def render_index(pages: dict[Page, dict[str, dict]], results: dict[str, dict]) -> str:
    out = [BANNER, "", "# Results", "",
           "Every benchmark's latest measurement, rendered from `bench/results/*.json`. "
           "How to run one and write one: [Benchmarks](../guides/benchmarks.md).", "",
           "## Headline numbers", "", *table(["what", "figure", "from"], headline_rows(results)),
           "## Benchmarks", ""]
    rows = []
    for page, files in pages.items():
        measured = []
        for data in files.values():
            meta = meta_of(data)
            measured.append("before the harness" if meta.get("legacy")
                            else f"`{(meta.get('commit') or 'unknown')[:12]}`")
        rows.append([f"[{page.title}]({page.slug}.md)",
                     ", ".join(f"`{s}.json`" for s in files),
                     ", ".join(dict.fromkeys(measured))])
    out += table(["page", "result files", "measured at"], rows)
    rendered = {p.module for p in pages}
    missing = sorted(p.stem for p in (REPO / "bench").glob("*.py")
                     if p.stem not in rendered and p.stem not in NOT_BENCHMARKS)
    if missing:
        out += ["## Not measured yet", "",
                "These benchmarks have no committed result file: "
                + ", ".join(f"`python -m bench.{m}`" for m in missing) + ".", ""]
    return "\n".join(out).rstrip() + "\n"


NOT_BENCHMARKS = {"__init__", "harness", "corpora", "render", "arith_problems",
                  "legacy_loaders"}


# ----------------------------------------------------------------------------- the files


def rendered() -> tuple[dict[Path, str], str, list[tuple[str, str]]]:
    """Every page's text by path, the README's headline block, and the pages' nav entries
    (slug, title)."""
    results = result_files()
    pages: dict[Page, dict[str, dict]] = {}
    for stem, data in results.items():
        pages.setdefault(page_of(stem), {})[stem] = data
    order = {p.slug: i for i, p in enumerate(PAGES)}
    pages = dict(sorted(pages.items(), key=lambda kv: (order.get(kv[0].slug, len(order)),
                                                       kv[0].slug)))
    texts = {PAGES_DIR / f"{page.slug}.md": render_page(page, files)
             for page, files in pages.items()}
    texts[PAGES_DIR / "index.md"] = render_index(pages, results)
    return texts, render_headline(results), [(p.slug, p.title) for p in pages]


def with_headline(readme: str, block: str) -> str:
    """``readme`` with only the text between the markers replaced."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{README}: no {START} ... {END} markers")
    return f"{readme[:start + len(START)]}\n{block}\n{readme[end:]}"


def with_nav(mkdocs: str, pages: list[tuple[str, str]]) -> str:
    """``mkdocs.yml`` with the Results pages listed between the nav markers (each marker a
    comment line; the entries take the start marker's indentation)."""
    lines = mkdocs.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == NAV_START), None)
    end = next((i for i, line in enumerate(lines) if line.strip() == NAV_END), None)
    if start is None or end is None or end < start:
        raise SystemExit(f"{MKDOCS}: no {NAV_START} ... {NAV_END} lines in the nav")
    indent = lines[start][:len(lines[start]) - len(lines[start].lstrip())]
    entries = [f"{indent}- {json.dumps(title)}: results/{slug}.md\n" for slug, title in pages]
    return "".join([*lines[:start + 1], *entries, *lines[end:]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.render",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a rendered file is out of date")
    args = parser.parse_args(argv)
    texts, block, nav = rendered()
    texts[README] = with_headline(README.read_text(encoding="utf-8"), block)
    texts[MKDOCS] = with_nav(MKDOCS.read_text(encoding="utf-8"), nav)
    stale = sorted(set(PAGES_DIR.glob("*.md")) - set(texts))
    differing = [p for p, text in texts.items()
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for path in [*differing, *stale]:
            print(f"out of date: {path.relative_to(REPO)}", file=sys.stderr)
        if differing or stale:
            print("run `python -m bench.render` and commit the result", file=sys.stderr)
            return 1
        return 0
    PAGES_DIR.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.unlink()
    for path in differing:
        path.write_text(texts[path], encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
