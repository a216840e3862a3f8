"""Fixtures every test module shares."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from codex_mock_model import MockModel


@pytest.fixture(autouse=True)
def _stop_actors() -> Iterator[None]:
    """No actor outlives its test (actor-level tests start them in this process)."""
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def model() -> Iterator[MockModel]:
    """A scripted model on 127.0.0.1 for this test."""
    with MockModel() as scripted:
        yield scripted
