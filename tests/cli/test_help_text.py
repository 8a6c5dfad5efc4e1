"""Help and error texts keep what they say: config sections written as ``[answer]`` are
text, not console markup that swallows them."""

from __future__ import annotations

import re

import click
import typer
from typer.testing import CliRunner

from ragloop.cli import app
from ragloop.cli.common import fail
from ragloop.errors import ConfigError

SECTION = re.compile(r"\[[a-z_]+(?:\.[a-z_]+)*\]")
runner = CliRunner()


def commands(group: click.Group, path: tuple[str, ...] = ()):
    """Every command under ``group``, with the words that invoke it."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def raw_help(command: click.Command) -> str:
    return "\n".join([command.help or ""] + [getattr(p, "help", None) or ""
                                             for p in command.params])


def test_every_section_reference_survives_in_help():
    root = typer.main.get_command(app)
    checked = 0
    for path, command in commands(root):
        references = set(SECTION.findall(raw_help(command)))
        if not references:
            continue
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        shown = " ".join(result.output.split())
        missing = [r for r in references if r not in shown]
        assert not missing, f"ragloop {' '.join(path)} --help lost {missing}"
        checked += len(references)
    assert checked >= 5  # ask --mode, ingest, serve... name their sections


def test_an_error_naming_a_section_prints_it(capsys):
    try:
        fail(ConfigError("[serve] port must be between 1 and 65535"))
    except typer.Exit as exit_:
        assert exit_.exit_code == 1
    assert "[serve] port must be" in capsys.readouterr().err
