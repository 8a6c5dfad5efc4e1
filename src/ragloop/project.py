"""A project: a folder holding ``ragloop.toml`` and a data folder. Every command acts on one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragloop.config import (
    CONFIG_FILENAME,
    Settings,
    default_toml,
    load_settings,
    parse_settings,
)
from ragloop.errors import ConfigError


@dataclass(frozen=True)
class Project:
    root: Path
    settings: Settings

    @classmethod
    def load(cls, root: Path | str = ".") -> Project:
        root = Path(root).resolve()
        return cls(root=root, settings=load_settings(root / CONFIG_FILENAME))

    @classmethod
    def init(cls, root: Path | str, *, name: str | None = None) -> Project:
        root = Path(root).resolve()
        config_path = root / CONFIG_FILENAME
        if config_path.exists():
            raise ConfigError("a project already exists here", path=config_path)
        root.mkdir(parents=True, exist_ok=True)
        config_path.write_text(default_toml(name or root.name), encoding="utf-8")
        project = cls.load(root)
        project.data_dir.mkdir(parents=True, exist_ok=True)
        return project

    def overridden(self, overrides: dict[str, dict]) -> Project:
        """This project with ``{table: {key: value}}`` laid over its settings, in memory
        only; validated like ``ragloop.toml`` (an unknown key is a ``ConfigError``)."""
        data = self.settings.model_dump(mode="json", exclude_unset=True)
        for table, values in overrides.items():
            if not isinstance(values, dict):
                raise ConfigError(f"override '{table}' must be a table of keys, "
                                  f"e.g. {table}={{...}}", key=table)
            data[table] = {**data.get(table, {}), **values}
        return Project(self.root, parse_settings(data, path=self.config_path))

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILENAME

    @property
    def data_dir(self) -> Path:
        return self.root / self.settings.project.data_dir

    def path(self, *parts: str) -> Path:
        """A path inside the data folder, its parent created."""
        target = self.data_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
