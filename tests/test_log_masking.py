"""The log filter that masks phone numbers to their last four digits (dentsignal.log_masking)."""

import io
import logging

import pytest

from dentsignal.log_masking import MaskPhoneNumbers, phone_numbers_mask

pytestmark = pytest.mark.no_sandbox  # no Twilio, no database


@pytest.mark.parametrize(
    "written",
    [
        "+15125550999",
        "%2B15125550999",
        "5125550999",
        "15125550999",
        "512-555-0999",
        "512.555.0999",
        "512 555 0999",
        "(512) 555-0999",
        "+1 (512) 555-0999",
        "1-512-555-0999",
        "+1 512 555 0999",
    ],
)
def test_us_numbers_in_every_common_form_keep_only_their_last_four_digits(written):
    assert phone_numbers_mask(f"call from {written}, then") == "call from ***0999, then"


def test_international_e164_numbers_are_masked_too():
    assert phone_numbers_mask("To=+447700900123&From=+4930123456") == "To=***0123&From=***3456"


@pytest.mark.parametrize(
    "kept",
    [
        "CA0123456789abcdef0123456789abcdef",  # a SID's hex digits
        "SM" + "1" * 32,
        "AC5a4db0c05a4db0c05a4db0c05a4db0c0",
        "2026-12-06 17:09:47,123",
        "+123",
        "Twilio 21610",
        "took 0.6498746060024132s",
        "***0999",  # already masked: masking twice changes nothing
    ],
)
def test_sids_dates_codes_and_masked_numbers_are_left_alone(kept):
    assert phone_numbers_mask(kept) == kept


@pytest.fixture
def logged():
    """A logger writing through a handler with the filter, as settings.LOGGING sets it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPhoneNumbers())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.log_masking")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_planted_number_in_the_message_its_arguments_and_a_traceback_is_masked(logged):
    logger, stream = logged

    logger.info("SMS from +15125550999")
    logger.warning("To %s, params %r", "(512) 555-0999", {"From": "+15125550999", "CallSid": "CA" + "1" * 32})
    try:
        raise ValueError("duplicate key (from_number)=(+15125550999)")
    except ValueError:
        logger.exception("Could not write the row of %s", "SM" + "2" * 32)

    output = stream.getvalue()
    assert "5550999" not in output and "555-0999" not in output
    assert "SMS from ***0999" in output
    assert "To ***0999, params {'From': '***0999', 'CallSid': 'CA" + "1" * 32 + "'}" in output
    assert "ValueError: duplicate key (from_number)=(***0999)" in output
    assert "Could not write the row of SM" + "2" * 32 in output


def test_a_record_without_a_number_keeps_its_template_and_arguments(logged):
    logger, _ = logged
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "Replayed %s SMS", (3,), None)

    assert MaskPhoneNumbers().filter(record) is True
    assert (record.msg, record.args) == ("Replayed %s SMS", (3,))
