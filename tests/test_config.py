import re
import tomllib

import pytest

from ragloop.config import (
    CONFIG_FILENAME,
    ProjectSettings,
    Settings,
    default_toml,
    load_settings,
    parse_settings,
    section_models,
)
from ragloop.errors import ConfigError, ProjectNotFoundError
from ragloop.project import Project


def test_init_writes_a_commented_config_equal_to_the_defaults(tmp_path):
    project = Project.init(tmp_path / "p")
    text = project.config_path.read_text()
    assert "# " in text and "[llm]" in text
    defaults = Settings().model_dump()
    loaded = project.settings.model_dump()
    loaded["project"]["name"] = defaults["project"]["name"]
    assert loaded == defaults
    assert project.data_dir.is_dir()


def test_init_writes_every_key_of_every_section(tmp_path):
    """The README says `ragloop init` writes every key with its default: each field of each
    section is a key in its section, or a commented `# key = ...` example when it has no
    value to show (the Postgres URL); [judge] is optional, shown commented."""
    text = Project.init(tmp_path / "p").config_path.read_text()
    written = tomllib.loads(text)
    sections = re.split(r"^#? ?\[(\w+)\]", text, flags=re.M)
    commented = {name: set(re.findall(r"^# (\w+) = ", body, flags=re.M))
                 for name, body in zip(sections[1::2], sections[2::2], strict=True)}
    for name in Settings.model_fields:
        if name == "judge":
            assert "judge" in commented
            continue
        keys = set(type(getattr(Settings(), name)).model_fields)
        shown = set(written.get(name, {})) | commented.get(name, set())
        assert keys <= shown, f"[{name}] misses {sorted(keys - shown)}"
        assert not set(written.get(name, {})) - keys, f"[{name}] writes unknown keys"


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = tmp_path / CONFIG_FILENAME
    path.write_text('[llm]\nmodle_path = "x.gguf"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "llm.modle_path" in str(info.value) and str(path) in str(info.value)
    assert info.value.key == "llm.modle_path"


def test_wrong_type_names_the_key(tmp_path):
    path = tmp_path / CONFIG_FILENAME
    path.write_text('[retrieve]\nk = "ten"\n')
    with pytest.raises(ConfigError, match="retrieve.k"):
        load_settings(path)


def test_bad_toml_names_the_file(tmp_path):
    path = tmp_path / CONFIG_FILENAME
    path.write_text("[llm\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_missing_project_says_how_to_create_one(tmp_path):
    with pytest.raises(ProjectNotFoundError, match="ragloop init"):
        Project.load(tmp_path)


def test_init_refuses_to_overwrite(tmp_path):
    Project.init(tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        Project.init(tmp_path)


def test_every_setting_has_a_description():
    """The descriptions are the user-facing docs: `ragloop init`'s comments and
    docs/reference/configuration.md are generated from them."""
    missing = [table for table, field in Settings.model_fields.items() if not field.description]
    missing += [f"{table}.{key}" for table, model in section_models().items()
                for key, field in model.model_fields.items() if not field.description]
    assert not missing, f"give these fields a Field(description=...): {missing}"


def test_the_generated_file_parses_to_exactly_the_defaults():
    name = 'tea "notes" \\ 2'  # quotes and a backslash: the name is written as a TOML string
    text = default_toml(name)
    assert parse_settings(tomllib.loads(text)) == Settings(project=ProjectSettings(name=name))
    assert all(len(line) <= 100 for line in text.splitlines() if line.startswith("#"))


def test_the_commented_out_examples_are_valid_settings():
    """Uncommenting every `# key = value` line and `# [table]` header of `ragloop init`'s file
    gives a valid configuration that sets [judge] and the Postgres url from the examples."""
    text = default_toml("p")
    uncommented = re.sub(r"^# (\[\w+\]$|\w+ = )", r"\1", text, flags=re.M)
    settings = parse_settings(tomllib.loads(uncommented))
    assert settings.judge is not None and settings.judge.backend == "openai"
    assert settings.index.url and settings.index.url_env


def test_an_old_run_table_names_the_new_one(tmp_path):
    path = tmp_path / CONFIG_FILENAME
    path.write_text('[run]\nexecutor = "ray"\n')
    with pytest.raises(ConfigError, match=r"\[executor\].*backend"):
        load_settings(path)
