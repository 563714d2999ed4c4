"""Fixtures for the telemetry tests (helpers live in telemetry_helpers.py)."""

from __future__ import annotations

import pytest

from buildrunner.project import Project
from buildrunner.telemetry.event_collector import EventCollector


@pytest.fixture
def collector(any_project: Project) -> EventCollector:
    return EventCollector(any_project)
