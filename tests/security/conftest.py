"""Fixtures for the security tests; the helpers themselves live in security_helpers.py."""

from __future__ import annotations

import pytest
from security_helpers import samples


@pytest.fixture
def secret_samples() -> dict[str, str]:
    return samples()
