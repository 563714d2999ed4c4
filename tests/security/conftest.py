"""Fixtures for the security tests; the helpers themselves live in security_helpers.py."""

from __future__ import annotations

import pytest
from security_helpers import samples


@pytest.fixture
def secret_samples() -> dict[str, str]:
    return samples()


@pytest.fixture(scope="module")
def sql_detector(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One detector for a module's many small programs (its project is an empty folder)."""
    from buildrunner.project import Project
    from buildrunner.security import SQLInjectionDetector

    return SQLInjectionDetector(Project(tmp_path_factory.mktemp("sql")))
