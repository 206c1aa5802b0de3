"""The adapter's HTTP connections at fleet scale: every login and account shares one
connection pool, sized for the fleet fan-out's threads."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from telephony import twilio
from telephony.twilio.client import client_acting_in, get_client


@pytest.mark.django_db
def test_every_account_shares_one_pool_big_enough_for_the_fan_out(sandbox, settings, caplog):
    settings.FLEET_CONCURRENCY = 24
    accounts = [twilio.subaccount_create(friendly_name=f"Pool Dental (clinic #{i})") for i in range(24)]
    clients = [client_acting_in(account.sid, account.auth_token) for account in accounts]

    assert len({id(client.http_client) for client in [*clients, get_client()]}) == 1
    adapter = get_client().http_client.session.get_adapter(settings.TWILIO_API_BASE_URL)
    assert adapter._pool_maxsize >= 24

    # 24 accounts listed at once, as the fan-out does: no connection is opened only to be dropped.
    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        with ThreadPoolExecutor(max_workers=24) as pool:
            listed = list(pool.map(lambda c: c.api.v2010.accounts(c.account_sid).incoming_phone_numbers.list(), clients))
    assert listed == [[]] * 24
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
