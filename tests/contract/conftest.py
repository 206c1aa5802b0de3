"""Prism serving each of Twilio's descriptions the contract tests use, started once per test
session (at its first use) and shared by the contract modules; the contract tests share one
pytest-xdist group (tests/conftest.py), so each starts in one process only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.prism import serve
from tests.openapi import (
    MESSAGING_SPEC_PATH,
    NUMBERS_SPEC_PATH,
    NUMBERS_V2_SPEC_PATH,
    PRICING_SPEC_PATH,
    SPEC_PATH,
    TRUSTHUB_SPEC_PATH,
)


@pytest.fixture(scope="session")
def prism() -> Iterator[str]:
    """Prism serving Twilio's API v2010 description."""
    yield from serve(SPEC_PATH, "api")


@pytest.fixture(scope="session")
def prism_messaging() -> Iterator[str]:
    """Prism serving Twilio's Messaging v1 description (messaging.twilio.com)."""
    yield from serve(MESSAGING_SPEC_PATH, "messaging")


@pytest.fixture(scope="session")
def prism_pricing() -> Iterator[str]:
    """Prism serving Twilio's Pricing v1 description (pricing.twilio.com)."""
    yield from serve(PRICING_SPEC_PATH, "pricing")


@pytest.fixture(scope="session")
def prism_trusthub() -> Iterator[str]:
    """Prism serving Twilio's Trust Hub v1 description (trusthub.twilio.com)."""
    yield from serve(TRUSTHUB_SPEC_PATH, "trusthub")


@pytest.fixture(scope="session")
def prism_numbers() -> Iterator[str]:
    """Prism serving Twilio's Numbers v1 description (numbers.twilio.com: porting, hosted SMS eligibility)."""
    yield from serve(NUMBERS_SPEC_PATH, "numbers")


@pytest.fixture(scope="session")
def prism_numbers_v2() -> Iterator[str]:
    """Prism serving Twilio's Numbers v2 description (numbers.twilio.com: hosted number orders)."""
    yield from serve(NUMBERS_V2_SPEC_PATH, "numbers-v2")
