"""The `parallel` section of the config."""

from __future__ import annotations

from pydantic import Field, model_validator

from buildrunner.localdays import DAY_S, WEEK_S
from buildrunner.parallel.models import MAX_WORKERS
from buildrunner.settings_base import Section

DEFAULT_AGENT_COMMAND = "claude -p {prompt} --model {model_id} --output-format json"


# Upper bounds: a limit beyond these is a typo (or 1e308), and would, say, keep a dead worker's task forever.


class ParallelSettings(Section):
    enabled: bool = True
    default_workers: int = Field(3, ge=1, le=MAX_WORKERS)
    heartbeat_timeout: float = Field(30, gt=0, le=DAY_S, description="Seconds of silence after which a worker is declared lost.")
    heartbeat_interval: float | None = Field(None, gt=0, le=DAY_S, description="Seconds between heartbeats; default a third of heartbeat_timeout.")
    poll_interval: float = Field(0.5, gt=0, le=60, description="Seconds an idle worker waits before looking for work again.")
    agent_command: str = Field(DEFAULT_AGENT_COMMAND, min_length=1, description="Run for prompt tasks; {prompt}, {model_id}, {model} are filled in. A plan's agent_command overrides it.")
    task_timeout: float = Field(3600, gt=0, le=WEEK_S, description="Seconds a task may run unless the plan says otherwise.")
    kill_grace: float = Field(10, ge=0, le=3600, description="Seconds between TERM and KILL when a task times out or is stopped.")
    retries: int = Field(0, ge=0, le=100, description="Retries per task unless the plan says otherwise.")
    retry_backoff: float = Field(1.0, ge=0, le=DAY_S, description="Seconds before the first retry; doubled for each further one.")
    retry_backoff_max: float = Field(300, ge=0, le=DAY_S)
    store_outage_window: float = Field(
        300, ge=0, le=DAY_S, description="Seconds a worker keeps its task running and retries when the database is out of reach, before giving up."
    )

    @model_validator(mode="after")
    def _heartbeats_fit_the_timeout(self) -> "ParallelSettings":
        """A worker beating no more often than the timeout is declared lost between two beats: every task would be."""
        if self.heartbeat_interval is not None and self.heartbeat_interval >= self.heartbeat_timeout:
            raise ValueError(
                f"heartbeat_interval {self.heartbeat_interval:g} must be below heartbeat_timeout {self.heartbeat_timeout:g} "
                "(a third of it is the default): every worker would be declared lost between two heartbeats"
            )
        return self

    @property
    def effective_heartbeat_interval(self) -> float:
        return self.heartbeat_interval or max(0.05, self.heartbeat_timeout / 3)
