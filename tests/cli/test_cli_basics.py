from typer.testing import CliRunner

from ragloop import __version__
from ragloop.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_lists_every_command_with_a_line():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, command in [(c.name, c) for c in app.registered_commands]:
        assert (name or command.callback.__name__) in result.output
    for group in app.registered_groups:
        assert group.name in result.output


def test_init_then_config(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["-p", str(tmp_path / "p"), "config"])
    assert result.exit_code == 0 and '"backend"' in result.output


def test_missing_project_exits_1_with_hint(tmp_path):
    result = runner.invoke(app, ["-p", str(tmp_path), "config"])
    assert result.exit_code == 1
    assert "ragloop init" in result.output


def test_config_error_names_key_and_file(tmp_path):
    (tmp_path / "ragloop.toml").write_text("[answer]\nmode = 'turbo'\n")
    result = runner.invoke(app, ["-p", str(tmp_path), "config"])
    assert result.exit_code == 1
    assert "answer.mode" in result.output and "ragloop.toml" in result.output
