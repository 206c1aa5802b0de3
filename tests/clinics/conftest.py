import pytest
from django.core.cache import cache

from tests.conftest import PUBLIC_BASE_URL


@pytest.fixture(autouse=True)
def _twilio_is_the_sandbox(request, settings):
    """Every test here reaches a fresh sandbox Twilio through the real SDK (unless marked no_sandbox)."""
    settings.API_BASE_URL = PUBLIC_BASE_URL
    cache.clear()  # rate-limit counters must not leak between tests
    if request.node.get_closest_marker("no_sandbox") is None:
        request.getfixturevalue("sandbox")
