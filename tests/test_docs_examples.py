"""Every code block of README.md and docs/**/*.md runs (notice 7), one test per page, in a
small demo project (two Markdown files under ``docs/``, ingested once for the module):

- ```python blocks run in order in one namespace per page, the demo project as the working
  folder;
- ```toml blocks are parsed as ragloop.toml settings (``config.parse_settings``);
- ```json blocks are parsed (JSON, or JSON Lines: one value a line);
- ```bash blocks: each line starting with ``ragloop `` runs the command in-process and must
  exit 0; ``cat > FILE <<'TAG'`` writes FILE, ``cd DIR`` changes folder; other lines are
  not run.

A block preceded by ``<!-- not-run: reason -->`` is skipped; the reason must be given
(``ragloop serve`` blocks, so a block running it must be marked).
Blocks in other languages (text, none) are prose. A failure names the page and the line of
the block's opening fence.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.config import parse_settings

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*$")
HEREDOC = re.compile(r"^cat\s+>\s*(?P<file>\S+)\s+<<-?\s*['\"]?(?P<tag>\w+)['\"]?\s*$")
RUN = {"python": "python", "py": "python", "toml": "toml", "json": "json", "jsonl": "json",
       "bash": "bash", "sh": "bash", "shell": "bash", "console": "bash"}

DEMO_TOML = """\
[project]
name = "docs-demo"

[answer]
max_tokens = 16
context_chunks = 2

[retrieve]
k = 4
"""
DEMO_DOCS = {
    "tides.md": "# Tides\n\nOcean tides are caused mainly by the gravity of the Moon pulling "
                "on the oceans. The Sun adds a smaller tidal force.\n",
    "volcanoes.md": "# Volcanoes\n\nA volcano erupts when magma from inside the Earth rises "
                    "through cracks in the crust and reaches the surface as lava.\n",
}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    skip: str | None  # the not-run reason

    @property
    def where(self) -> str:
        return f"{_shown(self.page)}:{self.line}"


def _shown(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def code_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, fence = len(opened["indent"]), opened["fence"]
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence)
                                      and lines[j].strip().strip(fence[0]) == ""):
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = NOT_RUN.match(before)
        if marker and not marker["reason"]:
            raise AssertionError(f"{_shown(page)}:{i}: not-run without a reason")
        blocks.append(Block(page, i + 1, opened["lang"].lower(), "\n".join(body) + "\n",
                            marker["reason"] if marker else None))
        i = j + 1
    return blocks


def runnable(page: Path) -> list[Block]:
    return [b for b in code_blocks(page) if b.lang in RUN and b.skip is None]


PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
         if runnable(p)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from ragloop.pipeline import Pipeline
    from ragloop.project import Project

    root = tmp_path_factory.mktemp("docs-demo")
    (root / "ragloop.toml").write_text(DEMO_TOML, encoding="utf-8")
    (root / "docs").mkdir()
    for name, text in DEMO_DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    with Pipeline(Project.load(root)) as pipeline:
        assert pipeline.ingest([root / "docs"]).ok
    return root


def _registries():
    from ragloop.answer.strategies import STRATEGIES
    from ragloop.executors.base import EXECUTORS
    from ragloop.index.factory import BACKENDS
    from ragloop.ingest.chunkers import CHUNKERS
    from ragloop.ingest.loaders.base import LOADERS
    from ragloop.models.factory import EMBEDDERS, LLM_BACKENDS
    from ragloop.retrieve.base import RERANKERS, SIGNALS

    return (STRATEGIES, BACKENDS, LOADERS, CHUNKERS, SIGNALS, RERANKERS, EXECUTORS,
            LLM_BACKENDS, EMBEDDERS)


@contextlib.contextmanager
def parts_registered_here():
    """Parts a page registers (the extending guide's examples) are removed after it, so the
    rest of the suite sees ragloop's own registries."""
    before = [(registry, set(registry.names())) for registry in _registries()]
    try:
        yield
    finally:
        for registry, names in before:
            for name in set(registry.names()) - names:
                registry.unregister(name)


@contextlib.contextmanager
def files_made_here(demo: Path):
    """What a page writes at the top of the demo project (a golden set, ``ragloop init``'s
    new project) is removed after it; the index and caches under .ragloop/ stay."""
    before = set(demo.iterdir())
    try:
        yield
    finally:
        for path in set(demo.iterdir()) - before:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def run_python(block: Block, namespace: dict) -> None:
    code = compile("\n" * block.line + block.text, str(block.page), "exec")
    exec(code, namespace)


def run_toml(block: Block) -> None:
    parse_settings(tomllib.loads(block.text), path=block.page)


def run_json(block: Block) -> None:
    try:
        json.loads(block.text)
    except json.JSONDecodeError:
        for line in block.text.splitlines():
            if line.strip():
                json.loads(line)


def run_bash(block: Block, monkeypatch) -> None:
    runner = CliRunner()
    lines = block.text.replace("\\\n", " ").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        heredoc = HEREDOC.match(line)
        if heredoc:
            end = lines.index(heredoc["tag"], i)
            Path(heredoc["file"]).write_text("\n".join(lines[i:end]) + "\n", encoding="utf-8")
            i = end + 1
        elif line.startswith("cd "):
            monkeypatch.chdir(Path(shlex.split(line, comments=True)[1]).expanduser())
        elif line.startswith("ragloop "):
            args = shlex.split(line, comments=True)[1:]
            if "serve" in args[:1]:
                raise AssertionError(f"`{line}` would block the test: put "
                                     "`<!-- not-run: a server blocks until stopped -->` "
                                     "above its block")
            result = runner.invoke(app, args, catch_exceptions=True)
            if result.exit_code != 0:
                raise AssertionError(f"`{line}` exited {result.exit_code}:\n{result.output}"
                                     + ("".join(traceback.format_exception(result.exception))
                                        if result.exception and result.exit_code == 1
                                        and not isinstance(result.exception, SystemExit)
                                        else ""))


class BlockFailed(AssertionError):
    pass


def run_page(page: Path, demo: Path, monkeypatch) -> None:
    """Run ``page``'s blocks in ``demo``; the first failure raises ``BlockFailed`` naming
    the page and the line of its block."""
    monkeypatch.chdir(demo)
    namespace: dict = {"__name__": "__docs__"}
    with parts_registered_here(), files_made_here(demo):
        for block in runnable(page):
            try:
                if RUN[block.lang] == "python":
                    run_python(block, namespace)
                elif RUN[block.lang] == "toml":
                    run_toml(block)
                elif RUN[block.lang] == "json":
                    run_json(block)
                else:
                    run_bash(block, monkeypatch)
            except Exception as err:
                detail = "".join(traceback.format_exception(err)[-6:])
                raise BlockFailed(f"{block.where}: the {block.lang} block failed:\n{detail}"
                                  ) from None
            finally:
                monkeypatch.chdir(demo)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: _shown(p))
def test_code_blocks_run(page: Path, demo: Path, monkeypatch):
    failure = None
    try:
        run_page(page, demo, monkeypatch)
    except BlockFailed as failed:
        failure = str(failed)
    if failure:
        pytest.fail(failure, pytrace=False)


def test_a_failing_block_is_reported_with_its_page_and_line(tmp_path, demo, monkeypatch):
    page = tmp_path / "probe.md"
    page.write_text("# probe\n\n<!-- not-run: shows a skip -->\n```python\nraise SystemExit(1)\n"
                    "```\n\n```python\nx = 1\n```\n\n```bash\nragloop ask\n```\n\n"
                    "```toml\n[answer]\nmoad = 'fast'\n```\n", encoding="utf-8")
    blocks = code_blocks(page)
    assert [(b.line, b.lang, b.skip) for b in blocks] == [
        (4, "python", "shows a skip"), (8, "python", None), (12, "bash", None),
        (16, "toml", None)]
    with pytest.raises(BlockFailed, match=r"probe\.md:12: the bash block failed"):
        run_page(page, demo, monkeypatch)
    with pytest.raises(Exception, match="moad"):
        run_toml(blocks[3])
