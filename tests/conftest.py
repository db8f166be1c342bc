"""Test-wide fixtures."""

from __future__ import annotations

import pytest

from mesalens.connectors import redaction


@pytest.fixture(autouse=True)
def _forget_remembered_secrets():
    """Each test starts with no remembered secrets (a CLI process remembers its own run's)."""
    redaction._remembered.clear()
    yield
    redaction._remembered.clear()
