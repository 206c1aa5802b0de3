"""Twilio's copies of our traffic (API v2010): redacting a text's body, deleting a call record.

What Twilio documents (twilio_api_v2010.json in @twilio/cli-core, and the error pages):
- `POST /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json` with `Body=""` "is used to
  redact Message body text": the record (status, price, dates) stays, its text is gone.
  (`DELETE` on the same path removes the whole record; the retention run redacts instead,
  so that delivery and billing disputes can still be looked up at Twilio.)
- `DELETE /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json` deletes a call record: "it will
  no longer appear in the API and Account Portal logs" (204 on success).
- A message or call that Twilio has not finished with answers 20009 ("Cannot delete this
  resource before it is complete"; https://www.twilio.com/docs/api/errors/20009): try
  again later. A record Twilio no longer has answers 20404.

Both run under `/Accounts/{account_sid}` ("" = main) with the main credentials, which may act
on the subaccounts' v2010 resources (https://www.twilio.com/docs/iam/api/subaccounts).
"""

from __future__ import annotations

from telephony.twilio.client import account_api, in_subaccount
from telephony.twilio.errors import calling


def message_body_redact(*, sid: str, account_sid: str = "") -> str:
    """Empty the body of Twilio's copy of message `sid` in `account_sid` ("" = main); returns
    the body Twilio now holds ("" once redacted). A TwilioError otherwise (20009: not final yet)."""
    message = calling(
        f"redacting a text's body at Twilio{in_subaccount(account_sid)}",
        lambda: account_api(account_sid).messages(sid).update(body=""),
    )
    return message.body or ""


def call_record_delete(*, sid: str, account_sid: str = "") -> bool:
    """Delete Twilio's record of call `sid` in `account_sid` ("" = main); True once deleted.
    A TwilioError otherwise (20009: the call is not complete yet)."""
    return bool(
        calling(
            f"deleting a call record at Twilio{in_subaccount(account_sid)}",
            lambda: account_api(account_sid).calls(sid).delete(),
        )
    )
