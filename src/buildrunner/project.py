"""A project: its paths, its effective config and its store, each made on first use.

Every library class takes an optional `Project`; without one it discovers the
project from the working directory, so the spec's `CostTracker()` works as written.
A `Project(create=False)` only reads: it never creates the database (see `open_store`).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import NotFoundError
from buildrunner.paths import ProjectPaths

# The config, the store and the event collector are imported on first use, as they are made: a command that needs only
# the paths (`br security hooks`) loads none of them, and the event collector loads pydantic.
if TYPE_CHECKING:
    from buildrunner.config import Config, LoadedConfig
    from buildrunner.store import Store
    from buildrunner.telemetry.event_collector import EventCollector


class Project:
    def __init__(
        self,
        root: Path | str | None = None,
        *,
        config: "Config | None" = None,
        store: "Store | None" = None,
        create: bool = True,
    ) -> None:
        if root is not None and not Path(root).is_dir():
            raise NotFoundError(f"{root}: no such project directory", hint="pass an existing folder")
        self._root = Path(root) if root is not None else None
        if config is not None:
            from buildrunner.config import LoadedConfig

            self.__dict__["loaded"] = LoadedConfig.of(config, self.paths)
        if store is not None:
            self.__dict__["store"] = store
        self._owns_store = store is None
        self._create = create

    @cached_property
    def paths(self) -> ProjectPaths:
        return ProjectPaths.discover(self._root)

    @cached_property
    def loaded(self) -> "LoadedConfig":
        from buildrunner.config import load_config

        return load_config(self.paths)

    @property
    def config(self) -> "Config":
        return self.loaded.config

    @cached_property
    def store(self) -> "Store":
        from buildrunner.store import open_store

        self.loaded  # a bad config is reported before the database is touched
        return open_store(self.paths, create=self._create)

    @cached_property
    def events(self) -> "EventCollector":
        """The project's one event collector (its listeners see every event the project's code emits)."""
        from buildrunner.telemetry.event_collector import EventCollector

        return EventCollector(self)

    def close(self) -> None:
        if self._owns_store and "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ensure_project(project: Project | None) -> Project:
    """`project`, or the project of the working directory (so `CostTracker()` works as the spec shows)."""
    return project if project is not None else Project()
