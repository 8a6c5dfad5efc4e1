"""One way to register a part: ``@REGISTRY.register("name")`` on the class or function that
provides it, in a module of the package the registry scans.

Every kind of part (answer strategies, store backends, loaders, chunkers, retriever signals,
rerankers, executors, model backends) has one ``Registry``. A registry imports the modules
of its package the first time it is asked for a name, so a new part is one module with one
decorator; parts from other distributions join through the entry-point group
``ragloop.<kind>`` (``[project.entry-points."ragloop.strategies"] mine = "pkg.module"``:
importing the module registers its parts). An unknown name raises ``UnknownPartError``
naming the registered ones, and any module that could not be imported (a missing optional
dependency) with its reason.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from ragloop.errors import UnknownPartError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named parts of one kind. ``kind`` reads in messages ("answer strategy"); ``key`` is
    the setting that chooses one (``answer.strategy``); ``package`` is scanned for modules
    that register parts; ``group`` names the entry points of outside parts."""

    def __init__(self, kind: str, *, key: str | None = None, package: str | None = None,
                 group: str | None = None,
                 names_of: Callable[[T], tuple[str, ...]] | None = None):
        self.kind = kind
        self.key = key
        self.package = package
        self.group = group
        self._names_of = names_of or (lambda part: (part.name,))
        self._parts: dict[str, T] = {}
        self._unavailable: dict[str, str] = {}
        self._loaded = package is None and group is None

    def register(self, *names):
        """Decorator registering a part under ``names`` — ``@REGISTRY.register("name")``, or
        bare ``@REGISTRY.register`` for the part's own names (its ``name`` attribute, or what
        the registry's ``names_of`` reads). A second part under a taken name is an error:
        one name, one part."""
        if len(names) == 1 and not isinstance(names[0], str):
            return self.register()(names[0])

        def add(part: T) -> T:
            for name in names or self._names_of(part):
                held = self._parts.get(name)
                if held is not None and held is not part:
                    raise ValueError(f"{self.kind} '{name}' is registered twice "
                                     f"({_where(held)} and {_where(part)})")
                self._parts[name] = part
            return part

        return add

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._parts[name]
        except KeyError:
            raise UnknownPartError(self.kind, name, self._parts, key=self.key,
                                   unavailable=self._unavailable) from None

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a test's toy part)."""
        self._parts.pop(name, None)

    def check(self, name: str) -> None:
        """Raise ``UnknownPartError`` unless ``name`` is registered."""
        self.get(name)

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(sorted(self._parts))

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        yield from sorted(self._parts.items())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._parts

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.package:
            module = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(getattr(module, "__path__", []),
                                             f"{self.package}."):
                self._import(info.name)
        if self.group:
            for point in entry_points(group=self.group):
                self._import(point.value.split(":")[0])

    def _import(self, module: str) -> None:
        try:
            importlib.import_module(module)
        except ImportError as err:
            if (err.name or "").startswith("ragloop"):
                raise
            self._unavailable[module] = f"needs {err.name}"


def _where(part: object) -> str:
    return f"{getattr(part, '__module__', '?')}.{getattr(part, '__qualname__', part)}"
