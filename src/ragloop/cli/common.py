"""The Typer app, its global options, and helpers every command shares."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ragloop import __version__
from ragloop.errors import RagloopError, printable
from ragloop.project import Project

console = Console()
err_console = Console(stderr=True)

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3  # a batch ran but some items failed (e.g. files that could not be ingested)
EXIT_GATE = 4  # an evaluation gate failed

app = typer.Typer(
    name="ragloop",
    help="Build, measure and improve LLM applications over private documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts name config sections like [answer]: no markup
)


@dataclass
class State:
    project_dir: Path
    use_cache: bool = True
    model: str | None = None  # --model NAME: a registered model instead of [llm] model

    @cached_property
    def project(self) -> Project:
        project = Project.load(self.project_dir)
        if self.model is None:
            return project
        settings = project.settings
        llm = settings.llm.model_copy(update={"model": self.model, "model_path": ""})
        return Project(project.root, settings.model_copy(update={"llm": llm}))


def _version(value: bool) -> None:
    if value:
        console.print(f"ragloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    project: Path = typer.Option(Path("."), "--project", "-p",
                                 help="Project folder (holds ragloop.toml).", show_default=False),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the LLM cache."),
    model: str | None = typer.Option(None, "--model", help="Answer with a model registered by "
                                     "`ragloop train` (overrides [llm] model).",
                                     show_default=False),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    ctx.obj = State(project_dir=project, use_cache=not no_cache, model=model)


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


def shown(text: object) -> str:
    """``text`` for rich to print as it is: markup escaped (messages name sections like
    "[serve]"; a file may be named "[red]x.md") and control characters, ESC first, made
    visible, so a file name cannot drive the terminal."""
    return escape(printable(str(text)))


def fail(error: RagloopError | str, code: int = EXIT_FATAL) -> None:
    err_console.print(f"[bold red]error:[/] {shown(error)}", highlight=False)
    raise typer.Exit(code)
