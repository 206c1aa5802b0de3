"""Numbers for sale, as staff see them before buying: the search, the monthly price, and the
check that something is for sale before a clinic is moved to `provisioning`.

The price comes from Twilio's Pricing API (GET /v1/PhoneNumbers/Countries/US, local
numbers) and is kept a day in Django's cache: it changes rarely, and the search page
must not cost a Pricing request per visit. A failed price read is not cached and the
page says the price is unavailable; buying never depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from telephony import twilio
from telephony.twilio.errors import with_code

NumberSearch = twilio.NumberSearch
TwilioError = twilio.TwilioError

# Failures a retry with the same area code cannot fix (Twilio: 21452 no numbers found,
# 21451 invalid area code): staff search elsewhere instead of retrying.
RETRY_CANNOT_HELP = frozenset({twilio.ERR_NO_NUMBERS_IN_AREA_CODE, 21451})

# How many numbers one staff search shows (the Console shows 50 at most per page).
SHOWN = 20
PRICE_CACHE_SECONDS = 24 * 60 * 60
LOCAL = "local"


class NothingForSale(Exception):
    """A definite answer: no voice+SMS number is for sale as asked; retrying the same search cannot help.

    `code` is Twilio's 21452 (no numbers found) or 21422 (the picked number is no longer
    for sale); the message says what to try instead.
    """

    def __init__(self, sentence: str, code: int = twilio.ERR_NO_NUMBERS_IN_AREA_CODE) -> None:
        super().__init__(sentence)
        self.code = code


@dataclass(frozen=True)
class ForSale:
    """One search's answer: the numbers (voice+SMS) and the monthly price of a local number."""

    search: twilio.NumberSearch
    numbers: list[twilio.AvailableNumber]
    price: twilio.NumberPrice | None


def _price_key(country: str) -> str:
    return f"twilio:pricing:phone-numbers:{country}:{LOCAL}"


def local_number_price() -> twilio.NumberPrice | None:
    """The monthly price of a local number (cached a day); None when Twilio could not tell us."""
    country = twilio.NUMBER_COUNTRY
    cached = cache.get(_price_key(country))
    if isinstance(cached, twilio.NumberPrice):
        return cached
    try:
        prices = twilio.phone_number_prices(country)
    except twilio.TwilioError:
        return None  # not cached: the next page view asks again
    price = next((p for p in prices if p.number_type.lower() == LOCAL), None)
    if price is not None:
        cache.set(_price_key(country), price, PRICE_CACHE_SECONDS)
    return price


def nothing_for_sale_sentence(search: twilio.NumberSearch) -> str:
    """What staff read when a search finds nothing (the one wording, admin and API alike)."""
    return with_code(
        f"No numbers with voice and SMS are for sale {search.describe()}. Nothing was bought and the clinic is unchanged. "
        "Search a nearby area code, or by city, state or ZIP instead.",
        twilio.ERR_NO_NUMBERS_IN_AREA_CODE,
    )


def numbers_for_sale(search: twilio.NumberSearch, *, limit: int = SHOWN) -> ForSale:
    """Voice+SMS numbers for sale matching `search` with the local monthly price.

    Raises NothingForSale when there are none (also when Twilio answers 21452), and
    TwilioError for other failures (its `retryable` says whether trying again may help).
    """
    return ForSale(search=search, numbers=_found_or_raise(search, limit=limit), price=local_number_price())


def _found_or_raise(search: twilio.NumberSearch, *, limit: int) -> list[twilio.AvailableNumber]:
    try:
        found = twilio.available_numbers_find(search, limit=limit)
    except twilio.TwilioError as exc:
        if exc.code == twilio.ERR_NO_NUMBERS_IN_AREA_CODE:
            raise NothingForSale(nothing_for_sale_sentence(search)) from exc
        raise
    if not found:
        raise NothingForSale(nothing_for_sale_sentence(search))
    return found


def provision_offer_check(*, area_code: str, phone_number: str = "") -> None:
    """Before a clinic is moved to `provisioning`: raise NothingForSale if nothing can be bought.

    One search request: in the area code, or for a picked number, numbers containing
    it. A retryable TwilioError propagates, and the caller may go on: the purchase task
    searches again and retries.
    """
    search = twilio.NumberSearch(area_code=area_code, contains=phone_number[2:] if phone_number else "")
    try:
        found = _found_or_raise(search, limit=1)
    except NothingForSale:
        if not phone_number:
            raise
        found = []
    if phone_number and all(n.phone_number != phone_number for n in found):
        raise NothingForSale(
            with_code(
                f"{phone_number} is no longer for sale. Nothing was bought and the clinic is unchanged. "
                "Search again and pick another number.",
                twilio.ERR_NUMBER_UNAVAILABLE,
            ),
            twilio.ERR_NUMBER_UNAVAILABLE,
        )


def provision_retry_helps(error_code: int | None) -> bool:
    """Whether retrying a failed purchase with the same area code may succeed."""
    return error_code not in RETRY_CANNOT_HELP
