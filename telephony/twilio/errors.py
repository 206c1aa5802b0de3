"""Twilio's failures: the one TwilioError, and the sentence staff read for each.

Every failure of a Twilio call (Twilio's answer or the network) is raised as a TwilioError
carrying Twilio's code, the HTTP status, whether a retry may help, and a sentence a person
can act on. The sentence says what happened in staff words, the action to take, Twilio's code
and a link to Twilio's page for that code (https://www.twilio.com/docs/errors/<code>).
Operators' details (settings names, credentials) are never here: the doctor command tells them.
Pure: no Django, no database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from telephony.twilio.http import RETRY_AFTER_STATUSES, last_retry_after, retry_after_seconds

# Twilio error codes our callers act on (the sentences for these and others are below).
ERR_AUTH = 20003
ERR_NOT_FOUND = 20404
ERR_TOO_MANY_REQUESTS = 20429
ERR_NUMBER_UNAVAILABLE = 21422
ERR_NO_NUMBERS_IN_AREA_CODE = 21452
ERR_UNSUBSCRIBED_RECIPIENT = 21610
ERR_NUMBER_IN_OTHER_SERVICE = 21712
# A call or message Twilio has not finished with yet cannot be deleted or redacted: "wait
# several minutes and try again" (https://www.twilio.com/docs/api/errors/20009).
ERR_NOT_COMPLETE = 20009

ERROR_PAGE = "https://www.twilio.com/docs/errors/{code}"
# Twilio's codes for an HTTP status that came without one (https://www.twilio.com/docs/errors/20429, /20003).
CODE_FOR_STATUS = {429: ERR_TOO_MANY_REQUESTS, 401: ERR_AUTH}
# Twilio's codes for a failure on its side (https://www.twilio.com/docs/errors/20500, /20503).
TWILIO_SIDE_CODES = frozenset({20500, 20503})
# When Twilio sends no Retry-After with a 429, staff are told to wait this long.
DEFAULT_RETRY_AFTER_SECONDS = 60

# Twilio error code -> what staff read. `{doing}` is the step ("buying a number in area code 512").
# Codes from Twilio's error dictionary (https://www.twilio.com/docs/api/errors).
STAFF_SENTENCES: dict[int, str] = {
    20003: "Twilio did not accept DentSignal's Twilio login while {doing}. Nothing was changed. "
    "Tell the DentSignal operator: the doctor check shows what to fix.",
    20404: "Twilio no longer has what we asked for while {doing}. Refresh the page: it may already have been released.",
    20009: "Twilio has not finished with this call or text yet while {doing}; DentSignal asks again on a later run.",
    20429: "Twilio is rate-limiting us (too many requests) while {doing}; try again in {wait}.",
    21421: "The phone number picked is not one Twilio can sell while {doing}. Search again and pick a number from the list.",
    21422: "The number picked is no longer for sale (someone else bought it) while {doing}. "
    "Search again and pick another number.",
    21451: "Twilio does not know that area code while {doing}. Check the area code, or search by city or ZIP instead.",
    21452: "No numbers with voice and SMS are for sale while {doing}. "
    "Search a nearby area code, or by city, state or ZIP instead.",
    21211: "The patient's phone number is not a number Twilio can text while {doing}. Correct it on the patient's page.",
    21606: "The clinic's number cannot send texts while {doing}. Check its SMS capability in the audit, "
    "or provision a number with SMS.",
    21610: "The patient has replied STOP, so Twilio will not deliver texts to them while {doing}. "
    "They can text START to the clinic's number to receive texts again.",
    21408: "Texting this country is not enabled on the Twilio account while {doing}. Ask the DentSignal operator.",
    # A clinic's subaccount (https://www.twilio.com/docs/iam/api/subaccounts).
    21476: "Twilio refused {doing}: our main Twilio account is suspended, so its subaccounts cannot be used. "
    "Tell the DentSignal operator: the main account must be brought back in good standing in the Twilio Console.",
    21478: "Twilio refused {doing}: Twilio itself suspended this clinic's subaccount. "
    "Only Twilio Support can reactivate it (https://www.twilio.com/help); tell the DentSignal operator.",
    20005: "Twilio refused {doing}: the account is not active. If this clinic's subaccount was suspended here, "
    'reactivate it first (admin action "Reactivate Twilio subaccount"); a closed one cannot be used again.',
    21472: "Twilio refused {doing}: the subaccount the number would go to is not active. "
    "Reactivate the clinic's subaccount, then retry the move.",
    21473: "Twilio refused {doing}: the number and the subaccount do not belong to the same parent account. "
    "Tell the DentSignal operator.",
    21474: "Twilio refused {doing}: only the main (parent) account may transfer numbers. "
    "Tell the DentSignal operator: the app must run with the main account's credentials.",
    21479: "Twilio refused {doing}: a closed subaccount cannot be changed any more. Nothing was changed.",
    21649: "Twilio refused {doing}: this number type needs a regulatory bundle, which a clinic's subaccount cannot use. "
    "Tell the DentSignal operator: such numbers must stay on the main account.",
    # Porting a number in (https://www.twilio.com/docs/api/errors/22130, /22133, /22137, /22172).
    22130: "Twilio cannot port this number in while {doing}: its country or area is one Twilio does not serve. "
    "Keep the number with its carrier: forward its calls, or text-enable it instead.",
    22133: "Twilio cannot port this number in through its API while {doing}; it takes a manual port through "
    "Twilio Support. Choose forwarding or texting instead, or ask the DentSignal operator to open a manual port.",
    22137: "A port of this number is already in progress in one of DentSignal's Twilio accounts while {doing}. "
    "Follow that port on the clinic's page instead of starting another.",
    22172: "Twilio refused {doing}: the number is not a complete US number. Enter it with its area code, e.g. (512) 555-0100.",
}

# Why Twilio cannot port a number in (the portability check's not_portable_reason_code; codes from
# https://www.twilio.com/docs/api/errors/<code> and the spec's example (22132 ALREADY_IN_TWILIO_DIFFERENT_OWNER)),
# in staff words with what to do instead; any other code gets the generic sentence with Twilio's reason.
# A number already in one of our accounts is told by the check's `account_sid`, not by a code: Twilio's
# Portability resource documents that field as "only returned for phone numbers that already exist in
# Twilio's inventory and belong to your account or sub account"
# (https://www.twilio.com/docs/phone-numbers/port-in/portability-api); it publishes no page for the
# reason codes that come with it, so none is interpreted here.
NOT_PORTABLE_SENTENCES: dict[int, str] = {
    22130: "Twilio cannot port this number: its country or area is one Twilio does not serve. "
    "Forward its calls to the clinic's Twilio number, or text-enable it, instead.",
    22132: "This number is already at Twilio under another Twilio customer. The clinic must ask that "
    "provider to release it first, or forward its calls instead.",
    22133: "Twilio cannot port this number through its API; it takes a manual port through Twilio Support. "
    "Forward its calls or text-enable it instead, or ask the DentSignal operator to open a manual port.",
}


ALREADY_OURS_SENTENCE = (
    "This number is already in one of DentSignal's Twilio accounts: nothing to port. If it is not the "
    "clinic's own number yet, ask the DentSignal operator to move it to the clinic's account."
)


def not_portable_sentence(code: int | None, reason: str, *, account_sid: str = "") -> str:
    """Why a number cannot be ported in, for staff: already ours when the check named the
    account holding it (`account_sid`), else the sentence for Twilio's code, or Twilio's reason
    with what to do; Twilio's code and its page follow (not for a number already ours)."""
    if account_sid:
        return ALREADY_OURS_SENTENCE  # its code has no page at Twilio to link to
    template = NOT_PORTABLE_SENTENCES.get(code or 0)
    if template is None:
        words = reason.replace("_", " ").lower().strip() or "no reason given"
        template = (
            f"Twilio cannot port this number ({words}). Forward its calls to the clinic's Twilio number, "
            "or text-enable it, instead."
        )
    return with_code(template, code)


def port_rejection_sentence(code: int | None, reason: str) -> str:
    """A losing carrier's rejection of a port, for staff: what the carrier said and what to fix.
    Most rejections are a mismatch with the carrier's customer service record."""
    said = (
        f'The clinic\'s current carrier rejected the port: "{reason.strip().rstrip(".")}".'
        if reason.strip()
        else ("The clinic's current carrier rejected the port.")
    )
    fix = (
        " Most rejections mean the request does not match the carrier's customer service record: check the "
        "account number, PIN, authorized person and service address exactly as on the carrier's bill, "
        "correct them on the clinic's page and submit the port again."
    )
    return said + fix + (f" (carrier code {code})" if code is not None else "")


def hosted_ineligible_sentence(reason: str, next_step: str) -> str:
    """Why Twilio cannot text-enable a number, for staff: Twilio's reason and next step in words
    (Twilio sends them as tokens, e.g. NUMBER_FORMAT_INELIGIBLE, EDIT_INELIGIBLE_NUMBER)."""
    words = reason.replace("_", " ").lower().strip() or "no reason given"
    step = next_step.replace("_", " ").lower().strip()
    sentence = f"Twilio cannot text-enable this number ({words})."
    if step:
        sentence += f" Twilio's next step: {step}."
    return sentence + " Forward the number's calls to the clinic's Twilio number instead, or check the number entered."


def hosted_order_failure_sentence(reason: str) -> str:
    """Why a hosted SMS order needs action or failed, for staff, with what to do next."""
    said = (
        f'Twilio needs action on the texting order: "{reason.strip().rstrip(".")}".'
        if reason.strip()
        else ("Twilio needs action on the texting order but gave no reason.")
    )
    return said + " Fix what it says on the clinic's page (often the authorization must be signed again), then retry."


# What a `doing` phrase ends with for a request in a clinic's subaccount (the subaccount's
# SID is the operators' detail: it is on the clinic's page, never in the sentence).
IN_SUBACCOUNT = " in the clinic's Twilio subaccount"
# 20404 while working in a clinic's subaccount: the number is gone, or the subaccount was closed.
SUBACCOUNT_NOT_FOUND = (
    "Twilio found nothing while {doing}: the number is no longer there, or the subaccount was closed "
    "(Twilio deletes a closed subaccount after 30 days). Check the clinic's subaccount in the Twilio Console "
    "(Account > Subaccounts)."
)


def error_link(code: int | None) -> str:
    """Twilio's page for an error code ('' without one)."""
    return ERROR_PAGE.format(code=code) if code else ""


def wait_words(wait: float | None) -> str:
    """'30 seconds', '2 minutes': how long to wait, for people."""
    seconds = math.ceil(wait) if wait and wait > 0 else DEFAULT_RETRY_AFTER_SECONDS
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


def with_code(sentence: str, code: int | None) -> str:
    """`sentence` followed by Twilio's code and the link to its page, for a sentence written elsewhere."""
    return f"{sentence} (Twilio error {code}: {error_link(code)})" if code else sentence


def _twilio_detail(message: str) -> str:
    """Twilio's own message without the SDK's 'Unable to create record: ' prefix."""
    head, sep, tail = message.partition(": ")
    if sep and head.startswith("Unable to "):
        return tail.strip()
    return message.strip()


def staff_sentence(
    *, doing: str, status: int | None, code: int | None, message: str = "", kind: str = "", retry_after: float | None = None
) -> tuple[bool, str]:
    """(retryable, the sentence staff see) for one Twilio failure; the rules callers rely on.

    Retryable: no HTTP answer (timeout, connection), 429/20429 and Twilio 5xx; never another 4xx.
    """
    code = code if code is not None else CODE_FOR_STATUS.get(status or 0)
    if status is None:
        if kind == "Timeout":
            return True, f"Twilio did not answer in time while {doing}. Nothing is lost: it is tried again automatically."
        return True, f"Could not reach Twilio while {doing} ({kind}). Nothing is lost: it is tried again automatically."
    if status == 429 or code == 20429:
        sentence = STAFF_SENTENCES[20429].format(doing=doing, wait=wait_words(retry_after))
        return True, with_code(sentence, code or 20429)
    if status >= 500:
        sentence = (
            f"Twilio had a problem on its side (HTTP {status}) while {doing}. It is tried again automatically; nothing to do."
        )
        return True, with_code(sentence, code if code and code != status else None)
    if (code == 20404 or status == 404) and IN_SUBACCOUNT in doing:
        return False, with_code(SUBACCOUNT_NOT_FOUND.format(doing=doing), 20404)
    template = STAFF_SENTENCES.get(code or 0)
    if template is not None:
        return False, with_code(template.format(doing=doing), code)
    detail = _twilio_detail(message)
    sentence = f"Twilio refused {doing}" + (f": {detail.rstrip('.')}." if detail else ".")
    sentence += " Check what was entered; if it looks right, send this message to the DentSignal operator."
    return False, with_code(sentence, code if code and code != status else None)


def given_up_sentence(*, doing: str, status: int | None, code: int | None, kind: str = "", tries: int) -> str:
    """The sentence for a retryable failure once its automatic retries ran out: what kept
    happening and how often. Never "tried again automatically": nobody tries any more."""
    code = code if code is not None else CODE_FOR_STATUS.get(status or 0)
    times = f"{tries} times in a row"
    if status is None:
        what = "did not answer in time" if kind == "Timeout" else f"could not be reached ({kind})"
        return f"Twilio {what} while {doing}, {times}; DentSignal stopped trying."
    if status == 429 or code == ERR_TOO_MANY_REQUESTS:
        sentence = f"Twilio kept rate-limiting us (too many requests) while {doing}, {times}; DentSignal stopped trying."
        return with_code(sentence, code or ERR_TOO_MANY_REQUESTS)
    sentence = f"Twilio had a problem on its side (HTTP {status}) while {doing}, {times}; DentSignal stopped trying."
    return with_code(sentence, code if code and code != status else None)


def failure_http_status(code: int | None) -> int:
    """The HTTP status an API answers for a failure recorded with Twilio's `code`: 503 when
    Twilio kept rate-limiting us (20429), 502 when Twilio failed or could not be reached (its
    5xx codes, or no code: no answer), else 409 (Twilio refused what was asked)."""
    if code == ERR_TOO_MANY_REQUESTS:
        return 503
    if code is None or code in TWILIO_SIDE_CODES:
        return 502
    return 409


# --------------------------------------------------------------------------- the exception

T = TypeVar("T")


class TwilioError(Exception):
    """Twilio refused, failed or could not be reached; `str(exc)` is the sentence.

    `retryable` is True for rate limits (429/20429), Twilio 5xx, timeouts and
    connection errors, never for other 4xx. `status` is None when no HTTP answer came.
    `retry_after` is the wait in seconds Twilio asked for in the Retry-After header of a
    429 or 503 (None without one, and for any other failure): a caller's retry waits at
    least that long. Without `retry_after` given, it is read from the answer this thread
    just had (telephony.twilio.http: the SDK's exception keeps no headers).
    """

    def __init__(
        self,
        *,
        doing: str,
        status: int | None,
        code: int | None,
        message: str = "",
        kind: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.doing, self.status, self.code, self.message, self.kind = doing, status, code, message, kind
        if status not in RETRY_AFTER_STATUSES:
            retry_after = None
        elif retry_after is None:
            retry_after = last_retry_after()
        self.retry_after: float | None = retry_after
        self.retryable, self.sentence = staff_sentence(
            doing=doing, status=status, code=code, message=message, kind=kind, retry_after=retry_after
        )
        if self.code is None:
            self.code = CODE_FOR_STATUS.get(status or 0)
        super().__init__(self.sentence)

    def while_doing(self, doing: str) -> TwilioError:
        """The same failure told as part of a larger step (e.g. 'buying a number in 512');
        the subaccount it happened in stays named."""
        if self.doing.endswith(IN_SUBACCOUNT) and not doing.endswith(IN_SUBACCOUNT):
            doing += IN_SUBACCOUNT
        return TwilioError(
            doing=doing, status=self.status, code=self.code, message=self.message, kind=self.kind, retry_after=self.retry_after
        )

    def given_up(self, *, tries: int) -> str:
        """The sentence once `tries` attempts all failed like this one (see given_up_sentence)."""
        return given_up_sentence(doing=self.doing, status=self.status, code=self.code, kind=self.kind, tries=tries)

    @property
    def not_found(self) -> bool:
        """Twilio has no such resource (404 / 20404)."""
        return self.status == 404 or self.code == ERR_NOT_FOUND


def _error_from(exc: Exception, *, doing: str) -> TwilioError:
    """The TwilioError for an SDK or network failure while `doing`."""
    if isinstance(exc, TwilioException) and not isinstance(exc, TwilioRestException):
        # The SDK raises a bare TwilioException("Unable to fetch page", response) for
        # list pages; read the status and Twilio code from the response like the others.
        response = exc.args[1] if len(exc.args) > 1 else None
        try:
            body = json.loads(getattr(response, "text", "") or "{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = body.get("code")
        return TwilioError(
            doing=doing,
            status=getattr(response, "status_code", 500),
            code=code if isinstance(code, int) else None,
            message=body.get("message") or str(exc.args[0]),
            retry_after=retry_after_seconds(response),
        )
    if isinstance(exc, TwilioRestException):
        return TwilioError(doing=doing, status=exc.status, code=exc.code if isinstance(exc.code, int) else None, message=exc.msg)
    kind = "Timeout" if isinstance(exc, requests.Timeout) else type(exc).__name__
    return TwilioError(doing=doing, status=None, code=None, kind=kind)


def calling(doing: str, call: Callable[[], T]) -> T:
    """Run one SDK call; any SDK or network failure becomes a TwilioError about `doing`."""
    try:
        return call()
    except (TwilioException, requests.RequestException) as exc:
        raise _error_from(exc, doing=doing) from exc


def review_errors(raw: Any) -> tuple[str, ...]:
    """Twilio's `errors` arrays on a reviewed resource (objects or strings) as short sentences."""
    out = []
    for item in raw or []:
        if isinstance(item, Mapping):
            out.append(" ".join(str(item.get(k)) for k in ("code", "description", "message") if item.get(k)))
        else:
            out.append(str(item))
    return tuple(out)


# --------------------------------------------------------------------------- A2P 10DLC registration
# Sentences for Twilio's registration errors, each with the step Twilio documents the code
# for (https://www.twilio.com/docs/api/errors/<code>): what is wrong, what staff fix and
# where, then Edit and resubmit; keyed by code, with the step (clinics.models_a2p.A2PStep's
# value) it is documented for. A code without one, or met at another step, gets the
# generic sentence and the link (telephony.a2p.rules.rejection_sentence). The campaign's
# texts come from the business profile, and Edit and resubmit registers a rejected
# campaign anew from it.
_A2P_PROFILE = "the clinic's business profile (Admin → Clinics → Business profiles)"
A2P_REJECTION_SENTENCES: dict[int, tuple[str, str]] = {
    21717: (
        "campaign",
        "Twilio refused the campaign because its brand is not registered or not approved yet. Wait until this "
        "page shows the brand approved (if the brand failed, fix what its sentence says first), then Edit and resubmit.",
    ),
    30994: (
        "campaign",
        "The campaign failed because its brand was still pending at Twilio, which may need more information "
        "about the business. Wait until this page shows the brand approved, then Edit and resubmit; if the brand "
        "stays pending for more than a week, ask Twilio Support what it needs. (Twilio's 2FA e-mail for brands is "
        "for public companies only; DentSignal registers clinics as private companies.)",
    ),
    30991: (
        "campaign",
        "The campaign failed because The Campaign Registry has not verified the clinic's brand, and campaigns "
        "under an unverified brand are refused. Look up the brand (its Twilio ID is in this page's history) in Twilio's "
        "Console → Messaging → Regulatory Compliance → Brands for what it needs; once it is verified, Edit and resubmit.",
    ),
    30909: (
        "campaign",
        "Carriers could not verify how patients agree to receive texts (the campaign's message flow). In "
        f'{_A2P_PROFILE}, rewrite "How patients opt in": name every way patients give their number and agree to '
        "texts (front-desk form, website form, by phone); for a website form, give the page's public address and "
        'make sure it states how often texts come, "Msg & data rates may apply" and links to the privacy policy '
        "and terms. Then Edit and resubmit.",
    ),
    30893: (
        "campaign",
        f"Carriers found the sample texts do not match the campaign's use case. In {_A2P_PROFILE}, make both sample "
        "messages real texts the clinic sends for that use case: name the clinic in at least one, put the parts "
        'that change in [brackets] and end one with "Reply STOP to opt out"; or choose the use case the samples '
        "fit. Then Edit and resubmit.",
    ),
    30886: (
        "campaign",
        "Carriers found the campaign description unclear or not matching its use case. DentSignal writes it from "
        'the clinic\'s name ("<clinic> texts its own patients appointment reminders … and answers their texts"): '
        f"check that the clinic's name is the one patients see on its website, and in {_A2P_PROFILE} choose the use "
        "case that fits reminders and replies (Low volume mixed). Then Edit and resubmit.",
    ),
    21712: (
        "number",
        "The clinic's number is already in another Messaging Service: remove it there "
        "(Console → Messaging → Services), then Edit and resubmit.",
    ),
}
